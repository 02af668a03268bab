"""`reeplan chain`: Russia's chain in 2024 traced to the fact base, and bad definitions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from reeplan.data import FactBase
from reeplan.errors import ReeplanError
from reeplan.flows.country import OTHER, country_chain
from reeplan.interfaces.cli import app

runner = CliRunner()


def _row(df: object, **where: object) -> object:
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    mask = pd.Series(True, index=df.index)
    for k, v in where.items():
        mask &= df[k] == v
    assert mask.sum() == 1, where
    return df[mask].iloc[0]


def test_russia_2024_mine_output_is_the_usgs_row(facts: FactBase) -> None:
    prod = facts["production"]
    usgs = _row(prod, commodity="rare_earths", country="RUS", metric="mine_production",
                year=2024, series="USGS MCS2025")
    result = country_chain("RUS", 2024, facts=facts)
    mining = _row(result.stages, stage="mining")
    assert mining["output"] == usgs["value"] == 2500  # type: ignore[index]
    assert "usgs_mcs2025_ree" in set(result.sources["source_id"])


def test_russia_2024_elements_follow_lovozero_and_nothing_is_separated(facts: FactBase) -> None:
    dist = facts["element_distributions"]
    lov = dist[dist["distribution_id"] == "lovozero_loparite_approx"].set_index("element")
    result = country_chain("RUS", 2024, facts=facts)
    bal = result.balance
    for element in ("La", "Ce", "Nd"):
        mined = _row(bal, stage="mining", element=element)["output"]  # type: ignore[index]
        assert mined == pytest.approx(2500 * lov.at[element, "value"] / 100)
    # cracking at the assumed 95% recovery; no separation plant online in 2024
    cracked = _row(bal, stage="cracking", element="Ce")["output"]  # type: ignore[index]
    assert cracked == pytest.approx(0.95 * 2500 * lov.at["Ce", "value"] / 100)
    sep = _row(result.stages, stage="separation")
    assert sep["output"] == 0 and sep["dependence"] == 1.0  # type: ignore[index]
    nd = _row(result.elements, element="Nd")
    assert nd["bottleneck"] == "separation"  # type: ignore[index]


def test_russia_2024_magnet_demand_by_hand(facts: FactBase) -> None:
    """3,000 t REO x 29% magnets, split Nd(+Pr) : Dy as oxide per the NdFeB recipe; the
    other 71% by the world's non-magnet split (Ce 44.71%, La 36.34%, Nd 5.81%, ...)."""
    comp = facts["magnet_composition"]
    std = comp[comp["material"] == "NdFeB_sintered_standard"].set_index("component")["value"]
    el = facts["elements"].set_index("symbol")["metal_per_oxide"]
    dist = facts["element_distributions"]
    lov = dist[dist["distribution_id"] == "lovozero_loparite_approx"].set_index("element")
    nd_ox, dy_ox = std["Nd"] / el["Nd"], std["Dy"] / el["Dy"]
    magnets = 3000 * 0.29
    ndpr = magnets * nd_ox / (nd_ox + dy_ox)
    nd_share = lov.at["Nd", "value"] / (lov.at["Nd", "value"] + lov.at["Pr", "value"])
    result = country_chain("RUS", 2024, facts=facts, recipe="NdFeB_sintered_standard")
    sep = result.elements.set_index("element")
    others = 3000 * 0.71 / 100.01  # the split's shares sum to 100.01%
    assert sep.at["Nd", "demand"] == pytest.approx(ndpr * nd_share + others * 5.81)
    assert sep.at["Pr", "demand"] == pytest.approx(ndpr * (1 - nd_share) + others * 2.82)
    assert sep.at["Dy", "demand"] == pytest.approx(magnets * dy_ox / (nd_ox + dy_ox))
    assert sep.at["Ce", "demand"] == pytest.approx(others * 44.71)
    assert OTHER not in sep.index  # no pooled demand left
    stage = result.stages.set_index("stage")
    assert stage.at["separation", "demand"] == pytest.approx(3000)


