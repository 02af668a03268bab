"""Markets with depth on the demand side (issue 11, point 2): a partner buys from us at
most what its own industry uses, and concentrate only as far as its separators take
others' feed. Checked by hand on toy problems and on the shipped Russian baseline."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from reeplan.data import FactBase
from reeplan.domain import Recipe, StageChain
from reeplan.interfaces.cli import app
from reeplan.optimize import Candidate, Partner, Problem, solve
from reeplan.scenarios import load_scenario
from reeplan.scenarios.assemble import assemble

YEARS = (2025, 2026)
ROOT = Path(__file__).parent.parent
runner = CliRunner()


def _exporter(*partners: Partner, separate: bool = True) -> Problem:
    """A running mine of 500 t REO/yr of Nd (and a separation plant of 500 t/yr), no
    demand at home: everything is sold, at 10,000 USD/t of Nd oxide."""
    mine = Candidate("mine", "mining", existing=500, max_capacity=500, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    sep = Candidate("sep", "separation", existing=500, max_capacity=500, capex=0, opex=0,
                    lead_time=0)
    return Problem(years=YEARS, elements=("Nd",),
                   candidates=(mine, sep) if separate else (mine,), partners=partners,
                   recipe=Recipe("t", {"Nd": 30.0}), metal_per_oxide={"Nd": 0.857},
                   oxide_price={"Nd": 10_000.0}, metal_price={"Nd": 20_000.0},
                   magnet_price=50_000.0, magnet_demand={},
                   other_demand=dict.fromkeys(YEARS, 0.0), discount_rate=0.0,
                   concentrate_share=0.5, chain=StageChain.ideal())


def test_a_partner_buys_no_more_than_it_uses() -> None:
    """OTHER pays the full 10,000 USD/t, China 20% less. Uncapped, all 500 t go to OTHER;
    with OTHER's use at 120 t of Nd, 120 t go there and 380 t to China: revenue falls by
    380 x 2,000 = 760,000 USD a year."""
    chn = Partner("CHN", sell_discount=0.2)
    free = solve(_exporter(chn, Partner("OTHER")))
    capped = solve(_exporter(chn, Partner("OTHER", import_caps={"Nd": 120.0})))
    sold = capped.solution["export_oxide"].sel(element="Nd", year=2025).to_series()
    assert free.solution["export_oxide"].sel(partner="OTHER", element="Nd",
                                             year=2025).item() == pytest.approx(500)
    assert sold["OTHER"] == pytest.approx(120) and sold["CHN"] == pytest.approx(380)
    assert capped.cost - free.cost == pytest.approx(2 * 380 * 2_000, rel=1e-9)
    binding = capped.binding
    assert "import_control" in set(binding["constraint"])


def test_metal_counts_against_the_cap_in_oxide_equivalent() -> None:
    """Metal sold counts at its oxide equivalent: a cap of 120 t REO on a partner that
    buys only metal (a 0.857 t metal per t oxide factor) lets 102.84 t of metal through."""
    metal = Candidate("metal", "metal", existing=500, max_capacity=500, capex=0, opex=0,
                      lead_time=0)
    p = _exporter(Partner("CHN", sell_discount=0.9),
                  Partner("OTHER", import_caps={"Nd": 120.0}))
    p = replace(p, candidates=(*p.candidates, metal), metal_price={"Nd": 40_000.0})
    plan = solve(p)
    s = plan.solution
    oxide = float(s["export_oxide"].sel(partner="OTHER", element="Nd", year=2025))
    metal_t = float(s["export_metal"].sel(partner="OTHER", element="Nd", year=2025))
    assert metal_t == pytest.approx(120 * 0.857) and oxide == pytest.approx(0, abs=1e-6)


def test_concentrate_goes_where_separators_take_it() -> None:
    """No separation at home: the 500 t REO of concentrate sell at half their oxides' value.
    OTHER, paying in full, takes at most 100 t; China, 20% less, the other 400 t."""
    chn = Partner("CHN", sell_discount=0.2)
    plan = solve(_exporter(chn, Partner("OTHER", concentrate_buy_cap=100.0), separate=False))
    sold = plan.solution["conc_export"].sel(mine="mine", year=2026).to_series()
    assert sold["OTHER"] == pytest.approx(100) and sold["CHN"] == pytest.approx(400)
    assert plan.cost == pytest.approx(-2 * (100 * 5_000 + 400 * 4_000), rel=1e-9)


def test_a_cap_never_raises_revenue() -> None:
    """Metamorphic: a tighter cap on what a partner buys never lowers the cost."""
    chn = Partner("CHN", sell_discount=0.2)
    costs = [solve(_exporter(chn, Partner("OTHER", import_caps={"Nd": cap}))).cost
             for cap in (500.0, 300.0, 100.0, 0.0)]
    assert costs == sorted(costs)
    assert costs[0] < costs[-1]


def test_a_negative_or_unmodelled_cap_is_refused() -> None:
    from reeplan.errors import ChainDefinitionError
    with pytest.raises(ChainDefinitionError, match=r"import_caps.*Dy not modelled"):
        solve(_exporter(Partner("OTHER", import_caps={"Dy": 1.0})))
    with pytest.raises(ChainDefinitionError, match="concentrate_buy_cap"):
        solve(_exporter(Partner("OTHER", concentrate_buy_cap=-1.0)))


def test_third_countries_buy_what_india_uses(facts: FactBase) -> None:
    """The baseline's OTHER buys at most India's use: 4,270 t REO of compounds and metals
    (its magnets are published apart, so all of it splits like the world's non-magnet
    use): Nd 5.81% of it, 248 t; Pr 2.82%, 120 t; Dy, used in no Indian compound, none."""
    scenario = load_scenario(ROOT / "scenarios" / "russia-2030.yaml")
    p = assemble(scenario, facts)
    other = next(q for q in p.partners if q.id == "OTHER")
    total = 36.34 + 44.71 + 8.55 + 5.81 + 2.82 + 0.69 + 0.32 + 0.28 + 0.26 + 0.23
    assert other.import_caps["Nd"] == pytest.approx(4270 * 5.81 / total, rel=1e-9)
    assert other.import_caps["Pr"] == pytest.approx(4270 * 2.82 / total, rel=1e-9)
    assert other.import_caps["Dy"] == 0.0 and other.concentrate_buy_cap == 0.0
    assert "partner_buys_its_use" in p.sources and "ind_compounds_and_metals_use" in p.sources


def test_the_russian_baseline_sells_third_countries_only_what_they_use(
        tmp_path: Path, facts: FactBase) -> None:
    """No concentrate to third countries, and per element and year no more oxide and
    metal than India uses, its magnet plants included."""
    res = runner.invoke(app, ["plan", str(ROOT / "scenarios" / "russia-2030.yaml"),
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    trade = pd.read_csv(tmp_path / "out" / "trade.csv")
    out = trade[(trade["flow"] == "export") & (trade["partner"] == "OTHER")]
    assert out[out["product"] == "concentrate"]["tonnes"].sum() == pytest.approx(0, abs=1e-6)
    p = assemble(load_scenario(ROOT / "scenarios" / "russia-2030.yaml"), facts)
    other = next(q for q in p.partners if q.id == "OTHER")
    factor = out["element"].map(p.metal_per_oxide).where(out["product"] == "metal", 1.0)
    oxide_eq = out.assign(reo=out["tonnes"] / factor)
    for (element, year), t in oxide_eq.groupby(["element", "year"])["reo"].sum().items():
        caps = other.import_caps_by_year.get(int(year), other.import_caps)
        assert t <= caps[element] * (1 + 1e-6) + 1e-6, (element, year)
    # by 2035 India's magnet plants (6,000 t/yr) take Russia's NdPr; China its Ce
    sold = trade[(trade["flow"] == "export") & (trade["year"] == 2035)]
    ndpr = sold[sold["element"].isin(["Nd", "Pr"])].groupby("partner")["tonnes"].sum()
    assert ndpr.get("OTHER", 0.0) > 1000
    assert sold[(sold["partner"] == "CHN") & (sold["element"] == "Ce")]["tonnes"].sum() > 0


@pytest.mark.parametrize(("countries", "words"), [
    ("[ZZZ]", ["buys_what_it_uses.0", "unknown country 'ZZZ'"]),
    ("[IND, EAEU]", ["buys_what_it_uses.1", "planning country RUS"]),
    ("[VNM]", ["buys_what_it_uses.0", "no rare-earth consumption for 'VNM'"]),
    ("[IND, IND]", ["buys_what_it_uses.1", "'IND' counts IND again (already under OTHER"]),
])
def test_a_partner_use_that_cannot_be_read_exits_2(tmp_path: Path, countries: str,
                                                   words: list[str]) -> None:
    text = (ROOT / "scenarios" / "russia-2030.yaml").read_text(encoding="utf-8")
    assert "buys_what_it_uses: [IND]" in text
    bad = text.replace("buys_what_it_uses: [IND]", f"buys_what_it_uses: {countries}")
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    res = runner.invoke(app, ["plan", str(path)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for word in words:
        assert word in res.stderr, (word, res.stderr)


def test_an_existing_mine_below_capacity_says_why() -> None:
    """The mine makes 500 t REO/yr; the plant at home separates 200 t, China buys nothing
    and OTHER at most 100 t of concentrate: the mine runs at 300 of 500 t/yr (60%), and
    the plan says which outlets are full."""
    mine = Candidate("mine", "mining", existing=500, max_capacity=500, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    sep = Candidate("sep", "separation", existing=200, max_capacity=200, capex=0, opex=0,
                    lead_time=0)
    p = replace(_exporter(Partner("CHN", buys_nothing=True),
                          Partner("OTHER", concentrate_buy_cap=100.0)),
                candidates=(mine, sep))
    plan = solve(p)
    assert plan.solution["prod"].sel(candidate="mine").values.tolist() == pytest.approx(
        [300, 300])
    assert plan.idle_mines == (
        "mine runs at 60% of its 500 t/yr in 2025-2026: home separation runs full "
        "(200 t/yr); CHN buys nothing from us; OTHER buys at most 100 t/yr of concentrate.",)
    assert solve(_exporter(Partner("OTHER"))).idle_mines == ()


def test_a_full_route_is_named_among_the_reasons() -> None:
    """As above, but OTHER's routes carry at most 100 t/yr of any product: the 100 t go as
    oxide (worth more than concentrate), the plant's other 100 t sit in stock, so the mine
    runs at 200 of 500 t/yr (40%), and the reason is the route."""
    mine = Candidate("mine", "mining", existing=500, max_capacity=500, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    sep = Candidate("sep", "separation", existing=200, max_capacity=200, capex=0, opex=0,
                    lead_time=0)
    p = replace(_exporter(Partner("CHN", buys_nothing=True),
                          Partner("OTHER", route_capacity=100.0)), candidates=(mine, sep))
    plan = solve(p)
    assert plan.idle_mines == (
        "mine runs at 40% of its 500 t/yr in 2025-2026: home separation runs full "
        "(200 t/yr); CHN buys nothing from us; the routes to OTHER carry at most 100 t/yr.",)
    assert plan.solution["prod"].sel(candidate="mine").values.tolist() == pytest.approx(
        [200, 200])
