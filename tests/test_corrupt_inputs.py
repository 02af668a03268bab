"""Corrupt user tables: exit code 2, one message naming file, row and field; no traceback.

Each case writes a small user layer (``--data DIR``) over the embedded fact base, runs
``reeplan data check --data DIR`` in process, and checks the message and that the user's
files are left exactly as they were.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reeplan.data import load_factbase
from reeplan.errors import DataValidationError
from reeplan.interfaces.cli import app

DEPOSIT_HEADER = ("deposit_id,name,country,region,deposit_type,commodities,status,operator,"
                  "source_id,confidence,note")
DEPOSIT_OK = ("test_deposit,Test deposit,RUS,Murmansk,carbonatite,REE,exploration,,"
              "usgs_mcs2025_ree,low,")
PRODUCTION_HEADER = ("commodity,country,metric,year,value,qualifier,unit,basis,series,"
                     "source_id,confidence,note")
SHARES_HEADER = ("commodity,stage,country,year,value,unit,basis,projection,source_id,"
                 "confidence,note")
DIST_HEADER = "distribution_id,deposit_id,element,value,complete,source_id,confidence,note"

# (case id, {file: content}, expected file, expected row, expected field, words in message)
CASES: list[tuple[str, dict[str, bytes], str, int | None, str | None, str]] = [
    ("missing column",
     {"deposits.csv": DEPOSIT_HEADER.replace("country,", "").encode() + b"\n"},
     "deposits.csv", 1, "country", "required column is missing"),
    ("unknown country code",
     {"deposits.csv": f"{DEPOSIT_HEADER}\n{DEPOSIT_OK.replace(',RUS,', ',XYZ,')}\n".encode()},
     "deposits.csv", 2, "country", "'XYZ' is not a known id in countries"),
    ("negative tonnage",
     {"production.csv": (f"{PRODUCTION_HEADER}\nrare_earths,RUS,mine_production,2024,-5,,"
                         f"t REO,,My estimate,usgs_mcs2025_ree,low,\n").encode()},
     "production.csv", 2, "value", "expected a number >= 0"),
    ("shares above 100%",
     {"stage_shares.csv": (f"{SHARES_HEADER}\n"
                           "rare_earths,magnet,CHN,2024,90,%,test,false,usgs_mcs2025_ree,low,\n"
                           "rare_earths,magnet,JPN,2024,40,%,test,false,usgs_mcs2025_ree,low,\n"
                           ).encode()},
     "stage_shares.csv", 3, "value", "sum to 130.00%; expected at most 100%"),
    ("unknown source id",
     {"deposits.csv": f"{DEPOSIT_HEADER}\n{DEPOSIT_OK.replace('usgs_mcs2025_ree', 'nope')}\n"
      .encode()},
     "deposits.csv", 2, "source_id", "'nope' is not a known id in sources or assumptions"),
    ("non-numeric cell",
     {"production.csv": (f"{PRODUCTION_HEADER}\nrare_earths,RUS,mine_production,2024,lots,,"
                         f"t REO,,My estimate,usgs_mcs2025_ree,low,\n").encode()},
     "production.csv", 2, "value", "expected a number (got 'lots')"),
    ("duplicate key",
     {"deposits.csv": f"{DEPOSIT_HEADER}\n{DEPOSIT_OK}\n{DEPOSIT_OK}\n".encode()},
     "deposits.csv", 3, "deposit_id", "duplicate key (deposit_id=test_deposit)"),
    ("empty file", {"deposits.csv": b""}, "deposits.csv", None, None, "the file is empty"),
    ("wrong encoding",
     {"deposits.csv": f"{DEPOSIT_HEADER}\n".encode()
      + DEPOSIT_OK.replace("Test deposit", "Kovdor Zon\xe9").encode("latin-1") + b"\n"},
     "deposits.csv", 2, "name", "is not valid UTF-8"),
    ("unknown element",
     {"element_distributions.csv": (f"{DIST_HEADER}\nd1,lovozero,Qx,50,false,"
                                    "usgs_mcs2025_ree,low,\n").encode()},
     "element_distributions.csv", 2, "element", "'Qx' is not a known id in elements"),
    ("unknown unit",
     {"production.csv": (f"{PRODUCTION_HEADER}\nrare_earths,RUS,mine_production,2024,5,,"
                         f"tonnes,,My estimate,usgs_mcs2025_ree,low,\n").encode()},
     "production.csv", 2, "unit", "expected one of"),
    ("unknown table",
     {"deposit.csv": f"{DEPOSIT_HEADER}\n{DEPOSIT_OK}\n".encode()},
     "deposit.csv", None, None, "unknown table 'deposit'"),
    ("share above 100 in one cell",
     {"stage_shares.csv": (f"{SHARES_HEADER}\nrare_earths,magnet,CHN,2024,120,%,test,false,"
                           "usgs_mcs2025_ree,low,\n").encode()},
     "stage_shares.csv", 2, "value", "expected a number <= 100"),
]


def _write(tmp_path: Path, files: dict[str, bytes]) -> dict[Path, str]:
    digests = {}
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        digests[path] = hashlib.sha256(content).hexdigest()
    return digests


@pytest.mark.parametrize(("files", "file", "row", "field", "words"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_corrupt_input_exit_2_with_location(
    tmp_path: Path, files: dict[str, bytes], file: str, row: int | None, field: str | None,
    words: str,
) -> None:
    digests = _write(tmp_path, files)
    result = CliRunner().invoke(app, ["data", "check", "--data", str(tmp_path)])
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert "Traceback" not in message
    assert message.startswith("reeplan: error: ")
    location = str(tmp_path / file)
    if row is not None:
        location += f", row {row}"
    if field is not None:
        location += f", field '{field}'"
    assert location in message
    assert words in message
    # nothing the user had is changed
    for path, digest in digests.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_every_problem_is_collected_not_only_the_first(tmp_path: Path) -> None:
    _write(tmp_path, {
        "deposits.csv": f"{DEPOSIT_HEADER}\n{DEPOSIT_OK.replace(',RUS,', ',XYZ,')}\n".encode(),
        "production.csv": (f"{PRODUCTION_HEADER}\nrare_earths,RUS,mine_production,2024,-5,,"
                           f"t REO,,My estimate,usgs_mcs2025_ree,low,\n").encode(),
    })
    with pytest.raises(DataValidationError) as info:
        load_factbase(tmp_path)
    located = {(Path(p.file).name, p.row, p.field) for p in info.value.problems}
    assert ("production.csv", 2, "value") in located
    assert ("deposits.csv", 2, "country") in located


def test_missing_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "check", "--data", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert "is not a directory" in result.stderr


def test_error_without_traceback_in_a_real_process(tmp_path: Path) -> None:
    _write(tmp_path, {"deposits.csv": b""})
    proc = subprocess.run(
        [sys.executable, "-m", "reeplan", "world", "--data", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{tmp_path / 'deposits.csv'}: the file is empty" in proc.stderr
    assert proc.stdout == ""


def test_validation_error_is_picklable() -> None:
    import pickle

    from reeplan.errors import Problem

    err = DataValidationError([Problem("f.csv", 3, "value", "expected a number")])
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err)
    assert isinstance(again, ValueError)
