"""The command line under stress: Ctrl-C, light installs, bad options, hostile text, --out.

The ``plan`` tests run against the planner core's contract (``run_plan(path, facts)``
returning a plan with a ``name``; ``write_plan(plan, out, *, force, protected)``), with both
replaced by stand-ins, so they need no solve.
"""

from __future__ import annotations

import doctest
import io
import json
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from reeplan.interfaces import cli, render
from reeplan.interfaces.cli import app, main
from reeplan.interfaces.render import (
    emit_chain,
    emit_comparison,
    emit_frame,
    emit_plan,
    emit_world,
    safe_text,
)

runner = CliRunner()

EVIL = "evil\x1b[31mred\x07bell\x9bcsi\u202eltr\rcr\nnl"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\r")


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich writes no styling of its own (so any ESC seen comes from the data), wide."""
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "400")


def _assert_no_raw(text: str) -> None:
    for char in RAW:
        assert char not in text, repr(char)


# --- Ctrl-C ---------------------------------------------------------------------------------

def test_ctrl_c_in_a_command_exits_130_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(data: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_facts", interrupted)
    monkeypatch.setattr(sys, "argv", ["reeplan", "data", "check"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 130
    captured = capsys.readouterr()
    assert captured.err == "reeplan: interrupted\n" and captured.out == ""


@pytest.mark.parametrize("raised", [KeyboardInterrupt, SystemExit(130)])
def test_ctrl_c_outside_a_command_exits_130_too(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str],
                                                raised: BaseException) -> None:
    def app_interrupted() -> None:  # Ctrl-C while parsing: typer says exit 130 or raises
        raise raised

    monkeypatch.setattr(cli, "app", app_interrupted)
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 130
    assert capsys.readouterr().err == "reeplan: interrupted\n"


def test_sigint_to_a_running_reeplan_exits_130_without_traceback() -> None:
    code = textwrap.dedent("""
        import sys, time
        from reeplan.interfaces import cli

        def slow(data):
            print("ready", flush=True)
            time.sleep(60)

        cli._facts = slow
        sys.argv = ["reeplan", "data", "check"]
        cli.main()
    """)
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert err == "reeplan: interrupted\n"


# --- light install: which extra to install --------------------------------------------------

def _hint(command: str, dist: str, extra: str) -> str:
    return (f"reeplan: error: 'reeplan {command}' needs the optional dependency '{dist}'; "
            f"install it with: pip install 'reeplan[{extra}]'\n")


@pytest.mark.parametrize(("args", "module", "dist", "extra"), [
    (["plan", "s.yaml"], "highspy", "highspy", "plan"),
    (["plan", "s.yaml"], "yaml", "pyyaml", "plan"),
    (["plan", "s.yaml", "--out", "roadmap"], "pyarrow", "pyarrow", "parquet"),
    (["chain"], "xarray", "xarray", "chain"),
    (["chain"], "flodym", "flodym", "chain"),
])
def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                  args: list[str], module: str, dist: str, extra: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, module, None)  # what a light install looks like
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr == _hint(args[0], dist, extra)
    assert not (tmp_path / "roadmap").exists()


def test_a_missing_module_raised_inside_a_command_is_named(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def needs_pyarrow(data: object) -> None:
        raise ModuleNotFoundError("No module named 'pyarrow.parquet'", name="pyarrow.parquet")

    monkeypatch.setattr(cli, "_facts", needs_pyarrow)
    result = runner.invoke(app, ["data", "check"])
    assert result.exit_code == 2
    assert result.stderr == _hint("data check", "pyarrow", "parquet")


def test_a_missing_module_that_is_not_an_extra_is_a_bug_not_a_hint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: object) -> None:
        raise ModuleNotFoundError("No module named 'reeplan.nowhere'", name="reeplan.nowhere")

    monkeypatch.setattr(cli, "_facts", broken)
    result = runner.invoke(app, ["data", "check"])
    assert isinstance(result.exception, ModuleNotFoundError)
    assert "optional dependency" not in result.stderr


def test_a_blocked_highspy_in_a_fresh_interpreter() -> None:
    code = textwrap.dedent("""
        import sys

        class Block:  # an install without highspy
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] == "highspy":
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, Block())
        sys.modules.pop("highspy", None)
        from reeplan.interfaces.cli import main
        sys.argv = ["reeplan", "plan", "scenario.yaml"]
        main()
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr == _hint("plan", "highspy", "plan")


