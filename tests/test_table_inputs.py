"""Hostile user tables: oversized cells and files, special files, unbounded numbers, impossible
recoveries and figures no metric can combine.

Every case goes through the CLI (``reeplan data check`` and ``reeplan world`` with
``--data DIR``): exit code 2, one message naming file, row and field with what was expected,
no traceback, and the user's files left exactly as they were. Cases that would hang or eat
memory if the reader regressed run in a child process with a timeout and a memory cap.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from reeplan.data import SCHEMAS, FactBase, load_factbase
from reeplan.data.reader import MAX_TABLE_BYTES
from reeplan.errors import DataValidationError
from reeplan.interfaces.cli import app
from reeplan.metrics.world import world

PRODUCTION_HEADER = ",".join(SCHEMAS["production"].columns)
DEPOSIT_HEADER = ",".join(SCHEMAS["deposits"].columns)
DEPOSIT_OK = ("test_deposit,Test deposit,RUS,Murmansk,carbonatite,REE,exploration,,"
              "usgs_mcs2025_ree,low,")
PARAMS_HEADER = ",".join(SCHEMAS["stage_parameters"].columns)
SHARES_HEADER = ",".join(SCHEMAS["stage_shares"].columns)
LIMIT = csv.field_size_limit()
COMMANDS = [["data", "check"], ["world", "--year", "2024"]]
COMMAND_IDS = ["data-check", "world"]


def _production(country: str, value: str, unit: str = "t REO") -> str:
    """A user production row for rare earths, 2024, in the series the world view uses."""
    return (f"rare_earths,{country},mine_production,2024,{value},,{unit},,USGS MCS2025,"
            f"usgs_mcs2025_ree,low,\n")


def _digests(directory: Path) -> dict[str, str]:
    """Content digest of every regular file, and the target of every link, under ``directory``."""
    out = {}
    for path in sorted(directory.iterdir()):
        if path.is_symlink():
            out[path.name] = f"-> {os.readlink(path)}"
        elif path.is_file():
            out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[path.name] = f"mode {path.stat().st_mode:o}"
    return out


def _write(directory: Path, files: dict[str, str | bytes]) -> dict[str, str]:
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (directory / name).write_bytes(data)
    return _digests(directory)


def _fails_at(directory: Path, command: list[str], location: str, words: str) -> str:
    """Run ``reeplan COMMAND --data DIR``; check exit 2, the message, and that nothing changed."""
    before = _digests(directory)
    result = CliRunner().invoke(app, [*command, "--data", str(directory)])
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert "Traceback" not in message
    assert message.startswith("reeplan: error: ")
    assert location in message, message
    assert words in message, message
    assert result.stdout == ""
    assert _digests(directory) == before
    return message


def _where(directory: Path, file: str, row: int | None = None, field: str | None = None) -> str:
    location = str(directory / file)
    if row is not None:
        location += f", row {row}"
    if field is not None:
        location += f", field '{field}'"
    return location


def _run_capped(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``python -m reeplan ARGS`` with a timeout and a 4 GB address-space cap.

    A reader that blocked on a FIFO or read ``/dev/zero`` to the end would time out or run
    out of memory here instead of hanging the test session or the machine.
    """
    def cap() -> None:
        import resource

        limit = 4 * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([sys.executable, "-m", "reeplan", *args], capture_output=True,
                          text=True, check=False, timeout=timeout, preexec_fn=cap)


# --------------------------------------------------------------------------- 1. oversized


@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
def test_cell_over_the_csv_field_limit_is_located(tmp_path: Path, command: list[str]) -> None:
    _write(tmp_path, {"deposits.csv": f"{DEPOSIT_HEADER}\n{DEPOSIT_OK}{'x' * (LIMIT + 1)}\n"})
    _fails_at(tmp_path, command, _where(tmp_path, "deposits.csv", 2, "note"),
              f"field larger than {LIMIT:,} characters")


