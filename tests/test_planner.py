"""The roadmap planner: a hand-solvable case, metamorphic tests, scenarios, bad input."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from reeplan.domain import Recipe, StageChain
from reeplan.interfaces.cli import app
from reeplan.optimize import Candidate, Partner, Problem, Target, solve
from reeplan.types import Stage

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))
runner = CliRunner()
SEP95 = StageChain({**StageChain.ideal().recovery, Stage.SEPARATION: 0.95})
"""A chain whose only loss is 5% at separation."""


def _problem(target: float = 500.0, extra: tuple[Candidate, ...] = (),
             partners: tuple[Partner, ...] = (Partner("CHN"),), price: float = 0.0,
             demand: float = 0.0) -> Problem:
    mine = Candidate("mine", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    sep = Candidate("sep", "separation", existing=0, max_capacity=2000, capex=20_000,
                    opex=10, lead_time=2)
    return Problem(years=tuple(range(2025, 2031)), elements=("Nd",),
                   candidates=(mine, sep, *extra), partners=partners,
                   recipe=Recipe("test", {"Nd": 30.0}), metal_per_oxide={"Nd": 0.857},
                   oxide_price={"Nd": price}, metal_price={"Nd": price * 1.5},
                   magnet_price=0.0, magnet_demand={}, other_demand=dict.fromkeys(
                       range(2025, 2031), demand),
                   targets=(Target("sep", "output", target, 2028, "separation", 1e6),),
                   chain=SEP95)


def test_hand_solvable_build_year_and_cost() -> None:
    """500 t/yr separated from 2028 with a 2-year lead time: build in 2026, not earlier
    (discounting), at 20,000 USD per t/yr; opex 10 USD/t in 2028-2030; 8% a year."""
    plan = solve(_problem())
    b = plan.builds.set_index("candidate").loc["sep"]
    assert b["decision_year"] == 2026 and b["online_year"] == 2028
    assert b["capacity"] == pytest.approx(500)
    expected = 20_000 * 500 / 1.08 + sum(10 * 500 / 1.08 ** (y - 2025) for y in (2028, 2029,
                                                                                    2030))
    assert plan.cost == pytest.approx(expected, rel=1e-9)
    assert plan.missed == ()


def test_missed_target_names_shortfall_and_reason() -> None:
    plan = solve(_problem(target=2500.0))  # the mine gives 950 t separated at most
    assert len(plan.missed) == 1
    line = plan.missed[0]
    assert "'sep'" in line and "from 2028" in line and "1,550" in line


def test_lead_time_is_named_when_the_target_comes_too_early() -> None:
    p = _problem()
    p = replace(p, targets=(Target("sep", "output", 500, 2025, "separation", 1e6),))
    line = solve(p).missed[0]
    assert "from 2025" in line and "lead time of sep" in line


@pytest.mark.parametrize(("loose", "tight"), [(300.0, 600.0), (600.0, 900.0)])
def test_tighter_target_never_lowers_cost(loose: float, tight: float) -> None:
    assert solve(_problem(tight)).cost >= solve(_problem(loose)).cost - 1e-6


def test_added_candidate_never_raises_cost() -> None:
    cheap = Candidate("sep2", "separation", existing=0, max_capacity=2000, capex=10_000,
                      opex=10, lead_time=2)
    assert solve(_problem(extra=(cheap,))).cost <= solve(_problem()).cost + 1e-6


def test_blocking_a_partner_never_lowers_cost() -> None:
    open_ = (Partner("CHN"), Partner("WEST"))
    blocked = (Partner("CHN", blocked=True), Partner("WEST"))
    a = solve(_problem(price=50_000, demand=100, partners=open_)).cost
    b = solve(_problem(price=50_000, demand=100, partners=blocked)).cost
    assert b >= a - 1e-6


def test_listing_order_does_not_change_the_plan() -> None:
    p = _problem()
    q = replace(p, candidates=tuple(reversed(p.candidates)))
    a, b = solve(p), solve(q)
    assert a.cost == b.cost
    assert a.builds.equals(b.builds)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_shipped_scenario_runs(path: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["plan", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    from reeplan.reporting.roadmap import TABLES

    for name in TABLES:
        text = (tmp_path / "out" / f"{name}.csv").read_text(encoding="utf-8")
        assert not re.search(r"(^|,)-0\.0(,|$)", text, flags=re.MULTILINE), name
        csv = pd.read_csv(tmp_path / "out" / f"{name}.csv")
        parquet = pd.read_parquet(tmp_path / "out" / f"{name}.parquet")
        assert len(csv) == len(parquet)
    run = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    prov = run["provenance"]
    assert run["status"] == "optimal" and len(prov["data"]["sha256"]) == 64
    assert prov["versions"]["reeplan"] and prov["solver"]["termination"] == "Optimal"
    # the scenario as solved, and the sources it used, travel with the plan
    resolved = json.loads((tmp_path / "out" / "scenario.resolved.json").read_text())
    assert resolved == prov["scenario"] and resolved["name"] == path.stem
    assert "usgs_mcs2025_ree" in prov["sources"] or "generic_costs_ru" in prov["sources"]
    again = runner.invoke(app, ["plan", str(path), "--out", str(tmp_path / "out")])
    assert again.exit_code == 2 and "--force" in again.stderr


BASE = (Path(__file__).parent.parent / "scenarios" / "russia-2030.yaml").read_text()


@pytest.mark.parametrize(("edit", "words"), [
    (lambda t: t.replace("discount_rate: 0.08", "discount_rate: 0.08\nbugdet: 5"),
     ["{line:bugdet}", "key 'bugdet'", "unknown key"]),
    (lambda t: t.replace("discount_rate: 0.08", "discount_rate: high"),
     ["{line:discount_rate}", "key 'discount_rate'"]),
    (lambda t: t.replace("country: RUS", "country: XYZ"), ["key 'country'", "'XYZ'"]),
    (lambda t: t.replace("export_caps_t: {Dy: 0", "export_caps_t: {Qq: 0"),
     ["export_caps_t.Qq", "unknown element 'Qq'"]),
    (lambda t: t.replace("3000, year: 2030, penalty", "3000, year: 2040, penalty"),
     ["targets.0.year", "outside the horizon"]),
    (lambda t: t.replace("discount_rate: 0.08", "discount_rate: 0.08\nbudget_musd_per_year: -5"),
     ["key 'budget_musd_per_year'", "greater than or equal to 0"]),
    (lambda t: t.replace("deposit: tomtor", "deposit: kvanefjeld"),
     ["{line:deposit: kvanefjeld}", "candidates.tomtor.deposit", "no element distribution"]),
    (lambda t: t.replace("source: demand_growth_ru", "source: my_guess"),
     ["demand.source", "'my_guess' is not a known source"]),
])
def test_malformed_scenarios_exit_2(tmp_path: Path, edit: object, words: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    assert callable(edit)
    text = edit(BASE)
    assert text != BASE
    path.write_text(text, encoding="utf-8")
    res = runner.invoke(app, ["plan", str(path)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for word in words:
        expected = word
        if word.startswith("{line:"):  # the number of the first line holding the text
            needle = word[len("{line:"):-1]
            expected = f"line {next(i for i, t in enumerate(text.splitlines(), 1) if needle in t)}"
        assert expected in res.stderr, (expected, res.stderr)
    assert path.read_text(encoding="utf-8") == text


def test_a_variant_can_clear_a_mapping_of_its_base() -> None:
    """china-partnership lifts China's caps with an empty mapping; other terms are kept."""
    from reeplan.scenarios import load_scenario

    base = load_scenario(SCENARIOS[0].parent / "russia-2030.yaml")
    variant = load_scenario(SCENARIOS[0].parent / "china-partnership.yaml")
    assert dict(base.policy.partners["CHN"].export_caps_t) == {"Dy": 0, "Tb": 0}
    assert dict(variant.policy.partners["CHN"].export_caps_t) == {}
    assert variant.policy.partners["CHN"].sell_discount == 0.2
    assert variant.policy.partners["WEST"].blocked


