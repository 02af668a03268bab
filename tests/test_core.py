"""The core issue's guarantees: one chain, mass balance on every plan, no silent wrong
answers, evaluate in place, and the economics of each objective term by hand."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from reeplan.data import load_factbase
from reeplan.domain import Recipe, StageChain, chain_from_facts, recipe_from_facts
from reeplan.errors import MassBalanceError
from reeplan.flows.coproduction import distribution_from_table, unassigned_share
from reeplan.flows.stages import run_chain
from reeplan.interfaces.cli import app
from reeplan.optimize import (
    Candidate,
    Evaluator,
    Partner,
    Problem,
    SolveError,
    SolveStatus,
    Target,
    build_parameters,
    delayed,
    solve,
)
from reeplan.optimize.balance import check_plan_balance
from reeplan.optimize.expressions import recipe_arrays
from reeplan.optimize.params import partner_price

YEARS = (2025, 2026, 2027)


def _toy(*, partners: tuple[Partner, ...] = (Partner("CHN"),), price: float = 10_000.0,
         demand: float = 0.0, magnets: float = 0.0, mine: float = 0.0,
         sep: float = 0.0, chain: StageChain | None = None) -> Problem:
    """One element (Nd), an existing mine and separation plant, and a partner."""
    cands = (Candidate("mine", "mining", existing=mine, max_capacity=mine, capex=0, opex=0,
                       lead_time=0, distribution={"Nd": 1.0}),
             Candidate("sep", "separation", existing=sep, max_capacity=sep, capex=0, opex=0,
                       lead_time=0))
    return Problem(years=YEARS, elements=("Nd",), candidates=cands, partners=partners,
                   recipe=Recipe("t", {"Nd": 30.0}), metal_per_oxide={"Nd": 0.857},
                   oxide_price={"Nd": price}, metal_price={"Nd": 2 * price},
                   magnet_price=5 * price, magnet_demand=dict.fromkeys(YEARS, magnets),
                   other_demand=dict.fromkeys(YEARS, demand), discount_rate=0.0,
                   chain=chain or StageChain.ideal())


# --------------------------------------------------------------------------- one chain


def test_chain_and_plan_separate_the_same_oxide_per_tonne_mined() -> None:
    """Lovozero ore through `reeplan chain`'s engine and through the planner: the same
    separated oxide of every element per tonne mined (cracking included)."""
    facts = load_factbase()
    chain = chain_from_facts(facts)
    dist = distribution_from_table(facts["element_distributions"], "lovozero_loparite_approx")
    mined = 1000.0 * dist
    flows = run_chain(mined, chain, {}, {"Nd": 0.857, "Pr": 0.828},
                      recipe_from_facts(facts, "NdFeB_sintered_standard"),
                      unassigned=1000.0 * unassigned_share(dist))
    by_chain = flows["output"].sel(stage="separation").to_series() / 1000.0

    elements = tuple(str(e) for e in dist["element"].values)
    shares = {str(k): float(v) for k, v in dist.to_series().items()}
    mine = Candidate("mine", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution=shares, unassigned=unassigned_share(dist))
    sep = Candidate("sep", "separation", existing=5000, max_capacity=5000, capex=0, opex=0,
                    lead_time=0)
    p = Problem(years=(2025,), elements=elements, candidates=(mine, sep), partners=(),
                recipe=Recipe("t", {"Nd": 30.0}), metal_per_oxide={"Nd": 0.857},
                oxide_price=dict.fromkeys(elements, 1000.0), metal_price={},
                magnet_price=0.0, magnet_demand={}, other_demand={2025: 5000.0}, chain=chain)
    plan = solve(p)
    other = plan.solution["other_use"].sel(year=2025).to_series()
    assert plan.solution["prod"].sel(candidate="mine", year=2025) == pytest.approx(1000)
    for e in elements:
        assert other[e] / 1000.0 == pytest.approx(by_chain[e], rel=1e-9), e
    # and both apply cracking: 0.95 x 0.95 of the Nd in the ore
    assert by_chain["Nd"] == pytest.approx(0.15 * chain.oxide_per_mined, rel=1e-12)
    assert chain.oxide_per_mined == pytest.approx(1.0 * 0.95 * 0.95)


# --------------------------------------------------------------------------- balance


def test_every_plan_is_checked_and_a_broken_balance_names_its_cell() -> None:
    plan = solve(_toy(demand=100.0))
    sol = plan.solution.copy(deep=True)
    check_plan_balance(sol, plan.params, *recipe_arrays(plan.problem.recipe, plan.params))
    sol["import_oxide"].loc[{"partner": "CHN", "element": "Nd", "year": 2026}] += 12.5
    with pytest.raises(MassBalanceError, match=r"oxide market \[element=Nd, year=2026\]: off "
                                               r"by 12\.5"):
        check_plan_balance(sol, plan.params, *recipe_arrays(plan.problem.recipe, plan.params))


# --------------------------------------------------------------------------- no silent answers


def test_a_solve_that_is_not_optimal_is_never_a_plan() -> None:
    """A mine with 100 t/yr existing and a reserve of 10 t cannot run; fixed builds above
    the room make HiGHS report infeasible: a SolveError naming the status, not a plan."""
    p = _toy(mine=100.0, sep=100.0, demand=50.0)
    bad = replace(p, candidates=(replace(p.candidates[0], max_capacity=200.0),
                                 p.candidates[1]),
                  fixed_builds={("mine", 2025): 100.0},
                  national_reserve=-1.0)
    with pytest.raises(SolveError, match="infeasible"):
        solve(bad)


def test_demand_no_one_can_supply_is_a_priced_shortfall() -> None:
    """Every partner blocked and nothing at home: the plan exists, with the demand unmet
    at the stated penalty, and says so."""
    p = _toy(partners=(Partner("CHN", blocked=True), Partner("WEST", blocked=True)),
             demand=100.0, magnets=10.0)
    plan = solve(p)
    unmet = plan.unmet.set_index(["product", "year"])["tonnes"]
    assert unmet[("oxide", 2026)] == pytest.approx(100.0)
    assert unmet[("magnet", 2026)] == pytest.approx(10.0)
    assert plan.penalties == pytest.approx(3 * 110.0 * p.unmet_penalty)
    assert any("Demand for magnet is left unmet from 2025" in m for m in plan.missed)


def test_an_unknown_target_kind_raises() -> None:
    p = replace(_toy(), targets=(Target("x", "output_volume", 1.0, 2025),))  # type: ignore[arg-type]
    with pytest.raises(Exception, match="unknown target kind 'output_volume'"):
        solve(p)


def test_a_cap_on_an_element_the_plan_does_not_model_raises() -> None:
    with pytest.raises(Exception, match="'export_caps': Tb not modelled"):
        _toy(partners=(Partner("CHN", export_caps={"Tb": 0.0}),))


# --------------------------------------------------------------------------- economics by hand


def test_imports_cost_price_times_premium_plus_freight() -> None:
    """100 t/yr of Nd oxide bought at 10,000 USD/t with a 15% premium and 500 USD/t
    freight, three years undiscounted: 3 x 100 x (11,500 + 500) = 3.6 M USD."""
    p = _toy(partners=(Partner("CHN", buy_premium=0.15, transport_cost=500.0),), demand=100.0)
    assert solve(p).cost == pytest.approx(3 * 100 * (10_000 * 1.15 + 500), rel=1e-9)


def test_an_export_earns_the_price_less_the_discount_and_freight() -> None:
    """A mine and separation plant of 200 t/yr and no demand: every tonne is sold, at
    10,000 x (1 - 0.2) - 100 freight = 7,900 USD/t: a cost of -3 x 200 x 7,900."""
    p = _toy(partners=(Partner("CHN", sell_discount=0.2, transport_cost=100.0),), mine=200.0,
             sep=200.0)
    plan = solve(p)
    assert plan.cost == pytest.approx(-3 * 200 * 7_900, rel=1e-9)
    exports = plan.trade[plan.trade["flow"] == "export"]
    assert exports["tonnes"].sum() == pytest.approx(600)


def test_a_metal_import_is_priced_as_metal() -> None:
    """Magnets made at home need 30% Nd metal; with no oxide at home, Nd metal is bought at
    the metal price (20,000 USD/t), not the oxide's."""
    p = _toy(magnets=10.0, partners=(Partner("CHN", magnet_cap=0.0, sell_discount=0.99),))
    magnet = Candidate("mag", "magnet", existing=100, max_capacity=100, capex=0, opex=0,
                       lead_time=0)
    p = replace(p, candidates=(*p.candidates, magnet))
    plan = solve(p)
    bought = plan.trade[(plan.trade["product"] == "metal")]["tonnes"].sum()
    assert bought == pytest.approx(3 * 10 * 0.30)
    assert plan.cost == pytest.approx(3 * 10 * 0.30 * 20_000, rel=1e-9)


