"""Any country, or a clear no: supplier concentration, self-sufficiency by stage, country
groups and ownership statements (issue 11, point 7), each checked by hand."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reeplan.data import FactBase
from reeplan.domain import Recipe, StageChain
from reeplan.interfaces.cli import app
from reeplan.optimize import Candidate, Partner, Problem, Target, solve

YEARS = (2025, 2026)
ROOT = Path(__file__).parent.parent


def _importer(*partners: Partner, mine: Candidate | None = None) -> Problem:
    """One element (Nd), 100 t REO/yr of oxide demand, nothing at home but ``mine``."""
    cands = (mine,) if mine is not None else ()
    return Problem(years=YEARS, elements=("Nd",), candidates=cands, partners=partners,
                   recipe=Recipe("t", {"Nd": 30.0}), metal_per_oxide={"Nd": 0.857},
                   oxide_price={"Nd": 10_000.0}, metal_price={"Nd": 20_000.0},
                   magnet_price=50_000.0, magnet_demand={},
                   other_demand=dict.fromkeys(YEARS, 100.0), discount_rate=0.0,
                   chain=StageChain.ideal())


def test_a_supplier_share_cap_moves_imports_to_the_next_supplier() -> None:
    """CHN sells at 10,000 USD/t, OTHER at 15% more. Uncapped, all 100 t come from CHN;
    capped at 65% of consumption (the CRMA's single-country benchmark), 65 t come from CHN
    and 35 t from OTHER: the cost rises by 35 x 1,500 = 52,500 USD a year."""
    chn, other = Partner("CHN"), Partner("OTHER", buy_premium=0.15)
    free = solve(_importer(chn, other))
    capped = solve(replace(_importer(chn, other), targets=(
        Target("crma_65_CHN", "supplier_share", 0.65, 2025, partner="CHN"),)))
    imports = capped.solution["import_oxide"].sel(element="Nd", year=2025).to_series()
    assert free.solution["import_oxide"].sel(partner="CHN", element="Nd").values.tolist() \
        == pytest.approx([100, 100])
    assert imports["CHN"] == pytest.approx(65) and imports["OTHER"] == pytest.approx(35)
    assert capped.cost - free.cost == pytest.approx(2 * 35 * 1_500, rel=1e-9)
    assert bool(capped.targets["met"].all())
    assert capped.targets["achieved"].tolist() == pytest.approx([0.65, 0.65])


def test_self_sufficiency_at_the_mining_stage_counts_ore_mined() -> None:
    """A mine costing 30,000 USD per t REO to run (dearer than imports) idles, unless 10% of
    consumption must be mined at home (the CRMA extraction benchmark): then it mines
    exactly 10 t REO a year and exports them as concentrate."""
    mine = Candidate("mine", "mining", existing=50, max_capacity=50, capex=0, opex=30_000,
                     lead_time=0, distribution={"Nd": 1.0})
    p = _importer(Partner("CHN"), mine=mine)
    idle = solve(p)
    held = solve(replace(p, targets=(Target("extract_10", "self_sufficiency", 0.10, 2025,
                                            "mining"),)))
    assert idle.solution["prod"].sel(candidate="mine").values.tolist() == pytest.approx([0, 0])
    assert held.solution["prod"].sel(candidate="mine").values.tolist() == \
        pytest.approx([10, 10])
    assert bool(held.targets["met"].all())


def _scenario(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _assert_exit_2(path: Path, says: str) -> None:
    """``reeplan plan path`` stops with exit 2 and one message containing ``says``."""
    res = CliRunner().invoke(app, ["plan", str(path)], env={"COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    assert says in res.output and "Traceback" not in res.output


_BASE = """\
name: t
country: {country}
horizon: {{start: 2025, end: 2027}}
demand: {{consumption_t_reo: 1000, source: demand_growth_ru}}
targets: [{target}]
policy:
  partners:
    CHN: {{}}
candidates:
{candidates}
"""


@pytest.mark.parametrize(("target", "says"), [
    ("{id: c, kind: supplier_share, value: 0.65, year: 2026, partners: [WEST]}",
     "WEST is a group of countries"),
    ("{id: c, kind: self_sufficiency, value: 0.4, year: 2026, stage: metal}",
     "self_sufficiency measures mining, separation, recycling"),
    ("{id: c, kind: import_share, value: 0.4, year: 2026, partners: [CHN]}",
     "only supplier_share targets take 'partners'"),
])
def test_a_target_the_model_cannot_measure_is_exit_2(tmp_path: Path, target: str,
                                                     says: str) -> None:
    cands = ("  sep: {stage: separation, max_capacity_t: 100, capex_usd_per_tpa: 1, "
             "opex_usd_per_t: 1, lead_time_years: 1, source: generic_costs_ru}")
    path = _scenario(tmp_path, _BASE.format(country="RUS", target=target, candidates=cands))
    _assert_exit_2(path, says)


def _offtake(**kw: object) -> Problem:
    """A mine abroad (WEST) whose Nd concentrate is worth 50% of its oxide (10,000 USD/t),
    bought at a 10% premium with 100 USD/t freight, separated at home (100 t/yr) for 100
    t/yr of demand; CHN sells the oxide at 10,000 USD/t."""
    mine = Candidate("weld", "mining", existing=500, max_capacity=500, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, abroad="WEST")
    sep = Candidate("sep", "separation", existing=100, max_capacity=100, capex=0,
                    opex=1_000, lead_time=0)
    p = _importer(Partner("CHN"), Partner("WEST", buy_premium=0.10, transport_cost=100.0))
    return replace(p, candidates=(mine, sep), concentrate_share=0.5, **kw)  # type: ignore[arg-type]


def test_a_mine_abroad_is_imported_feed_at_the_concentrate_price() -> None:
    """Concentrate costs 0.5 x 10,000 x 1.1 + 100 = 5,600 USD per t REO and separating it
    1,000: 6,600 < 10,000 for Chinese oxide, so all 100 t come from the offtake mine. It
    counts as imports (gross share 100%, all from WEST), not as domestic extraction, and
    it is never re-exported as concentrate."""
    from reeplan.reporting.tables import costs_table, dependence_table, flows_table

    plan = solve(_offtake())
    assert plan.solution["prod"].sel(candidate="weld").values.tolist() == \
        pytest.approx([100, 100])
    assert plan.cost == pytest.approx(2 * 100 * (5_600 + 1_000), rel=1e-9)
    c = costs_table(plan).set_index("year")
    assert c["imports_musd"].tolist() == pytest.approx([0.55, 0.55])  # 100 t x 5,500
    assert c["freight_musd"].tolist() == pytest.approx([0.01, 0.01])
    trade = plan.trade
    assert set(trade["product"]) == {"concentrate"} and set(trade["partner"]) == {"WEST"}
    assert set(trade["flow"]) == {"import"}
    dep = dependence_table(plan)
    total = dep[(dep["stage"] == "all products") & (dep["element"] == "all rare earths")]
    assert total["gross_import_share"].tolist() == [1.0, 1.0]
    mining = flows_table(plan).query("stage == 'mining' and element == 'Nd'")
    assert mining["production"].tolist() == [0, 0] and mining["imports"].tolist() == [100, 100]
    held = solve(_offtake(targets=(Target("x", "self_sufficiency", 0.1, 2025, "mining"),)))
    assert not bool(held.targets["met"].any())  # feed bought abroad is not extraction


def test_a_mine_abroad_behind_a_closed_border_produces_nothing() -> None:
    p = _offtake()
    blocked = replace(p, partners=(Partner("CHN"), Partner("WEST", blocked=True)))
    plan = solve(blocked)
    assert plan.solution["prod"].sel(candidate="weld").values.tolist() == [0, 0]
    assert plan.solution["import_oxide"].sel(partner="CHN", element="Nd").values.tolist() \
        == pytest.approx([100, 100])


@pytest.mark.parametrize(("mine", "says"), [
    ("  weld: {stage: mining, deposit: mount_weld, max_capacity_t: 100, capex_usd_per_tpa: 1,"
     " opex_usd_per_t: 1, lead_time_years: 1, source: generic_costs_ru}",
     "deposit 'mount_weld' is in AUS, outside RUS: a mine abroad needs ownership"),
    ("  weld: {stage: mining, deposit: mount_weld, max_capacity_t: 100, capex_usd_per_tpa: 1,"
     " opex_usd_per_t: 1, lead_time_years: 1, ownership: offtake, supplied_by: WEST,"
     " source: generic_costs_ru}",
     "partner 'WEST' is not in policy.partners"),
    ("  lov: {stage: mining, deposit: lovozero, max_capacity_t: 100, capex_usd_per_tpa: 1,"
     " opex_usd_per_t: 1, lead_time_years: 1, ownership: state, supplied_by: CHN,"
     " source: generic_costs_ru}",
     "deposit 'lovozero' is in RUS, at home"),
])
def test_a_mine_abroad_needs_an_ownership_statement(tmp_path: Path, mine: str,
                                                    says: str) -> None:
    target = "{id: c, kind: import_share, value: 0.5, year: 2026}"
    path = _scenario(tmp_path, _BASE.format(country="RUS", target=target, candidates=mine))
    _assert_exit_2(path, says)


SCENARIOS = ROOT / "scenarios"


def test_the_eu_plan_states_the_crma_benchmarks_and_why_it_misses_them() -> None:
    """Regulation (EU) 2024/1252, Art. 5: 10% extracted, 40% processed, 25% recycled, at
    most 65% from one third country, by 2030. The EU has no rare-earth mine, so extraction
    is missed with that reason; feed bought abroad is processed but not extraction."""
    from reeplan import run_plan

    plan = run_plan(SCENARIOS / "eu-crma-2030.yaml")
    kinds = plan.targets.drop_duplicates("target").set_index("target")["kind"].to_dict()
    assert kinds == {"crma_extraction_10": "self_sufficiency",
                     "crma_processing_40": "self_sufficiency",
                     "crma_recycling_25": "self_sufficiency",
                     "crma_single_country_65_CHN": "supplier_share"}
    assert {t.value for t in plan.problem.targets} == {0.10, 0.40, 0.25, 0.65}
    assert "eu_crma_2024" in set(plan.provenance.sources)
    extraction = plan.targets[plan.targets["target"] == "crma_extraction_10"]
    assert not bool(extraction["met"].any())
    assert extraction["achieved"].max() == 0  # not a tonne mined in the EU
    assert any("no mining candidate exists at home" in m for m in plan.missed)
    single = plan.targets[plan.targets["target"] == "crma_single_country_65_CHN"]
    assert bool(single["met"].all()) and single["achieved"].max() <= 0.65 + 1e-9
    trade = plan.trade
    assert set(trade.loc[trade["product"] == "concentrate", "partner"]) == {"WEST"}


def test_the_usa_plan_makes_magnets_and_sells_none_to_china() -> None:
    """Mountain Pass runs at its 45,000 t every year: MP's separation, rejecting cerium at
    the front end, takes nearly all of it (20,000 t/yr of TREO without Ce is 39,683 t REO
    with it, at the Ce share of 49.6%) and Western separators the concentrate left over;
    magnets are made at home from 2026 and none is
    sold to China (it buys none: china_buys_no_magnets); 10,000 t/yr by 2028 is out of
    reach: new plants ramp up, and with no Chinese Dy or Tb (none resold either) the
    magnets wait for White Mesa's Dy and Tb (online 2029, ramping up): met from 2032."""
    from reeplan import run_plan

    plan = run_plan(SCENARIOS / "usa-mine-to-magnet.yaml")
    out = plan.production.set_index(["candidate", "year"])["output"]
    mp = out.xs("mountain_pass", level="candidate")
    assert mp.values.tolist() == pytest.approx([45_000] * len(mp))
    sep = out.xs("mp_separation", level="candidate")
    assert sep.values.tolist() == pytest.approx([20_000 / (1 - 0.496)] * len(mp))
    sold = plan.solution["conc_export"].sel(mine="mountain_pass").sum("partner")
    assert 0 < float(sold.max()) < 7_500  # what separation leaves, within the West's 7,500
    assert not any(x.startswith("mountain_pass") for x in plan.idle_mines)
    trade = plan.trade
    assert trade[(trade["product"] == "magnet") & (trade["flow"] == "export")
                 & (trade["partner"] == "CHN")].empty
    t = plan.targets.set_index("year")
    assert not bool(t.loc[:2031, "met"].any()) and bool(t.loc[2032:, "met"].all())
    assert any("the magnets need Dy, Tb" in m for m in plan.missed), plan.missed


@pytest.mark.parametrize(("extra", "says"), [
    ("project: nowhere", "unknown project 'nowhere'"),
    ("project: smz_separation, capex_usd_per_tpa: 15000",
     "15,000 USD per t/yr is outside the published range of project 'smz_separation', "
     "28,000 to 35,000"),
    ("project: neo_narva", "project 'neo_narva' is a magnet plant, not separation"),
])
def test_a_candidate_naming_a_project_keeps_to_its_published_figures(
        tmp_path: Path, extra: str, says: str) -> None:
    cands = ("  sep: {stage: separation, max_capacity_t: 100, lead_time_years: 1, "
             "opex_usd_per_t: 1, source: generic_costs_ru, " + extra
             + ("" if "capex" in extra else ", capex_usd_per_tpa: 31000") + "}")
    target = "{id: c, kind: import_share, value: 0.5, year: 2026}"
    path = _scenario(tmp_path, _BASE.format(country="RUS", target=target, candidates=cands))
    _assert_exit_2(path, says)


def test_project_costs_hold_ordered_ranges(facts: FactBase) -> None:
    """Every real project has low <= central <= high capex and a source; the SMZ complex is
    7 bn RUB for 2,500 t/yr (31,000 USD per t/yr at 90 RUB/USD)."""
    p = facts["project_costs"].set_index("project_id")
    assert (p["capex_low_usd_per_tpa"] <= p["capex_central_usd_per_tpa"]).all()
    assert (p["capex_central_usd_per_tpa"] <= p["capex_high_usd_per_tpa"]).all()
    assert p.at["smz_separation", "capex_central_usd_per_tpa"] == pytest.approx(
        7e9 / 90 / 2500, rel=0.01)


def _tolling(**kw: object) -> Problem:
    """A mine at home (100 t REO/yr, Nd only, free to run) and no separation at home; a
    separator abroad (OTHER) tolls the ore for 2,000 USD/t with 500 USD/t freight each way;
    CHN sells Nd oxide at 10,000 USD/t; 100 t/yr of Nd oxide are needed."""
    mine = Candidate("mine", "mining", existing=100, max_capacity=100, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    toll = Candidate("toller", "separation", existing=500, max_capacity=500, capex=0,
                     opex=2_000, lead_time=0, abroad="OTHER")
    p = _importer(Partner("CHN"), Partner("OTHER", transport_cost=500.0))
    return replace(p, candidates=(mine, toll), **kw)  # type: ignore[arg-type]


def test_toll_processing_abroad_sends_ore_out_and_brings_oxide_back() -> None:
    """Tolling costs 2,000 + 2 x 500 = 3,000 USD per t REO against 10,000 from China, so all
    100 t of ore are tolled; the oxide comes back as imports (gross share 100%), the ore
    leaves as concentrate in the flows, and it is not separation at home."""
    from reeplan.reporting.tables import costs_table, dependence_table, flows_table

    plan = solve(_tolling())
    assert plan.solution["toll_feed"].sel(mine="mine").values.tolist() == \
        pytest.approx([100, 100])
    assert plan.cost == pytest.approx(2 * 100 * 3_000, rel=1e-9)
    c = costs_table(plan).set_index("year")
    assert c["opex_musd"].tolist() == pytest.approx([0.2, 0.2])
    assert c["freight_musd"].tolist() == pytest.approx([0.1, 0.1])
    trade = plan.trade.groupby(["flow", "product"])["tonnes"].sum().to_dict()
    assert trade == pytest.approx({("export", "concentrate (tolling)"): 200,
                                   ("import", "oxide (tolled)"): 200})
    dep = dependence_table(plan)
    total = dep[(dep["stage"] == "all products") & (dep["element"] == "all rare earths")]
    assert total["gross_import_share"].tolist() == [1.0, 1.0]
    flows = flows_table(plan).set_index(["stage", "element", "year"])
    assert flows.at[("mining", "Nd", 2025), "exports"] == pytest.approx(100)
    assert flows.at[("separation", "Nd", 2025), "imports"] == pytest.approx(100)
    assert flows.at[("separation", "Nd", 2025), "production"] == 0
    held = solve(_tolling(targets=(Target("x", "self_sufficiency", 0.5, 2025,
                                          "separation"),)))
    assert not bool(held.targets["met"].any())  # separated abroad is not separated at home


def test_an_offtake_contract_keeps_glazov_on_metal_made_from_smz_oxide(tmp_path: Path) -> None:
    """smz-glazov-offtake: Glazov's magnets use at least 95% metal made at home, and that
    metal at least 95% oxide separated at home; the contract can only cost more than the
    same scenario without it (a metamorphic check)."""
    from reeplan import run_plan

    path = SCENARIOS / "smz-glazov-offtake.yaml"
    plan = run_plan(path)
    s, q = plan.solution, plan.params
    made = (s["metal_in"] * q["metal_per_oxide"] * q["metal_recovery"]).sum("element")
    alloy = s["alloy_use"].sum("element")
    assert float(alloy.sum()) > 0  # Glazov runs
    assert bool((made >= 0.95 * alloy - 1e-6).all())
    free = tmp_path / "free.yaml"
    free.write_text(f"extends: {path}\nname: free\npolicy: {{local_content: {{}}}}\n",
                    encoding="utf-8")
    assert run_plan(free).cost <= plan.cost + 1e-6


def _ban(**kw: object) -> Problem:
    """100 t/yr of Nd oxide from CHN only, at 10,000 USD/t in 2025-2027; CHN bans all
    exports in 2027."""
    years = (2025, 2026, 2027)
    p = Problem(years=years, elements=("Nd",), candidates=(), partners=(
        Partner("CHN", banned_years=frozenset({2027})),),
        recipe=Recipe("t", {"Nd": 30.0}), metal_per_oxide={"Nd": 0.857},
        oxide_price={"Nd": 10_000.0}, metal_price={"Nd": 20_000.0}, magnet_price=50_000.0,
        magnet_demand={}, other_demand=dict.fromkeys(years, 100.0),
        other_split={"Nd": 1.0}, discount_rate=0.0, chain=StageChain.ideal())
    return replace(p, **kw)  # type: ignore[arg-type]


def test_a_reserve_is_filled_before_a_known_ban_and_drawn_during_it() -> None:
    """Without a reserve, 2027's 100 t go unmet (at the penalty). With room for 150 t and
    a holding cost of 500 USD/t/yr, the plan buys the extra 100 t in 2026 (the latest year
    before the ban: one year held), draws it in 2027, and costs 100 x (10,000 + 500) for
    it: far less than the plan without the option."""
    bare = solve(_ban())
    assert float(bare.solution["unmet_other"].sel(year=2027).sum()) == pytest.approx(100)
    held = solve(_ban(reserve_caps={"Nd": 150.0}, reserve_holding_cost=500.0))
    fill = held.solution["reserve_fill"].sel(element="Nd").values.tolist()
    draw = held.solution["reserve_draw"].sel(element="Nd").values.tolist()
    assert fill == pytest.approx([0, 100, 0]) and draw == pytest.approx([0, 0, 100])
    assert float(held.solution["unmet_other"].sum()) == pytest.approx(0)
    assert held.cost == pytest.approx(3 * 100 * 10_000 + 100 * 500, rel=1e-9)
    assert held.cost <= bare.cost
    from reeplan.reporting.tables import costs_table, discounted_cost_musd, flows_table

    cost, penalties = discounted_cost_musd(costs_table(held))
    assert cost + penalties == pytest.approx(held.cost / 1e6, rel=1e-9)
    stock = flows_table(held).query("stage == 'separation'").set_index("year")["stock_change"]
    assert stock.tolist() == pytest.approx([0, 100, -100])


def test_a_reserve_never_goes_below_empty_or_above_full() -> None:
    """With room for only 60 t, 40 t of 2027's need go unmet; with 30 t already held (and
    no holding cost), still 40 t, but 30 t fewer are bought: 300,000 USD less."""
    small = solve(_ban(reserve_caps={"Nd": 60.0}))
    assert float(small.solution["unmet_other"].sel(year=2027).sum()) == pytest.approx(40)
    seeded = solve(_ban(reserve_caps={"Nd": 60.0}, reserve_initial={"Nd": 30.0}))
    assert float(seeded.solution["unmet_other"].sel(year=2027).sum()) == pytest.approx(40)
    assert seeded.cost == pytest.approx(small.cost - 30 * 10_000, rel=1e-9)
    level = 30 + (seeded.solution["reserve_fill"] - seeded.solution["reserve_draw"]).cumsum(
        "year")
    assert float(level.min()) >= -1e-9 and float(level.max()) <= 60 + 1e-9


def test_an_import_cap_on_the_light_group_counts_only_light_elements() -> None:
    """Demand 100 t/yr, split La 60% (light), Dy 40% (heavy); CHN sells both at 10,000
    USD/t; a La mine with its separation costs 15,000 USD/t. Capping imports of the light
    group at 50% of its consumption (60 t) makes the plan mine 30 t of La, and leaves Dy
    (heavy) all imported; the same cap on all rare earths would need 50 t at home."""
    mine = Candidate("mine", "mining", existing=100, max_capacity=100, capex=0,
                     opex=15_000, lead_time=0, distribution={"La": 1.0})
    sep = Candidate("sep", "separation", existing=100, max_capacity=100, capex=0, opex=0,
                    lead_time=0)
    base = Problem(years=YEARS, elements=("La", "Dy"), candidates=(mine, sep),
                   partners=(Partner("CHN"),), recipe=Recipe("t", {"Dy": 1.0}),
                   metal_per_oxide={"La": 0.853, "Dy": 0.871},
                   oxide_price={"La": 10_000.0, "Dy": 10_000.0},
                   metal_price={"La": 20_000.0, "Dy": 20_000.0}, magnet_price=50_000.0,
                   magnet_demand={}, other_demand=dict.fromkeys(YEARS, 100.0),
                   other_split={"La": 0.6, "Dy": 0.4}, discount_rate=0.0,
                   chain=StageChain.ideal(), element_groups={"La": "light", "Dy": "heavy"})
    light = solve(replace(base, targets=(Target("l", "import_share", 0.5, 2025,
                                                elements="light"),)))
    assert light.solution["prod"].sel(candidate="mine").values.tolist() == \
        pytest.approx([30, 30])
    everything = solve(replace(base, targets=(Target("a", "import_share", 0.5, 2025),)))
    assert everything.solution["prod"].sel(candidate="mine").values.tolist() == \
        pytest.approx([50, 50])
    assert light.targets["achieved"].tolist() == pytest.approx([0.5, 0.5])


def _magnet_maker() -> Problem:
    """10 t/yr of magnets (30 wt% Nd) needed; CHN sells magnets at 50,000 USD/t and Nd
    metal at 20,000 USD/t; a magnet plant at home (100 t/yr, no capex) costs 60,000 USD/t
    to run, so making a magnet at home (0.3 t metal, 6,000 USD, plus 60,000) costs more
    than buying one."""
    plant = Candidate("magnets", "magnet", existing=100, max_capacity=100, capex=0,
                      opex=60_000, lead_time=0)
    return Problem(years=YEARS, elements=("Nd",), candidates=(plant,),
                   partners=(Partner("CHN"),), recipe=Recipe("t", {"Nd": 30.0}),
                   metal_per_oxide={"Nd": 0.857}, oxide_price={"Nd": 10_000.0},
                   metal_price={"Nd": 20_000.0}, magnet_price=50_000.0,
                   magnet_demand=dict.fromkeys(YEARS, 10.0), other_demand={},
                   discount_rate=0.0, chain=StageChain.ideal())


def test_an_import_cap_on_magnets_alone_makes_magnets_at_home_from_imported_metal() -> None:
    """Magnets imported at most 30% of the magnets needed: the plant makes 7 t/yr from 2.1
    t/yr of imported metal; the magnet stage's share is 0.3 and the metal stage's stays 1
    (all metal imported), in the targets and dependence tables alike. Without the cap
    every magnet is imported."""
    from reeplan.reporting.tables import dependence_table, targets_table

    free = solve(_magnet_maker())
    assert free.solution["import_magnet"].sum("partner").values.tolist() == \
        pytest.approx([10, 10])
    capped = solve(replace(_magnet_maker(), targets=(
        Target("mag", "import_share", 0.3, 2025, penalty=1e6, product="magnet"),)))
    assert capped.solution["prod"].sel(candidate="magnets").values.tolist() == \
        pytest.approx([7, 7])
    assert capped.solution["import_metal"].sum(["partner", "element"]).values.tolist() == \
        pytest.approx([2.1, 2.1])
    t = targets_table(capped)
    assert t["achieved"].tolist() == pytest.approx([0.3, 0.3]) and t["met"].all()
    assert set(t["stage"]) == {"magnet"}
    d = dependence_table(capped)
    stage = d[d["element"] == "all rare earths"].set_index(["stage", "year"])
    assert stage.at[("magnet", 2025), "gross_import_share"] == pytest.approx(0.3)
    assert stage.at[("metal", 2025), "gross_import_share"] == pytest.approx(1.0)


def test_an_import_cap_on_metal_counts_metal_used_in_alloy_not_magnets_bought() -> None:
    """The same problem with metal imports capped at 50% of metal used: the cheapest plan
    makes no magnets (no metal used, nothing to cap) and buys them all, so the cap is met
    at no cost; with magnets capped too, metal is still all imported, so the metal cap
    cannot be met: its shortfall is half the 2.1 t/yr of metal used, in t REO."""
    metal = Target("metal", "import_share", 0.5, 2025, penalty=1e6, product="metal")
    alone = solve(replace(_magnet_maker(), targets=(metal,)))
    assert alone.targets["shortfall"].tolist() == pytest.approx([0, 0])
    assert alone.solution["import_magnet"].sum("partner").values.tolist() == \
        pytest.approx([10, 10])
    both = solve(replace(_magnet_maker(), targets=(
        metal, Target("mag", "import_share", 0.3, 2025, penalty=1e6, product="magnet"))))
    t = both.targets.set_index(["target", "year"])
    assert t.at[("metal", 2025), "achieved"] == pytest.approx(1.0)
    assert t.at[("metal", 2025), "shortfall"] == pytest.approx(0.5 * 2.1 / 0.857)
    assert t.at[("mag", 2025), "met"]


def _polluter(**kw: object) -> Problem:
    """A mine and separation at home (100 t REO/yr, free to run) or CHN oxide at 10,000
    USD/t for 100 t/yr of Nd demand; separation emits 10 t CO2e per t REO, mining 2."""
    mine = Candidate("mine", "mining", existing=100, max_capacity=100, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    sep = Candidate("sep", "separation", existing=100, max_capacity=100, capex=0, opex=0,
                    lead_time=0)
    p = replace(_importer(Partner("CHN")), candidates=(mine, sep),
                environment={("mining", "co2"): 2.0, ("separation", "co2"): 10.0},
                environment_units={"co2": "t CO2e"})
    return replace(p, **kw)  # type: ignore[arg-type]


def test_every_plan_reports_its_environmental_toll_by_stage() -> None:
    """Home output 100 t REO mined and separated: 200 t CO2e from mining, 1,000 from
    separation, each year."""
    from reeplan.reporting.tables import environment_table

    env = environment_table(solve(_polluter())).set_index(["stage", "year"])["value"]
    assert env[("mining", 2025)] == pytest.approx(200)
    assert env[("separation", 2026)] == pytest.approx(1_000)


@pytest.mark.parametrize("cap", [1_200.0, 600.0, 300.0, 0.0])
def test_a_tighter_environmental_cap_never_lowers_cost(cap: float) -> None:
    """Each t REO made at home emits 12 t CO2e and saves 10,000 USD of imports: a cap of C
    t CO2e a year allows C / 12 t at home, so the cost is 2 x (100 - C/12) x 10,000 (a
    metamorphic family: tighter never cheaper)."""
    plan = solve(_polluter(environment_caps={"co2": cap}))
    home = min(100.0, cap / 12)
    assert plan.cost == pytest.approx(2 * (100 - home) * 10_000, rel=1e-9, abs=1e-6)
    looser = solve(_polluter(environment_caps={"co2": cap + 100}))
    assert looser.cost <= plan.cost + 1e-6


def _mine_and_variant(*, variant: bool, online_from: int = 2025) -> Problem:
    """A new mine (capex 1,000 USD per t/yr, opex 8,000 USD/t, up to 100 t REO/yr, ammonia
    9.5 t per t REO) and, when granted, its electrokinetic variant (half the opex, 5% of the
    ammonia), sharing the mine's 100 t/yr; separation is free; 100 t/yr of Nd demand; CHN
    oxide at 10,000 USD/t."""
    mine = Candidate("mine", "mining", existing=0, max_capacity=100, capex=1_000,
                     opex=8_000, lead_time=0, distribution={"Nd": 1.0})
    sep = Candidate("sep", "separation", existing=100, max_capacity=100, capex=0, opex=0,
                    lead_time=0)
    cands = [mine, sep]
    if variant:
        cands.append(replace(mine, id="mine@ekm", opex=4_000, variant_of="mine",
                             process="ekm", online_from=online_from,
                             environment_factor={"ammonia": 0.05}))
    return replace(_importer(Partner("CHN")), candidates=tuple(cands),
                   environment={("mining", "ammonia"): 9.5},
                   environment_units={"ammonia": "t"})


def test_granting_a_technology_changes_the_plan_as_its_effects_say() -> None:
    """Without it, the mine is built (100 t) and runs at 8,000 USD/t: 100,000 + 2 x 800,000
    = 1.7 M USD, 950 t of ammonia a year. With it, the variant is built instead (never
    both: they share 100 t/yr): 100,000 + 2 x 400,000 = 0.9 M USD and 47.5 t of ammonia.
    Granted only from 2026, waiting pays: 2025's 100 t imported (1 M USD), the variant built
    for 2026 (0.1 + 0.4 M USD): 1.5 M USD, below the 1.7 M of the incumbent mine."""
    from reeplan.reporting.tables import environment_table

    without = solve(_mine_and_variant(variant=False))
    granted = solve(_mine_and_variant(variant=True))
    assert without.cost == pytest.approx(1_700_000, rel=1e-9)
    assert granted.cost == pytest.approx(900_000, rel=1e-9)
    built = granted.solution["build"].sum("decision").to_series()
    assert built["mine@ekm"] == pytest.approx(100) and built["mine"] == pytest.approx(0)
    env = environment_table(granted).set_index(["technology", "year"])["value"]
    assert env[("ekm", 2025)] == pytest.approx(47.5)
    late = solve(_mine_and_variant(variant=True, online_from=2026))
    assert late.cost == pytest.approx(1_500_000, rel=1e-9)
    assert late.solution["build"].sel(candidate="mine@ekm", decision=2026) == \
        pytest.approx(100)


@pytest.mark.parametrize(("grant", "says"), [
    ("electrokinetic_mining: 2028", "'electrokinetic_mining' is not commercial yet"),
    ("ferrite_magnets: 2026", "use demand.rare_earth_free_share"),
    ("nowhere: 2026", "unknown technology 'nowhere'"),
])
def test_a_technology_that_cannot_be_granted_is_exit_2(tmp_path: Path, grant: str,
                                                      says: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(f"extends: {SCENARIOS / 'russia-2030.yaml'}\nname: t\n"
                    f"policy: {{technology_access: {{{grant}}}}}\n", encoding="utf-8")
    _assert_exit_2(path, says)


def test_a_granted_technology_adds_variants_and_never_raises_cost(tmp_path: Path) -> None:
    """Chromatography granted from 2027: every separation candidate gets a variant that
    shares its maximum; with no published effect the plan can only do as well as before."""
    from reeplan import run_plan

    path = tmp_path / "t.yaml"
    path.write_text(f"extends: {SCENARIOS / 'russia-2030.yaml'}\nname: t\n"
                    f"policy: {{technology_access: {{lad_chromatography: 2027}}}}\n",
                    encoding="utf-8")
    granted = run_plan(path)
    ids = {c.id for c in granted.problem.candidates}
    assert {"smz_separation@lad_chromatography", "new_separation@lad_chromatography"} <= ids
    assert granted.cost <= run_plan(SCENARIOS / "russia-2030.yaml").cost + 1e-6


def test_the_technologies_table_lists_the_options_with_sources() -> None:
    res = CliRunner().invoke(app, ["data", "show", "technologies", "--format", "csv"])
    assert res.exit_code == 0, res.output
    for tid in ("solvent_extraction", "ion_exchange", "lad_chromatography",
                "electrokinetic_mining", "hydrogen_processing", "hydrometallurgical_recycling",
                "ferrite_magnets", "high_entropy_boride_magnets"):
        assert tid in res.output
    assert "wang_2025_ekm" in res.output
    import io

    import pandas as pd

    table = pd.read_csv(io.StringIO(res.output)).set_index("technology_id")
    ekm = table.loc["electrokinetic_mining"]  # its four reported effects
    assert (ekm["recovery"], ekm["time_factor"], ekm["energy_factor"],
            ekm["ammonia_factor"]) == (0.95, 0.3, 0.4, 0.05)
    assert pd.isna(ekm["commercial_from"])  # a demonstration: it cannot be granted
    assert pd.isna(table.at["high_entropy_boride_magnets", "commercial_from"])
    assert table.at["ion_exchange", "replaces"] == "solvent_extraction"


@pytest.mark.parametrize(("policy", "says"), [
    ("candidates: {rusatom_magnets: {decided_t: {2040: 1000}}}",
     "2040 is outside the horizon 2025-2035"),
    ("candidates: {rusatom_magnets: {decided_t: {2026: 5000}}}",
     "5000 t/yr is more than the room to max_capacity_t (1000)"),
    ("policy: {reserve: {max_t: {Tm: 10}}}", "the plan does not model 'Tm'"),
    ("policy: {reserve: {max_t: {Nd: 10}, initial_t: {Nd: 20}}}", "20 t is above max_t"),
    ("policy: {partners: {CHN: {banned_years: [2050]}}}", "[2050] outside the horizon"),
    ("policy: {local_content: {alloy: 0.5}}", "local_content"),
    ("policy: {environment_caps: {noise: 5}}", "environment_caps"),
    ("targets: [{id: c, kind: import_share, value: 0.4, year: 2030, currency: RUB}]",
     "only output_value targets take 'currency'"),
])
def test_levers_the_model_cannot_use_are_exit_2(tmp_path: Path, policy: str,
                                                says: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(f"extends: {SCENARIOS / 'russia-2030.yaml'}\nname: t\n{policy}\n",
                    encoding="utf-8")
    _assert_exit_2(path, says)


def test_the_shipped_ban_variant_fills_the_reserve_before_the_ban_and_draws_it_during(
        tmp_path: Path) -> None:
    """china-ban-2028: China sells nothing in 2028-2029; the reserve is filled by the end
    of 2027, drawn in 2028-2029 (no Nd or Pr put in during the ban), and no demand goes
    unmet; it costs more than the baseline
    (the ban) but no more than the same ban without a reserve."""
    from reeplan import run_plan

    plan = run_plan(SCENARIOS / "china-ban-2028.yaml")
    s = plan.solution
    fill = s["reserve_fill"].sum("element").to_series()
    draw = s["reserve_draw"].sum("element").to_series()
    # filled before the ban, drawn during it (what the ban leaves unsold, La from the new
    # separation plant, may wait a year there), empty after it
    assert fill.loc[:2027].sum() > 0
    assert draw.loc[2028:2029].sum() > fill.loc[2028:2029].sum()
    assert draw.loc[2028:2029].sum() == pytest.approx(fill.loc[:2029].sum())
    magnet = s["reserve_fill"].sel(element=["Nd", "Pr"]).sum("element").to_series()
    assert magnet.loc[2028:2029].sum() == pytest.approx(0, abs=1e-6)
    assert plan.unmet.empty
    imports = plan.trade[(plan.trade["flow"] == "import")
                         & plan.trade["year"].isin([2028, 2029])]
    assert "CHN" not in set(imports["partner"])
    bare = tmp_path / "bare.yaml"
    bare.write_text(f"extends: {SCENARIOS / 'china-ban-2028.yaml'}\nname: bare\n"
                    f"policy: {{reserve: {{max_t: {{}}}}}}\n", encoding="utf-8")
    assert run_plan(bare).cost >= plan.cost - 1e-6


def test_a_reserve_filled_abroad_cannot_meet_an_import_cap() -> None:
    """No ban; imports capped at 50% from 2027; a home mine and separation make Nd oxide
    at 15,000 USD/t against China's 10,000. Buying 2027's oxide in 2026 into the reserve
    and drawing it in 2027 would meet the cap with imports made a year earlier: drawn
    oxide counts as imports, so the plan makes 50 t at home in 2027 and draws nothing."""
    mine = Candidate("mine", "mining", existing=100, max_capacity=100, capex=0,
                     opex=15_000, lead_time=0, distribution={"Nd": 1.0})
    sep = Candidate("sep", "separation", existing=100, max_capacity=100, capex=0, opex=0,
                    lead_time=0)
    p = _ban(partners=(Partner("CHN"),), candidates=(mine, sep), reserve_caps={"Nd": 150.0},
             targets=(Target("cap", "import_share", 0.5, 2027, penalty=1e6),))
    plan = solve(p)
    assert float(plan.solution["reserve_draw"].sum()) == pytest.approx(0, abs=1e-6)
    assert plan.solution["prod"].sel(candidate="mine").values.tolist() == \
        pytest.approx([0, 0, 50])
    assert plan.targets["achieved"].tolist() == pytest.approx([0.5])


def test_the_shipped_residue_cap_holds_and_is_named_as_the_reason() -> None:
    """russia-residue-cap: radioactive residue at home never exceeds 3,000 t/yr and reaches
    it from 2031; the separation target is missed and its explanation names the cap; the
    plan costs no less than the baseline without the cap."""
    from reeplan import run_plan
    from reeplan.reporting.tables import environment_table

    plan = run_plan(SCENARIOS / "russia-residue-cap.yaml")
    env = environment_table(plan)
    residue = env[env["indicator"] == "radioactive_residue"].groupby("year")["value"].sum()
    assert residue.max() <= 3000 + 1e-6
    assert residue.loc[2031:].tolist() == pytest.approx([3000] * 5)
    assert any("cap on radioactive residue (3,000 t/yr" in line for line in plan.missed)
    base = run_plan(SCENARIOS / "russia-2030.yaml")
    assert plan.cost >= base.cost - 1e-6


def test_an_offtake_binds_only_in_its_years(tmp_path: Path) -> None:
    """eu-crma-2030's Narva contract (35% of 2,000 t/yr, 2027-2033): the plant makes at
    least 700 t/yr in those years; a contract ending before it starts is exit 2."""
    from reeplan import run_plan

    plan = run_plan(SCENARIOS / "eu-crma-2030.yaml")
    narva = plan.solution["prod"].sel(candidate="neo_narva").to_series()
    assert (narva.loc[2027:2033] >= 700 - 1e-6).all()
    q = plan.params["offtake"].sel(candidate="neo_narva").to_series()
    assert q.loc[2027:2033].tolist() == pytest.approx([0.35] * 7)
    assert q.loc[[2025, 2026, 2034, 2035]].tolist() == [0.0] * 4
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {SCENARIOS / 'eu-crma-2030.yaml'}\nname: bad\ncandidates:\n"
                   f"  neo_narva: {{offtake_until: 2026}}\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["plan", str(bad)])
    assert res.exit_code == 2 and "offtake_until" in res.output, res.output
    assert "Traceback" not in res.output


def test_a_larger_reserve_never_costs_more() -> None:
    """Metamorphic: more room in the reserve (0, 30, 60, 100, 200 t) can only lower the
    cost of the ban toy, down to the cost of filling it just in time."""
    costs = [solve(_ban(reserve_caps={"Nd": cap} if cap else {},
                        reserve_holding_cost=500.0)).cost for cap in (0, 30, 60, 100, 200)]
    assert all(b <= a + 1e-6 for a, b in pairwise(costs))
    assert costs[-1] == pytest.approx(costs[-2]) and costs[0] > costs[-1]


def test_the_rouble_value_target_converts_at_the_stated_rate_and_says_what_it_counts() -> None:
    """100 bn RUB a year in 2030 at 100.1 RUB/USD (the ministry's 2028 forecast, held
    after it) = 999 M USD a year; rare earths alone are far from it, and the plan says so."""
    from reeplan import run_plan

    plan = run_plan(SCENARIOS / "russia-roadmap-value.yaml")
    value = plan.targets[plan.targets["target"] == "value_100bn_rub"]
    assert value["required"].tolist() == pytest.approx([100e9 / 100.1] * len(value))
    assert {"vedomosti_minek_fx_2025", "fx_held_after_forecast"} <= set(plan.problem.sources)
    assert not bool(value["met"].any())
    assert value["achieved"].max() < 0.25 * value["required"].max()
    assert any("also needs the rare metals" in m for m in plan.missed)


def _contracted_magnets(dy_cap: float) -> Problem:
    """The magnet maker under an offtake contract for half its 100 t/yr, its magnets 2
    wt% Dy, CHN selling at most ``dy_cap`` t/yr of Dy (oxide basis) and no other Dy."""
    base = _magnet_maker()
    plant = replace(base.candidates[0], offtake_share=0.5, offtake_from=2025)
    return replace(base, elements=("Nd", "Dy"), candidates=(plant,),
                   partners=(Partner("CHN", export_caps={"Dy": dy_cap}),),
                   recipe=Recipe("t", {"Nd": 30.0, "Dy": 2.0}),
                   metal_per_oxide={"Nd": 0.857, "Dy": 325 / 373},
                   oxide_price={"Nd": 10_000.0, "Dy": 300_000.0},
                   metal_price={"Nd": 20_000.0, "Dy": 400_000.0})


def test_an_offtake_the_chain_cannot_feed_falls_short_at_a_penalty_not_infeasible() -> None:
    """50 t/yr contracted; 0.5 t/yr of Dy oxide is 0.4357 t of Dy metal, enough for
    0.4357 / 0.02 = 21.78 t of magnets: the contract falls short by 28.22 t/yr, reported
    in the unmet table and the explanation, and its penalty is in the plan's penalties.
    With no Dy at all it falls short by the whole 50 t; with Dy enough, not at all."""
    plan = solve(_contracted_magnets(0.5))
    made = 0.5 * 325 / 373 / 0.02
    assert plan.solution["prod"].sel(candidate="magnets").values.tolist() == \
        pytest.approx([made, made])
    short = plan.unmet[plan.unmet["product"] == "offtake of magnets (magnet)"]
    assert short["tonnes"].tolist() == pytest.approx([50 - made, 50 - made])
    penalty = plan.problem.unmet_penalty
    assert plan.penalties == pytest.approx(2 * (50 - made) * penalty, rel=1e-6)
    assert any("Offtake of magnets (magnet) under contract falls short from 2025" in line
               and "(Dy: partners' export caps bind)" in line for line in plan.missed), plan.missed
    none = solve(_contracted_magnets(0.0))
    assert none.unmet["tonnes"].tolist() == pytest.approx([50, 50])
    enough = solve(_contracted_magnets(5.0))
    assert enough.unmet.empty
    assert enough.solution["prod"].sel(candidate="magnets").values.tolist() == \
        pytest.approx([50, 50])


def test_us_and_eu_plans_buy_no_heavies_through_third_countries() -> None:
    """Third countries resell no Dy or Tb (third_country_heavy_resale); China sells at most
    its licensed 2025 shipments (Chinese customs via TRADIUM: to the USA 6 t of Tb and no
    Dy, to the EU about 2 t of Tb and 1 t of Dy a year), at the ex-China price; the USA's
    Dy comes from Lynas (WEST, 50 t/yr) and, from 2029, from Energy Fuels' monazite
    separated at White Mesa and at no other plant."""
    from reeplan import run_plan
    from reeplan.reporting.tables import trade_table

    licensed = {"usa-mine-to-magnet": ({"Dy": 0.0, "Tb": 6.0}, "chn_licensed_heavies_usa"),
                "eu-crma-2030": ({"Dy": 1.0, "Tb": 2.0}, "chn_licensed_heavies_eu")}
    for name, (caps, licences) in licensed.items():
        plan = run_plan(SCENARIOS / f"{name}.yaml")
        t = plan.trade
        heavy = t[t["element"].isin(["Dy", "Tb"]) & (t["flow"] == "import")
                  & t["product"].isin(["oxide", "metal"])]
        assert set(heavy["partner"]) <= {"WEST", "CHN"}, (name, heavy)
        chn = heavy[heavy["partner"] == "CHN"].copy()
        per_oxide = {e: plan.problem.metal_per_oxide[e] for e in caps}
        chn["oxide_t"] = [r.tonnes / (per_oxide[r.element] if r.product == "metal" else 1.0)
                          for r in chn.itertuples()]
        by_year = chn.groupby(["element", "year"])["oxide_t"].sum()
        for (element, year), tonnes in by_year.items():
            assert tonnes <= caps[str(element)] + 1e-6, (name, element, year, tonnes)
        europe = plan.params["market_oxide_price"].sel(market="ex_china")
        valued = trade_table(plan)
        valued = valued[(valued["partner"] == "CHN") & (valued["product"] == "oxide")
                        & valued["element"].isin(["Dy", "Tb"])]
        assert not valued.empty
        for r in valued.itertuples():
            paid = r.value_musd * 1e6 / r.tonnes
            assert paid == pytest.approx(float(europe.sel(element=r.element, year=r.year)))
        assert {"third_country_heavy_resale", licences} <= set(plan.problem.sources)
        if name == "eu-crma-2030":  # the Tb of other uses no one may sell, named
            assert any(m.startswith("Demand for oxide (Tb) is left unmet from 2025")
                       for m in plan.missed), plan.missed
    usa = run_plan(SCENARIOS / "usa-mine-to-magnet.yaml")
    s, q = usa.solution, usa.params
    feed = s["prod"].sel(candidate="ef_monazite")
    held = float(q["distribution"].sel(mine="ef_monazite").sum() * q["oxide_per_mined"])
    assert s["prod"].sel(candidate="ef_white_mesa").values.tolist() == \
        pytest.approx((feed * held).values.tolist(), abs=1e-6)
    assert float(s["prod"].sel(candidate="ef_white_mesa", year=2028)) == 0
    assert float(s["prod"].sel(candidate="ef_white_mesa", year=2030)) > 0
    bought = usa.trade[usa.trade["product"] == "concentrate (feed of ef_white_mesa)"]
    assert set(bought["flow"]) == {"import"} and set(bought["partner"]) == {"OTHER"}
    assert usa.round_trips.empty
    # the ore bought for White Mesa while Mountain Pass ore is sold: reported as a swap
    cross = usa.cross_trades
    swaps = cross[cross["reading"] == "ores swapped: one concentrate sold, another bought"]
    assert set(swaps["imported"]) == {"concentrate (feed of ef_white_mesa)"}
    for r in swaps.itertuples():
        sold = usa.trade[(usa.trade["flow"] == "export") & (usa.trade["element"] == r.element)
                         & (usa.trade["year"] == r.year)
                         & usa.trade["product"].str.startswith("concentrate")]["tonnes"].sum()
        assert r.exported_t == pytest.approx(sold)


def test_a_plant_fed_by_a_mine_that_is_not_one_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {SCENARIOS / 'usa-mine-to-magnet.yaml'}\nname: bad\n"
                   f"candidates:\n  ef_white_mesa: {{feed_from: [mp_metal]}}\n",
                   encoding="utf-8")
    res = CliRunner().invoke(app, ["plan", str(bad)])
    assert res.exit_code == 2, res.output
    assert "candidates.ef_white_mesa.feed_from" in res.output and "'mp_metal'" in res.output
    assert "Traceback" not in res.output


def test_a_cap_on_a_partner_s_material_in_magnets_moves_the_metal_to_another() -> None:
    """10 t/yr of magnets made under contract need 3 t/yr of Nd metal; China sells it at
    20,000 USD/t, the West at 50% more. With China's material held to 30% of the alloy's
    metal from 2026 (a DFARS-like rule), 2026 buys 0.9 t from China and 2.1 t from the
    West; 2025, before the rule, all 3 t from China; the cap costs 2.1 x 10,000 USD."""
    base = _magnet_maker()
    plant = replace(base.candidates[0], offtake_share=0.1, offtake_from=2025)
    free = replace(base, candidates=(plant,),
                   partners=(Partner("CHN"), Partner("WEST", buy_premium=0.5)))
    capped = replace(free, magnet_inputs_from={"CHN": 0.3}, magnet_inputs_from_year=2026)
    metal = {q: solve(p).solution["import_metal"].sum("element") for q, p in
             (("free", free), ("capped", capped))}
    assert metal["free"].sel(partner="CHN").values.tolist() == pytest.approx([3, 3])
    assert metal["capped"].sel(partner="CHN").values.tolist() == pytest.approx([3, 0.9])
    assert metal["capped"].sel(partner="WEST").values.tolist() == pytest.approx([0, 2.1])
    assert solve(capped).cost - solve(free).cost == pytest.approx(2.1 * 10_000)


def test_a_cap_on_the_material_of_an_absent_partner_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {SCENARIOS / 'usa-mine-to-magnet.yaml'}\nname: bad\n"
                   f"candidates: {{}}\npolicy:\n  partners: {{}}\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["plan", str(bad)])
    assert res.exit_code == 2, res.output
    assert "policy.magnet_inputs_from.CHN" in res.output and "Traceback" not in res.output


def test_a_granted_technology_from_the_table_changes_the_plan_as_its_effects_say(
        tmp_path: Path) -> None:
    """A technologies row with effects (half the opex and half the ammonia of solvent
    extraction), granted through a scenario from 2025: every separation candidate gets a
    variant at exactly half its opex and the same capex; the plan costs at most the
    baseline less half the opex of the baseline's separation output (the baseline's
    operations run on the variants are one feasible plan), and each variant's ammonia is
    half the incumbent's per tonne."""
    import pandas as pd

    from reeplan import run_plan
    from reeplan.data import load_factbase
    from reeplan.optimize.expressions import MUSD
    from reeplan.reporting.tables import environment_table

    facts = load_factbase()
    table = facts["technologies"].drop(columns=["origin"], errors="ignore")
    row = table[table["technology_id"] == "lad_chromatography"].copy()
    row["technology_id"], row["opex_factor"], row["ammonia_factor"] = "half_sx", 0.5, 0.5
    pd.concat([table, row]).to_csv(tmp_path / "technologies.csv", index=False)
    tables = load_factbase(tmp_path)
    path = tmp_path / "t.yaml"
    path.write_text(f"extends: {SCENARIOS / 'russia-2030.yaml'}\nname: t\n"
                    f"policy: {{technology_access: {{half_sx: 2025}}}}\n", encoding="utf-8")
    base, granted = run_plan(SCENARIOS / "russia-2030.yaml", facts=tables), \
        run_plan(path, facts=tables)
    q, qb = granted.params, base.params
    seps = [c.id for c in base.problem.candidates if c.stage == "separation"]
    for cid in seps:
        assert float(q["opex"].sel(candidate=f"{cid}@half_sx").mean()) == pytest.approx(
            0.5 * float(qb["opex"].sel(candidate=cid).mean()))
        assert float(q["capex"].sel(candidate=f"{cid}@half_sx").mean()) == pytest.approx(
            float(qb["capex"].sel(candidate=cid).mean()))
    saved = float((base.solution["prod"].sel(candidate=seps) * qb["opex"].sel(
        candidate=seps) * qb["discount"]).sum()) * 0.5
    assert saved > 0
    assert granted.cost <= base.cost - saved + 1e-6 * MUSD
    env = environment_table(granted)
    ammonia = env[(env["technology"] == "half_sx") & (env["indicator"] == "ammonia")]
    variants = [f"{cid}@half_sx" for cid in seps]
    made = granted.solution["prod"].sel(candidate=variants).sum("candidate")
    intensity = granted.problem.environment[("separation", "ammonia")]
    for r in ammonia.itertuples():
        assert r.value == pytest.approx(0.5 * intensity * float(made.sel(year=r.year)))
    assert not ammonia.empty
