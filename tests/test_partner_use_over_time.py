"""What a partner buys from us changes over the horizon: its countries' use grows, and
magnet plants beyond the published consumption come online (India's 6,000 t/yr scheme
of November 2025). Checked by hand on a toy problem and on the Russian baseline."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reeplan.data import FactBase
from reeplan.domain import Recipe, StageChain
from reeplan.errors import ChainDefinitionError
from reeplan.interfaces.cli import app
from reeplan.optimize import Candidate, Partner, Problem, solve
from reeplan.scenarios import load_scenario
from reeplan.scenarios.assemble import assemble
from reeplan.scenarios.markets import magnets_made

YEARS = (2025, 2026)
ROOT = Path(__file__).parent.parent
RUSSIA = ROOT / "scenarios" / "russia-2030.yaml"
runner = CliRunner()


def _seller(*partners: Partner) -> Problem:
    """A running mine and separation plant of 500 t REO/yr of Nd, no demand at home:
    everything is sold, at 10,000 USD/t of Nd oxide."""
    mine = Candidate("mine", "mining", existing=500, max_capacity=500, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    sep = Candidate("sep", "separation", existing=500, max_capacity=500, capex=0, opex=0,
                    lead_time=0)
    return Problem(years=YEARS, elements=("Nd",), candidates=(mine, sep), partners=partners,
                   recipe=Recipe("t", {"Nd": 30.0}), metal_per_oxide={"Nd": 0.857},
                   oxide_price={"Nd": 10_000.0}, metal_price={"Nd": 20_000.0},
                   magnet_price=50_000.0, magnet_demand={},
                   other_demand=dict.fromkeys(YEARS, 0.0), discount_rate=0.0,
                   concentrate_share=0.5, chain=StageChain.ideal())


def test_a_cap_that_changes_by_year_binds_year_by_year() -> None:
    """OTHER pays 10,000 USD/t of Nd and China 20% less; OTHER uses 120 t in 2025 and
    300 t in 2026: it takes 120 then 300 of the 500 t, China the rest, and revenue is
    (380 + 200) x 2,000 = 1.16 M USD below the uncapped plan's."""
    chn = Partner("CHN", sell_discount=0.2)
    free = solve(_seller(chn, Partner("OTHER")))
    grows = solve(_seller(chn, Partner("OTHER", import_caps={"Nd": 120.0},
                                         import_caps_by_year={2026: {"Nd": 300.0}})))
    sold = grows.solution["export_oxide"].sel(partner="OTHER", element="Nd")
    assert sold.values.tolist() == pytest.approx([120, 300])
    assert grows.cost - free.cost == pytest.approx((380 + 200) * 2_000, rel=1e-9)


@pytest.mark.parametrize(("caps", "says"), [
    ({2030: {"Nd": 1.0}}, "years 2030 outside the horizon 2025-2026"),
    ({2026: {"Dy": 1.0}}, "import_caps_by_year[2026]': Dy not modelled"),
    ({2026: {"Nd": -1.0}}, "expected finite, non-negative tonnes"),
])
def test_a_yearly_cap_the_plan_cannot_use_raises(caps: dict[int, dict[str, float]],
                                                 says: str) -> None:
    with pytest.raises(ChainDefinitionError, match=says.replace("[", r"\[").replace(
            "]", r"\]")):
        solve(_seller(Partner("OTHER", import_caps_by_year=caps)))


def test_magnets_made_is_a_step_path() -> None:
    path = {2029: 3000.0, 2031: 6000.0}
    assert [magnets_made(path, y) for y in (2028, 2029, 2030, 2031, 2035)] == \
        [0.0, 3000.0, 3000.0, 6000.0, 6000.0]


def test_indias_magnet_plants_add_their_rare_earths_to_what_third_countries_buy(
        facts: FactBase) -> None:
    """India's use of Nd is 248 t REO until 2028; its magnet plants add 3,000 t/yr of
    NdFeB from 2029 and 6,000 from 2031, each tonne the recipe's oxide per tonne of
    magnet (the chain's oxide_per_magnet, split by the recipe's oxide content): all the
    additions together are 6,000 x oxide_per_magnet t REO."""
    p = assemble(load_scenario(RUSSIA), facts)
    other = next(q for q in p.partners if q.id == "OTHER")
    flat = other.import_caps
    per_magnet = p.chain.oxide_per_magnet(p.recipe, p.metal_per_oxide)
    by_year = other.import_caps_by_year
    assert by_year[2028] == pytest.approx(flat)
    assert flat["Nd"] == pytest.approx(248.0, abs=0.5)
    for year, made in ((2029, 3000), (2030, 3000), (2031, 6000), (2035, 6000)):
        added = sum(by_year[year].values()) - sum(flat.values())
        assert added == pytest.approx(made * per_magnet, rel=1e-9), year
    oxide = {e: w / p.metal_per_oxide[e] for e, w in p.recipe.wt_pct.items()}
    nd = 6000 * per_magnet * oxide["Nd"] / sum(oxide.values())
    assert by_year[2031]["Nd"] == pytest.approx(flat["Nd"] + nd, rel=1e-9)
    assert by_year[2031]["La"] == pytest.approx(flat["La"])  # La is in no magnet
    assert {"india_repm_ramp", "ndtv_india_repm_2025"} <= p.sources


def test_use_that_grows_grows_from_its_consumption_year(tmp_path: Path,
                                                        facts: FactBase) -> None:
    """5% a year from India's 2024 consumption: the 2030 cap on La is its flat level
    times 1.05^6; a cap stated in buys_at_most_t does not grow."""
    text = RUSSIA.read_text(encoding="utf-8").replace(
        "magnets_made_t: {2029: 3000, 2031: 6000},",
        "use_growth_per_year: 0.05, buys_at_most_t: {Y: 100},")
    path = tmp_path / "grows.yaml"
    path.write_text(text, encoding="utf-8")
    other = next(q for q in assemble(load_scenario(path), facts).partners if q.id == "OTHER")
    assert other.import_caps_by_year[2030]["La"] == pytest.approx(
        other.import_caps["La"] * 1.05 ** 6, rel=1e-9)
    assert other.import_caps_by_year[2030]["Y"] == 100.0


def test_magnet_plants_without_their_countries_exit_2(tmp_path: Path) -> None:
    text = RUSSIA.read_text(encoding="utf-8").replace("buys_what_it_uses: [IND], ", "")
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    res = runner.invoke(app, ["plan", str(path)])
    assert res.exit_code == 2, res.output
    assert "magnets_made_t" in res.stderr and "buys_what_it_uses" in res.stderr
    assert "Traceback" not in res.output


def test_a_new_outlet_never_raises_the_cost(tmp_path: Path) -> None:
    """Metamorphic: India's magnet plants only widen what OTHER may buy, so the plan with
    them costs no more than the plan without (and here less: NdPr goes to India at 15%
    below the ex-China price instead of to China at 20% below China's)."""
    from reeplan import run_plan

    text = RUSSIA.read_text(encoding="utf-8").replace(
        "magnets_made_t: {2029: 3000, 2031: 6000},", "")
    path = tmp_path / "without.yaml"
    path.write_text(text, encoding="utf-8")
    with_plants, without = run_plan(RUSSIA), run_plan(path)
    assert with_plants.cost <= without.cost + 1e-6
