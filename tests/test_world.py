"""`reeplan world`: the figures as USGS publishes them, through the API and the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from io import StringIO

import pandas as pd
import pytest
from typer.testing import CliRunner

import reeplan
from reeplan.data import FactBase
from reeplan.errors import ReeplanError
from reeplan.interfaces.cli import app
from reeplan.metrics.world import world as world_overview


def test_world_2024_matches_usgs(facts: FactBase) -> None:
    ov = reeplan.world("rare_earths", 2024, facts=facts)
    assert ov.series == "USGS MCS2025"
    assert ov.summary["world_production"] == 390_000
    # China's share as USGS's figures give it: 270,000 / 390,000
    assert ov.summary["china_share"] == pytest.approx(270_000 / 390_000)
    assert ov.countries.loc["CHN", "production"] == 270_000
    assert ov.countries.loc["RUS", "reserve_life"] == pytest.approx(3_800_000 / 2_500)
    assert ov.summary["top3_countries"] == "CHN, USA, MMR"
    # top 3: (270 + 45 + 31) / 390
    assert ov.summary["top3_share"] == pytest.approx(346_000 / 390_000)
    assert set(ov.sources["source_id"]) >= {"usgs_mcs2025_ree"}


def test_world_2023_prefers_newest_edition_and_keeps_the_older(facts: FactBase) -> None:
    ov = reeplan.world("rare_earths", 2023, facts=facts)
    assert ov.series == "USGS MCS2025"
    assert ov.summary["world_production"] == 376_000
    older = ov.alternatives.query("country == 'WLD' and metric == 'mine_production'")
    assert older["value"].tolist() == [350_000]
    again = reeplan.world("rare_earths", 2023, series="USGS MCS2024", facts=facts)
    assert again.summary["world_production"] == 350_000


def test_world_lists_stage_concentration_with_sources(facts: FactBase) -> None:
    stages = reeplan.world("rare_earths", 2024, facts=facts).stages
    assert {"mining", "magnet"} <= set(stages["stage"])
    assert stages["source_id"].notna().all()
    assert (stages["china_share"].dropna() > 50).all()


def test_cli_world_table_shows_usgs_figures() -> None:
    result = CliRunner().invoke(app, ["world", "--year", "2024"])
    assert result.exit_code == 0, result.output
    assert "390,000" in result.stdout
    assert "69.2%" in result.stdout
    assert "usgs_mcs2025_ree" in result.stdout


def test_cli_world_csv_and_json_round_trip() -> None:
    out = CliRunner().invoke(app, ["world", "--year", "2024", "--format", "csv"]).stdout
    df = pd.read_csv(StringIO(out))
    chn = df.query("section == 'country' and item == 'CHN' and metric == 'production'")
    assert chn["value"].astype(float).tolist() == [270_000]
    assert (df["source_id"].notna() | (df["metric"] == "top3_countries")).all()
    doc = json.loads(CliRunner().invoke(app, ["world", "--year", "2024", "-f", "json"]).stdout)
    assert doc["summary"]["world_production"] == 390_000


def _commodities_with_production(facts: FactBase) -> list[str]:
    prod = facts.tables["production"]
    from reeplan.metrics.world import PRODUCTION_METRICS

    return sorted(set(prod.loc[prod["metric"].isin(PRODUCTION_METRICS), "commodity"]))


def test_world_every_commodity_with_production(facts: FactBase) -> None:
    """Every commodity with a world total gives an overview; one without (germanium:
    USGS's 2022 table was read for Russia only) is a clear error, never the listed
    countries taken for the world (Russia at 100%, China at 0%)."""
    prod = facts["production"]
    with_total = set(prod.loc[prod["country"] == "WLD", "commodity"])
    for commodity in _commodities_with_production(facts):
        if commodity not in with_total:
            with pytest.raises(ReeplanError, match="no world total"):
                reeplan.world(commodity, facts=facts)
            continue
        ov = reeplan.world(commodity, facts=facts)
        assert ov.summary["world_production"] > 0
        assert 0 < ov.summary["hhi"] <= 1
    assert "Ge" not in with_total
    r = CliRunner().invoke(app, ["world", "--commodity", "Ge"])
    assert r.exit_code == 2 and "only RUS" in r.stderr and "Traceback" not in r.output


def test_commodity_without_figures_is_a_clear_error(facts: FactBase) -> None:
    known = set(facts.tables["commodities"]["commodity"])
    missing = sorted(known - set(_commodities_with_production(facts)))
    if not missing:
        pytest.skip("every commodity has production figures")
    r = CliRunner().invoke(app, ["world", "--commodity", missing[0]])
    assert r.exit_code == 2
    assert f"no production figures for '{missing[0]}'" in r.stderr


def test_unknown_commodity_and_year_exit_2() -> None:
    r = CliRunner().invoke(app, ["world", "--commodity", "unobtainium"])
    assert r.exit_code == 2 and "unknown commodity 'unobtainium'" in r.stderr
    r = CliRunner().invoke(app, ["world", "--year", "1950"])
    assert r.exit_code == 2 and "unknown year '1950'" in r.stderr


def test_data_commands() -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["data", "check"])
    assert r.exit_code == 0 and "fact base OK" in r.stdout
    r = runner.invoke(app, ["data", "list", "-f", "csv"])
    assert "production" in r.stdout
    r = runner.invoke(app, ["data", "show", "production", "--where", "country=RUS",
                            "--where", "metric=reserves", "-f", "csv"])
    shown = pd.read_csv(StringIO(r.stdout))
    assert set(shown["country"]) == {"RUS"} and 3_800_000 in set(shown["value"])
    for sub in ("sources", "assumptions", "conflicts"):
        assert runner.invoke(app, ["data", sub]).exit_code == 0
    r = runner.invoke(app, ["data", "show", "nosuchtable"])
    assert r.exit_code == 2 and "unknown table 'nosuchtable'" in r.stderr


def test_help_does_not_import_the_heavy_stack() -> None:
    code = ("import sys; from reeplan.interfaces.cli import app; "
            "heavy = [m for m in ('pandas', 'numpy', 'xarray', 'linopy', 'pydantic') "
            "if m in sys.modules]; print(','.join(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip() == ""


def test_mixed_units_raise_instead_of_a_wrong_reserve_life(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from reeplan.data import SCHEMAS, load_factbase

    header = ",".join(SCHEMAS["production"].columns)
    (tmp_path / "production.csv").write_text(
        f"{header}\n"
        "rare_earths,RUS,reserves,2024,3800,,t,,USGS MCS2025,usgs_mcs2025_ree,low,kt by mistake\n",
        encoding="utf-8")
    r = CliRunner().invoke(app, ["world", "--year", "2024", "--data", str(tmp_path)])
    assert r.exit_code == 2
    assert "different units (t, t REO)" in r.stderr
    assert load_factbase(tmp_path)  # the data itself is valid; the combination is not


def test_tungsten_as_usgs_publishes_it() -> None:
    """MCS2025 tungsten chapter: world 81,000 t W in 2024, China 67,000, Russia 2,000;
    world reserves >4,600,000 t."""
    ov = world_overview("W", 2024)
    assert ov.unit == "t content"
    assert ov.summary["world_production"] == 81_000
    assert ov.countries.at["CHN", "production"] == 67_000
    assert ov.countries.at["RUS", "production"] == 2_000
    assert ov.summary["china_share"] == pytest.approx(67_000 / 81_000)
    assert ov.summary["world_reserves"] == 4_600_000
    assert ov.summary["world_reserves_qualifier"] == ">"
    assert set(ov.sources["source_id"]) >= {"usgs_mcs2025_w"}


@pytest.mark.parametrize("symbol", ["Li", "Be", "Ti", "Ga", "Zr", "Nb", "Mo", "In", "Ta", "W",
                                    "Re"])
def test_every_rare_metal_usgs_reports_is_shipped(symbol: str) -> None:
    from reeplan.data import load_factbase

    prod = load_factbase()["production"]
    rows = prod[(prod["commodity"] == symbol) & (prod["series"] == "USGS MCS2025")]
    assert {2023, 2024} <= set(rows["year"])
    assert (rows["country"] == "WLD").any()


def test_reserves_on_another_basis_are_kept_side_by_side() -> None:
    """Zirconium: production in gross weight, reserves as ZrO2; no reserve life from them."""
    ov = world_overview("Zr", 2024)
    assert math.isnan(ov.summary["world_reserve_life"])
    alt = ov.alternatives
    assert ((alt["metric"] == "reserves") & (alt["unit"] == "t ZrO2")).any()


def test_world_reserves_without_a_published_total_are_a_lower_bound() -> None:
    ov = world_overview("Be", 2024)
    assert ov.summary["world_reserves_qualifier"] == ">"


def test_world_at_80_columns_splits_no_word_or_id() -> None:
    """Tables cite sources by number ([1] ...), listed whole below; words wrap at their
    spaces: no line ends inside an id ('usgs_mcs2025_' over 'ree') or a word
    ('separa' over 'tion'), and nothing is cut."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    out = subprocess.run([sys.executable, "-m", "reeplan", "world", "--year", "2024"],
                         capture_output=True, text=True, env=env, check=True).stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in out
    assert "[1] usgs_mcs2025_ree: Mineral Commodity Summaries 2025" in out
    assert not any(line.rstrip().endswith(("_", "separa", "Confide")) for line in lines)
    assert "refining/separation" in out and " medium" in out