# --- --mix ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "-1", "-0.5"])
def test_mix_shares_must_be_finite_and_not_negative(value: str) -> None:
    result = runner.invoke(app, ["chain", "--mix", f"bayan_obo={value}"])
    assert result.exit_code == 2
    assert f"--mix 'bayan_obo={value}'" in result.stderr
    assert "finite number >= 0" in result.stderr and f"'{value}'" in result.stderr


@pytest.mark.parametrize("item", ["bayan_obo", "bayan_obo=", "=0.5", "bayan_obo=lots"])
def test_mix_must_be_deposit_equals_share(item: str) -> None:
    result = runner.invoke(app, ["chain", "--mix", item])
    assert result.exit_code == 2
    assert f"--mix '{item}': expected DEPOSIT=SHARE" in result.stderr


def test_mix_parses_valid_shares() -> None:
    assert cli._parse_mix(["a=0.9", " b = 0.1", "c=0"]) == {"a": 0.9, "b": 0.1, "c": 0.0}
    assert cli._parse_mix(None) is None


# --- plan: against the core's contract -------------------------------------------------------

@dataclass
class FakePlan:
    """What the CLI reads of a plan."""

    name: str
    cost: float = 2.5e9
    penalties: float = 0.0
    penalties_by_part: dict[str, float] = field(default_factory=dict)
    missed: tuple[str, ...] = ()
    targets: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"target": ["magnets"], "year": [2030], "met": [True]}))
    builds: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"candidate": ["sep"], "stage": ["separation"], "capacity": [950.0],
         "decision_year": [2026], "online_year": [2028], "capex": [3e8], "reason": ["=1+1"],
         "peak_use_share": [0.9], "oversized": [""]}))
    binding: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"constraint": []}))
    cross_trades: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"element": [], "year": [], "steps": [], "done_abroad": [], "reading": []}))
    idle_mines: tuple[str, ...] = ()


