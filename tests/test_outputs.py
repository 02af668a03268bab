"""Writing an output directory: all or nothing, refusals, one writer, spreadsheet-safe CSV.

The kill test runs a writer in a subprocess, SIGKILLs it at seeded random moments and
checks after each kill that the output directory is either absent or complete (its
``run.json`` manifest matches every file), then that the next run recovers.
"""

from __future__ import annotations

import doctest
import fcntl
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from reeplan.errors import ReeplanError
from reeplan.reporting import files
from reeplan.reporting.files import MARKER, check_output_dir, neutralise, write_output_dir

FILES_PY = Path(files.__file__)


def _tables() -> dict[str, pd.DataFrame]:
    return {"builds": pd.DataFrame({"candidate": ["sep", "mine"], "capacity": [950.0, -1.5]}),
            "targets": pd.DataFrame({"target": ["magnets"], "met": [True]})}


def _documents(i: int = 0) -> dict[str, object]:
    return {"scenario.resolved.json": {"name": "test", "i": i}, "notes.txt": f"run {i}\n",
            MARKER: {"scenario": "test", "i": i}}


def _assert_complete(out: Path) -> dict[str, object]:
    """``out`` has a run.json whose manifest matches every file it lists; return it."""
    run = json.loads((out / MARKER).read_text(encoding="utf-8"))
    assert run["files"], "empty manifest"
    for entry in run["files"]:
        data = (out / entry["name"]).read_bytes()
        assert len(data) == entry["bytes"], entry["name"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["name"]
    return dict(run)


def _siblings(out: Path) -> set[str]:
    return {p.name for p in out.parent.iterdir()} - {out.name}


# --- writing --------------------------------------------------------------------------------

def test_writes_tables_documents_and_run_json_last_with_a_manifest(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"  # the parent is created too
    written = write_output_dir(out, _tables(), _documents())
    assert [p.name for p in written] == ["builds.csv", "builds.parquet", "targets.csv",
                                         "targets.parquet", "scenario.resolved.json",
                                         "notes.txt", MARKER]
    assert all(p.parent == out for p in written)
    run = _assert_complete(out)
    assert run["scenario"] == "test"
    assert [f["name"] for f in run["files"]] == [p.name for p in written[:-1]]  # type: ignore[attr-defined]
    text = (out / MARKER).read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n  "')  # indent 2, trailing newline
    assert (out / "notes.txt").read_text(encoding="utf-8") == "run 0\n"
    pd.testing.assert_frame_equal(pd.read_parquet(out / "builds.parquet"), _tables()["builds"])
    assert pd.read_csv(out / "builds.csv")["capacity"].tolist() == [950.0, -1.5]
    assert _siblings(out) == {".out.lock"}  # no temporary or backup left


def test_without_parquet_and_without_a_run_document(tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = write_output_dir(out, _tables(), {}, parquet=False)
    assert [p.name for p in written] == ["builds.csv", "targets.csv", MARKER]
    assert _assert_complete(out).keys() == {"files"}


def test_missing_pyarrow_fails_before_writing(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ModuleNotFoundError):
        write_output_dir(tmp_path / "out", _tables(), _documents())
    assert not any(tmp_path.iterdir())
    write_output_dir(tmp_path / "out", _tables(), _documents(), parquet=False)


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a/b", "builds.csv"])
def test_bad_or_colliding_file_names_are_programming_errors(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="file name"):
        write_output_dir(tmp_path / "out", _tables(), {name: "x"})
    assert not (tmp_path / "out").exists()


# --- refusals -------------------------------------------------------------------------------

@pytest.mark.parametrize("out", ["", " ", Path(""), ".", "./"])
def test_refuses_empty_and_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             out: str | Path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ReeplanError, match=r"empty|current directory"):
        write_output_dir(out, _tables(), _documents(), force=True)
    assert not any(tmp_path.iterdir())


def test_refuses_a_directory_containing_the_current_one(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    with pytest.raises(ReeplanError, match="contains the current directory"):
        write_output_dir(tmp_path, _tables(), _documents(), force=True)
    with pytest.raises(ReeplanError, match="root or home"):
        check_output_dir(Path(tmp_path.anchor), force=True)


def test_refuses_an_existing_file_or_a_broken_link(tmp_path: Path) -> None:
    target = tmp_path / "roadmap"
    target.write_text("mine", encoding="utf-8")
    with pytest.raises(ReeplanError, match="is an existing file"):
        write_output_dir(target, _tables(), _documents(), force=True)
    assert target.read_text(encoding="utf-8") == "mine"
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ReeplanError, match="broken symbolic link"):
        write_output_dir(tmp_path / "dangling", _tables(), _documents(), force=True)
    assert (tmp_path / "dangling").is_symlink()


@pytest.mark.parametrize("where", ["data", "data/sub/out", "."])
def test_refuses_being_containing_or_inside_protected(tmp_path: Path, where: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "production.csv").write_text("x\n", encoding="utf-8")
    out = (tmp_path / where).resolve() if where != "." else tmp_path
    with pytest.raises(ReeplanError, match="is, contains or is inside the data directory"):
        write_output_dir(out, _tables(), _documents(), force=True, protected=[data])
    # compared resolved: a symbolic link to the data directory is the data directory
    link = tmp_path / "link"
    link.symlink_to(data, target_is_directory=True)
    with pytest.raises(ReeplanError, match="is, contains or is inside"):
        write_output_dir(link / "out", _tables(), _documents(), protected=[data])
    assert sorted(p.name for p in data.iterdir()) == ["production.csv"]


def test_refuses_an_existing_directory_without_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output_dir(out, _tables(), _documents(0))
    with pytest.raises(ReeplanError, match="exists; choose another or pass --force"):
        write_output_dir(out, _tables(), _documents(1))
    assert _assert_complete(out)["i"] == 0
    write_output_dir(out, _tables(), _documents(2), force=True)
    assert _assert_complete(out)["i"] == 2


# --- force: own files replaced, the user's kept ---------------------------------------------

def test_force_replaces_own_files_and_keeps_the_users(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output_dir(out, {**_tables(), "trade": pd.DataFrame({"t": [1]})}, _documents(0))
    (out / "my notes.md").write_text("keep me", encoding="utf-8")
    (out / "analysis").mkdir()
    (out / "analysis" / "chart.py").write_text("print(1)", encoding="utf-8")
    (out / ".git").mkdir()
    out.chmod(0o750)
    written = write_output_dir(out, _tables(), _documents(1), force=True)
    assert out.stat().st_mode & 0o777 == 0o750  # the directory's permissions are kept
    names = {p.name for p in out.iterdir()}
    # trade.* was in the old manifest: reeplan's, dropped; the user's files are kept
    assert names == {p.name for p in written} | {"my notes.md", "analysis", ".git"}
    assert (out / "my notes.md").read_text(encoding="utf-8") == "keep me"
    assert (out / "analysis" / "chart.py").read_text(encoding="utf-8") == "print(1)"
    assert _assert_complete(out)["i"] == 1
    assert _siblings(out) == {".out.lock"}


# --- one writer at a time -------------------------------------------------------------------

def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    out = tmp_path / "out"
    seen: list[str] = []
    stage = files._stage

    def second_writer_meanwhile(*args: object) -> Path:
        with pytest.raises(ReeplanError, match="another reeplan is writing") as err:
            write_output_dir(out, _tables(), _documents(2), force=True)
        seen.append(str(err.value))
        return stage(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "_stage", second_writer_meanwhile)
    write_output_dir(out, _tables(), _documents(1))
    assert seen and str(out) in seen[0]
    assert _assert_complete(out)["i"] == 1
    monkeypatch.undo()
    write_output_dir(out, _tables(), _documents(3), force=True)  # the lock is released


def test_a_lock_held_by_another_process_refuses(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = textwrap.dedent(f"""
        import fcntl, os, sys
        fd = os.open({str(tmp_path / '.out.lock')!r}, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("locked", flush=True)
        sys.stdin.read()
    """)
    with subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
            with pytest.raises(ReeplanError, match="another reeplan is writing"):
                write_output_dir(out, _tables(), _documents())
            assert not out.exists()
        finally:
            holder.communicate("")
    write_output_dir(out, _tables(), _documents())
    # and the lock is really an flock: held during a write, free after it
    fd = os.open(tmp_path / ".out.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


# --- crashes: recovery ----------------------------------------------------------------------

class _Killed(BaseException):
    """Stands for the process dying at this point."""


def test_death_between_the_two_renames_is_recovered(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_output_dir(out, _tables(), _documents(0))
    rename = os.rename
    calls: list[tuple[str, str]] = []

    def dies_on_second_rename(src: str | Path, dst: str | Path) -> None:
        calls.append((Path(src).name, Path(dst).name))
        if len(calls) == 2:
            raise _Killed
        rename(src, dst)

    monkeypatch.setattr(files.os, "rename", dies_on_second_rename)
    with pytest.raises(_Killed):
        write_output_dir(out, _tables(), _documents(1), force=True)
    monkeypatch.undo()
    assert calls[0] == ("out", ".out.previous")
    assert not out.exists()  # between the renames: no directory at all, never a partial one
    assert ".out.previous" in _siblings(out)
    # the next run puts the previous complete directory back, then refuses without force
    with pytest.raises(ReeplanError, match="exists"):
        write_output_dir(out, _tables(), _documents(2))
    assert _assert_complete(out)["i"] == 0
    assert _siblings(out) == {".out.lock"}  # the backup restored, the temporary removed
    write_output_dir(out, _tables(), _documents(3), force=True)
    assert _assert_complete(out)["i"] == 3


def test_leftovers_of_a_dead_writer_are_cleaned(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output_dir(out, _tables(), _documents(0))
    (tmp_path / ".out.previous").mkdir()  # died while deleting the backup
    stale = tmp_path / ".out.tmp-123-0badc0de"  # died while staging
    stale.mkdir()
    (stale / "builds.csv").write_text("partial", encoding="utf-8")
    other = tmp_path / ".out.tmp-1.tmp-2-deadbeef"  # another output's name: not ours
    other.mkdir()
    write_output_dir(out, _tables(), _documents(1), force=True)
    assert _siblings(out) == {".out.lock", other.name}
    assert _assert_complete(out)["i"] == 1


def test_a_failure_while_staging_leaves_the_old_directory(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_output_dir(out, _tables(), _documents(0))
    write_file = files._write_file

    def disk_full(path: Path, data: bytes) -> None:
        if path.name == "targets.csv":
            raise OSError(28, "No space left on device")
        write_file(path, data)

    monkeypatch.setattr(files, "_write_file", disk_full)
    with pytest.raises(ReeplanError, match=r"cannot write .*No space left"):
        write_output_dir(out, _tables(), _documents(1), force=True)
    assert _assert_complete(out)["i"] == 0
    assert _siblings(out) == {".out.lock"}


KILL_SCRIPT = """
import importlib.util, sys
import numpy as np, pandas as pd
# files.py loaded on its own: the writer needs nothing of the planner (and starts faster)
spec = importlib.util.spec_from_file_location("reeplan_files", sys.argv[2])
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)
rng = np.random.default_rng(0)
n = 2_000
tables = {f"t{k}": pd.DataFrame({"x": rng.normal(size=n), "s": rng.choice(["=a", "b"], n)})
          for k in range(8)}
print("ready", flush=True)
i = 0
while True:
    i += 1
    files.write_output_dir(sys.argv[1], tables, {"run.json": {"i": i}, "log.txt": "x" * i},
                           force=True)
"""


def test_kill_at_random_moments_leaves_no_or_a_complete_directory(tmp_path: Path) -> None:
    out = tmp_path / "work" / "out"
    out.parent.mkdir()
    script = tmp_path / "writer.py"
    script.write_text(KILL_SCRIPT, encoding="utf-8")
    rng = random.Random(20240611)
    seen_complete = 0
    for _ in range(5):
        with subprocess.Popen([sys.executable, str(script), str(out), str(FILES_PY)],
                              stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
            try:
                proc.wait(timeout=rng.uniform(0.05, 0.6))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL
        if out.exists():
            assert (out / MARKER).is_file(), f"directory without {MARKER} at out"
            _assert_complete(out)
            seen_complete += 1
        for sibling in _siblings(out):  # never anything that looks like a complete output
            assert sibling.startswith(".out."), sibling
    assert seen_complete >= 1
    # the next run recovers whatever the last kill left
    write_output_dir(out, _tables(), _documents(9), force=True)
    assert _assert_complete(out)["i"] == 9
    assert _siblings(out) == {".out.lock"}


# --- spreadsheet-safe CSV -------------------------------------------------------------------

def test_formulas_are_defused_in_csv_and_numbers_kept(tmp_path: Path) -> None:
    link = '=HYPERLINK("http://evil.example","click")'
    frame = pd.DataFrame({
        "text": [link, "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain", None],
        "number": [-1.5, -2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        "mixed": pd.Series([-3, "=1", 2.5, "ok", None, "-x", 0, "@"], dtype=object),
        "=header": range(8),
    })
    before = frame.copy()
    write_output_dir(tmp_path / "out", {"t": frame}, {}, parquet=False)
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is not modified
    back = pd.read_csv(tmp_path / "out" / "t.csv", keep_default_na=False)
    assert back["text"].tolist() == ["'" + link, "'+1+2", "'-2+3", "'@SUM(A1)", "'\tx",
                                     "'\rx", "plain", ""]
    assert back["number"].tolist() == [-1.5, -2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert back["number"].dtype.kind == "f"
    assert back["mixed"].tolist() == ["-3", "'=1", "2.5", "ok", "", "'-x", "0", "'@"]
    assert list(back.columns) == ["text", "number", "mixed", "'=header"]
    # Parquet keeps the values as they are: it is typed, and no spreadsheet runs it
    write_output_dir(tmp_path / "pq", {"t": frame[["text", "number"]]}, {})
    assert pd.read_parquet(tmp_path / "pq" / "t.parquet")["text"].iloc[0] == link


def test_neutralise_handles_string_categorical_and_numeric_columns() -> None:
    frame = pd.DataFrame({"s": pd.Series(["=x", "y"], dtype="string"),
                          "c": pd.Categorical(["-1", "z"]), "n": [-1, 2]})
    out = neutralise(frame)
    assert out["s"].tolist() == ["'=x", "y"] and out["c"].tolist() == ["'-1", "z"]
    assert out["n"].tolist() == [-1, 2] and out["n"].dtype == frame["n"].dtype
    assert frame["s"].tolist() == ["=x", "y"]


def test_docstring_examples() -> None:
    result = doctest.testmod(files, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("name", ["russia-2030", "eu-crma-2030", "usa-mine-to-magnet"])
def test_the_lp_and_the_dependence_table_count_use_of_each_product_alike(name: str) -> None:
    """Use at home of oxide, metal and magnets is written twice: as LP terms for import
    caps (``product_use``, with use left unmet) and in the dependence table. Evaluated at
    the solution, the LP's use less its unmet part equals the table's consumption, year by
    year (a change to one alone fails here)."""
    import numpy as np

    from reeplan import run_plan
    from reeplan.optimize import build_model
    from reeplan.optimize.expressions import product_unmet, product_use
    from reeplan.reporting.tables import dependence_table

    plan = run_plan(Path(__file__).parent.parent / "scenarios" / f"{name}.yaml")
    lp = build_model(plan.problem, plan.params)
    x = np.zeros(lp._n_cols)
    for var_name, var in lp.variables.items():
        cols = var.cols.values
        vals = plan.solution[var_name].transpose(*var.cols.dims).values
        x[cols[cols >= 0]] = np.nan_to_num(vals[cols >= 0])
    table = dependence_table(plan)
    for product in ("oxide", "metal", "magnet"):
        terms, fixed = product_use(lp, product)
        use = (lp.evaluate(terms, x) if terms else 0.0) + fixed
        unmet = product_unmet(lp, product)
        if unmet:
            use = use - lp.evaluate(unmet, x)
        rows = table[(table["stage"] == product) & (table["element"] == "all rare earths")]
        shown = rows.set_index("year")["consumption_t_reo"]
        assert shown.tolist() == pytest.approx(
            [float(use.sel(year=y)) for y in shown.index], rel=1e-6, abs=1e-6), product


def test_cross_trades_read_an_element_sold_as_one_product_and_bought_as_another() -> None:
    """Hand-made trade of one year: Nd oxide out (100 + 20 t) and Nd metal in (50 t) is
    metal making done abroad; La concentrate out and La oxide in, separation done abroad;
    Pr in two concentrates, a swap; Dy concentrate in and Dy metal out, separation and
    metal making at home for export. Tolling contracts, magnets and a product traded one
    way only are left out."""
    from reeplan.optimize.solve import _cross_trades

    rows = [("export", "oxide", "Nd", "WEST", 100.0), ("export", "oxide", "Nd", "OTHER", 20.0),
            ("import", "metal", "Nd", "CHN", 50.0),
            ("export", "concentrate", "La", "CHN", 7.0), ("import", "oxide", "La", "CHN", 5.0),
            ("export", "concentrate", "Pr", "CHN", 4.0),
            ("import", "concentrate (feed of ef_white_mesa)", "Pr", "OTHER", 3.0),
            ("import", "concentrate", "Dy", "OTHER", 2.0), ("export", "metal", "Dy", "WEST", 1.0),
            ("export", "concentrate (tolling)", "Ce", "CHN", 10.0),
            ("import", "oxide (tolled)", "Ce", "CHN", 9.0),
            ("import", "magnet", None, "CHN", 500.0), ("export", "oxide", "Sm", "CHN", 3.0)]
    trade = pd.DataFrame([(f, p, e, q, 2030, t) for f, p, e, q, t in rows],
                         columns=["flow", "product", "element", "partner", "year", "tonnes"])
    got = _cross_trades(trade).set_index("element")
    assert sorted(got.index) == ["Dy", "La", "Nd", "Pr"]
    assert got.loc["Nd", "exported_t"] == 120.0 and got.loc["Nd", "imported_t"] == 50.0
    assert got.loc["Nd", "reading"] == "metal making done abroad in effect"
    assert got.loc["La", "reading"] == "separation done abroad in effect"
    assert got.loc["Pr", "reading"] == "ores swapped: one concentrate sold, another bought"
    assert got.loc["Dy", "reading"] == "separation and metal making at home for export"
    assert got.loc["Dy", "steps"] == "separation and metal making"
    assert got["done_abroad"].to_dict() == {"Dy": False, "La": True, "Nd": True, "Pr": False}
    assert (got["year"] == 2030).all()
