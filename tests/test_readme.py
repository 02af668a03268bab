"""The README's quick start and CI agree, so the two commands stay true."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_exactly_two_commands() -> None:
    commands = _quick_start()
    assert len(commands) == 2
    assert "reeplan plan scenarios/russia-2030.yaml" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_both_readme_commands() -> None:
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
          .splitlines()]
    assert _quick_start()[0] in ci
    assert _quick_start()[1] in ci


def test_every_shipped_scenario_is_in_the_readme() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        assert f"scenarios/{path.name}" in text, path.name