def test_ramp_up_makes_the_build_come_a_year_earlier() -> None:
    """With half of new capacity usable in its first year, 500 t/yr from 2028 is cheapest
    built in 2025 (online 2027, full in 2028) rather than 1,000 t/yr in 2026."""
    plan = solve(replace(_problem(), ramp_up=(0.5,)))
    b = plan.builds.set_index("candidate").loc["sep"]
    assert (b["decision_year"], b["online_year"]) == (2025, 2027)
    assert b["capacity"] == pytest.approx(500)
    expected = 20_000 * 500 + sum(10 * 500 / 1.08 ** (y - 2025) for y in (2028, 2029, 2030))
    assert plan.cost == pytest.approx(expected, rel=1e-9)


def test_output_value_target_matches_the_same_tonnage() -> None:
    """Without trade, a value target of 500 t x price asks for the same build as 500 t."""
    price = 50_000.0
    blocked = (Partner("CHN", blocked=True),)
    by_tonnes = solve(_problem(price=price, partners=blocked))
    value = replace(_problem(price=price, partners=blocked),
                    targets=(Target("v", "output_value", 500 * price, 2028, "separation", 10.0),))
    by_value = solve(value)
    assert by_value.cost == pytest.approx(by_tonnes.cost, rel=1e-9)
    a, b = by_value.builds, by_tonnes.builds
    assert a[["candidate", "decision_year", "online_year"]].equals(
        b[["candidate", "decision_year", "online_year"]])
    assert a["capacity"].to_numpy() == pytest.approx(b["capacity"].to_numpy(), rel=1e-9)
    assert list(a["reason"]) == ["target 'v'"]


