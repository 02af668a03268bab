"""Rare metals: co-production across commodities, the rare-metal chains in the planner,
the roadmap's group and value targets, and ``reeplan chain --commodity``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reeplan.data import load_factbase
from reeplan.data.rare_metals import coproduct_ratios, rare_metal_product
from reeplan.domain import Recipe, StageChain
from reeplan.interfaces.cli import app
from reeplan.optimize import Candidate, Partner, Problem, Target, solve
from reeplan.optimize.problem import ProductGroup, RareMetal
from reeplan.reporting.roadmap import plan_tables
from reeplan.reporting.tables import environment_table
from reeplan.scenarios.run import run_plan
from reeplan.types import Stage

ROOT = Path(__file__).parent.parent
ROADMAP = ROOT / "scenarios" / "russia-roadmap-2030.yaml"
runner = CliRunner()
YEARS = tuple(range(2025, 2031))
SEP95 = StageChain({**StageChain.ideal().recovery, Stage.SEPARATION: 0.95})


@pytest.fixture(scope="module")
def facts():  # type: ignore[no-untyped-def]
    return load_factbase()


@pytest.fixture(scope="module")
def roadmap():  # type: ignore[no-untyped-def]
    return run_plan(ROADMAP)


def _problem(mine: Candidate, extra: tuple[Candidate, ...] = (),
             metals: tuple[RareMetal, ...] = (), targets: tuple[Target, ...] = (),
             groups: tuple[ProductGroup, ...] = (),
             partners: tuple[Partner, ...] = (Partner("CHN"),)) -> Problem:
    sep = Candidate("sep", "separation", existing=5000, max_capacity=5000, capex=0, opex=10,
                    lead_time=0)
    return Problem(years=YEARS, elements=("Nd",), candidates=(mine, sep, *extra),
                   partners=partners, recipe=Recipe("test", {"Nd": 30.0}),
                   metal_per_oxide={"Nd": 0.857}, oxide_price={"Nd": 1.0},
                   metal_price={"Nd": 1.5}, magnet_price=0.0, magnet_demand={},
                   other_demand=dict.fromkeys(YEARS, 0.0), chain=SEP95, rare_metals=metals,
                   product_groups=groups, element_groups={"Nd": "light"}, targets=targets)


def _metal(k: str, use: float = 0.0, price: float = 40_000.0, **kw: object) -> RareMetal:
    return RareMetal(k, dict.fromkeys(YEARS, use), price=price, concentrate_share=0.5,
                     refining_recovery=0.9, **kw)  # type: ignore[arg-type]


# --- co-production across commodities ---------------------------------------------------

def test_loparite_ratios_from_its_composition_by_hand(facts) -> None:  # type: ignore[no-untyped-def]
    """KL-1: 32 wt% REO, 8.14 Nb2O5, 0.57 Ta2O5, 38.1 TiO2 (patent RU2145980)."""
    r = coproduct_ratios(facts, "lovozero", "REO", ["Nb", "Ta", "Ti", "W"])
    assert r["Nb"] == pytest.approx(8.14 * 0.69905 / 32, rel=1e-9)
    assert r["Ta"] == pytest.approx(0.57 * 0.81897 / 32, rel=1e-9)
    assert r["Ti"] == pytest.approx(38.1 * 0.59935 / 32, rel=1e-9)
    assert "W" not in r  # loparite carries no tungsten


def test_a_loparite_mine_planned_for_rare_earths_makes_its_nb_ta_ti(facts) -> None:  # type: ignore[no-untyped-def]
    """The mine is there for its rare earths (no rare-metal target, no refinery): its
    2,500 t REO a year still make 2,500 x 8.14 x 0.69905 / 32 = 444.6 t Nb, 36.5 t Ta and
    1,784 t Ti in concentrate, which the plan sells or leaves, and counts."""
    ratios = coproduct_ratios(facts, "lovozero", "REO", ["Nb", "Ta", "Ti"])
    mine = Candidate("lovozero", "mining", existing=2500, max_capacity=2500, capex=0,
                     opex=0, lead_time=0, distribution={"Nd": 1.0}, coproducts=ratios)
    plan = solve(_problem(mine, metals=(_metal("Nb"), _metal("Ta"), _metal("Ti")),
                          targets=(Target("ree", "output", 2375, 2025, "separation"),)))
    rm = plan_tables(plan)["rare_metals"].set_index(["commodity", "year"])
    assert rm.loc[("Nb", 2027), "mined"] == pytest.approx(2500 * 8.14 * 0.69905 / 32)
    assert rm.loc[("Ta", 2027), "mined"] == pytest.approx(2500 * 0.57 * 0.81897 / 32)
    assert rm.loc[("Ti", 2027), "mined"] == pytest.approx(2500 * 38.1 * 0.59935 / 32)
    assert rm.loc[("Nb", 2027), "mined"] == pytest.approx(444.55, abs=0.01)
    # nothing refines them, so they leave as concentrate at half the product's price
    assert rm.loc[("Nb", 2027), "concentrate_exports"] == pytest.approx(444.55, abs=0.01)


def test_tyrnyauz_makes_molybdenum_with_its_tungsten(facts) -> None:  # type: ignore[no-untyped-def]
    """4.5 kt of tungsten oxide and 1 kt of molybdenum oxide a year: 0.187 t Mo per t W."""
    r = coproduct_ratios(facts, "tyrnyauz", "W", ["W", "Mo"])
    assert r["W"] == 1.0
    assert r["Mo"] == pytest.approx(18.2 * 0.66656 / (81.8 * 0.79297), rel=1e-9)


# --- the chains in the planner ------------------------------------------------------------

def test_refining_by_hand_and_no_re_export() -> None:
    """186 t Nb mined; a refinery of 500 t/yr at 0.9 recovery; 300 t used at home;
    concentrate at half the product's price, so refining pays. It buys concentrate to
    refine for the home market (300 / 0.9 = 333.3 t), and exports only what its own ore
    refines to (0.9 x 186 = 167.4 t): 467.4 t refined in all, within the 500 t."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 0.186})
    ref = Candidate("r", "rare_metal_refining", existing=500, max_capacity=500, capex=0,
                    opex=100, lead_time=0, commodity="Nb")
    plan = solve(_problem(mine, (ref,), (_metal("Nb", use=300.0),)))
    rm = plan_tables(plan)["rare_metals"].set_index(["commodity", "year"]).loc[("Nb", 2026)]
    assert rm["exports"] == pytest.approx(0.9 * 186)
    assert rm["refined"] == pytest.approx(300 + 0.9 * 186)
    assert rm["concentrate_imports"] == pytest.approx(300 / 0.9)
    assert rm["imports"] == pytest.approx(0.0)
    # what targets count: the output without the bought feed, 467.4 - 0.9 x 333.3
    assert rm["refined_from_home_ore"] == pytest.approx(0.9 * 186)


