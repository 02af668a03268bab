"""The shipped fact base: clean, sourced line by line, and true to its primary sources."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from reeplan.data import EMBEDDED_DIR, SCHEMAS, FactBase, load_factbase
from reeplan.data.checks import oxide_metal_factor

RARE_EARTHS = ["La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm",
               "Yb", "Lu", "Y", "Sc"]
RARE_METALS = ["Li", "Be", "Ti", "Ga", "Ge", "Zr", "Nb", "Mo", "In", "Hf", "Ta", "W", "Re"]


def _numeric_columns(table: str) -> list[str]:
    fields = SCHEMAS[table].row.model_fields
    return [n for n, f in fields.items()
            if ("float" in str(f.annotation) or "int" in str(f.annotation)) and n != "year"]


def test_every_table_is_shipped_and_non_empty(facts: FactBase) -> None:
    for name in SCHEMAS:
        assert (EMBEDDED_DIR / f"{name}.csv").exists(), name
        if name != "assumptions":
            assert len(facts.tables[name]) > 0, name


def test_every_numeric_cell_resolves_to_a_source_or_an_assumption(facts: FactBase) -> None:
    known = set(facts.tables["sources"]["source_id"]) | set(
        facts.tables["assumptions"]["assumption_id"])
    checked = 0
    for name, spec in SCHEMAS.items():
        if spec.provenance != "source_id":
            continue
        df = facts.tables[name]
        numeric = _numeric_columns(name)
        for _, row in df.iterrows():
            if any(pd.notna(row[c]) for c in [*numeric, "year"] if c in row):
                assert row["source_id"] in known, f"{name} {row['origin']}"
                checked += 1
    assert checked >= len(facts.tables["production"]) + len(facts.tables["prices"])  # real rows


def test_sources_are_complete_citations(facts: FactBase) -> None:
    src = facts.tables["sources"]
    for col in ("title", "publisher", "accessed", "licence"):
        assert src[col].notna().all(), col
    assert (src["url"].notna() | src["note"].notna()).all()


def test_conflicts_name_known_sources(facts: FactBase) -> None:
    known = set(facts.tables["sources"]["source_id"])
    conflicts = facts.tables["conflicts"]
    assert len(conflicts) >= 10
    assert set(conflicts["source_a"]) <= known
    assert set(conflicts["source_b"]) <= known


def test_elements_cover_the_17_rare_earths_and_the_rare_metals(facts: FactBase) -> None:
    el = facts.tables["elements"].set_index("symbol")
    assert sorted(el.index[el["kind"] == "rare_earth"]) == sorted(RARE_EARTHS)
    assert sorted(el.index[el["kind"] == "rare_metal"]) == sorted(RARE_METALS)
    assert set(el.loc[["La", "Ce", "Pr", "Nd"], "group"]) == {"light"}
    assert set(el.loc[["Sm", "Eu", "Gd"], "group"]) == {"medium"}
    assert set(el.loc[["Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y"], "group"]) == {"heavy"}


@pytest.mark.parametrize(
    ("symbol", "formula", "factor"),
    [
        # hand-computed: 2*144.242 / (2*144.242 + 3*15.999) = 288.484 / 336.481
        ("Nd", "Nd2O3", 288.484 / 336.481),
        # 6*140.90766 / (6*140.90766 + 11*15.999) = 845.44596 / 1021.43496
        ("Pr", "Pr6O11", 845.44596 / 1021.43496),
        # 183.84 / (183.84 + 3*15.999) = 183.84 / 231.837
        ("W", "WO3", 183.84 / 231.837),
    ],
)
def test_oxide_factors_hand_computed(facts: FactBase, symbol: str, formula: str,
                                     factor: float) -> None:
    el = facts.tables["elements"].set_index("symbol")
    assert el.loc[symbol, "oxide_formula"] == formula
    assert el.loc[symbol, "metal_per_oxide"] == pytest.approx(factor, abs=1e-5)
    assert oxide_metal_factor(formula, el["atomic_mass"].to_dict()) == pytest.approx(factor)


def _value(facts: FactBase, **where: object) -> float:
    df = facts.tables["production"]
    mask = pd.Series(True, index=df.index)
    for col, val in where.items():
        mask &= df[col] == val
    rows = df[mask]
    assert len(rows) == 1, where
    return float(rows["value"].iloc[0])


def test_usgs_mcs2025_rare_earths_as_published(facts: FactBase) -> None:
    # USGS MCS 2025, Rare Earths, World Mine Production and Reserves table
    s = {"commodity": "rare_earths", "series": "USGS MCS2025"}
    assert _value(facts, **s, country="WLD", metric="mine_production", year=2024) == 390_000
    assert _value(facts, **s, country="WLD", metric="mine_production", year=2023) == 376_000
    assert _value(facts, **s, country="CHN", metric="mine_production", year=2024) == 270_000
    assert _value(facts, **s, country="RUS", metric="mine_production", year=2024) == 2_500
    assert _value(facts, **s, country="RUS", metric="reserves", year=2024) == 3_800_000
    assert _value(facts, **s, country="CHN", metric="reserves", year=2024) == 44_000_000
    world_reserves = facts.tables["production"].query(
        "commodity == 'rare_earths' and series == 'USGS MCS2025' and country == 'WLD' "
        "and metric == 'reserves'")
    assert world_reserves["qualifier"].tolist() == [">"]


def test_conflicting_russian_reserve_estimates_are_kept_side_by_side(facts: FactBase) -> None:
    df = facts.tables["production"].query(
        "commodity == 'rare_earths' and country == 'RUS' and metric == 'reserves'")
    values = set(df["value"])
    assert {3_800_000, 10_000_000, 28_500_000} <= values
    assert df["source_id"].nunique() >= 3


def test_russia_roadmap_figures_present(facts: FactBase) -> None:
    t = facts.tables["targets"]
    assert ((t["metric"] == "import_share") & (t["target"] == 48)).any()
    assert ((t["metric"] == "output_value") & (t["baseline"] == 29) & (t["target"] == 100)).any()
    assert ((t["metric"] == "output_volume") & (t["target"] == 50_000)).any()
    assert ((t["metric"] == "output_volume") & (t["target"] == 80)).any()


def test_russian_and_world_deposits_present(facts: FactBase) -> None:
    ids = set(facts.tables["deposits"]["deposit_id"])
    for dep in ("lovozero", "tomtor", "bayan_obo", "mountain_pass", "mount_weld"):
        assert dep in ids


def test_complete_distributions_sum_to_100(facts: FactBase) -> None:
    d = facts.tables["element_distributions"]
    sums = d[d["complete"]].groupby("distribution_id")["value"].sum()
    assert len(sums) > 0
    assert ((sums >= 98.5) & (sums <= 101.0)).all(), sums  # rounding of published tables


def test_user_layer_adds_and_replaces_rows(tmp_path: Path, facts: FactBase) -> None:
    header = ",".join(SCHEMAS["production"].columns)
    (tmp_path / "production.csv").write_text(
        f"{header}\n"
        # replaces the embedded USGS row (same key)
        "rare_earths,RUS,mine_production,2024,2600,,t REO,,USGS MCS2025,usgs_mcs2025_ree,low,"
        "analyst correction\n"
        # adds a new estimate
        "rare_earths,RUS,mine_production,2024,50,,t REO,separated products,Press 2026,"
        "usgs_mcs2025_ree,low,\n", encoding="utf-8")
    layered = load_factbase(tmp_path)
    prod = layered.tables["production"]
    rus = prod.query("commodity == 'rare_earths' and country == 'RUS' and year == 2024 "
                     "and metric == 'mine_production'").set_index("series")
    assert rus.loc["USGS MCS2025", "value"] == 2600
    assert rus.loc["Press 2026", "value"] == 50
    assert len(prod) == len(facts.tables["production"]) + 1
    assert str(tmp_path) in rus.loc["USGS MCS2025", "origin"]


def test_no_missing_values_hidden_as_zero(facts: FactBase) -> None:
    # USGS 'NA' (Burma reserves) must stay missing, not become 0
    burma = facts.tables["production"].query(
        "commodity == 'rare_earths' and country == 'MMR' and metric == 'reserves' "
        "and series == 'USGS MCS2025'")
    assert len(burma) == 1 and math.isnan(burma["value"].iloc[0])