@pytest.fixture
def core(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Replace ``run_plan`` and ``write_plan`` by stand-ins that record their calls."""
    from reeplan.reporting import roadmap
    from reeplan.reporting.files import write_output_dir
    from reeplan.scenarios import run

    calls: list[tuple[Any, ...]] = []

    def run_plan(path: Path, facts: object) -> FakePlan:
        calls.append(("run_plan", Path(path), facts is not None))
        return FakePlan(name=Path(path).stem)

    def write_plan(plan: FakePlan, out: Path, *, force: bool = False,
                   protected: Any = ()) -> list[Path]:
        calls.append(("write_plan", plan.name, Path(out), force, list(protected)))
        return write_output_dir(out, {"builds": plan.builds}, {"run.json": {"s": plan.name}},
                                force=force, protected=protected)

    monkeypatch.setattr(run, "run_plan", run_plan, raising=False)
    monkeypatch.setattr(roadmap, "write_plan", write_plan)
    return calls


def _scenario(tmp_path: Path, name: str = "russia") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\n", encoding="utf-8")
    return path


def test_plan_runs_once_and_writes_through_write_plan(tmp_path: Path,
                                                      core: list[tuple[Any, ...]]) -> None:
    scenario, out, data = _scenario(tmp_path), tmp_path / "out", tmp_path / "data"
    data.mkdir()
    args = ["plan", str(scenario), "--out", str(out), "--data", str(data)]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert core == [("run_plan", scenario, True), ("write_plan", "russia", out, False, [data])]
    assert "russia" in result.stdout and f"roadmap written to {out}" in result.stdout
    assert pd.read_csv(out / "builds.csv")["reason"].tolist() == ["'=1+1"]
    # an existing --out is refused before any solve; --force replaces it
    core.clear()
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--force" in again.stderr and core == []
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert core[-1] == ("write_plan", "russia", out, True, [data])


def test_plan_diff_solves_each_scenario_once(tmp_path: Path, core: list[tuple[Any, ...]],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import reeplan.reporting

    def compare(a: FakePlan, b: FakePlan, names: tuple[str, str]) -> SimpleNamespace:
        return SimpleNamespace(names=names, cost={names[0]: a.cost, names[1]: b.cost,
                                                  "difference": 0.0},
                               targets=pd.DataFrame(), builds=pd.DataFrame({"x": [EVIL]}))

    monkeypatch.setattr(reeplan.reporting, "compare_plans", compare)
    a, b = _scenario(tmp_path, "base"), _scenario(tmp_path, "tight")
    result = runner.invoke(app, ["plan", "--diff", str(a), str(b)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert [c[:2] for c in core] == [("run_plan", a), ("run_plan", b)]
    assert "base" in result.stdout and "tight" in result.stdout
    _assert_no_raw(result.stdout)


@pytest.mark.parametrize(("out", "message"), [
    ("", "is the current directory"),
    (".", "is the current directory"),
    ("scenario.yaml", "is an existing file"),
    ("data", "is, contains or is inside the data directory"),
    ("data/roadmap", "is, contains or is inside the data directory"),
])
def test_plan_refuses_bad_out_before_solving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             core: list[tuple[Any, ...]], out: str,
                                             message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    _scenario(tmp_path, "scenario")
    result = runner.invoke(app, ["plan", "scenario.yaml", "--out", out, "--data", "data"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("reeplan: error: ") and message in result.stderr
    assert core == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "scenario.yaml"]


# --- hostile text never reaches the terminal raw --------------------------------------------

def test_safe_text_shows_controls_as_escapes() -> None:
    assert safe_text("\x1b[31mred\x07") == "\\x1b[31mred\\x07"
    assert safe_text("a\x9bb\u202ec\x7f\x00") == "a\\x9bb\\u202ec\\x7f\\x00"
    assert safe_text("tab\tcr\rnl\n") == "tab\\tcr\\rnl\\n"
    assert safe_text("two\nlines\x1b", keep_newlines=True) == "two\nlines\\x1b"
    assert safe_text("plain, ünïcode ✓ and [markup]") == "plain, ünïcode ✓ and [markup]"
    assert safe_text(2030) == "2030"


def test_render_docstring_examples() -> None:
    result = doctest.testmod(render)
    assert result.failed == 0 and result.attempted > 0


def test_emit_frame_table_escapes_controls_and_markup() -> None:
    frame = pd.DataFrame({"name": [EVIL, "[bold]not bold[/bold]"], EVIL: [1, 2]})
    console = Console(file=io.StringIO(), width=300)
    emit_frame(frame, "table", title=EVIL, console=console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    _assert_no_raw(text)
    assert "\\x1b[31mred\\x07bell\\x9bcsi\\u202eltr\\rcr\\nnl" in text
    assert "[bold]not bold[/bold]" in text  # markup shown, not applied


def test_emit_frame_csv_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.DataFrame({"name": [EVIL], "n": [-1]})
    emit_frame(frame, "csv")
    out = capsys.readouterr().out
    _assert_no_raw(out)
    shown = "evil\\x1b[31mred\\x07bell\\x9bcsi\\u202eltr\\rcr\\nnl"
    assert out.splitlines() == ["name,n", f"{shown},-1"]
    emit_frame(frame, "json")
    out = capsys.readouterr().out
    _assert_no_raw(out)
    assert json.loads(out) == [{"name": EVIL, "n": -1}]  # JSON escapes: lossless


def test_emit_plan_and_comparison_escape_user_text(capsys: pytest.CaptureFixture[str]) -> None:
    plan = FakePlan(name=EVIL, missed=(f"target {EVIL} missed",))
    plan.builds["candidate"] = EVIL
    plan.targets["target"] = EVIL
    plan.binding = pd.DataFrame({"constraint": [EVIL]})
    emit_plan(plan, plan.name)  # type: ignore[arg-type]
    emit_comparison(SimpleNamespace(  # type: ignore[arg-type]
        names=(EVIL, "b"), cost={EVIL: 1.0, "b": 2.0, "difference": 1.0},
        targets=pd.DataFrame({"target": [EVIL]}), builds=pd.DataFrame({"candidate": [EVIL]})))
    out = capsys.readouterr().out
    _assert_no_raw(out)
    assert out.count("\\x1b[31m") >= 6


def test_emit_chain_escapes_user_text(capsys: pytest.CaptureFixture[str]) -> None:
    stages = pd.DataFrame({"stage": [EVIL], "plants": [EVIL], "capacity": [float("nan")],
                           "output": [1.0], "unit": [EVIL], "demand": [2.0], "imports": [1.0],
                           "dependence": [0.5]})
    elements = pd.DataFrame({c: [1.0] for c in ("mined", "separated", "demand", "imports",
                                                "dependence", "surplus", "surplus_value",
                                                "revenue_share")})
    elements["element"], elements["bottleneck"] = EVIL, EVIL
    result = SimpleNamespace(country=EVIL, year=2024, series=EVIL, stages=stages,
                             elements=elements, end_of_life=None, notes=[EVIL],
                             sources=pd.DataFrame({"source_id": [EVIL], "description": [EVIL]}))
    emit_chain(result, "table")  # type: ignore[arg-type]
    out = capsys.readouterr().out
    _assert_no_raw(out)
    assert out.count("\\x1b[31m") >= 8
    emit_chain(SimpleNamespace(to_dict=lambda: {"country": EVIL}), "json")  # type: ignore[arg-type]
    out = capsys.readouterr().out
    _assert_no_raw(out)
    assert json.loads(out) == {"country": EVIL}


def test_emit_world_escapes_user_text(capsys: pytest.CaptureFixture[str]) -> None:
    countries = pd.DataFrame({"production": [100.0], "production_qualifier": [EVIL],
                              "share": [0.5], "reserves": [10.0], "reserves_qualifier": [EVIL],
                              "reserve_life": [5.0], "production_source": [EVIL],
                              "reserves_source": [float("nan")]}, index=[EVIL])
    stages = pd.DataFrame({"stage": [EVIL], "year": [2024], "basis": [EVIL],
                           "china_share": [90.0], "top3": [EVIL], "top3_share": [95.0],
                           "hhi": [0.8], "source_id": [EVIL], "confidence": [EVIL]})
    alternatives = pd.DataFrame({"country": [EVIL], "metric": [EVIL], "year": [2024],
                                 "value": [1.0], "qualifier": [EVIL], "unit": [EVIL],
                                 "series": [EVIL], "source_id": [EVIL], "confidence": [EVIL]})
    sources = pd.DataFrame({"source_id": [EVIL], "title": [EVIL], "publisher": [EVIL],
                            "year": [2024.0], "url": [EVIL]})
    summary = {"world_production": 100.0, "world_reserves": 10.0,
               "world_reserves_qualifier": EVIL, "world_reserve_life": 0.1,
               "china_share": 0.5, "top3_countries": EVIL, "top3_share": 0.9, "hhi": 0.3}
    ov = SimpleNamespace(commodity=EVIL, year=2024, unit=EVIL, series=EVIL, summary=summary,
                         countries=countries, stages=stages, alternatives=alternatives,
                         sources=sources)
    emit_world(ov, "table")  # type: ignore[arg-type]
    out = capsys.readouterr().out
    _assert_no_raw(out)
    assert out.count("\\x1b[31m") >= 10


def test_error_messages_escape_user_text() -> None:
    result = runner.invoke(app, ["data", "show", "no\x1b[31mtable\x07"])
    assert result.exit_code == 2
    _assert_no_raw(result.stderr)
    assert "no\\x1b[31mtable\\x07" in result.stderr
