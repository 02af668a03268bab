"""Run a scenario file end to end: load, check, assemble, solve, write the roadmap."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from reeplan.data import FactBase, load_factbase
from reeplan.errors import ReeplanError
from reeplan.optimize import Plan, solve, solve_myopic
from reeplan.scenarios.assemble import assemble, check_references
from reeplan.scenarios.spec import Scenario, read_scenario

__all__ = ["TABLES", "load_checked", "plan", "solve_scenario", "write_plan"]

TABLES = ("builds", "production", "trade", "targets", "binding")
"""The plan's tables written by :func:`write_plan`, as CSV and Parquet."""


def load_checked(path: str | Path, facts: FactBase) -> Scenario:
    """Read the scenario in ``path`` and check its references against ``facts``."""
    scenario, lines = read_scenario(path)
    check_references(scenario, facts, path, lines)
    return scenario


def plan(path: str | Path, facts: FactBase | None = None) -> Plan:
    """Solve the scenario in ``path`` on ``facts`` (the embedded fact base by default).

    Examples
    --------
    >>> import reeplan
    >>> result = reeplan.plan("scenarios/russia-2030.yaml")  # doctest: +SKIP
    >>> result.builds  # doctest: +SKIP
    """
    facts = facts or load_factbase()
    return solve_scenario(load_checked(path, facts), facts)


def solve_scenario(scenario: Scenario, facts: FactBase) -> Plan:
    """Assemble and solve ``scenario`` with the foresight it asks for."""
    problem = assemble(scenario, facts)
    if scenario.foresight == "myopic":
        return solve_myopic(problem, scenario.myopic_window_years)
    return solve(problem)


def write_plan(result: Plan, scenario: Scenario, facts: FactBase, out: str | Path, *,
               force: bool = False) -> list[Path]:
    """Write the roadmap to ``out`` as files people and programs read.

    Each table as CSV and Parquet, the scenario as resolved, and the versions of code and
    data (``run.json``). Refuses to touch an existing directory unless ``force``. Returns
    the files written.
    """
    out = Path(out)
    if out.exists() and not force:
        raise ReeplanError(f"output directory '{out}' exists; choose another or pass --force")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLES:
        frame = getattr(result, name)
        frame.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
        frame.to_parquet(out / f"{name}.parquet", index=False)
        written += [out / f"{name}.csv", out / f"{name}.parquet"]
    (out / "scenario.resolved.json").write_text(scenario.model_dump_json(indent=2) + "\n",
                                                encoding="utf-8")
    meta = {"scenario": scenario.name, "status": str(result.status), "cost_usd": result.cost,
            "missed": list(result.missed),
            "versions": {p: version(p) for p in ("reeplan", "linopy", "highspy", "pandas")},
            "data": {"sha256": facts.fingerprint(), "layers": list(facts.layers)}}
    (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return [*written, out / "scenario.resolved.json", out / "run.json"]