def test_a_metal_import_pays_the_premium_and_freight() -> None:
    """Magnets made at home from bought Nd metal (no oxide, no metal plant): 3 x 10 t of
    magnets need 9 t of metal at 20,000 x 1.1 + 300 freight = 22,300 USD/t."""
    p = _toy(magnets=10.0, partners=(Partner("CHN", magnet_cap=0.0, buy_premium=0.1,
                                             sell_discount=0.99, transport_cost=300.0),))
    magnet = Candidate("mag", "magnet", existing=100, max_capacity=100, capex=0, opex=0,
                       lead_time=0)
    plan = solve(replace(p, candidates=(*p.candidates, magnet)))
    assert plan.cost == pytest.approx(3 * 10 * 0.30 * (20_000 * 1.1 + 300), rel=1e-9)


def test_a_metal_export_earns_the_metal_price_less_the_discount_and_freight() -> None:
    """200 t/yr of oxide made into 0.857 x 200 = 171.4 t/yr of metal and sold at
    20,000 x (1 - 0.2) - 100 = 15,900 USD/t, more than the oxide would fetch
    (200 x 7,900 < 171.4 x 15,900); with a 50% premium, bought oxide is not worth
    making into metal (15,100 > 0.857 x 15,900)."""
    p = _toy(partners=(Partner("CHN", sell_discount=0.2, buy_premium=0.5,
                               transport_cost=100.0),), mine=200.0, sep=200.0)
    metal = Candidate("met", "metal", existing=1000, max_capacity=1000, capex=0, opex=0,
                      lead_time=0)
    plan = solve(replace(p, candidates=(*p.candidates, metal)))
    assert plan.cost == pytest.approx(-3 * 0.857 * 200 * 15_900, rel=1e-9)
    sold = plan.trade[(plan.trade["flow"] == "export") & (plan.trade["product"] == "metal")]
    assert sold["tonnes"].sum() == pytest.approx(3 * 0.857 * 200)


def test_a_magnet_import_pays_the_premium_and_freight() -> None:
    """10 t/yr of magnets bought at 50,000 x 1.1 + 200 freight = 55,200 USD/t."""
    p = _toy(magnets=10.0, partners=(Partner("CHN", buy_premium=0.1, transport_cost=200.0),))
    assert solve(p).cost == pytest.approx(3 * 10 * (50_000 * 1.1 + 200), rel=1e-9)


def test_a_magnet_export_earns_the_magnet_price_less_the_discount_and_freight() -> None:
    """A 10 t/yr magnet plant on bought metal, every magnet sold: each costs 0.3 t of metal
    at 20,000 + 100 freight and earns 50,000 x (1 - 0.2) - 100 = 39,900 USD."""
    p = _toy(partners=(Partner("CHN", sell_discount=0.2, transport_cost=100.0),))
    magnet = Candidate("mag", "magnet", existing=10, max_capacity=10, capex=0, opex=0,
                       lead_time=0)
    plan = solve(replace(p, candidates=(*p.candidates, magnet)))
    assert plan.cost == pytest.approx(3 * 10 * (0.30 * 20_100 - 39_900), rel=1e-9)
    sold = plan.trade[(plan.trade["flow"] == "export") & (plan.trade["product"] == "magnet")]
    assert sold["tonnes"].sum() == pytest.approx(30)


# --------------------------------------------------------------------------- evaluate


