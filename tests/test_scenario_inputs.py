"""Bad scenario files: one DataValidationError naming file, line and key; never a traceback.

Each case edits the shipped baseline (``scenarios/russia-2030.yaml``) or writes a small
file, reads it with :func:`reeplan.scenarios.spec.read_scenario`, and checks where the
problem is said to be and what was expected. A few cases also go through ``reeplan plan``
to check the exit code 2 and that no traceback is shown.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reeplan.errors import DataValidationError, Problem
from reeplan.interfaces.cli import app
from reeplan.scenarios.spec import (
    DEFAULT_PENALTY,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_EXTENDS,
    MAX_MAGNITUDE,
    Scenario,
    read_scenario,
)
from reeplan.types import PARTNER_IDS, TARGET_KINDS

SCENARIO_DIR = Path(__file__).parent.parent / "scenarios"
SCENARIOS = sorted(SCENARIO_DIR.glob("*.yaml"))
BASE_FILE = SCENARIO_DIR / "russia-2030.yaml"
BASE = BASE_FILE.read_text(encoding="utf-8")
runner = CliRunner()


def _edit(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def _write(tmp_path: Path, text: str | bytes, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _line_of(text: str, needle: str) -> int:
    """1-based number of the first line of ``text`` holding ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _problems(path: Path) -> tuple[Problem, ...]:
    with pytest.raises(DataValidationError) as info:
        read_scenario(path)
    return info.value.problems


def _only(path: Path) -> Problem:
    problems = _problems(path)
    assert len(problems) == 1, problems
    return problems[0]


def _check(problem: Problem, path: Path, line: int | None, key: str | None,
           *words: str) -> None:
    assert (problem.file, problem.row, problem.field) == (str(path), line, key), problem
    for word in words:
        assert word in problem.message, (word, problem.message)


def _cli(path: Path) -> str:
    """``reeplan plan PATH`` in process: exit code 2 and no traceback; returns stderr."""
    res = runner.invoke(app, ["plan", str(path)])
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert "Traceback" not in res.output
    return res.stderr