def test_imported_feed_never_meets_a_production_target() -> None:
    """The refinery above, now under a group target: bought concentrate refined for the
    home market does not count, so the target sees 0.9 x 186 / 0.65 t of ferroniobium."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 0.186})
    ref = Candidate("r", "rare_metal_refining", existing=500, max_capacity=500, capex=0,
                    opex=100, lead_time=0, commodity="Nb")
    group = ProductGroup("large", ("Nb",), ())
    plan = solve(_problem(mine, (ref,), (_metal("Nb", use=300.0, product_per_content=1 / 0.65),),
                          (Target("lt", "group_output", 1e6, 2025, group="large",
                                  penalty=1e6),), (group,)))
    achieved = plan.targets.set_index("year")["achieved"]
    assert achieved[2027] == pytest.approx(0.9 * 186 / 0.65)


def test_used_at_home_first_then_own_ore_exported() -> None:
    """With no home use, the refinery exports what its own ore refines to (0.9 x 186),
    never refined imported concentrate."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 0.186})
    ref = Candidate("r", "rare_metal_refining", existing=500, max_capacity=500, capex=0,
                    opex=100, lead_time=0, commodity="Nb")
    rm = plan_tables(solve(_problem(mine, (ref,), (_metal("Nb"),))))["rare_metals"]
    assert (rm["exports"] <= 0.9 * 186 + 1e-6).all()
    assert (rm["concentrate_imports"] <= 1e-6).all()


def test_no_merchant_concentrate_means_refine_or_leave() -> None:
    """Niobium concentrate has no market: with no refinery the ore's Nb is left (the mine
    runs full under an offtake contract)."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 0.186},
                     offtake_share=1.0)
    rm = plan_tables(solve(_problem(mine, metals=(_metal("Nb", concentrate_market=False),))))[
        "rare_metals"]
    assert (rm["concentrate_exports"] == 0).all() and (rm["concentrate_imports"] == 0).all()
    assert rm["unprocessed"].tolist() == pytest.approx([186.0] * len(YEARS))


def test_group_output_counts_products_and_oxides_by_hand() -> None:
    """Refined Nb x 1/0.65 t of ferroniobium plus the light oxides separated at home. An
    unreachable target at a high penalty does not fill the refinery with bought
    concentrate: with no use at home its product could only be exported, which is
    re-export. So 186 x 0.9 / 0.65 + 1000 x 0.95 = 1,207.5 t of products."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 0.186})
    ref = Candidate("r", "rare_metal_refining", existing=500, max_capacity=500, capex=0,
                    opex=0, lead_time=0, commodity="Nb")
    group = ProductGroup("large", ("Nb",), ("light",))
    plan = solve(_problem(mine, (ref,), (_metal("Nb", product_per_content=1 / 0.65),),
                          (Target("lt", "group_output", 1e6, 2025, group="large",
                                  penalty=1e6),), (group,)))
    achieved = plan.targets.set_index("year")["achieved"]
    assert achieved[2027] == pytest.approx(186 * 0.9 / 0.65 + 1000 * 0.95)


