"""Run a scenario file end to end: load, check, assemble, solve, write the roadmap."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from reeplan.data import FactBase, load_factbase
from reeplan.errors import ReeplanError
from reeplan.optimize import Plan, solve
from reeplan.scenarios.assemble import assemble, check_references
from reeplan.scenarios.spec import Scenario, read_scenario

__all__ = ["load_checked", "plan", "write_plan"]


def load_checked(path: str | Path, facts: FactBase) -> Scenario:
    """Read the scenario in ``path`` and check its references against ``facts``."""
    scenario, lines = read_scenario(path)
    check_references(scenario, facts, path, lines)
    return scenario


def plan(path: str | Path, facts: FactBase | None = None) -> Plan:
    """Solve the scenario in ``path`` on ``facts`` (the embedded fact base by default)."""
    facts = facts or load_factbase()
    return solve(assemble(load_checked(path, facts), facts))


def write_plan(result: Plan, scenario: Scenario, out: str | Path, *,
               force: bool = False) -> None:
    """Write the roadmap tables as CSV, the resolved scenario and the versions to ``out``.

    Refuses to touch an existing directory unless ``force``.
    """
    out = Path(out)
    if out.exists() and not force:
        raise ReeplanError(f"output directory '{out}' exists; choose another or pass --force")
    out.mkdir(parents=True, exist_ok=True)
    for name in ("builds", "production", "trade", "targets", "binding"):
        getattr(result, name).to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
    (out / "scenario.resolved.json").write_text(scenario.model_dump_json(indent=2) + "\n",
                                                encoding="utf-8")
    meta = {"reeplan": version("reeplan"), "linopy": version("linopy"),
            "highspy": version("highspy"), "cost_usd": result.cost,
            "status": str(result.status), "missed": list(result.missed)}
    (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
