"""A mine without a buyer stores its concentrate and feeds or sells it later, at a stated
holding cost (assumption ``concentrate_storage``), instead of stopping: checked by hand,
by a metamorphic test, and on the shipped export-ban variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from reeplan.domain import Recipe, StageChain
from reeplan.errors import ChainDefinitionError
from reeplan.optimize import Candidate, Problem, solve
from reeplan.reporting.tables import costs_table, flows_table

YEARS = (2025, 2026, 2027)
ROOT = Path(__file__).parent.parent


def _waiting_mine(holding: float | None) -> Problem:
    """A mine of 100 t REO/yr of La and a separation plant of 300 t/yr, nothing to trade,
    no use of La until 2027, when 300 t are wanted; unmet use costs 1 M USD/t."""
    mine = Candidate("mine", "mining", existing=100, max_capacity=100, capex=0, opex=0,
                     lead_time=0, distribution={"La": 1.0})
    sep = Candidate("sep", "separation", existing=300, max_capacity=300, capex=0, opex=0,
                    lead_time=0)
    return Problem(years=YEARS, elements=("La",), candidates=(mine, sep), partners=(),
                   recipe=Recipe("t", {"La": 30.0}), metal_per_oxide={"La": 0.853},
                   oxide_price={"La": 0.0}, metal_price={"La": 0.0}, magnet_price=0.0,
                   magnet_demand={}, other_demand={2025: 0.0, 2026: 0.0, 2027: 300.0},
                   discount_rate=0.0, chain=StageChain.ideal(), unmet_penalty=1e6,
                   concentrate_holding_cost=holding)


def test_a_mine_stores_what_it_cannot_use_yet_by_hand() -> None:
    """Stored: 100 t in 2025 (held two years) and 100 t in 2026 (one year), drawn in 2027 with
    that year's 100 t: all 300 t met. Holding costs 50 USD/t/yr: 100 x 50 x 2 + 100 x 50 x 1
    = 15,000 USD, the whole cost. Without storage 200 t go unmet (200 M USD)."""
    plan = solve(_waiting_mine(50.0))
    s = plan.solution
    assert s["conc_held"].sel(mine="mine").values.tolist() == pytest.approx([100, 100, 0])
    assert s["conc_drawn"].sel(mine="mine").values.tolist() == pytest.approx([0, 0, 200])
    assert plan.unmet.empty
    assert plan.cost == pytest.approx(15_000, rel=1e-9)
    costs = costs_table(plan)
    assert costs["opex_musd"].tolist() == pytest.approx([0.005, 0.01, 0.0], abs=1e-12)
    mining = flows_table(plan).query("stage == 'mining'").set_index("year")
    assert mining["stock_change"].tolist() == pytest.approx([100, 100, -200])
    assert mining["to_next_stage"].tolist() == pytest.approx([0, 0, 300])
    bare = solve(_waiting_mine(None))
    assert float(bare.solution["conc_held"].sum()) == 0.0
    assert bare.penalties == pytest.approx(200 * 1e6, rel=1e-9)


def test_storage_never_raises_the_cost() -> None:
    """Metamorphic: allowing storage at any holding cost never makes a plan dearer, and a
    dearer store never makes it cheaper."""
    costs = [solve(_waiting_mine(h)).cost for h in (0.0, 50.0, 5_000.0)]
    assert costs == sorted(costs)
    assert costs[-1] <= solve(_waiting_mine(None)).cost


def test_a_negative_holding_cost_is_refused() -> None:
    with pytest.raises(ChainDefinitionError, match="concentrate_holding_cost"):
        solve(_waiting_mine(-1.0))


def test_lovozero_stores_its_concentrate_through_the_china_ban() -> None:
    """china-ban-2028: China, the only buyer of Russia's concentrate, is shut in 2028-2029.
    Lovozero keeps mining, stores what the new separation plant cannot take, and draws
    it once the ban is over; no concentrate is left in store at the end."""
    from reeplan import run_plan

    plan = run_plan(ROOT / "scenarios" / "china-ban-2028.yaml")
    s = plan.solution
    mined = s["prod"].sel(candidate="lovozero").to_series()
    held = s["conc_held"].sel(mine="lovozero").to_series()
    drawn = s["conc_drawn"].sel(mine="lovozero").to_series()
    assert (mined.loc[2028:2029] >= 2500 - 1e-6).all()
    assert held.loc[2028:2029].sum() > 1000
    assert drawn.loc[2030:].sum() == pytest.approx(held.sum(), rel=1e-6)
    base = run_plan(ROOT / "scenarios" / "russia-2030.yaml")
    assert plan.cost >= base.cost - 1e-6  # the ban never helps