def test_quoted_multiline_cell_over_the_limit_names_its_row_and_column(tmp_path: Path) -> None:
    note = "\n".join(["y" * 1000] * (LIMIT // 1000 + 2))
    first = DEPOSIT_OK.replace("test_deposit", "first")
    second = DEPOSIT_OK.replace("Murmansk", f'"{note}"')
    _write(tmp_path, {"deposits.csv": f"{DEPOSIT_HEADER}\n{first}\n{second}\n"})
    _fails_at(tmp_path, ["data", "check"], _where(tmp_path, "deposits.csv", 3, "region"),
              "field larger than")


def test_a_cell_at_the_limit_is_read(tmp_path: Path) -> None:
    _write(tmp_path, {"deposits.csv": f"{DEPOSIT_HEADER}\n{DEPOSIT_OK}{'x' * LIMIT}\n"})
    deposits = load_factbase(tmp_path)["deposits"]
    assert deposits.set_index("deposit_id").at["test_deposit", "note"] == "x" * LIMIT


def test_header_cell_over_the_limit(tmp_path: Path) -> None:
    _write(tmp_path, {"deposits.csv": f"{'h' * (LIMIT + 1)},{DEPOSIT_HEADER}\n"})
    _fails_at(tmp_path, ["data", "check"], _where(tmp_path, "deposits.csv", 1),
              "field larger than")


@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
def test_table_file_over_the_size_cap(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "deposits.csv"
    with path.open("wb") as f:  # sparse: instant, whatever the cap
        f.write(f"{DEPOSIT_HEADER}\n".encode())
        f.truncate(MAX_TABLE_BYTES + 1)
    message = _fails_at(tmp_path, command, f"{path}: is larger than 20 MB",
                        f"at most {MAX_TABLE_BYTES:,} bytes")
    assert message.count("\n") == 2  # one problem: head line and the problem


def test_the_size_cap_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file of exactly the cap is read, one byte more is not (cap lowered to stay fast)."""
    from reeplan.data import reader

    body = f"{DEPOSIT_HEADER}\n{DEPOSIT_OK}\n"
    path = tmp_path / "deposits.csv"
    path.write_text(body)
    monkeypatch.setattr(reader, "MAX_TABLE_BYTES", len(body))
    records, problems = reader.read_table(path, SCHEMAS["deposits"])
    assert problems == [] and [r.line for r in records] == [2]
    monkeypatch.setattr(reader, "MAX_TABLE_BYTES", len(body) - 1)
    records, problems = reader.read_table(path, SCHEMAS["deposits"])
    assert records == []
    assert [str(p) for p in problems] == [
        f"{path}: is larger than {(len(body) - 1) / 1e6:g} MB; expected a table file of at "
        f"most {len(body) - 1:,} bytes (keep only the rows you add or change: the embedded "
        f"rows are read anyway)"]
    assert path.read_text() == body


# --------------------------------------------------------------------------- 2. special files


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_link_to_dev_zero_is_refused_without_reading(tmp_path: Path) -> None:
    (tmp_path / "deposits.csv").symlink_to("/dev/zero")
    before = _digests(tmp_path)
    proc = _run_capped("data", "check", "--data", str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (f"{tmp_path / 'deposits.csv'}: is a character device (a link to /dev/zero), "
            f"not a regular file; expected a CSV file") in proc.stderr
    assert _digests(tmp_path) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
def test_fifo_is_refused_without_blocking(tmp_path: Path, command: list[str]) -> None:
    os.mkfifo(tmp_path / "production.csv")
    proc = _run_capped(*command, "--data", str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (f"{tmp_path / 'production.csv'}: is a named pipe (FIFO), not a regular file"
            in proc.stderr)
    assert proc.stdout == ""


def test_directory_named_like_a_table(tmp_path: Path) -> None:
    (tmp_path / "deposits.csv").mkdir()
    (tmp_path / "deposits.csv" / "inner.csv").write_text("keep me\n")
    _fails_at(tmp_path, ["data", "check"], f"{tmp_path / 'deposits.csv'}: is a directory",
              "expected a CSV file")
    assert (tmp_path / "deposits.csv" / "inner.csv").read_text() == "keep me\n"


def test_dangling_link_is_reported_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "deposits.csv").symlink_to(tmp_path / "gone.csv")
    _fails_at(tmp_path, ["data", "check"], f"{tmp_path / 'deposits.csv'}: cannot be read",
              "No such file or directory")


def test_link_to_a_regular_table_is_read(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "deposits.txt").write_text(f"{DEPOSIT_HEADER}\n{DEPOSIT_OK}\n")
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "deposits.csv").symlink_to(real / "deposits.txt")
    assert "test_deposit" in set(load_factbase(layer)["deposits"]["deposit_id"])


# --------------------------------------------------------------------------- 3. numbers


@pytest.mark.parametrize(("value", "words"), [
    ("inf", "expected a finite number (not inf or nan) (got 'inf')"),
    ("-inf", "expected a finite number"),
    ("1e400", "expected a finite number (not inf or nan) (got '1e400')"),
    ("nan", "expected a finite number (not inf or nan) (got 'nan')"),
    ("1e300", "expected a number from -1e15 to 1e15 (got '1e300')"),
    ("1.000001e15", "expected a number from -1e15 to 1e15"),
])
@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
def test_unbounded_production_value(tmp_path: Path, command: list[str], value: str,
                                    words: str) -> None:
    _write(tmp_path, {"production.csv": PRODUCTION_HEADER + "\n" + _production("RUS", value)})
    _fails_at(tmp_path, command, _where(tmp_path, "production.csv", 2, "value"), words)


@pytest.mark.parametrize(("table", "row", "field", "words"), [
    ("targets", ("x_claim,RUS,topic,plants,-1e300,2024,5,2030,plants,all,me,2025-01-01,"
                 "usgs_mcs2025_ree,low,"), "baseline", "expected a number from -1e15 to 1e15"),
    ("assumptions", "x_assumption,topic,nan,t,because,", "value", "expected a finite number"),
    ("prices", ("Neodymium oxide,Nd,oxide,,test,china,2024,annual average,inf,,USD/kg,"
                "usgs_mcs2025_ree,low,"), "value", "expected a finite number"),
])
def test_unbounded_number_in_other_tables(tmp_path: Path, table: str, row: str, field: str,
                                          words: str) -> None:
    header = ",".join(SCHEMAS[table].columns)
    _write(tmp_path, {f"{table}.csv": f"{header}\n{row}\n"})
    _fails_at(tmp_path, ["data", "check"], _where(tmp_path, f"{table}.csv", 2, field), words)


def _number_columns() -> list[tuple[str, str]]:
    return [(table, name) for table, spec in SCHEMAS.items()
            for name, info in spec.row.model_fields.items() if "float" in str(info.annotation)]


def test_every_number_column_is_finite_and_bounded() -> None:
    columns = _number_columns()
    assert len(columns) >= 20  # the schemas have that many; guards the discovery itself
    for table, column in columns:
        row = SCHEMAS[table].row
        for text, kind in (("inf", "finite_number"), ("nan", "finite_number"),
                           ("1e400", "finite_number"), ("1e300", "less_than_equal"),
                           ("-1e300", "greater_than_equal")):
            with pytest.raises(ValidationError) as info:
                row.model_validate({column: text})
            errors = [e for e in info.value.errors() if e["loc"] == (column,)]
            assert errors, f"{table}.{column} accepts {text}"
            # a negative bound other than the magnitude one (ge=0) may fire first
            assert errors[0]["type"] in {kind, "greater_than_equal", "greater_than"}, \
                (table, column, text, errors)


# --------------------------------------------------------------------------- 4. recoveries


@pytest.mark.parametrize(("row", "words"), [
    ("separation,recovery,0,fraction,separation_recovery,low,",
     "expected a recovery above 0 and at most 1"),
    ("separation,recovery,-0.2,fraction,separation_recovery,low,",
     "expected a recovery above 0 and at most 1"),
    ("metal,recovery,1.5,fraction,metal_process_yield,low,",
     "expected a recovery above 0 and at most 1"),
    ("recycling,eol_recycling_rate,1.2,fraction,jowitt_2018,low,",
     "expected a rate from 0 to 1"),
    ("recycling,eol_recycling_rate,-0.01,fraction,jowitt_2018,low,",
     "expected a rate from 0 to 1"),
])
@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
def test_recovery_and_rate_ranges(tmp_path: Path, command: list[str], row: str,
                                  words: str) -> None:
    _write(tmp_path, {"stage_parameters.csv": f"{PARAMS_HEADER}\n{row}\n"})
    _fails_at(tmp_path, command, _where(tmp_path, "stage_parameters.csv", 2, "value"), words)


def test_edge_recoveries_and_a_zero_rate_are_valid(tmp_path: Path) -> None:
    _write(tmp_path, {"stage_parameters.csv": (
        f"{PARAMS_HEADER}\nalloy,recovery,1,fraction,alloy_yield,low,\n"
        "metal,recovery,1e-9,fraction,metal_process_yield,low,\n"
        "recycling,eol_recycling_rate,0,fraction,jowitt_2018,low,\n")})
    params = load_factbase(tmp_path)["stage_parameters"].set_index(["stage", "parameter"])
    assert params.at[("metal", "recovery"), "value"] == 1e-9
    assert params.at[("recycling", "eol_recycling_rate"), "value"] == 0


# --------------------------------------------------------------------------- 5. world figures


@pytest.mark.parametrize(("value", "shown"), [("1000", "1,000 t REO"), ("0", "0 t REO")])
def test_world_total_below_the_countries(tmp_path: Path, value: str, shown: str) -> None:
    _write(tmp_path, {"production.csv": PRODUCTION_HEADER + "\n" + _production("WLD", value)})
    assert CliRunner().invoke(app, ["data", "check", "--data", str(tmp_path)]).exit_code == 0
    message = _fails_at(tmp_path, ["world", "--year", "2024"],
                        _where(tmp_path, "production.csv", 2, "value"),
                        f"the world mine_production of 'rare_earths' in 2024 (series "
                        f"'USGS MCS2025') is {shown} but its 17 country rows (ROW included) "
                        f"sum to 393,950 t REO")
    assert "CHN 270,000 t REO at " in message and "production.csv:18" in message
    assert "expected the country rows to sum to at most the world total plus 2%" in message


def test_others_above_the_world_total_would_give_a_share_above_one(tmp_path: Path) -> None:
    _write(tmp_path, {"production.csv": PRODUCTION_HEADER + "\n" + _production("ROW", "5e6")})
    embedded = load_factbase()["production"]
    world_row = embedded[(embedded["commodity"] == "rare_earths") & (embedded["country"] == "WLD")
                         & (embedded["year"] == 2024)
                         & (embedded["metric"] == "mine_production")
                         & (embedded["series"] == "USGS MCS2025")]["origin"].iloc[0]
    file, line = world_row.rsplit(":", 1)
    message = _fails_at(tmp_path, ["world", "--year", "2024"],
                        f"{file}, row {line}, field 'value'", "is 390,000 t REO")
    assert f"ROW 5,000,000 t REO at {tmp_path / 'production.csv'}:2" in message


def test_countries_within_rounding_of_the_world_total_are_fine(tmp_path: Path) -> None:
    # USGS 2024: countries 393,950, world 390,000 (1% over); 397,000 is still within 2%
    _write(tmp_path, {"production.csv": PRODUCTION_HEADER + "\n"
                      + _production("RUS", str(2_500 + 397_000 - 393_950))})
    result = CliRunner().invoke(app, ["world", "--year", "2024", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_mixed_units_name_the_odd_row(tmp_path: Path) -> None:
    _write(tmp_path, {"production.csv": PRODUCTION_HEADER + "\n"
                      + _production("RUS", "2.5", unit="t")})
    _fails_at(tmp_path, ["world", "--year", "2024"],
              _where(tmp_path, "production.csv", 2, "unit"),
              "different units (t, t REO); expected one unit, 't REO' as in the other rows")


def test_stage_shares_within_the_checked_rounding_give_an_hhi(tmp_path: Path) -> None:
    """90% + 10.3% passes the share check (0.5 point slack): world must not then fail."""
    rows = "".join(f"rare_earths,magnet,{c},2024,{v},%,user basis,false,usgs_mcs2025_ree,low,\n"
                   for c, v in (("CHN", 90), ("JPN", 10.3)))
    _write(tmp_path, {"stage_shares.csv": f"{SHARES_HEADER}\n{rows}"})
    facts = load_factbase(tmp_path)
    stages = world("rare_earths", 2024, facts=facts).stages
    mine = stages[stages["basis"] == "user basis"]
    assert mine["hhi"].tolist() == pytest.approx([0.9**2 + 0.103**2])
    result = CliRunner().invoke(app, ["world", "--year", "2024", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output


def _with(facts: FactBase, table: str, origin: str, **changes: float) -> FactBase:
    """``facts`` with the row at ``origin`` of ``table`` changed, bypassing validation."""
    frame = facts.tables[table].copy()
    for column, value in changes.items():
        frame.loc[frame["origin"] == origin, column] = value
    return FactBase({**facts.tables, table: frame}, facts.layers)


def test_hand_built_negative_figure_is_located(facts: FactBase) -> None:
    prod = facts.tables["production"]
    chn = prod[(prod["commodity"] == "rare_earths") & (prod["country"] == "CHN")
               & (prod["year"] == 2024) & (prod["metric"] == "mine_production")
               & (prod["series"] == "USGS MCS2025")]["origin"].iloc[0]
    with pytest.raises(DataValidationError) as info:
        world("rare_earths", 2024, facts=_with(facts, "production", chn, value=-270_000.0))
    file, line = chn.rsplit(":", 1)
    assert [(p.file, p.row, p.field) for p in info.value.problems] == [(file, int(line),
                                                                        "value")]
    assert "is negative; expected a quantity >= 0" in str(info.value)


def test_hand_built_stage_shares_a_metric_rejects_name_their_rows(facts: FactBase) -> None:
    shares = facts.tables["stage_shares"]
    rows = shares[(shares["commodity"] == "rare_earths") & (shares["stage"] == "magnet")
                  & (~shares["projection"].astype(bool)) & (shares["year"] <= 2024)]
    first = rows.sort_values("year").iloc[-1]
    broken = _with(facts, "stage_shares", first["origin"], value=first["value"] + 50)
    with pytest.raises(DataValidationError) as info:
        world("rare_earths", 2024, facts=broken)
    text = str(info.value)
    assert "magnet shares of 'rare_earths'" in text
    assert "above the total 100" in text
    file, line = first["origin"].rsplit(":", 1)
    named = {(p.file, int(n)) for p in info.value.problems
             for n in p.message.rsplit("; rows ", 1)[1].split(", ")}
    assert (file, int(line)) in named, text


def test_unbroken_world_view_is_unchanged(facts: FactBase) -> None:
    ov = world("rare_earths", 2024, facts=facts)
    assert ov.summary["world_production"] == 390_000
    assert not math.isnan(ov.summary["hhi"])