def test_russia_target_before_any_plant_can_be_built_is_missed_with_its_reason(
        tmp_path: Path) -> None:
    base = SCENARIOS[0].parent / "russia-2030.yaml"
    early = tmp_path / "early.yaml"
    early.write_text(f"extends: {base}\nname: early\n"
                     "targets:\n  - {id: rem_2026, kind: output, stage: separation, "
                     "value: 3000, year: 2026}\n", encoding="utf-8")
    res = runner.invoke(app, ["plan", str(early)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "target rem_2026 (from 2026): MISSED" in res.stdout
    assert "missed from 2026 by up to 3,000 t/yr" in res.stdout
    assert "lead time of smz_separation" in res.stdout


def test_diff_sets_two_plans_side_by_side() -> None:
    base = SCENARIOS[0].parent / "russia-2030.yaml"
    tight = SCENARIOS[0].parent / "tighter-export-controls.yaml"
    res = runner.invoke(app, ["plan", "--diff", str(base), str(tight)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "russia-2030 vs tighter-export-controls" in res.stdout
    assert "Builds" in res.stdout


def test_plan_needs_one_scenario_or_a_diff() -> None:
    res = runner.invoke(app, ["plan"])
    assert res.exit_code == 2 and "give one scenario file" in res.stderr


def test_python_api_plan_matches_the_cli_cost() -> None:
    import reeplan

    result = reeplan.plan(SCENARIOS[0].parent / "russia-2030.yaml")
    assert isinstance(result, reeplan.Plan)
    assert result.cost > 0 and not result.builds.empty


def test_myopic_with_a_full_window_is_perfect_foresight() -> None:
    from reeplan.optimize import solve_myopic

    p = _problem()
    assert solve_myopic(p, window=len(p.years)).cost == pytest.approx(solve(p).cost, rel=1e-9)


def test_myopia_misses_a_target_foresight_meets() -> None:
    """Seeing two years ahead, a planner never sees a plant with a two-year lead time come
    online inside its view, so it never builds one; seeing three, it builds in time."""
    from reeplan.optimize import solve_myopic

    p = _problem()
    blind = solve_myopic(p, window=2)
    assert blind.builds.empty
    assert any("from 2028" in line for line in blind.missed)
    assert blind.cost > solve(p).cost
    enough = solve_myopic(p, window=3)
    assert enough.cost == pytest.approx(solve(p).cost, rel=1e-9)


def test_a_myopic_scenario_never_costs_less(tmp_path: Path) -> None:
    import reeplan

    base = SCENARIOS[0].parent / "russia-2030.yaml"
    myopic = tmp_path / "myopic.yaml"
    myopic.write_text(f"extends: {base}\nname: myopic\nforesight: myopic\n"
                      "myopic_window_years: 4\n", encoding="utf-8")
    assert reeplan.plan(myopic).cost >= reeplan.plan(base).cost - 1e-3


def test_minimum_plant_size_by_hand() -> None:
    """A 1,000 t/yr minimum size turns the 500 t/yr build into 1,000 t/yr (a MILP), built
    in 2026; the plan still carries duals, from the linear re-solve with builds fixed."""
    p = _problem()
    sized = replace(p, integer_sizes=True, candidates=tuple(
        replace(c, min_size=1000.0) if c.id == "sep" else c for c in p.candidates))
    plan = solve(sized)
    b = plan.builds.set_index("candidate").loc["sep"]
    assert (b["decision_year"], b["capacity"]) == (2026, pytest.approx(1000.0))
    expected = 20_000 * 1000 / 1.08 + sum(10 * 500 / 1.08 ** (y - 2025)
                                          for y in (2028, 2029, 2030))
    assert plan.cost == pytest.approx(expected, rel=1e-9)
    assert not plan.binding.empty
    assert solve(replace(sized, integer_sizes=False)).cost < plan.cost


def test_russia_with_minimum_sizes_builds_announced_projects_whole(tmp_path: Path) -> None:
    import reeplan

    base = SCENARIOS[0].parent / "russia-2030.yaml"
    whole = tmp_path / "whole.yaml"
    whole.write_text(f"extends: {base}\nname: whole\nminimum_plant_sizes: true\n",
                     encoding="utf-8")
    builds = reeplan.plan(whole).builds
    for project, size in (("smz_separation", 2500.0), ("rusatom_magnets", 1000.0)):
        built = builds.loc[builds["candidate"] == project, "capacity"]
        assert ((built > size - 1e-6) | (built < 1e-6)).all(), (project, built.tolist())


def test_triple_mine_output_is_three_times_the_production_row(tmp_path: Path) -> None:
    """'Triple by 2030' at the mining stage: 3 x the USGS 2024 output of 2,500 t REO."""
    from reeplan.data import load_factbase
    from reeplan.scenarios.assemble import assemble
    from reeplan.scenarios.spec import read_scenario

    base = SCENARIOS[0].parent / "russia-2030.yaml"
    triple = tmp_path / "triple.yaml"
    triple.write_text(f"extends: {base}\nname: triple\ntargets:\n"
                      "  - {id: triple, kind: output_multiple, stage: mining, value: 3, "
                      "year: 2030, source: rus_output_multiple}\n", encoding="utf-8")
    facts = load_factbase()
    problem = assemble(read_scenario(triple)[0], facts)
    assert [(t.kind, t.value) for t in problem.targets] == [("output", 7500.0)]
    plan = solve(problem)
    mined = plan.production[plan.production["candidate"].isin(["lovozero", "tomtor"])]
    by_year = mined.groupby("year")["output"].sum()
    met = plan.targets.set_index("year")["met"]
    assert all(by_year[y] >= 7500 - 1e-6 or not met[y] for y in range(2030, 2036))


def test_self_sufficiency_by_hand() -> None:
    """Other demand 1,000 t REO/yr; 40% self-sufficiency from 2028 asks for 400 t/yr of
    domestic separated oxide: the same build as a 400 t/yr output target."""
    p = replace(_problem(demand=1000.0, price=1000.0), targets=(
        Target("self", "self_sufficiency", 0.4, 2028, "separation", 1e6),))
    q = replace(p, targets=(Target("out", "output", 400, 2028, "separation", 1e6),))
    a, b = solve(p), solve(q)
    assert a.cost == pytest.approx(b.cost, rel=1e-9)
    assert a.targets["achieved"].min() >= 0.4 - 1e-9


def test_an_assumption_without_a_value_stops_the_plan(tmp_path: Path) -> None:
    """A user layer that blanks an assumption the planner needs gets exit 2, not a NaN."""
    from reeplan.data import load_factbase

    table = load_factbase()["assumptions"].drop(columns=["origin"])
    table.loc[table["assumption_id"] == "price_taker_share", "value"] = None
    table.to_csv(tmp_path / "assumptions.csv", index=False)
    res = runner.invoke(app, ["plan", str(SCENARIOS[0].parent / "russia-roadmap-2030.yaml"),
                              "--data", str(tmp_path)])
    assert res.exit_code == 2
    assert "no value for 'price_taker_share'" in res.stderr