def test_chain_command_json_traces_to_the_fact_base() -> None:
    res = runner.invoke(app, ["chain", "--country", "RUS", "--year", "2024", "-f", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    mining = next(s for s in doc["stages"] if s["stage"] == "mining")
    assert mining["output"] == 2500
    assert any(s["source_id"] == "usgs_mcs2025_ree" for s in doc["sources"])


def test_chain_command_table_prints_stages_and_surplus() -> None:
    res = runner.invoke(app, ["chain", "--country", "RUS", "--year", "2024"],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "separation" in res.stdout and "Surplus" in res.stdout
    assert "2,500" in res.stdout


def test_several_producing_deposits_take_the_published_mix(facts: FactBase) -> None:
    """China's 2024 output splits 92.5% Bayan Obo, 7.5% ion-adsorption clays (first-batch
    quota, Project Blue); --mix overrides it; without a published mix it is exit 2."""
    res = runner.invoke(app, ["chain", "--country", "CHN", "--year", "2024"],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "deposit_mixes table (2024): bayan_obo 92.5%, china_ionic_clay_hree 7.5%" in \
        res.output
    res = runner.invoke(app, ["chain", "--country", "CHN", "--year", "2024",
                              "--mix", "bayan_obo=0.9", "--mix", "china_ionic_clay_hree=0.1"])
    assert res.exit_code == 0, res.output
    bare = FactBase({**facts.tables, "deposit_mixes": facts["deposit_mixes"].iloc[0:0]})
    with pytest.raises(ReeplanError, match="--mix DEPOSIT=SHARE"):
        country_chain("CHN", 2024, facts=bare)


FAC_HEADER = ("facility_id,name,operator,country,region,stage,feed,product,capacity,"
              "capacity_unit,capacity_basis,stage_capacity,status,start_year,capex,capex_unit,"
              "source_id,"
              "confidence,note")
PARAM_HEADER = "stage,parameter,value,unit,source_id,confidence,note"
DIST_HEADER = "distribution_id,deposit_id,element,value,complete,source_id,confidence,note"


@pytest.mark.parametrize(("files", "where"), [
    ({"facilities.csv": f"{FAC_HEADER}\nx,X,Y,RUS,,separation,nowhere,oxides,1,t,nameplate,1,"
                        "operating,,,,usgs_mcs2025_ree,low,\n"},
     ("facilities.csv", "row 2", "feed", "'nowhere'")),
    ({"stage_parameters.csv": f"{PARAM_HEADER}\nseparation,recovery,1.2,fraction,"
                              "separation_recovery,low,\n"},
     ("stage_parameters.csv", "row 2", "value", "at most 1")),
    ({"element_distributions.csv": f"{DIST_HEADER}\nlovozero_loparite_approx,lovozero,Nd,"
                                   "60,false,hedrick_1997,low,\n"},
     ("element_distributions.csv", "value", "expected at most 100%")),
    ({"facilities.csv": f"{FAC_HEADER}\nx,X,Y,RUS,,separation,lovozero,oxides,1,t,nameplate,-5,"
                        "operating,,,,usgs_mcs2025_ree,low,\n"},
     ("facilities.csv", "row 2", "stage_capacity", ">= 0")),
    ({"facilities.csv": f"{FAC_HEADER}\nx,X,Y,RUS,,separation,lovozero,oxides,12000,t/yr by "
                        "2030,aim,12000,operating,,,,usgs_mcs2025_ree,low,\n"},
     ("facilities.csv", "row 2", "a capacity_basis of 'aim' is not a plant's capacity")),
    ({"facilities.csv": f"{FAC_HEADER}\nx,X,Y,RUS,,separation,lovozero,oxides,500,t/yr,,,"
                        "operating,,,,usgs_mcs2025_ree,low,\n"},
     ("facilities.csv", "row 2", "capacity and capacity_basis go together")),
    ({"facilities.csv": f"{FAC_HEADER},commodity\nx,X,Y,RUS,,refining,,beryllium,45,t/yr,"
                        "aim,,planned,2027,,,usgs_mcs2025_ree,low,,Be\n"},
     ("facilities.csv", "row 2", "expected capacity_unit 't Be/yr', got 't/yr'")),
])
def test_bad_chain_definitions_exit_2(tmp_path: Path, files: dict[str, str],
                                      where: tuple[str, ...]) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    res = runner.invoke(app, ["chain", "--country", "RUS", "--data", str(tmp_path)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    for word in where:
        assert word in res.stderr, (word, res.stderr)
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_end_of_life_in_steady_state_by_hand(tmp_path: Path, facts: FactBase) -> None:
    """With no past growth, inflow has been constant for 60 years: what leaves use equals
    what enters it (to the Weibull tail left after 60 years), 1% of it is recycled, and the
    recycled magnets hold 30.75 wt% Nd."""
    from reeplan.data import load_factbase
    from reeplan.domain import recipe_from_facts
    from reeplan.flows.recycling import end_of_life_magnets

    assumptions = facts["assumptions"].drop(columns=["origin"])
    assumptions.loc[assumptions["assumption_id"] == "magnet_history_growth", "value"] = 0.0
    assumptions.to_csv(tmp_path / "assumptions.csv", index=False)
    flat = load_factbase(tmp_path)
    recipe = recipe_from_facts(flat, "NdFeB_sintered_standard")
    eol = end_of_life_magnets(flat, 1000.0, 2024, recipe).products.set_index("product")
    assert eol["inflow"].sum() == pytest.approx(1000.0)
    assert eol["end_of_life"].sum() == pytest.approx(1000.0, rel=0.01)
    assert eol["recycled"].sum() == pytest.approx(0.01 * eol["end_of_life"].sum())
    # IEA 2024 split: wind 10.496 of 90.922 kt
    assert eol.at["wind_generator", "share"] == pytest.approx(10.496 / 90.922)


def test_russia_chain_reports_end_of_life_magnets() -> None:
    result = country_chain("RUS", 2024, recipe="NdFeB_sintered_standard")
    assert result.end_of_life is not None
    eol = result.end_of_life
    assert eol.elements["Nd"] == pytest.approx(0.3075 * eol.products["recycled"].sum())
    assert {"vannielen_ewaste", "jowitt_2018"} <= set(result.sources["source_id"])


def test_china_s_metal_and_magnet_stages_are_its_published_national_figures(
        facts: FactBase) -> None:
    """No Chinese metal or magnet plant is listed; the stages take China's published
    output instead of 0 (Argus 2024: 88,000 t of NdPr metal, 300,000 t of NdFeB; SMM's
    260,000 t named beside it), alloy is cast by the magnet makers, and the chain says it
    makes less because it runs China's own mine output only (its Dy: 1,465 t of oxide
    separated at home bound the magnets, where China also separates Myanmar's clays)."""
    c = country_chain("CHN", 2024, facts=facts)
    stages = c.stages.set_index("stage")
    assert stages.at["metal", "capacity"] == 88_000
    assert stages.at["magnet", "capacity"] == 300_000
    assert math.isnan(stages.at["alloy", "capacity"]) or stages.at["alloy", "capacity"] > 0
    assert 0 < stages.at["magnet", "output"] < 0.9 * 300_000
    notes = " ".join(c.notes)
    assert "300,000 t of magnets (Argus 2024" in notes
    assert "Another estimate: 260,000 t of magnets (SMM 2024, smm_ndfeb_2024)" in notes
    assert "runs CHN's own mine output only" in notes
    assert "argus_china_2024" in set(c.sources["source_id"])
    usa = country_chain("USA", 2024, facts=facts).stages.set_index("stage")
    assert usa.at["magnet", "capacity"] != 300_000  # a national figure is the country's


def test_china_s_demand_is_its_non_magnet_use_plus_the_magnets_it_keeps(
        facts: FactBase) -> None:
    """China publishes no consumption; the fact base derives it (low confidence): 164,000
    t REO outside NdFeB and 300,000 - 58,152 = 241,848 t of magnets kept at home, at the
    magnet as used (0.4632 t REO per t of magnet, yields included): 276,019 t REO of
    demand at separation, of which China's own ore (243,675 t REO separated) leaves
    about 28% to imported feed, near the 60,000 + 28,000 t REO of ore it imported."""
    c = country_chain("CHN", 2024, facts=facts)
    sep = c.stages.set_index("stage").loc["separation"]
    assert sep["demand"] == pytest.approx(164_000 + 241_848 * 0.46318, rel=1e-4)
    assert 0.25 < sep["dependence"] < 0.31
    assert {"chn_non_magnet_use", "chn_magnets_used"} <= set(c.sources["source_id"])


def test_india_s_chain_runs_its_monazite_through_irel_s_plants(facts: FactBase) -> None:
    """India mines 2,900 t REO (USGS) of beach-placer monazite, split as Mount Weld's
    monazite (low confidence, india_monazite_as_mount_weld): Nd 18.5 of 99.89% = 537 t; IREL's
    OSCOM plant cracks up to 5,000 t REO/yr and Aluva separates up to 2,500; demand is
    4,270 t REO of compounds and metals and 460 t of magnets at 0.46318 t REO each."""
    c = country_chain("IND", 2024, facts=facts)
    stages = c.stages.set_index("stage")
    assert stages.at["mining", "output"] == 2900
    assert stages.at["cracking", "capacity"] == 5000
    assert stages.at["separation", "capacity"] == 2500
    assert stages.at["separation", "output"] == pytest.approx(2500)  # the limit binds
    assert stages.at["separation", "demand"] == pytest.approx(4270 + 460 * 0.46318, rel=1e-4)
    mined = c.elements.set_index("element")["mined"]
    assert mined["Nd"] == pytest.approx(2900 * 18.5 / 99.89)  # the split sums to 99.89%
    assert {"india_monazite_as_mount_weld", "pib_irel_mopp_2015"} <= \
        set(c.sources["source_id"])


def test_eu27_chain_counts_its_members_plants_and_its_own_demand(facts: FactBase) -> None:
    """EU27 is a country group: no member mines rare earths (USGS), Neo's Silmet plant in
    Estonia is its separation capacity (3,000 t/yr), and demand is the Union's 7,400 t
    REO of compounds and metals plus 20,000 t of magnets at 0.46318 t REO each; the
    magnets entering use are those 20,000 t, not magnets inferred from all Nd and Pr."""
    c = country_chain("EU27", 2024, facts=facts)
    stages = c.stages.set_index("stage")
    assert stages.at["mining", "output"] == 0
    assert stages.at["separation", "capacity"] == 3000
    assert "neo_silmet" in set(c.facilities.loc[c.facilities["counted"], "facility_id"])
    assert stages.at["separation", "demand"] == pytest.approx(7400 + 20_000 * 0.46318,
                                                              rel=1e-4)
    assert c.end_of_life is not None
    assert c.end_of_life.products["inflow"].sum() == pytest.approx(20_000)


def test_a_group_of_one_miner_and_one_non_miner_is_the_miner_s_chain(
        tmp_path: Path, facts: FactBase) -> None:
    """Metamorphic: adding Belarus (no mine, no plant listed) to Russia changes nothing
    upstream of demand."""
    from reeplan.data import load_factbase

    groups = facts["country_groups"].drop(columns=["origin"], errors="ignore")
    extra = pd.DataFrame({"group": ["XRU", "XRU"], "iso3": ["RUS", "BLR"],
                          "source_id": ["eu_countries"] * 2, "note": ["test"] * 2})
    pd.concat([groups, extra]).to_csv(tmp_path / "country_groups.csv", index=False)
    both = country_chain("XRU", 2024, facts=load_factbase(tmp_path))
    alone = country_chain("RUS", 2024, facts=facts)
    cols = ["stage", "capacity", "output"]
    pd.testing.assert_frame_equal(both.stages[cols], alone.stages[cols])
    assert both.stages["demand"].isna().all()  # the group publishes no consumption


def test_an_unknown_country_names_the_groups_too() -> None:
    res = runner.invoke(app, ["chain", "--country", "XXX"])
    assert res.exit_code == 2
    assert "EU27" in res.stderr and "Traceback" not in res.output


def test_korea_s_demand_is_its_last_published_imports_and_flagged_stale(
        facts: FactBase) -> None:
    """Korea mines and separates nothing; its only rare-earth tonnage is 2012's imports,
    2,262 t (Korea Customs Service), and its magnets are derived from Chinese customs:
    5,941 t / 0.879 = 6,759 t (kor_magnets_used). Demand at separation 2,262 + 6,759 x
    0.46318; the 12-year-old figure is said to be stale."""
    c = country_chain("KOR", 2024, facts=facts)
    sep = c.stages.set_index("stage").loc["separation"]
    assert sep["demand"] == pytest.approx(2262 + 6759 * 0.46318, rel=1e-4)
    assert sep["dependence"] == pytest.approx(1.0)
    assert any("2012, 12 years from 2024" in n for n in c.notes), c.notes
    assert not any("years from" in n for n in country_chain("JPN", 2024, facts=facts).notes)


def test_the_docs_element_by_element_mining_share_is_the_chain_s(facts: FactBase) -> None:
    """docs/outputs.md quotes Russia's element-by-element import share at mining; it is
    what `reeplan chain --country RUS --year 2024` computes, to the printed digit."""
    import re

    text = (Path(__file__).parent.parent / "docs" / "outputs.md").read_text(encoding="utf-8")
    quoted = re.search(r"\| rare earths in ore mined, element by element \| ([\d.]+)% \|",
                       text)
    assert quoted is not None
    share = country_chain("RUS", 2024, facts=facts).stages.set_index("stage").at[
        "mining", "dependence"]
    assert f"{100 * share:.1f}" == quoted.group(1)


def test_the_magnet_stage_shows_the_magnets_used_and_what_is_imported(
        facts: FactBase) -> None:
    """The USA makes no magnets in 2024 and uses 6,250 t (usa_magnets_used): all imported;
    China uses 241,848 t and makes 300,000 (Argus), so it imports none, though its own ore
    alone would feed far fewer; the EU uses 20,000 t, all imported."""
    for country, used, imported in (("USA", 6250, 6250), ("CHN", 241_848, 0),
                                    ("EU27", 20_000, 20_000)):
        magnet = country_chain(country, 2024, facts=facts).stages.set_index("stage").loc[
            "magnet"]
        assert (magnet["demand"], magnet["imports"]) == pytest.approx((used, imported)), \
            country
    assert math.isnan(country_chain("FRA", 2024, facts=facts).stages.set_index("stage").at[
        "magnet", "demand"])


def test_japan_makes_the_magnets_it_uses(facts: FactBase) -> None:
    """Japan's magnet use (9,597 t in 2024, from JSNM's consumption) is below the 12,400 t
    it made in 2020 (JSNM, the nearest published year): none imported, and the year
    named."""
    c = country_chain("JPN", 2024, facts=facts)
    magnet = c.stages.set_index("stage").loc["magnet"]
    assert magnet["imports"] == 0 and magnet["demand"] > 9000
    assert any("12,400 t (JSNM, 2020" in n for n in c.notes), c.notes
    assert "jsnm_magnets" in set(c.sources["source_id"])