def _run_capped(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m reeplan ARGS`` with a timeout and a 4 GB address-space cap, so that a
    regression runs out of memory in the child instead of on the machine."""
    def cap() -> None:
        import resource

        limit = 4 * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([sys.executable, "-m", "reeplan", *args], capture_output=True,
                          text=True, check=False, timeout=timeout, preexec_fn=cap)


# ------------------------------------------------------------------ shipped files still load


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_shipped_scenario_loads(path: Path) -> None:
    scenario, lines = read_scenario(path)
    text = path.read_text(encoding="utf-8")
    assert scenario.name == path.stem
    assert lines["name"] == _line_of(text, "name:")
    assert scenario.policy.partners, "every shipped scenario trades with someone"
    assert set(scenario.policy.partners) <= set(PARTNER_IDS)


def test_the_baseline_reads_as_written() -> None:
    scenario, lines = read_scenario(BASE_FILE)
    assert scenario.targets[0].value == 3000 and scenario.targets[1].value == 0.48
    assert dict(scenario.policy.partners["CHN"].export_caps_t) == {"Dy": 0, "Tb": 0}
    assert scenario.horizon.start == 2025 and scenario.candidates["tomtor"].lead_time_years == 5
    assert lines["targets.1"] == _line_of(BASE, "import_share_48")
    assert lines["policy.partners.OTHER"] == _line_of(BASE, "OTHER:")


def test_every_target_kind_has_a_default_penalty() -> None:
    assert set(DEFAULT_PENALTY) == set(TARGET_KINDS)


def test_models_stay_frozen_and_closed(tmp_path: Path) -> None:
    scenario = read_scenario(BASE_FILE)[0]
    with pytest.raises(ValueError, match="frozen"):
        scenario.name = "other"  # type: ignore[misc]
    path = _write(tmp_path, _edit("discount_rate: 0.08", "discount_rate: 0.08\nbugdet: 5"))
    _check(_only(path), path, _line_of(path.read_text(), "bugdet"), "bugdet", "unknown key")


# ------------------------------------------------------------------------- 1. extends cycles


def test_extends_cycle_names_the_chain(tmp_path: Path) -> None:
    a = _write(tmp_path, "extends: b.yaml\nname: a\n", "a.yaml")
    b = _write(tmp_path, "name: b\nextends: a.yaml\n", "b.yaml")
    problem = _only(a)
    _check(problem, b, 2, "extends", "extends cycle", f"{a} -> {b} -> {a}")


def test_a_scenario_extending_itself_is_named(tmp_path: Path) -> None:
    a = _write(tmp_path, "name: a\n\nextends: a.yaml\n", "a.yaml")
    _check(_only(a), a, 3, "extends", "extends itself")


def test_a_cycle_further_down_the_chain_is_found(tmp_path: Path) -> None:
    a = _write(tmp_path, "extends: b.yaml\nname: a\n", "a.yaml")
    b = _write(tmp_path, "extends: c.yaml\nname: b\n", "b.yaml")
    c = _write(tmp_path, "extends: b.yaml\nname: c\n", "c.yaml")
    _check(_only(a), c, 1, "extends", f"{b} -> {c} -> {b}")


def test_a_too_long_extends_chain_is_refused(tmp_path: Path) -> None:
    for i in range(MAX_EXTENDS + 1):
        _write(tmp_path, f"extends: s{i + 1}.yaml\nname: s{i}\n", f"s{i}.yaml")
    last = _write(tmp_path, "name: last\nhorizon: {start: 2025, end: 2030}\n",
                  f"s{MAX_EXTENDS + 1}.yaml")
    problem = _only(tmp_path / "s0.yaml")
    assert problem.field == "extends" and f"more than {MAX_EXTENDS} files" in problem.message
    assert last.exists()


@pytest.mark.parametrize(("value", "words"), [
    ("missing.yaml", ["base scenario 'missing.yaml' not found"]),
    (".", ["not found"]),
    ("[a, b]", ["expected the file name"]),
    ("''", ["expected the file name"]),
])
def test_a_bad_extends_value_is_named(tmp_path: Path, value: str, words: list[str]) -> None:
    path = _write(tmp_path, f"name: v\nextends: {value}\n")
    _check(_only(path), path, 2, "extends", *words)


def test_extends_cycle_through_the_cli(tmp_path: Path) -> None:
    a = _write(tmp_path, "extends: b.yaml\nname: a\n", "a.yaml")
    b = _write(tmp_path, "extends: a.yaml\nname: b\n", "b.yaml")
    err = _cli(a)
    assert f"{b}, line 1, key 'extends'" in err and "extends cycle" in err


# ------------------------------------------------------------------------ 2. deep nesting


def _nested(style: str, levels: int) -> str:
    if style == "block":  # block lists nest by indentation
        return "\n" + "".join("  " * i + "-\n" for i in range(levels))
    if style == "flow-map":
        return "{a: " * levels + "1" + "}" * levels
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(("style", "levels"), [
    ("flow-list", 500), ("flow-list", 100_000), ("flow-map", 500), ("flow-map", 50_000),
    ("block", 500),
])
def test_deep_nesting_is_refused_without_recursion(tmp_path: Path, style: str,
                                                   levels: int) -> None:
    path = _write(tmp_path, f"name: deep\nhorizon: {_nested(style, levels)}\n")
    problem = _only(path)  # a DataValidationError, not a RecursionError
    assert problem.file == str(path) and problem.row is not None and problem.row >= 2
    assert problem.field is not None and problem.field.startswith("horizon.")
    assert len(problem.field.split(".")) == MAX_DEPTH
    assert f"nested more than {MAX_DEPTH} levels" in problem.message


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    """The root mapping is level 1, so 49 lists below it are allowed and 50 are not."""
    head = "name: a\nhorizon: {start: 2025, end: 2030}\nx: "
    ok = _write(tmp_path, head + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1), "ok.yaml")
    _check(_only(ok), ok, 3, "x", "unknown key")
    deep = _write(tmp_path, head + "[" * MAX_DEPTH + "]" * MAX_DEPTH, "deep.yaml")
    _check(_only(deep), deep, 3, "x" + ".0" * (MAX_DEPTH - 1), "nested more than")


# -------------------------------------------------------------------- 3. anchors and aliases


def _bomb(levels: int) -> str:
    names = [f"l{i}" for i in range(levels)]
    rows = [f"{names[0]}: &{names[0]} [x, x, x, x, x, x, x, x, x]"]
    rows += [f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in itertools.pairwise(names)]
    return "\n".join(rows) + "\n"


def test_an_alias_bomb_is_refused_before_anything_expands(tmp_path: Path) -> None:
    path = _write(tmp_path, _bomb(5))  # 9**5 = 59,049 strings if it were expanded
    tracemalloc.start()
    try:
        problem = _only(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _check(problem, path, 1, "l0", "anchors and aliases (&, *) are not supported")
    assert peak < 2_000_000, peak


@pytest.mark.parametrize(("text", "line", "key"), [
    ("name: a\ndescription: &d text\n", 2, "description"),
    ("name: a\ndescription: *d\n", 2, "description"),
    ("name: a\nhorizon: {start: 2025, end: *e}\n", 2, "horizon.end"),
    ("name: a\ntargets:\n  - &t {id: x}\n", 3, "targets.0"),
])
def test_any_anchor_or_alias_is_refused(tmp_path: Path, text: str, line: int,
                                        key: str) -> None:
    path = _write(tmp_path, text)
    _check(_only(path), path, line, key, "anchors and aliases")


@pytest.mark.parametrize(("text", "line", "key", "words"), [
    ("name: !!str a\n", 1, "name", "tags (!...) are not supported"),
    ("name: a\ndiscount_rate: !!float '0.1'\n", 2, "discount_rate", "tags (!...)"),
    ("name: a\ndemand: !!map {}\n", 2, "demand", "tags (!...)"),
    ("name: a\n<<: {country: RUS}\n", 2, None, "merge keys (<<) are not supported"),
    ("name: a\n? [a, b]\n: 1\n", 2, None, "a key must be a plain name"),
])
def test_tags_merge_keys_and_complex_keys_are_refused(tmp_path: Path, text: str, line: int,
                                                      key: str | None, words: str) -> None:
    path = _write(tmp_path, text)
    _check(_only(path), path, line, key, words)


def test_an_alias_bomb_through_the_cli_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, _bomb(9))  # 9**9 strings, 3.4 GB, if it were expanded
    proc = _run_capped("plan", str(path))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"{path}, line 1, key 'l0': anchors and aliases" in proc.stderr


# ---------------------------------------------------------------------------- 4. duplicates


def test_a_duplicate_top_level_key_names_both_lines(tmp_path: Path) -> None:
    text = _edit("country: RUS", "country: RUS\ncountry: KAZ")
    path = _write(tmp_path, text)
    first = _line_of(text, "country: RUS")
    _check(_only(path), path, first + 1, "country", "duplicate key 'country'",
           f"lines {first} and {first + 1}")


def test_a_duplicate_nested_key_names_its_path(tmp_path: Path) -> None:
    text = _edit("export_caps_t: {Dy: 0, Tb: 0}", "export_caps_t: {Dy: 0, Dy: 5}")
    path = _write(tmp_path, text)
    line = _line_of(text, "Dy: 5")
    _check(_only(path), path, line, "policy.partners.CHN.export_caps_t.Dy",
           "duplicate key 'Dy'", f"twice on line {line}")


def test_a_duplicate_candidate_is_reported_not_replaced(tmp_path: Path) -> None:
    text = BASE + "  tomtor:\n    {stage: mining, deposit: tomtor, max_capacity_t: 1,\n" \
                  "     capex_usd_per_tpa: 1, opex_usd_per_t: 1, lead_time_years: 1, source: x}\n"
    path = _write(tmp_path, text)
    first = _line_of(text, "tomtor:")
    second = [i for i, t in enumerate(text.splitlines(), 1) if t == "  tomtor:"][-1]
    assert second > first
    _check(_only(path), path, second, "candidates.tomtor",
           f"lines {first} and {second}")


def test_equal_keys_in_different_mappings_are_fine(tmp_path: Path) -> None:
    path = _write(tmp_path, _edit("WEST: {blocked: true}",
                                  "WEST: {blocked: true, export_caps_t: {Dy: 0, Tb: 0}}"))
    assert read_scenario(path)[0].policy.partners["WEST"].export_caps_t == {"Dy": 0, "Tb": 0}


# ------------------------------------------------------------------------ 5. bytes and files


def test_a_latin1_file_names_the_byte_offset_and_line(tmp_path: Path) -> None:
    text = _edit("Russia's stated roadmap", "Russia's stated roadmap (Rüssia)")
    raw = text.encode("latin-1")
    path = _write(tmp_path, raw)
    offset = raw.index(b"\xfc")
    _check(_only(path), path, _line_of(text, "Rüssia"), None,
           f"byte 0xfc at offset {offset} is not valid UTF-8")


@pytest.mark.parametrize(("encoding", "words"), [
    ("utf-16", ["UTF-16", "byte-order mark"]),
    ("utf-16-le", ["NUL byte at offset 1", "UTF-16"]),
    ("utf-32", ["UTF-32"]),
])
def test_utf16_and_utf32_files_are_named(tmp_path: Path, encoding: str,
                                         words: list[str]) -> None:
    path = _write(tmp_path, BASE.encode(encoding))
    _check(_only(path), path, 1, None, *words, "expected UTF-8")


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, b"\xef\xbb\xbf" + BASE.encode("utf-8"))
    assert read_scenario(path)[0].name == "russia-2030"


def test_a_control_character_is_named_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: a\ndescription: bell \x07 here\n")
    _check(_only(path), path, 2, None, "#x0007")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dir.yaml"
    path.mkdir()
    _check(_only(path), path, None, None, "is a directory")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    found: list[tuple[Problem, ...]] = []

    def read() -> None:
        try:
            read_scenario(path)
        except DataValidationError as err:
            found.append(err.problems)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():  # unblock the reader before failing
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("read_scenario blocked on a FIFO")
    assert len(found) == 1 and len(found[0]) == 1
    _check(found[0][0], path, None, None, "named pipe (FIFO)")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_device_is_refused() -> None:
    _check(_only(Path("/dev/zero")), Path("/dev/zero"), None, None, "character device")


def test_a_huge_file_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.write(b"name: huge\n")
        f.truncate(MAX_BYTES + 1)
    _check(_only(path), path, None, None, f"larger than {MAX_BYTES:,} bytes")
    path.write_bytes(b"name: ok\n# " + b"x" * (MAX_BYTES - 20) + b"\n")
    assert "larger than" not in str(_problems(path))  # at the cap: read, then validated


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    _check(_only(path), path, None, None, "scenario file not found")


def test_bad_bytes_through_the_cli(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.encode("utf-16"))
    err = _cli(path)
    assert f"{path}, line 1: is UTF-16 text" in err


# --------------------------------------------------------------------- 6. strict numbers


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ("value: 3000", "value: true", "targets.0.value", ["expected a number, got true"]),
    ("value: 3000", 'value: "3000"', "targets.0.value",
     ["expected a number, got '3000'", "without quotes"]),
    ("discount_rate: 0.08", "discount_rate: yes", "discount_rate",
     ["expected a number, got 'yes'"]),
    ("3000, year: 2030, penalty", "3000, year: 2030.5, penalty", "targets.0.year",
     ["expected a whole number, got 2030.5"]),
    ("3000, year: 2030, penalty", '3000, year: "2030", penalty', "targets.0.year",
     ["expected a whole number, got '2030'"]),
    ("3000, year: 2030, penalty", "3000, year: 2030.0, penalty", "targets.0.year",
     ["expected a whole number"]),
    ("3000, year: 2030, penalty", "3000, year: 2030-01-01, penalty", "targets.0.year",
     ["expected a whole number, got '2030-01-01'"]),
    ("{start: 2025, end: 2035}", "{start: true, end: 2035}", "horizon.start",
     ["expected a whole number, got true"]),
    ("lead_time_years: 5", "lead_time_years: 5.5", "candidates.tomtor.lead_time_years",
     ["expected a whole number"]),
    ("route_capacity_t: 3000", "route_capacity_t: 3_000", "policy.partners.OTHER.route_capacity_t",
     ["expected a number"]),
    ("route_capacity_t: 3000", "route_capacity_t: '3000'",
     "policy.partners.OTHER.route_capacity_t", ["without quotes"]),
    ("max_capacity_t: 5000", "max_capacity_t: 1:30", "candidates.new_separation.max_capacity_t",
     ["expected a number, got '1:30'"]),
])
def test_booleans_and_text_are_not_numbers(tmp_path: Path, old: str, new: str, key: str,
                                           words: list[str]) -> None:
    text = _edit(old, new)
    path = _write(tmp_path, text)
    _check(_only(path), path, _line_of(text, new), key, *words)


def test_numbers_read_as_yaml_1_2(tmp_path: Path) -> None:
    """``010`` is ten (not octal eight), ``1e7`` a number, ``NO`` text (not false)."""
    text = _edit("lead_time_years: 5", "lead_time_years: 010")
    text = text.replace("3000, year: 2030, penalty: 100000", "3000, year: 2030, penalty: 1e7")
    text = text.replace("country: RUS", "country: NO")
    scenario = read_scenario(_write(tmp_path, text))[0]
    assert scenario.candidates["tomtor"].lead_time_years == 10
    assert scenario.targets[0].penalty == 1e7
    assert scenario.country == "NO"


# --------------------------------------------------------------- 7. infinite and huge numbers


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ("value: 3000", "value: .inf", "targets.0.value", ["finite number"]),
    ("value: 3000", "value: 1e400", "targets.0.value", ["finite number"]),
    ("value: 3000", "value: 3000, baseline_t: .nan", "targets.0.baseline_t", ["finite"]),
    ("3000, year: 2030, penalty: 100000", "3000, year: 2030, penalty: 1e300",
     "targets.0.penalty", ["too large"]),
    ("3000, year: 2030, penalty: 100000", "3000, year: 2030, penalty: -.inf",
     "targets.0.penalty", ["finite"]),
    ("buy_premium: 0.15", "buy_premium: 1e300", "policy.partners.OTHER.buy_premium",
     ["too large", "1e+12"]),
    ("transport_cost_usd_per_t: 500", "transport_cost_usd_per_t: .inf",
     "policy.partners.OTHER.transport_cost_usd_per_t", ["finite"]),
    ("route_capacity_t: 3000", "route_capacity_t: 1.0e+300",
     "policy.partners.OTHER.route_capacity_t", ["too large"]),
    ("discount_rate: 0.08", "discount_rate: 0.08\nbudget_musd_per_year: .inf",
     "budget_musd_per_year", ["finite"]),
    ("discount_rate: 0.08", "discount_rate: .nan", "discount_rate", ["finite"]),
    ("max_capacity_t: 5000", "max_capacity_t: 1e13", "candidates.new_separation.max_capacity_t",
     ["too large"]),
    ("capex_usd_per_tpa: 20000", "capex_usd_per_tpa: .inf",
     "candidates.metal_plant.capex_usd_per_tpa", ["finite"]),
    ("growth_per_year: 0.03", "growth_per_year: .nan", "demand.growth_per_year", ["finite"]),
    ("growth_per_year: 0.03", "growth_per_year: 0.03\n  consumption_t_reo: " + "9" * 400,
     "demand.consumption_t_reo", ["finite"]),
])
def test_infinite_and_huge_numbers_are_refused(tmp_path: Path, old: str, new: str, key: str,
                                               words: list[str]) -> None:
    text = _edit(old, new)
    path = _write(tmp_path, text)
    _check(_only(path), path, _line_of(text, new.splitlines()[-1].strip()), key, *words)


def test_the_bound_is_inclusive(tmp_path: Path) -> None:
    ok = _write(tmp_path, _edit("discount_rate: 0.08",
                                f"discount_rate: 0.08\nbudget_musd_per_year: {MAX_MAGNITUDE:.1e}"),
                "ok.yaml")
    assert read_scenario(ok)[0].budget_musd_per_year == MAX_MAGNITUDE
    over = _write(tmp_path, _edit("discount_rate: 0.08",
                                  "discount_rate: 0.08\nbudget_musd_per_year: 1.000001e12"))
    assert _only(over).field == "budget_musd_per_year"


# --------------------------------------------------------------------- 8. duplicate target ids


def test_two_targets_with_one_id_are_refused(tmp_path: Path) -> None:
    text = _edit("id: import_share_48", "id: rem_3000_t")
    path = _write(tmp_path, text)
    _check(_only(path), path, _line_of(text, "kind: import_share"), "targets.1.id",
           "duplicate target id 'rem_3000_t'", "targets.0")


# ------------------------------------------------------------------ 9. empty mappings clear


def test_empty_candidates_and_partners_clear_the_base(tmp_path: Path) -> None:
    base = _write(tmp_path, BASE, "russia-2030.yaml")
    path = _write(tmp_path, "extends: russia-2030.yaml\nname: bare\ncandidates: {}\n"
                            "policy:\n  partners: {}\n", "bare.yaml")
    scenario, lines = read_scenario(path)
    assert scenario.candidates == {} and scenario.policy.partners == {}
    assert scenario.policy.technology == ["domestic"]  # the rest of policy is kept
    assert len(scenario.targets) == 2 and scenario.horizon.end == 2035
    assert lines == {"extends": 1, "name": 2, "candidates": 3, "policy": 4,
                     "policy.partners": 5}
    assert read_scenario(base)[0].candidates


def test_empty_candidates_and_partners_in_a_standalone_file(tmp_path: Path) -> None:
    text = "name: bare\nhorizon: {start: 2025, end: 2030}\ncandidates: {}\npolicy: {partners: {}}\n"
    scenario = read_scenario(_write(tmp_path, text))[0]
    assert isinstance(scenario, Scenario)
    assert scenario.candidates == {} and scenario.policy.partners == {}


# ------------------------------------------------------------------------- 10. partner ids


@pytest.mark.parametrize(("old", "new", "bad"), [
    ("    CHN: {sell_discount", "    chn: {sell_discount", "chn"),
    ("    WEST: {blocked: true}", "    RUSSIA: {blocked: true}", "RUSSIA"),
    ("    WEST: {blocked: true}", "    West: {blocked: true}", "West"),
])
def test_unknown_partner_ids_are_refused(tmp_path: Path, old: str, new: str, bad: str) -> None:
    text = _edit(old, new)
    path = _write(tmp_path, text)
    _check(_only(path), path, _line_of(text, new.strip()), f"policy.partners.{bad}",
           f"got '{bad}'", "'CHN', 'WEST' or 'OTHER'")


def test_unknown_partner_through_the_cli(tmp_path: Path) -> None:
    text = _edit("    CHN: {sell_discount", "    chn: {sell_discount")
    path = _write(tmp_path, text)
    err = _cli(path)
    assert f"line {_line_of(text, 'chn:')}, key 'policy.partners.chn'" in err
    assert "'CHN', 'WEST' or 'OTHER'" in err


# --------------------------------------------------------------------- 11. caps and capacity


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ("{Dy: 0, Tb: 0}", "{Dy: -5, Tb: 0}", "policy.partners.CHN.export_caps_t.Dy",
     ["greater than or equal to 0", "got -5"]),
    ("{Dy: 0, Tb: 0}", "{Dy: 0, Tb: .nan}", "policy.partners.CHN.export_caps_t.Tb",
     ["finite"]),
    ("{Dy: 0, Tb: 0}", "{Dy: 0, unlisted: 0}", "policy.partners.CHN.export_caps_t.unlisted",
     ["not an element symbol"]),
    ("{Dy: 0, Tb: 0}", "{dy: 0, Tb: 0}", "policy.partners.CHN.export_caps_t.dy",
     ["not an element symbol"]),
    ("{Dy: 0, Tb: 0}", "{Dyy: 0, Tb: 0}", "policy.partners.CHN.export_caps_t.Dyy",
     ["not an element symbol"]),
    ("WEST: {blocked: true}", "WEST: {blocked: true, magnet_cap_t: -1}",
     "policy.partners.WEST.magnet_cap_t", ["greater than or equal to 0"]),
    ("WEST: {blocked: true}", "WEST: {blocked: true, magnet_cap_t: .nan}",
     "policy.partners.WEST.magnet_cap_t", ["finite"]),
    ("route_capacity_t: 3000", "route_capacity_t: -3000",
     "policy.partners.OTHER.route_capacity_t", ["greater than or equal to 0"]),
    ("route_capacity_t: 3000", "route_capacity_t: .nan",
     "policy.partners.OTHER.route_capacity_t", ["finite"]),
])
def test_bad_caps_and_capacities_are_refused(tmp_path: Path, old: str, new: str, key: str,
                                             words: list[str]) -> None:
    text = _edit(old, new)
    path = _write(tmp_path, text)
    _check(_only(path), path, _line_of(text, new), key, *words)


# ----------------------------------------------------------------- 12. fractions at most 1


@pytest.mark.parametrize(("old", "new", "kind"), [
    ("kind: import_share, value: 0.48", "kind: import_share, value: 1.5", "import_share"),
    ("kind: import_share, value: 0.48", "kind: self_sufficiency, value: 1.01",
     "self_sufficiency"),
])
def test_share_targets_above_one_are_refused(tmp_path: Path, old: str, new: str,
                                             kind: str) -> None:
    text = _edit(old, new)
    path = _write(tmp_path, text)
    _check(_only(path), path, _line_of(text, new), "targets.1.value", "above 1", kind)


def test_a_share_of_one_and_a_large_output_are_fine(tmp_path: Path) -> None:
    text = _edit("kind: import_share, value: 0.48", "kind: self_sufficiency, value: 1")
    text = text.replace("value: 3000", "value: 1.5")
    targets = read_scenario(_write(tmp_path, text))[0].targets
    assert (targets[0].value, targets[1].value) == (1.5, 1.0)


# ----------------------------------------------------------------------------- 13. horizon


@pytest.mark.parametrize(("new", "key", "words"), [
    ("{start: 2035, end: 2030}", "horizon.end", ["before start"]),
    ("{start: 1999, end: 2035}", "horizon.start", ["greater than or equal to 2000"]),
    ("{start: 2025, end: 2101}", "horizon.end", ["less than or equal to 2100"]),
])
def test_a_bad_horizon_is_refused(tmp_path: Path, new: str, key: str,
                                  words: list[str]) -> None:
    text = _edit("{start: 2025, end: 2035}", new)
    path = _write(tmp_path, text)
    problems = [p for p in _problems(path) if p.field == key]
    assert len(problems) == 1, _problems(path)
    _check(problems[0], path, _line_of(text, "horizon:"), key, *words)


# ------------------------------------------------------------- lines of inherited values


def test_an_inherited_value_is_named_in_its_own_file(tmp_path: Path) -> None:
    """The variant's horizon leaves the base's 2030 targets outside it: the base's line."""
    base = _write(tmp_path, BASE, "russia-2030.yaml")
    path = _write(tmp_path, "extends: russia-2030.yaml\nname: late\n"
                            "horizon: {start: 2031, end: 2035}\n", "late.yaml")
    _check(_only(path), base, _line_of(BASE, "rem_3000_t"), "targets.0.year",
           "outside the horizon 2031-2035")


def test_a_variants_own_value_is_named_in_the_variant(tmp_path: Path) -> None:
    _write(tmp_path, BASE, "russia-2030.yaml")
    path = _write(tmp_path, "extends: russia-2030.yaml\nname: v\npolicy:\n  partners:\n"
                            "    OTHER: {route_capacity_t: -1}\n", "v.yaml")
    _check(_only(path), path, 5, "policy.partners.OTHER.route_capacity_t", "got -1")


def test_a_missing_key_is_named_at_its_parent(tmp_path: Path) -> None:
    _write(tmp_path, BASE, "russia-2030.yaml")
    text = ("extends: russia-2030.yaml\nname: v\ntargets:\n"
            "  - {id: x, kind: output, value: 1, year: 2030}\n"
            "  - {kind: output, value: 1, year: 2030}\n")
    path = _write(tmp_path, text, "v.yaml")
    _check(_only(path), path, 5, "targets.1.id", "required key is missing")


def test_an_error_in_the_base_names_the_base(tmp_path: Path) -> None:
    text = _edit("discount_rate: 0.08", "discount_rate: true")
    base = _write(tmp_path, text, "russia-2030.yaml")
    path = _write(tmp_path, "extends: russia-2030.yaml\nname: v\n", "v.yaml")
    _check(_only(path), base, _line_of(text, "discount_rate"), "discount_rate",
           "expected a number")