def test_evaluate_reprices_in_place_and_matches_a_fresh_solve() -> None:
    """Builds fixed, prices doubled: the evaluator's cost equals a fresh plan's with the
    same builds and prices, and it never rebuilds the model."""
    p = _toy(partners=(Partner("CHN", buy_premium=0.1),), demand=100.0)
    plan = solve(p)
    ev = Evaluator(p)
    model = ev.model
    base = ev.evaluate(plan.solution["build"])
    assert base.cost == pytest.approx(plan.cost, rel=1e-9)
    draw = build_parameters(p)
    draw["market_oxide_price"] = draw["market_oxide_price"] * 2
    doubled = ev.evaluate(plan.solution["build"], draw)
    assert ev.model is model
    fresh = solve(replace(p, oxide_price={"Nd": 20_000.0}, metal_price={"Nd": 20_000.0}))
    assert doubled.cost == pytest.approx(fresh.cost, rel=1e-9)
    assert doubled.cost == pytest.approx(2 * base.cost, rel=1e-9)


def test_evaluate_with_a_delay_moves_capacity_later() -> None:
    """A separation build that comes online in 2026 with a lead time of 1; a one-year
    delay drawn for it leaves 2026 to imports."""
    p = _toy(mine=100.0, demand=100.0, partners=(Partner("CHN", buy_premium=0.5),))
    sep = Candidate("sep", "separation", existing=0, max_capacity=100, capex=1.0, opex=0,
                    lead_time=1)
    p = replace(p, candidates=(p.candidates[0], sep))
    plan = solve(p)
    assert float(plan.solution["build"].sel(candidate="sep", decision=2025)) == \
        pytest.approx(100)
    ev = Evaluator(p)
    draw = delayed(build_parameters(p), xr.DataArray([1.0], coords={"candidate": ["sep"]}))
    late = ev.evaluate(plan.solution["build"], draw)
    imported = ev.values(late, "import_oxide").sum("partner").sel(element="Nd")
    assert float(imported.sel(year=2026)) == pytest.approx(100)
    assert float(imported.sel(year=2027)) == pytest.approx(0)


def test_parameters_are_one_dataset_with_named_dimensions() -> None:
    params = build_parameters(_toy())
    assert set(params["online"].dims) == {"candidate", "decision", "year"}
    assert isinstance(params, xr.Dataset)
    assert params["market_oxide_price"].dims == ("market", "element", "year")


# --------------------------------------------------------------------------- through the CLI

BASE = Path(__file__).parent.parent / "scenarios" / "russia-2030.yaml"
runner = CliRunner()


def _variant(tmp_path: Path, body: str, name: str = "variant") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"extends: {BASE}\nname: {name}\n{body}", encoding="utf-8")
    return path