def test_a_group_without_tracked_members_names_them() -> None:
    mine = Candidate("m", "mining", existing=10, max_capacity=10, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    group = ProductGroup("small", (), (), ("Be", "Ga"))
    plan = solve(_problem(mine, targets=(Target("st", "group_output", 80, 2030,
                                                group="small"),), groups=(group,)))
    assert plan.missed and "Be, Ga count for nothing" in plan.missed[0]
    assert "announced" not in plan.missed[0]
    named = ProductGroup("small", (), (), ("Be", "Ga"),
                         not_modelled_announced=(("Be", 45.0, 2027, "a mine"),
                                                 ("Ga", 5.0, 0, "a refinery")))
    plan = solve(_problem(mine, targets=(Target("st", "group_output", 80, 2030,
                                                group="small"),), groups=(named,)))
    assert plan.missed[0].endswith("; announced, not counted: Be 45 t/yr from 2027 "
                                   "(a mine); Ga 5 t/yr (a refinery).")


def test_value_counts_refined_rare_metals_at_world_prices() -> None:
    """45,000 USD/t x 0.9 x 186 t of refined Nb; no oxide (separating costs 10 USD/t, it
    sells at 1), and no bought concentrate (refined for export it would be re-export)."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 0.186})
    ref = Candidate("r", "rare_metal_refining", existing=500, max_capacity=500, capex=0,
                    opex=0, lead_time=0, commodity="Nb")
    plan = solve(_problem(mine, (ref,), (_metal("Nb", price=45_000.0),),
                          (Target("v", "output_value", 1e12, 2025, penalty=1e-9),)))
    achieved = plan.targets.set_index("year")["achieved"]
    assert achieved[2027] == pytest.approx(45_000 * 0.9 * 186, rel=1e-9)


def test_tracking_an_unused_metal_changes_nothing_else() -> None:
    """Metamorphic: a commodity with no use, no mine and no plant costs nothing."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    target = (Target("ree", "output", 900, 2026, "separation"),)
    base = solve(_problem(mine, targets=target))
    more = solve(_problem(mine, targets=target, metals=(_metal("W"),)))
    assert more.cost == pytest.approx(base.cost, rel=1e-12)


def test_blocking_every_partner_leaves_rare_metal_use_unmet_and_says_so() -> None:
    mine = Candidate("m", "mining", existing=10, max_capacity=10, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    plan = solve(_problem(mine, metals=(_metal("Li", use=280.0),),
                          partners=(Partner("CHN", blocked=True),)))
    assert any("Li (refined)" in line for line in plan.missed)


# --- the roadmap scenario -------------------------------------------------------------------

def test_the_roadmap_plans_all_five_figures_and_says_what_happens(roadmap) -> None:  # type: ignore[no-untyped-def]
    ids = {t.id for t in roadmap.problem.targets}
    assert ids == {"rem_3000_t", "import_share_48", "value_100bn_rub", "large_tonnage_50kt",
                   "small_tonnage_80t"}
    t = roadmap.targets
    for target in ids:
        rows = t[t["target"] == target]
        if not rows["met"].all():  # a miss is explained, with its size
            assert any(f"'{target}'" in line and "by up to" in line
                       for line in roadmap.missed), target
    # met on Ta alone: the summary says which of the group's metals it leaves out
    assert t[t["target"] == "small_tonnage_80t"]["met"].all()
    assert any(line.startswith("Target 'small_tonnage_80t' is met on Ta alone; Be, Ge, Ga, "
                               "Hf count for nothing") for line in roadmap.missed), \
        roadmap.missed
    # and how much that leaves out, from the production table (USGS: Ga 6,000 kg in 2024;
    # Ge 6 t in 2022, Open-File Report 2024-1057); nothing is published for Be and Hf
    assert any("latest published output of them: Ge 6 t (2022), Ga 6 t (2024); none "
               "published for Be, Hf" in line for line in roadmap.missed), roadmap.missed
    assert {"usgs_mcs2025_ga", "usgs_ofr_2024_1057"} <= set(roadmap.problem.sources)
    # an announced plant of an untracked member is named, not counted: Ermakovskoye's
    # 45 t/yr of Be (the Minister for the Far East, 2025), start 2027
    assert any(line.endswith("announced, not counted: Be 45 t/yr from 2027 (Ermakovskoye "
                             "beryllium mine and concentrator, Buryatia).")
               for line in roadmap.missed), roadmap.missed
    assert "prometall_ermakovskoye_2025" in roadmap.problem.sources
    tables = plan_tables(roadmap)
    rm = tables["rare_metals"]
    assert set(rm["commodity"]) == {"W", "Mo", "Nb", "Ta", "Li", "Ti", "Zr"}
    # loparite's Nb is mined from the first year, with the rare earths
    nb = rm[(rm["commodity"] == "Nb") & (rm["year"] == 2025)].iloc[0]
    assert nb["mined"] > 300


def test_the_roadmap_flows_balance_and_never_re_export(roadmap) -> None:  # type: ignore[no-untyped-def]
    rm = plan_tables(roadmap)["rare_metals"]
    recovery = {k: rare_metal_product(load_factbase(), k).refining_recovery
                for k in rm["commodity"].unique()}
    lhs = rm["mined"] + rm["concentrate_imports"]
    rhs = rm["concentrate_exports"] + rm["unprocessed"] + rm["refining_feed"]
    assert (lhs - rhs).abs().max() < 1e-6
    use = rm["refined"] + rm["imports"] - rm["exports"] + rm["unmet"]
    needed = rm["consumption"] - rm["downstream_use"] + rm["conversion_feed"]
    assert (use - needed).abs().max() < 1e-6
    second = rm["converted"] + rm["downstream_imports"] - rm["downstream_exports"] \
        + rm["downstream_unmet"]
    assert (second - rm["downstream_use"]).abs().max() < 1e-6
    # the carbide and hydroxide the roadmap uses: 60% of W, 50% of Li (labelled shares)
    for k, share in (("W", 0.6), ("Li", 0.5)):
        rows = rm[rm["commodity"] == k]
        assert (rows["downstream_use"] - share * rows["consumption"]).abs().max() < 1e-6
    own = rm["commodity"].map(recovery) * (rm["mined"] - rm["concentrate_exports"])
    sent = rm["exports"] + rm["downstream_exports"] * rm["conversion_feed"] \
        / rm["converted"].where(rm["converted"] > 0, 1.0)
    assert (sent <= own + 1e-6).all()
    assert (rm["downstream_exports"] <= rm["converted"] + 1e-6).all()
    nb = rm[rm["commodity"] == "Nb"]
    assert (nb["concentrate_imports"] == 0).all() and (nb["concentrate_exports"] == 0).all()
    # every rare-metal trade row has a value at the world price
    trade = plan_tables(roadmap)["trade"]
    rare = trade[trade["product"].str.startswith("rare metal")]
    assert not rare.empty and (rare["value_musd"] > 0).all()


def test_the_roadmap_value_target_counts_the_roadmap_metals_not_titanium(roadmap) -> None:  # type: ignore[no-untyped-def]
    group = next(g for g in roadmap.problem.product_groups if g.id == "rare_metals_roadmap")
    assert "Ti" not in group.commodities
    assert set(group.not_modelled) == {"Be", "Ge", "Ga", "Hf"}


def test_the_roadmap_summary_says_met_from_when(roadmap) -> None:  # type: ignore[no-untyped-def]
    """Each target's summary line follows its rows in the targets table: met every year,
    missed every year, or missed until its last miss and met from the year after."""
    res = runner.invoke(app, ["plan", str(ROADMAP)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    verdicts = set()
    for target, rows in roadmap.targets.groupby("target"):
        line = next(x for x in res.stdout.splitlines() if f"target {target} " in x)
        missed = rows.loc[~rows["met"], "year"]
        if missed.empty:
            expected = "met every year"
        elif int(missed.max()) == int(rows["year"].max()):
            expected = "MISSED"
            assert "met from" not in line
        else:
            expected = f"MISSED until {int(missed.max())}, met from {int(missed.max()) + 1}"
        assert line.endswith(expected), (line, expected)
        verdicts.add(expected.split(" until")[0])
    assert verdicts == {"met every year", "MISSED"}  # the roadmap has both kinds


# --- reeplan chain --commodity --------------------------------------------------------------

def _chain(commodity: str) -> dict:  # type: ignore[type-arg]
    res = runner.invoke(app, ["chain", "--country", "RUS", "--year", "2024", "--commodity",
                              commodity, "--format", "json"])
    assert res.exit_code == 0, res.output
    out: dict = json.loads(res.stdout)  # type: ignore[type-arg]
    return out


def _stated(out: dict, value: float) -> str:  # type: ignore[type-arg]
    return next(s["verdict"] for s in out["stated_import_shares"] if s["value"] == value)


def test_chain_w_by_hand_and_against_the_ministry() -> None:
    """State report 2021: 2,703 t WO3 made, 127 imported, 1,214 exported: 127 / 1,616 =
    7.9% at the concentrate stage, far from the 57% claimed."""
    out = _chain("W")
    conc = next(s for s in out["stages"] if s["stage"] == "concentrate")
    assert conc["gross_import_share"] == pytest.approx(127 / (2703 + 127 - 1214), abs=1e-4)
    assert out["mine_output"]["value"] == 2000 and out["mine_output"]["year"] == 2024
    verdict = _stated(out, 57.0)
    assert verdict.startswith("differs") and "730 t" in verdict
    # why, from the balance itself: its year, its stage, and the caveat of its assumption
    assert "the balance is of 2021, the claim of 2025" in verdict
    assert "the balance has shares for concentrates only" in verdict
    assert "w_product_trade_nil: after Gidrometallurg closed in 2023 all W products are " \
           "imported" in verdict


def test_chain_mo_matches_the_ministrys_51_at_the_concentrate_stage() -> None:
    out = _chain("Mo")
    conc = next(s for s in out["stages"] if s["stage"] == "concentrate")
    assert conc["gross_import_share"] == pytest.approx(1556 / (1691 + 1556 - 45), abs=1e-4)
    assert _stated(out, 51.0).startswith("matches the concentrate stage's gross share")


def test_chain_zr_li_nb_ta_against_the_ministry() -> None:
    zr = _chain("Zr")
    assert _stated(zr, 61.0).startswith("differs")  # 81% in 2021, 59.5% in 2020
    li = _chain("Li")
    verdicts = {s["period"]: s["verdict"] for s in li["stated_import_shares"]}
    assert verdicts["current (2025 claim)"].startswith("matches the refined stage's net")
    # 2018-2020: imports are published, exports are not (1,410 t in 2021): an apparent
    # use with exports taken as zero would "match" 100% by assumption
    assert verdicts["2018-2020"].startswith("cannot be checked")
    assert "a missing flow is unknown, not zero" in verdicts["2018-2020"]
    refined = next(s for s in li["stages"] if s["stage"] == "refined")
    assert refined["gross_import_share"] > 1  # carbonate in, hydroxide out
    nb = _chain("Nb")
    assert _stated(nb, 90.0).startswith("consistent with this lower bound")
    assert "russia_nb_consumption" in _stated(nb, 90.0)  # says it rests on an assumption
    ta = _chain("Ta")
    assert _stated(ta, 60.0).startswith("cannot be checked")


@pytest.mark.parametrize("commodity", ["W", "Mo", "Zr", "Nb", "Ta", "Li", "Ti"])
def test_chain_commodity_table_runs(commodity: str) -> None:
    res = runner.invoke(app, ["chain", "--country", "RUS", "--year", "2024", "--commodity",
                              commodity])
    assert res.exit_code == 0, res.output
    assert "Stated import shares" in res.stdout and "Gross" in res.stdout


def test_chain_commodity_without_data_is_exit_2() -> None:
    res = runner.invoke(app, ["chain", "--country", "USA", "--commodity", "W"])
    assert res.exit_code == 2 and "rare_metal_balances" in res.output
    res = runner.invoke(app, ["chain", "--commodity", "W", "--mix", "a=1"])
    assert res.exit_code == 2 and "--mix" in res.output


# --- bad scenarios ----------------------------------------------------------------------------

@pytest.mark.parametrize(("edit", "words"), [
    ("rare_metals: {commodities: [W]}\ncandidates:\n  x: {stage: rare_metal_refining, "
     "commodity: Mo, max_capacity_t: 1, capex_usd_per_tpa: 1, opex_usd_per_t: 1, "
     "lead_time_years: 1, source: generic_costs_ru}\n", ["candidates.x.commodity", "Mo"]),
    ("rare_metals: {commodities: [Be]}\n", ["rare_metals.commodities.0", "Be"]),
    ("targets:\n  - {id: g, kind: group_output, group: nope, value: 1, year: 2030}\n",
     ["targets.0.group", "nope"]),
    ("targets:\n  - {id: g, kind: group_output, value: 1, year: 2030}\n", ["group"]),
    ("candidates:\n  x: {stage: rare_metal_mining, max_capacity_t: 1, capex_usd_per_tpa: 1, "
     "opex_usd_per_t: 1, lead_time_years: 1, source: generic_costs_ru}\n", ["commodity"]),
    ("rare_metals: {commodities: [Mo], downstream_share: {Mo: 0.5}}\n",
     ["rare_metals.downstream_share.Mo", "no rare_metal_downstream row"]),
    ("rare_metals: {commodities: [W], downstream_share: {Li: 0.5}}\n",
     ["rare_metals.downstream_share.Li", "not in rare_metals.commodities"]),
    ("rare_metals: {commodities: [W]}\ncandidates:\n  x: {stage: rare_metal_conversion, "
     "commodity: W, max_capacity_t: 1, capex_usd_per_tpa: 1, opex_usd_per_t: 1, "
     "lead_time_years: 1, source: generic_costs_ru}\n",
     ["candidates.x.stage", "rare_metals.downstream_share.W"]),
    ("rare_metals: {commodities: [W], downstream_share: {W: 1.5}}\n",
     ["rare_metals.downstream_share.W", "less than or equal to 1"]),
])
def test_bad_rare_metal_scenarios_exit_2(tmp_path: Path, edit: str, words: list[str]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"extends: {ROOT / 'scenarios' / 'russia-2030.yaml'}\nname: s\n{edit}",
                    encoding="utf-8")
    res = runner.invoke(app, ["plan", str(path)])
    assert res.exit_code == 2, res.output
    for w in words:
        assert w in res.output
    assert "Traceback" not in res.output


def _carbide(opex: float) -> Problem:
    """100 t W/yr used, 60% as carbide (ratio 1.10 per t W, 98% kept in conversion); CHN
    sells APT at 40,000 USD/t W and carbide at 44,000; a converter at home (100 t/yr, no
    capex) at ``opex`` USD/t W."""
    conv = Candidate("conv", "rare_metal_conversion", existing=100, max_capacity=100, capex=0,
                     opex=opex, lead_time=0, commodity="W")
    mine = Candidate("m", "mining", existing=0, max_capacity=0, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    w = _metal("W", use=100.0, downstream="tungsten carbide", downstream_share=0.6,
               downstream_ratio=1.10, conversion_recovery=0.98)
    return _problem(mine, (conv,), (w,))


def test_a_second_product_is_made_at_home_when_converting_pays_by_hand() -> None:
    """Converting costs 40,000 / 0.98 + opex a tonne of carbide against 44,000 bought:
    at 2,000 USD/t (42,816) the plant makes the 60 t from 61.22 t of imported APT, so
    101.22 t of APT come in; at 5,000 (45,816) the carbide is bought and the plant idles.
    Either way no carbide is exported (none is converted from home ore), all of what is
    needed is imported (share 1: the 1.22 t conversion loses is needed too), and the
    balance holds: APT 40 used + 61.22 fed; carbide 60 used. What is paid: 101.22 t x
    40,000 USD a year, or 40 x 40,000 + 60 x 44,000."""
    cheap = plan_tables(solve(_carbide(2000.0)))
    rm = cheap["rare_metals"].iloc[0]
    assert rm["converted"] == pytest.approx(60)
    assert rm["conversion_feed"] == pytest.approx(60 / 0.98)
    assert rm["imports"] == pytest.approx(40 + 60 / 0.98)
    assert rm["downstream_imports"] == pytest.approx(0, abs=1e-9)
    assert rm["downstream_exports"] == pytest.approx(0, abs=1e-9)
    assert rm["gross_import_share"] == pytest.approx(1.0)
    assert cheap["costs"]["imports_musd"].iloc[0] == pytest.approx(
        (40 + 60 / 0.98) * 40_000 / 1e6, rel=1e-9)
    dear = plan_tables(solve(_carbide(5000.0)))
    rm = dear["rare_metals"].iloc[0]
    assert rm["converted"] == pytest.approx(0, abs=1e-9)
    assert rm["downstream_imports"] == pytest.approx(60)
    assert rm["imports"] == pytest.approx(40)
    assert rm["gross_import_share"] == pytest.approx(1.0)
    assert dear["costs"]["imports_musd"].iloc[0] == pytest.approx(
        (40 * 40_000 + 60 * 44_000) / 1e6, rel=1e-9)
    second = dear["trade"][dear["trade"]["product"] == "rare metal (second product)"]
    assert second["value_musd"].iloc[0] == pytest.approx(60 * 44_000 / 1e6, rel=1e-9)


def test_converting_imported_feed_adds_no_output_value() -> None:
    """A value target counts what conversion adds only on home-refined feed: with all APT
    imported, the converter's output adds nothing, so the target's achieved value is 0."""
    p = _carbide(2000.0)
    plan = solve(replace(p, targets=(Target("v", "output_value", 1e9, 2025, penalty=1.0),)))
    assert plan.targets["achieved"].tolist() == pytest.approx([0.0] * len(YEARS), abs=1e-6)


def test_a_country_without_rare_metal_use_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"extends: {ROOT / 'scenarios' / 'usa-mine-to-magnet.yaml'}\nname: s\n"
                    "rare_metals: {commodities: [W]}\n", encoding="utf-8")
    res = runner.invoke(app, ["plan", str(path)])
    assert res.exit_code == 2 and "rare_metals.consumption_t.W" in res.output


def test_rare_metal_prices_follow_their_quotes(facts) -> None:  # type: ignore[no-untyped-def]
    """Each product's price per kg of content, recomputed from the quote it cites."""
    p = facts["rare_metal_products"].set_index("commodity")["price_usd_per_kg_content"]
    assert p["W"] == pytest.approx(250 / 7.9297 / 0.8, abs=0.05)
    assert p["Li"] == pytest.approx((14_500 + 9_400) / 2 / 1000 / 0.18786, abs=0.05)
    assert p["Nb"] == pytest.approx(26 / 0.65, abs=0.05)
    assert p["Ta"] == pytest.approx(170 / 0.81897 / 0.7, abs=0.05)
    assert p["Zr"] == pytest.approx(2000 / 1000 / (0.65 * 0.74032), abs=0.01)


def test_balances_convert_oxides_to_content(facts) -> None:  # type: ignore[no-untyped-def]
    b = facts["rare_metal_balances"]
    row = b[(b["commodity"] == "W") & (b["year"] == 2021) & (b["flow"] == "production")]
    assert float(row["value"].iloc[0]) == pytest.approx(2703 * 0.79297, abs=0.1)
    zr = b[(b["commodity"] == "Zr") & (b["year"] == 2021) & (b["flow"] == "imports")]
    assert float(zr["value"].iloc[0]) == pytest.approx(9900 * 0.65 * 0.74032, abs=0.1)


def test_a_partner_sells_only_what_it_makes(roadmap, facts) -> None:  # type: ignore[no-untyped-def]
    """China mines no niobium and makes no titanium feedstock (production table): Russia's
    ferroniobium and Ti concentrate come through third countries."""
    from reeplan.data.rare_metals import producer_of

    assert producer_of(facts, "CHN", "Nb") == (False, False)
    assert producer_of(facts, "CHN", "Ti") == (False, True)  # sponge, not feedstock
    assert producer_of(facts, "CHN", "W") == (True, True)
    trade = plan_tables(roadmap)["trade"]
    from_china = trade[(trade["partner"] == "CHN") & (trade["flow"] == "import")]
    assert "Nb" not in set(from_china["element"])
    ti = from_china[(from_china["element"] == "Ti")
                    & (from_china["product"] == "rare metal (concentrate)")]
    assert ti.empty
    # and, stated in the scenario (china_sells_no_concentrate), no concentrate at all
    assert (from_china["product"] != "rare metal (concentrate)").all()


def test_the_value_target_sets_the_plans_base_beside_the_stated_one(roadmap) -> None:  # type: ignore[no-untyped-def]
    """29 bn RUB in 2024 at the path's first rate (86.1 RUB/USD in 2025) is 337 M USD."""
    target = next(t for t in roadmap.problem.targets if t.id == "value_100bn_rub")
    assert target.baseline == pytest.approx(29e9 / 86.1)
    line = next(m for m in roadmap.missed if "'value_100bn_rub'" in m)
    assert "against the stated base of 337 M USD" in line


def test_exports_stay_within_the_price_takers_share() -> None:
    """A cap of 50 t/yr on exports, concentrate and refined together: of the mine's Nb
    (up to 186 t) 50 t go abroad and what else it mines is left (no use, no refinery)."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 0.186})
    rm = plan_tables(solve(_problem(mine, metals=(_metal("Nb", export_cap=50.0),))))[
        "rare_metals"]
    assert (rm["concentrate_exports"] + rm["exports"]).tolist() == pytest.approx(
        [50.0] * len(YEARS))
    assert (rm["unprocessed"] - (rm["mined"] - 50.0)).abs().max() < 1e-6


def test_the_roadmap_caps_exports_at_a_tenth_of_the_world(roadmap, facts) -> None:  # type: ignore[no-untyped-def]
    caps = {m.commodity: m.export_cap for m in roadmap.problem.rare_metals}
    assert caps["W"] == pytest.approx(0.1 * 81_000) and caps["Ta"] == pytest.approx(210.0)
    rm = plan_tables(roadmap)["rare_metals"]
    out = rm["exports"] + rm["concentrate_exports"]
    assert (out <= rm["commodity"].map(caps) + 1e-6).all()


def test_the_cost_of_a_lone_target_is_the_cost_of_the_targets() -> None:
    """One target: the plan without it is the plan without targets, so the two agree; the
    refinery it needs (100 t/yr at 1,000 USD per t/yr, built in 2025) is what it costs,
    less what refining earns over selling concentrate."""
    from reeplan.reporting.worth import cost_of_each_target, cost_of_targets_musd

    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 0.186})
    ref = Candidate("r", "rare_metal_refining", existing=0, max_capacity=500, capex=1e6,
                    opex=0, lead_time=0, commodity="Nb")
    group = ProductGroup("large", ("Nb",), ())
    plan = solve(_problem(mine, (ref,), (_metal("Nb"),),
                          (Target("lt", "group_output", 100, 2025, group="large"),), (group,)))
    each = cost_of_each_target(plan).set_index("target")["cost_musd"]
    assert each["lt"] == pytest.approx(cost_of_targets_musd(plan), rel=1e-9)
    assert each["lt"] > 0


def test_growth_stops_at_the_forecasts_year(roadmap) -> None:  # type: ignore[no-untyped-def]
    """Li use grows 34.1% a year from 281.8 t in 2025 to 2030 (6.5 kt LCE), then holds."""
    li = next(m for m in roadmap.problem.rare_metals if m.commodity == "Li")
    assert li.consumption[2030] == pytest.approx(281.8 * 1.341 ** 5)
    assert li.consumption[2035] == pytest.approx(li.consumption[2030])


def test_zircon_comes_as_concentrate_so_china_sells_none(roadmap) -> None:  # type: ignore[no-untyped-def]
    trade = plan_tables(roadmap)["trade"]
    zr = trade[(trade["element"] == "Zr") & (trade["flow"] == "import")]
    assert "CHN" not in set(zr["partner"])


def test_a_builds_reason_is_the_target_that_needs_it_most(roadmap) -> None:  # type: ignore[no-untyped-def]
    """Kolmozerskoye serves the 50 kt target (its penalty rises most without it), not the
    value target that binds first in the scenario's order."""
    from reeplan.reporting.worth import build_worth

    worth = build_worth(roadmap).set_index("candidate")
    assert worth.loc["kolmozerskoye", "most_missed_target"] == "large_tonnage_50kt"
    builds = plan_tables(roadmap, worth.reset_index())["builds"].set_index("project")
    assert builds.loc["kolmozerskoye", "reason"].startswith("target 'large_tonnage_50kt'")


def test_leaving_use_unmet_never_meets_an_import_cap() -> None:
    """No partner sells, no plant exists: the 280 t of Li used are left unmet, and a zero
    import cap is missed by those 280 t (unmet use counts as imports)."""
    mine = Candidate("m", "mining", existing=10, max_capacity=10, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0})
    plan = solve(_problem(mine, metals=(_metal("Li", use=280.0),),
                          targets=(Target("li0", "rare_metal_import_share", 0.0, 2026,
                                          commodity="Li"),),
                          partners=(Partner("CHN", blocked=True),)))
    t = plan.targets.set_index("year")
    assert t.loc[2026, "shortfall"] == pytest.approx(280.0)
    assert not t["met"].any()


def test_an_import_cap_builds_the_refinery_that_replaces_imports() -> None:
    """300 t of Nb used, a mine whose ore carries 186 t and a refinery to build: a cap of
    50% on imports (150 t) needs 150 t refined at home, 150 / 0.9 t of its ore."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 0.186})
    ref = Candidate("r", "rare_metal_refining", existing=0, max_capacity=500, capex=1e6,
                    opex=0, lead_time=0, commodity="Nb")
    plan = solve(_problem(mine, (ref,), (_metal("Nb", use=300.0, concentrate_market=False),),
                          (Target("nb", "rare_metal_import_share", 0.5, 2025,
                                  commodity="Nb"),)))
    rm = plan_tables(plan)["rare_metals"].set_index(["commodity", "year"]).loc[("Nb", 2027)]
    assert rm["imports"] == pytest.approx(150.0)
    assert rm["refined"] == pytest.approx(150.0)
    assert plan.targets["met"].all()


@pytest.mark.parametrize(("loose", "tight"), [(1.0, 0.5), (0.5, 0.2), (0.2, 0.0)])
def test_a_tighter_rare_metal_import_cap_never_costs_less(loose: float, tight: float) -> None:
    """Metamorphic: lowering the cap on Nb imports never lowers the plan's cost."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 0.186})
    ref = Candidate("r", "rare_metal_refining", existing=0, max_capacity=500, capex=1e6,
                    opex=500, lead_time=1, commodity="Nb")

    def cost(cap: float) -> float:
        return solve(_problem(mine, (ref,), (_metal("Nb", use=300.0),),
                              (Target("nb", "rare_metal_import_share", cap, 2026,
                                      commodity="Nb"),))).cost

    assert cost(tight) >= cost(loose) - 1e-6


@pytest.mark.parametrize(("wide", "narrow"), [(1e6, 100.0), (100.0, 10.0), (10.0, 0.0)])
def test_a_narrower_export_market_never_costs_less(wide: float, narrow: float) -> None:
    """Metamorphic: a smaller price-taker cap on exports never lowers the plan's cost."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 0.186})

    def cost(cap: float) -> float:
        return solve(_problem(mine, metals=(_metal("Nb", export_cap=cap),))).cost

    assert cost(narrow) >= cost(wide) - 1e-6


def test_a_partner_behind_a_tariff_wall_sells_but_buys_nothing() -> None:
    """China buys nothing (MP stopped shipping concentrate after the 125% tariff): the
    mine's Nb and the oxide cannot go there; what is used is still bought from it."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 0.186})
    plan = solve(_problem(mine, metals=(_metal("Nb"), _metal("W", use=50.0)),
                          partners=(Partner("CHN", buys_nothing=True),)))
    t = plan.trade
    assert t[t["flow"] == "export"].empty
    w = t[(t["flow"] == "import") & (t["element"] == "W")]
    assert w["tonnes"].sum() == pytest.approx(50.0 * len(YEARS))


def test_the_usa_sells_china_nothing_after_april_2025() -> None:
    plan = run_plan(ROOT / "scenarios" / "usa-mine-to-magnet.yaml")
    t = plan.trade
    assert t[(t["flow"] == "export") & (t["partner"] == "CHN")].empty


def test_an_offtake_runs_a_plant_that_imports_would_idle() -> None:
    """A refinery dearer than imports idles; with an offtake of 60% from 2027 it makes
    0.6 x 500 = 300 t a year from then, and costs more (metamorphic)."""
    mine = Candidate("m", "mining", existing=1000, max_capacity=1000, capex=0, opex=0,
                     lead_time=0, distribution={"Nd": 1.0}, coproducts={"Nb": 2.0})
    ref = Candidate("r", "rare_metal_refining", existing=500, max_capacity=500, capex=0,
                    opex=1e6, lead_time=0, commodity="Nb")
    tied = Candidate("r", "rare_metal_refining", existing=500, max_capacity=500, capex=0,
                     opex=1e6, lead_time=0, commodity="Nb", offtake_share=0.6,
                     offtake_from=2027)
    free = solve(_problem(mine, (ref,), (_metal("Nb", use=400.0),)))
    bound = solve(_problem(mine, (tied,), (_metal("Nb", use=400.0),)))
    out = bound.production.set_index(["candidate", "year"])["output"]
    assert free.production.set_index(["candidate", "year"])["output"]["r"].max() == 0
    assert out["r"][2026] == 0 and out["r"][2027] == pytest.approx(300.0)
    assert bound.cost > free.cost


def test_gm_takes_fort_worth_magnets_from_2026() -> None:
    plan = run_plan(ROOT / "scenarios" / "usa-mine-to-magnet.yaml")
    out = plan.production.set_index(["candidate", "year"])["output"]["mp_independence"]
    assert (out.loc[2026:] >= 800 - 1e-6).all()


def test_a_gross_share_above_one_is_explained_where_it_is_shown() -> None:
    """Russia's refined lithium in 2021: 2,001 t imported, 1,410 t exported, 591 t used:
    the gross share is 2,001 / 591 = 338.7% by its definition, and the table says why
    (what leaves again), while the net share stays 100%."""
    res = CliRunner().invoke(app, ["chain", "--country", "RUS", "--year", "2024",
                                   "--commodity", "Li"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert "338.7%" in res.output
    text = " ".join(res.output.split())
    assert "refined: imports (2,001 t) exceed use (591 t): 1,410 t leave again" in text
    w = CliRunner().invoke(app, ["chain", "--country", "RUS", "--year", "2024",
                                 "--commodity", "W"], env={"COLUMNS": "80"})
    assert "exceed use" not in w.output


@pytest.mark.parametrize(("commodity", "made", "year"), [("Ga", 6, 2024), ("In", 10, 2024),
                                                         ("Ge", 6, 2022)])
def test_small_tonnage_metals_show_what_russia_makes_and_no_invented_use(
        commodity: str, made: float, year: int) -> None:
    """USGS: Russia made 6 t of gallium and 10 t of indium in 2024, 6 t of germanium in
    2022 (OFR 2024-1057). No trade is published, so use and import shares stay unknown
    rather than output taken as use."""
    out = _chain(commodity)
    refined = next(s for s in out["stages"] if s["stage"] == "refined")
    assert refined["production"] == made and refined["balance_year"] == year
    assert refined["consumption"] is None and refined["gross_import_share"] is None


def test_rare_metal_refineries_carry_their_cradle_to_gate_toll(roadmap) -> None:  # type: ignore[no-untyped-def]
    """Each refined tonne of W content carries 12.6 t CO2e and 133 GJ from mine to refinery
    (Nuss and Eckelman 2014, Table S38), counted at the refinery: environment.csv's W rows
    are the refined W times those, year by year; Ti and Ta, whose published figures are of
    other products (TiO2, capacitor powder), carry none."""
    env = environment_table(roadmap).set_index(["stage", "indicator", "year"])["value"]
    rm = plan_tables(roadmap)["rare_metals"].set_index(["commodity", "year"])["refined"]
    for year in (2028, 2032):
        assert env[("rare_metal_refining:W", "co2", year)] == pytest.approx(
            12.6 * rm[("W", year)])
        assert env[("rare_metal_refining:W", "energy", year)] == pytest.approx(
            133 * rm[("W", year)])
    stages = {s for s, _, _ in env.index}
    assert not {"rare_metal_refining:Ti", "rare_metal_refining:Ta"} & stages