def _fails_cleanly(res: Any, *words: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for word in words:
        assert word in res.stderr, (word, res.stderr)


def test_empty_candidates_and_partners_plan_with_unmet_demand(tmp_path: Path) -> None:
    """`candidates: {}` and `partners: {}` clear the base's: nothing to build, nobody to
    trade with. The plan exists and states the demand left unmet and its penalty."""
    path = _variant(tmp_path, "candidates: {}\npolicy:\n  partners: {}\n")
    res = runner.invoke(app, ["plan", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "Demand for magnet is left unmet from 2025" in res.stdout
    assert "of penalties" in res.stdout
    run = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert run["discounted_penalties_musd"] > 0 and run["status"] == "optimal"
    parts = run["discounted_penalties_by_part_musd"]
    assert set(parts) == {"targets missed", "demand unmet", "contracts short"}
    assert sum(parts.values()) == pytest.approx(run["discounted_penalties_musd"])
    assert parts["demand unmet"] > 0 and parts["contracts short"] == 0


def test_a_cap_on_an_unmodelled_element_names_its_line(tmp_path: Path) -> None:
    path = _variant(tmp_path, "policy:\n  partners:\n    CHN: {export_caps_t: {Tm: 0}}\n")
    _fails_cleanly(runner.invoke(app, ["plan", str(path)]), "line 5",
                   "policy.partners.CHN.export_caps_t.Tm", "does not model 'Tm'")


def test_a_horizon_before_the_first_price_is_named(tmp_path: Path) -> None:
    path = _variant(tmp_path, "horizon: {start: 2005, end: 2035}\n")
    _fails_cleanly(runner.invoke(app, ["plan", str(path)]), "line 3", "horizon.start",
                   "no oxide price of Dy, Nd, Pr, Tb at or before 2005")


@pytest.mark.parametrize("status", [SolveStatus.TIME_LIMIT, SolveStatus.INFEASIBLE,
                                    SolveStatus.NUMERICAL_TROUBLE])
def test_a_solve_that_is_not_optimal_exits_2_naming_it(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path,
                                                      status: SolveStatus) -> None:
    """Whatever HiGHS reports other than optimal stops with exit 2, the status and the
    inputs to suspect; nothing is written."""
    from reeplan.optimize import highs

    def not_optimal(self: highs.HighsModel, what: str = "the model") -> None:
        raise SolveError(status, what)

    monkeypatch.setattr(highs.HighsModel, "solve", not_optimal)
    out = tmp_path / "out"
    res = runner.invoke(app, ["plan", str(BASE), "--out", str(out)])
    _fails_cleanly(res, f"status: {status}", "russia-2030", "suspect")
    assert not out.exists()


def test_highs_reports_its_real_status() -> None:
    """A MILP with a time limit of zero seconds ends at the limit: a SolveError, never a
    plan."""
    p = _toy(demand=10.0)
    sized = replace(p, integer_sizes=True, candidates=(
        *p.candidates, Candidate("s2", "separation", existing=0, max_capacity=100, capex=1,
                                 opex=0, lead_time=0, min_size=50)))
    with pytest.raises(SolveError) as err:
        solve(sized, time_limit=0.0)
    assert err.value.status in (SolveStatus.TIME_LIMIT, SolveStatus.INTERRUPTED)


def test_chain_and_plan_read_the_same_consumption() -> None:
    """One rule per fact: the baseline's first-year demand in oxide equivalent is the
    consumption row `reeplan chain` reads for that year (3,000 t REO, metalinfo_fedorov)."""
    from reeplan.data.selection import consumption
    from reeplan.flows.country import country_chain
    from reeplan.optimize.expressions import consumption_reo
    from reeplan.scenarios.assemble import assemble
    from reeplan.scenarios.spec import read_scenario

    facts = load_factbase()
    problem = assemble(read_scenario(BASE)[0], facts)
    planned = float(consumption_reo(build_parameters(problem)).sel(year=2025))
    row = consumption(facts, "RUS", 2025)
    assert row is not None and row.total == 3000.0
    assert planned == pytest.approx(row.total, rel=1e-9)
    chain = country_chain("RUS", 2024, facts=facts)  # nearest row to 2024: the 2025 one
    sep = chain.balance[chain.balance["stage"] == "separation"]
    assert float(sep["demand"].sum()) == pytest.approx(row.total, rel=1e-9)


def test_evaluate_with_new_prices_changes_an_output_value_target_in_place() -> None:
    """Prices enter the matrix through an output-value target: doubling them doubles the
    value per tonne, so the same builds meet a target they missed (checked against a fresh
    solve of the same problem at the new prices)."""
    p = _toy(mine=100.0, sep=100.0)
    p = replace(p, targets=(Target("v", "output_value", 1.5e6, 2025, "separation", 10.0),))
    plan = solve(p)
    assert not plan.targets["met"].any()          # 100 t x 10,000 USD/t = 1.0 M < 1.5 M
    ev = Evaluator(p)
    draw = build_parameters(p)
    for name in ("market_oxide_price", "market_metal_price", "magnet_price"):
        draw[name] = draw[name] * 2
    res = ev.evaluate(plan.solution["build"], draw)
    fresh = solve(replace(p, oxide_price={"Nd": 20_000.0}, metal_price={"Nd": 40_000.0},
                          magnet_price=100_000.0))
    assert res.cost == pytest.approx(fresh.cost, rel=1e-9, abs=1e-6)
    assert float(ev.values(res, "shortfall").sum()) == pytest.approx(0.0, abs=1e-9)


def test_a_structural_parameter_changed_in_place_raises() -> None:
    """Lead times decide which builds exist; changing one in a draw would be ignored by an
    in-place update, so it raises and says what to vary instead."""
    p = _toy(demand=10.0)
    ev = Evaluator(p)
    draw = build_parameters(p)
    draw["lead_time"] = draw["lead_time"] + 1
    with pytest.raises(Exception, match="lead_time changed, but they shape the model"):
        ev.evaluate(ev.values(ev.evaluate(xr.DataArray(0.0)), "build"), draw)



# --------------------------------------------------------------------------- markets

SHIPPED = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_no_shipped_plan_round_trips_or_re_exports(path: Path) -> None:
    """No product and element both imported and exported in one year, and no element
    exported beyond what is separated and recycled at home (oxide equivalent)."""
    from reeplan import run_plan

    plan = run_plan(path)
    assert plan.round_trips.empty, plan.round_trips
    s, q = plan.solution, plan.params
    exported = s["export_oxide"].sum("partner") + (s["export_metal"].sum("partner")
                                                   / q["metal_per_oxide"])
    mines = list(q["mine"].values)
    feed = s["prod"].sel(candidate=mines).rename(candidate="mine") - s["conc_export"].sum(
        "partner") - s["conc_held"] + s["conc_drawn"]  # stored at the mine, drawn later
    separated = q["oxide_per_mined"] * (q["distribution"] * feed).sum("mine") \
        if mines else 0.0 * exported
    recyclers = [c for c, st in zip(q["candidate"].values, q["stage"].values, strict=True)
                 if st == "recycling"]
    recycled = s["prod"].sel(candidate=recyclers).sum("candidate") * q["recipe_share"] \
        * q["recycling_recovery"] / q["metal_per_oxide"]
    assert bool((exported <= separated + recycled + 1e-6).all())
    # no plant stands idle (below half its neighbours' output) between two years it runs
    # (at a tenth of its capacity or more); a mine without a buyer stores its concentrate
    prod = s["prod"].transpose("candidate", "year").values
    cap = s["capacity"].transpose("candidate", "year").values
    low = np.minimum(prod[:, :-2], prod[:, 2:])
    dips = (prod[:, 1:-1] < 0.5 * low) & (low > np.maximum(1.0, 0.1 * cap[:, 1:-1]))
    assert not dips.any(), q["candidate"].values[dips.any(axis=1)]


def test_plants_of_equal_cost_run_steadily_and_the_tie_break_is_no_cost() -> None:
    """Two identical separation plants (100 t/yr each, 10 USD/t) share 100, then 150 t/yr
    of ore: any split is optimal, and without the tie-break the solver may swap them year
    by year. With it no plant's output falls while the total rises, and none changes
    while the total holds; the plan costs 10 x (100 + 150/1.08 + 150/1.08^2) USD, the
    tie-break (1 USD per t of change, 100 t of change in 2026) left out, and evaluating
    its builds costs the same."""
    from reeplan.optimize import Evaluator

    years = (2025, 2026, 2027)
    mine = Candidate("mine", "mining", existing=200, max_capacity=200, capex=0, opex=0,
                     lead_time=0, distribution={"La": 1.0})
    seps = tuple(Candidate(f"sep{i}", "separation", existing=100, max_capacity=100,
                           capex=0, opex=10, lead_time=0) for i in (1, 2))
    p = Problem(years=years, elements=("La",), candidates=(mine, *seps), partners=(),
                recipe=Recipe("t", {"La": 30.0}), metal_per_oxide={"La": 0.853},
                oxide_price={"La": 0.0}, metal_price={"La": 0.0}, magnet_price=0.0,
                magnet_demand={}, other_demand={2025: 100.0, 2026: 150.0, 2027: 150.0},
                discount_rate=0.08, chain=StageChain.ideal())
    plan = solve(p)
    out = plan.solution["prod"].sel(candidate=["sep1", "sep2"]).transpose(
        "candidate", "year").values
    assert out.sum(axis=0).tolist() == pytest.approx([100, 150, 150])
    assert (out[:, 1] >= out[:, 0] - 1e-9).all() and out[:, 2] == pytest.approx(out[:, 1])
    hand = 10 * (100 + 150 / 1.08 + 150 / 1.08 ** 2)
    assert plan.cost == pytest.approx(hand, rel=1e-9)
    assert float(plan.solution.attrs["objective_musd"]) * 1e6 == pytest.approx(
        hand + 2 * 50 / 1.08, rel=1e-9)  # the mine and one plant rise by 50 t in 2026
    ev = Evaluator(p)
    assert ev.evaluate(plan.solution["build"]).cost == pytest.approx(hand, rel=1e-9)


def test_a_plant_built_for_its_ramp_up_output_is_reported_oversized() -> None:
    """300 t/yr of ore; a separation target of 300 t/yr from 2025; a new plant usable at
    50% of its size in its first year: meeting 2025 takes 600 t/yr of plant, of which 300
    run once it is fully online in 2026, so its peak use is 0.5 and its reason says it is
    oversized."""
    from reeplan.reporting.tables import builds_table

    years = (2025, 2026, 2027)
    mine = Candidate("mine", "mining", existing=300, max_capacity=300, capex=0, opex=0,
                     lead_time=0, distribution={"La": 1.0})
    sep = Candidate("sep", "separation", existing=0, max_capacity=1000, capex=10, opex=1,
                    lead_time=0)
    p = Problem(years=years, elements=("La",), candidates=(mine, sep), partners=(),
                recipe=Recipe("t", {"La": 30.0}), metal_per_oxide={"La": 0.853},
                oxide_price={"La": 0.0}, metal_price={"La": 0.0}, magnet_price=0.0,
                magnet_demand={}, other_demand=dict.fromkeys(years, 300.0),
                discount_rate=0.0, chain=StageChain.ideal(), ramp_up=(0.5,),
                targets=(Target("sep", "output", 300, 2025, "separation", 1e6),))
    b = builds_table(solve(p)).set_index("project")
    assert b.at["sep", "capacity_t_per_yr"] == pytest.approx(600)
    assert b.at["sep", "peak_use_share"] == pytest.approx(0.5)
    assert "oversized: at most 50% of its capacity" in b.at["sep", "reason"]


def test_market_prices_never_pick_a_policy_floor_and_price_pr_on_its_own() -> None:
    """China, 2025: Nd and Pr at SMM's NdPr oxide quote of 25 September 2025 (560,000-
    565,000 CNY/t at 7.0809 CNY/USD: 79.44 USD/kg), newer than their own 2024 quotes, not
    the US DoD floor of 110; ex-China: China's price times a premium read from quotes of
    the same year: Nd x 92.5/79.44 and Pr x 93.25/79.44 (Argus Europe, the same day), Dy x
    800/224 (CIF Europe against Adamas's volume-weighted China price, 2025). In 2024 Nd
    keeps its own USGS average (56) and Pr the NdPr quote (51, Fastmarkets fob China)."""
    from reeplan.data.selection import market_prices

    facts = load_factbase()
    china = market_prices(facts, 2025, "china")
    europe = market_prices(facts, 2025, "ex_china")
    ndpr = 562_500 / 7.0809 / 1000
    assert china.oxide["Pr"] == pytest.approx(ndpr) and china.oxide["Nd"] == pytest.approx(ndpr)
    assert "fas_mp_2025" not in china.sources | europe.sources
    assert {"smm_weekly_2025_09_25", "nd_pr_at_ndpr_price"} <= china.sources
    assert europe.oxide["Pr"] == pytest.approx(93.25)
    assert europe.oxide["Nd"] == pytest.approx(92.5)
    assert europe.oxide["Dy"] == pytest.approx(800.0)
    assert china.oxide["Dy"] == pytest.approx(224.0)
    assert china.oxide["Y"] == pytest.approx(6.5) and europe.oxide["Y"] == pytest.approx(175.0)
    earlier = market_prices(facts, 2024, "china")
    assert earlier.oxide["Nd"] == pytest.approx(56.0)
    assert earlier.oxide["Pr"] == pytest.approx(51.0)
    # metal over oxide per kg from same-day NdPr quotes: 63 / 51 (Fastmarkets 20 June 2024)
    assert china.metal_ratio == pytest.approx(63 / 51)


def test_magnets_are_priced_from_chinas_export_unit_value_and_move_with_nd(
        tmp_path: Path) -> None:
    """China exported 58,152 t of magnets worth US$2.86 bn in 2024 (Adamas): 49.18 USD/kg,
    when Chinese Nd oxide averaged 56 USD/kg. A plan's magnet keeps the quote's non-rare-
    earth part and revalues its rare-earth content (t REO per t magnet of the recipe) at
    China's Nd price of its own year: 2025 (SMM NdPr oxide 560,000-565,000 CNY/t at 7.0809 CNY/USD)
    and the 2011 spike variant (Nd oxide 190-200 USD/kg at year end)."""
    from reeplan.data.selection import magnet_quote
    from reeplan.domain import chain_from_facts, recipe_as_used
    from reeplan.scenarios.assemble import assemble
    from reeplan.scenarios.spec import read_scenario

    facts = load_factbase()
    quote = magnet_quote(facts, 2025)
    assert (quote.price, quote.year, quote.nd_price) == (pytest.approx(49.18), 2024, 56.0)
    assert magnet_quote(facts, 2011).year == 2024  # none before: the first after
    factors = {str(k): float(v) for k, v in
               facts["elements"].set_index("symbol")["metal_per_oxide"].items()}
    content = chain_from_facts(facts).oxide_per_magnet(recipe_as_used(facts, 2025), factors)
    assert content == pytest.approx(0.4632, abs=1e-4)
    base = assemble(read_scenario(BASE)[0], facts)
    nd_2025 = 562_500 / 7.0809
    assert base.magnet_price == pytest.approx(49_180 + content * (nd_2025 - 56_000))
    assert {"adamas_china_magnet_exports_2024", "magnet_price_follows_nd"} <= base.sources
    spike = assemble(read_scenario(BASE.parent / "price-spike-2011.yaml")[0], facts)
    assert spike.magnet_price == pytest.approx(49_180 + content * (195_000 - 56_000))
    # a plan at ex-China prices (Nd 92.5 USD/kg delivered Europe) buys magnets at China's
    europe = assemble(read_scenario(_variant(tmp_path, "prices: {market: ex_china}\n"))[0],
                      facts)
    assert europe.oxide_price["Nd"] == pytest.approx(92_500)
    assert europe.magnet_price == pytest.approx(base.magnet_price)


def test_yuan_quotes_convert_at_the_years_rate_and_old_quotes_are_noted() -> None:
    """Chinese price services quote yuan per tonne. Gd oxide 'below 170,000 CNY/t'
    (26 February 2024) at the Federal Reserve's 2023 average held flat (7.0809 CNY/USD):
    24.01 USD/kg; Er oxide 203,000-208,000 CNY/t (23 September 2021) at 2021's 6.4508:
    31.86 USD/kg, priced for 2024 with a note; Ce oxide 11,000-11,200 CNY/t (SMM, 25
    September 2025), newer than USGS's 2024 average of 1 USD/kg: 1.57 USD/kg."""
    from reeplan.data.selection import market_prices

    facts = load_factbase()
    china = market_prices(facts, 2025, "china")
    assert china.oxide["Gd"] == pytest.approx(170_000 / 7.0809 / 1000)
    assert china.oxide["Ce"] == pytest.approx(11_100 / 7.0809 / 1000)
    assert {"fed_g5a_2024", "fx_held_after_forecast", "ctia_re_prices_2024_02",
            "smm_weekly_2025_09_25"} <= china.sources
    assert not any(n.startswith("Gd:") for n in china.notes)
    priced_2024 = market_prices(facts, 2024, "china")
    assert priced_2024.oxide["Er"] == pytest.approx(205_500 / 6.4508 / 1000)
    assert "Er: the newest Chinese quote is of 2021, 3 years before 2024." in priced_2024.notes
    # the quote of the year priced: no rate held, no note
    old = market_prices(facts, 2021, "china")
    assert old.oxide["Er"] == pytest.approx(205_500 / 6.4508 / 1000)
    assert "fx_held_after_forecast" not in old.sources
    assert not any(n.startswith("Er:") for n in old.notes)


def test_each_partner_trades_at_its_market(tmp_path: Path) -> None:
    """In the baseline, China's prices apply to CHN and delivered-Europe ones to OTHER;
    metal is priced at oxide x 63/51, not oxide / factor x a markup."""
    from reeplan.scenarios.assemble import assemble
    from reeplan.scenarios.spec import read_scenario

    problem = assemble(read_scenario(BASE)[0], load_factbase())
    q = build_parameters(problem)
    dy = partner_price(q, "oxide").sel(element="Dy", year=2025)
    assert float(dy.sel(partner="CHN")) == pytest.approx(224_000)
    assert float(dy.sel(partner="OTHER")) == pytest.approx(800_000)
    nd_metal = partner_price(q, "metal").sel(element="Nd", year=2025, partner="CHN")
    assert float(nd_metal) == pytest.approx(562_500 / 7.0809 * 63 / 51)


def test_a_policy_market_is_refused(tmp_path: Path) -> None:
    path = _variant(tmp_path, "prices: {market: policy}\n")
    _fails_cleanly(runner.invoke(app, ["plan", str(path)]), "line 3", "prices.market",
                   "'china' or 'ex_china'")


# --------------------------------------------------------------------------- output tables


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_output_tables_add_up(path: Path) -> None:
    """Every flows row balances; costs give the objective; dependence is its formula."""
    from reeplan import run_plan
    from reeplan.reporting.roadmap import plan_tables
    from reeplan.reporting.tables import discounted_cost_musd

    plan = run_plan(path)
    t = plan_tables(plan)
    f = t["flows"]
    lhs = f["production"] + f["recycled_in"] + f["imports"]
    rhs = f[["exports", "to_next_stage", "final_use", "losses", "stock_change"]].sum(axis=1)
    assert np.allclose(lhs, rhs, atol=1e-6 * (1 + lhs.abs().max()))
    flows_out = f.select_dtypes("float").drop(columns="stock_change")  # a reserve drawn: < 0
    assert not (flows_out < -1e-9).any().any()
    cost, penalties = discounted_cost_musd(t["costs"])
    assert cost + penalties == pytest.approx(plan.cost / 1e6, rel=1e-6, abs=1e-6)
    d = t["dependence"]
    assert np.allclose(d["gross_import_share"], d["imports_t_reo"] / d["consumption_t_reo"],
                       equal_nan=True)
    net = (d["imports_t_reo"] - d["exports_t_reo"]).clip(lower=0) / d["consumption_t_reo"]
    assert np.allclose(d["net_import_share"], net, equal_nan=True)
    unused = d[d["consumption_t_reo"] == 0]  # a share of nothing: no imports either
    assert (unused["imports_t_reo"] == 0).all() and unused["gross_import_share"].isna().all()
    assert (t["builds"]["capacity_t_per_yr"] > 0).all()


def test_cost_breakdown_by_hand() -> None:
    """100 t/yr of oxide bought at 10,000 x 1.15 with 500 USD/t freight, 8% a year:
    imports 1.15 M USD and freight 0.05 M USD each year, discounted 1, 1/1.08, 1/1.08^2."""
    from reeplan.reporting.tables import costs_table, discounted_cost_musd

    p = replace(_toy(partners=(Partner("CHN", buy_premium=0.15, transport_cost=500.0),),
                     demand=100.0), discount_rate=0.08)
    plan = solve(p)
    c = costs_table(plan).set_index("year")
    assert c["imports_musd"].tolist() == pytest.approx([1.15] * 3)
    assert c["freight_musd"].tolist() == pytest.approx([0.05] * 3)
    assert c["discount_factor"].tolist() == pytest.approx([1, 1 / 1.08, 1 / 1.08 ** 2])
    cost, penalties = discounted_cost_musd(costs_table(plan))
    assert cost == pytest.approx(1.2 * (1 + 1 / 1.08 + 1 / 1.08 ** 2)) and penalties == 0


@pytest.mark.parametrize("args", [
    ["plan", str(BASE)], ["plan", str(BASE.parent / "eu-crma-2030.yaml")],
    ["plan", str(BASE.parent / "russia-roadmap-2030.yaml")],
    ["chain", "--country", "RUS"], ["chain", "--country", "USA"],
    ["chain", "--country", "RUS", "--year", "2024", "--commodity", "W"],
    ["world", "--year", "2024"], ["chain", "--country", "CHN"],
    ["plan", "--diff", str(BASE), str(BASE.parent / "china-ban-2028.yaml")]])
def test_nothing_is_cut_short_at_80_columns(args: list[str]) -> None:
    """In an 80-column terminal or a pipe, tables wrap their cells; no line is wider and
    nothing ends in an ellipsis."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    out = subprocess.run([sys.executable, "-m", "reeplan", *args], capture_output=True,
                         text=True, env=env, check=True).stdout
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    if "--diff" in args:  # short headers, numbers as printed elsewhere, not raw floats
        assert "Met from (A)" in out and "A: russia-2030; B: china-ban-2028" in out
        assert not re.search(r"\d\.\d{4,}", out), out
    if args[0] == "chain" and "--commodity" not in args:  # numbers never split over lines
        from reeplan.flows.country import country_chain

        mined = country_chain(args[2], 2024).elements.set_index("element")["mined"]
        for element in ("La", "Ce", "Nd"):
            assert re.search(rf"^ {element} +{float(mined[element]):,.0f} ", out, re.M)


def test_the_scenario_reference_is_up_to_date() -> None:
    """docs/scenarios.md is what the schema generates; every key has a meaning."""
    from reeplan.scenarios.reference import scenario_reference

    text = scenario_reference()
    shipped = (Path(__file__).parent.parent / "docs" / "scenarios.md").read_text("utf-8")
    assert shipped == text, "regenerate: python -m reeplan.scenarios.reference > docs/scenarios.md"
    assert "|  |\n" not in text
    assert "`policy.partners.<id>`" in text and "`WEST`: the states sanctioning Russia" in text



def test_the_magnet_as_used_weighs_each_application() -> None:
    """IEA 2024 magnet REE demand: EV 8.359, wind 10.496 and other uses 72.067 kt, the
    last split by JSNM's China shares into other automotive 12.262, air conditioners 7.840,
    electronics 14.273 (hard-disk-drive magnets: Nd 22.9, Pr 2.7, Dy 1.4 wt%) and
    industrial motors and other 37.692 kt (the generic grade: Nd 23.063, Pr 7.688, Dy 0.9).
    Tb comes only from EV (0.467 wt%) and wind (0.929 wt%) grades: (8.359 x 0.467 + 10.496
    x 0.929) / 90.922 = 0.150 wt%; Dy = (8.359 x 2.407 + 10.496 x 2.532 + 14.273 x 1.4 +
    57.794 x 0.9) / 90.922; Pr is its own component (no Nd-for-Pr substitution)."""
    from reeplan.domain import recipe_as_used

    r = recipe_as_used(load_factbase(), 2025)
    total = 8.359 + 10.496 + 12.262 + 7.840 + 14.273 + 37.692
    assert total == pytest.approx(90.922)
    generic = 12.262 + 7.840 + 37.692
    assert r.wt_pct["Tb"] == pytest.approx((8.359 * 0.467 + 10.496 * 0.929) / total,
                                           rel=1e-6)
    assert r.wt_pct["Dy"] == pytest.approx(
        (8.359 * 2.407 + 10.496 * 2.532 + 14.273 * 1.4 + generic * 0.9) / total, rel=1e-6)
    assert r.wt_pct["Pr"] == pytest.approx(
        (8.359 * 3.521 + 10.496 * 3.75 + 14.273 * 2.7 + generic * 7.688) / total, rel=1e-6)
    assert r.groups == {} and r.members("Nd") == ("Nd",)
    assert sum(r.wt_pct.values()) == pytest.approx(
        (8.359 * 30 + 10.496 * 30 + 14.273 * (22.9 + 2.7 + 1.4)
         + generic * (23.063 + 7.688 + 0.9)) / total, rel=1e-4)


def test_the_application_split_adds_up_to_the_iea_other_uses() -> None:
    """The four applications JSNM's shares carve out of the IEA's 2024 other uses sum to
    its 72.067 kt, so the split adds no magnet demand of its own."""
    d = load_factbase()["demand"]
    obs = d[(d["scope"] == "WLD") & (d["scenario"] == "observed") & (d["year"] == 2024)]
    parts = obs[obs["end_use"].isin(["Other automotive", "Air conditioners", "Electronics",
                                     "Industrial motors and other"])]["value"].sum()
    other = float(obs.loc[obs["end_use"] == "other uses", "value"].iloc[0])
    assert parts == pytest.approx(other, abs=1e-3)


def test_dependence_by_magnet_element_counts_magnets_by_content() -> None:
    """Magnets bought abroad carry their Nd: 10 t/yr of magnets with 30 wt% Nd, all
    imported, make the Nd import share 1; Nd consumption is 10 x 0.3 / 0.857 t REO."""
    from reeplan.reporting.tables import dependence_table

    plan = solve(_toy(magnets=10.0))
    d = dependence_table(plan)
    nd = d[(d["element"] == "Nd") & (d["year"] == 2026)].iloc[0]
    assert nd["consumption_t_reo"] == pytest.approx(10 * 0.30 / 0.857)
    assert nd["imports_t_reo"] == pytest.approx(10 * 0.30 / 0.857)
    assert nd["gross_import_share"] == pytest.approx(1.0)
    group = d[(d["element"] == "magnet elements") & (d["year"] == 2026)].iloc[0]
    assert group["imports_t_reo"] == pytest.approx(nd["imports_t_reo"])


def test_a_net_magnet_element_import_cap_counts_what_an_all_element_cap_hides() -> None:
    """All-element gross share 48%: met by cheap La imports being small next to a large
    pooled demand. A cap on the magnet elements, net of exports, binds on magnets bought:
    imported magnets must fall to the cap (the rest is short)."""
    p = _toy(magnets=10.0, demand=1000.0, mine=1000.0, sep=1000.0)
    gross_all = replace(p, targets=(Target("all", "import_share", 0.48, 2025, penalty=1e6),))
    magnet_net = replace(p, targets=(Target("mag", "import_share", 0.48, 2025, penalty=1e6,
                                            measure="net", elements="magnet"),))
    a, b = solve(gross_all), solve(magnet_net)
    assert a.targets["met"].all()          # 10 t magnets ~ 3.5 t REO of 1,003.5 t use
    t = b.targets[b.targets["year"] == 2026].iloc[0]
    content = 10 * 0.30 / 0.857            # t REO in the magnets demanded
    assert t["achieved"] == pytest.approx(1.0)  # nothing makes magnets at home
    assert t["shortfall"] == pytest.approx(content * (1 - 0.48))


def test_a_build_is_worth_what_the_plan_costs_without_it() -> None:
    """The hand-solvable separation build (500 t/yr for a 500 t/yr output target) is worth
    the target's penalty, 1,000 USD/t x 500 t/yr in 2028-2030 undiscounted, less the plant's
    own capex and opex (20,000 x 500 + 10 x 500 x 3): re-solving without it says so."""
    from reeplan.reporting.worth import build_worth, cost_of_targets_musd

    mine = Candidate("mine", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    sep = Candidate("sep", "separation", existing=0, max_capacity=2000, capex=20_000,
                    opex=10, lead_time=2)
    p = Problem(years=tuple(range(2025, 2031)), elements=("Nd",), candidates=(mine, sep),
                partners=(), recipe=Recipe("t", {"Nd": 30.0}), metal_per_oxide={"Nd": 0.857},
                oxide_price={"Nd": 0.0}, metal_price={"Nd": 0.0}, magnet_price=0.0,
                magnet_demand={}, other_demand={}, discount_rate=0.0,
                targets=(Target("sep", "output", 500, 2028, "separation", 100_000.0),))
    plan = solve(p)
    w = build_worth(plan).set_index("candidate")
    assert w.at["sep", "worth_musd"] == pytest.approx(
        (100_000 * 500 * 3 - 20_000 * 500 - 10 * 500 * 3) / 1e6, rel=1e-9)
    assert w.at["sep", "added_penalties_musd"] == pytest.approx(100_000 * 500 * 3 / 1e6)
    assert w.at["sep", "added_unmet_musd"] == pytest.approx(0.0)
    assert w.at["sep", "added_cost_musd"] == pytest.approx(-(20_000 * 500 + 10 * 500 * 3)
                                                           / 1e6, rel=1e-9)
    from reeplan.reporting.tables import builds_table

    reason = builds_table(plan, build_worth(plan))["reason"].iloc[0]
    assert reason.endswith("without it the plan costs 140.0 M USD more (discounted): capex, "
                           "opex and trade -10.0, penalties of targets then missed +150.0"), \
        reason
    assert cost_of_targets_musd(plan) == pytest.approx((20_000 * 500 + 10 * 500 * 3) / 1e6)


def test_the_consumption_row_is_a_labelled_choice() -> None:
    """Russia's demand: 3,000 t REO (implied by the 2030 target, read for 2025) or the 2018
    estimate of 1,200 t, chosen by demand.consumption_year; both cite their rows."""
    from reeplan.optimize.expressions import consumption_reo
    from reeplan.scenarios.assemble import assemble
    from reeplan.scenarios.spec import read_scenario

    facts = load_factbase()
    shipped = Path(__file__).parent.parent / "scenarios" / "russia-demand-2018.yaml"
    low = assemble(read_scenario(shipped)[0], facts)
    base = assemble(read_scenario(BASE)[0], facts)
    assert float(consumption_reo(build_parameters(low)).sel(year=2025)) == pytest.approx(1200)
    assert float(consumption_reo(build_parameters(base)).sel(year=2025)) == pytest.approx(3000)
    assert "mgpavto_2019" in low.sources and "metalinfo_fedorov" in base.sources


def test_unmet_oxide_names_its_elements_only_where_the_demand_has_them() -> None:
    """A pooled toy (no element split) leaves 100 t/yr of oxide unmet with no partner: the
    line names no element (never an empty "()"); a split one names Nd."""
    pooled = solve(_toy(partners=(), demand=100.0))
    line = next(m for m in pooled.missed if m.startswith("Demand for oxide"))
    assert line.startswith("Demand for oxide is left unmet from 2025 by up to 100 t/yr")
    split = solve(replace(_toy(partners=(), demand=100.0), other_split={"Nd": 1.0}))
    assert any(m.startswith("Demand for oxide (Nd) is left unmet") for m in split.missed)


def test_a_licensed_export_is_bought_at_the_dearest_market_s_price() -> None:
    """China (market 'china', 10,000 USD/t) licenses 40 t/yr of Nd oxide; the West sells at
    the ex-China price, 30,000 USD/t. Demand 100 t/yr: the 40 licensed tonnes cost the
    ex-China price too (the licence's rent goes to the seller), so the plan costs
    3 x 100 x 30,000 whichever partner sells, and China buying our oxide at its own price
    earns no gap. Without the cap China sells all 100 t at 10,000."""
    markets = {"china": ({"Nd": 10_000.0}, {"Nd": 20_000.0}),
               "ex_china": ({"Nd": 30_000.0}, {"Nd": 60_000.0})}
    partners = (Partner("CHN", export_caps={"Nd": 40.0}, market="china"),
                Partner("WEST", market="ex_china"))
    p = replace(_toy(demand=100.0), partners=partners, market_prices=markets,
                reference_market="china")
    plan = solve(p)
    assert plan.cost == pytest.approx(3 * 100 * 30_000, rel=1e-9)
    free = replace(p, partners=(Partner("CHN", market="china"), partners[1]))
    assert solve(free).cost == pytest.approx(3 * 100 * 10_000, rel=1e-9)


def test_a_share_target_s_unit_is_a_fraction_and_its_shortfall_is_in_tonnes() -> None:
    """The EU's 10% extraction benchmark: required 0.1 and achieved in the `unit`
    'fraction'; the shortfall in t REO/yr of domestic supply (its own column)."""
    from reeplan import run_plan
    from reeplan.reporting.tables import targets_table

    t = targets_table(run_plan(BASE.parent / "eu-crma-2030.yaml"))
    row = t[(t["target"] == "crma_extraction_10") & (t["year"] == 2030)].iloc[0]
    assert (row["unit"], row["required"]) == ("fraction", 0.1)
    assert row["shortfall_unit"] == "t REO/yr of domestic supply" and row["shortfall"] > 0
    output = t[t["kind"] == "supplier_share"]
    assert set(output["unit"]) == {"fraction"}
