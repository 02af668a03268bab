"""Run a scenario file end to end in one pass: read once, check, assemble, solve, write.

:func:`run_plan` serves the CLI and the API alike: the scenario file is read and parsed
once, the fact base queried once, and the plan carries the scenario exactly as solved in
its provenance, so the files written describe the file that was solved.
"""

from __future__ import annotations

from pathlib import Path

from reeplan.data import FactBase, load_factbase
from reeplan.optimize import Plan, Provenance, solve, solve_myopic
from reeplan.scenarios.assemble import assemble, check_references
from reeplan.scenarios.spec import Scenario, read_scenario

__all__ = ["plan", "run_plan", "solve_scenario"]


def run_plan(path: str | Path, facts: FactBase | None = None) -> Plan:
    """Read the scenario in ``path`` once, check it against ``facts`` and solve it.

    Examples
    --------
    >>> import reeplan
    >>> result = reeplan.plan("scenarios/russia-2030.yaml")  # doctest: +SKIP
    >>> result.builds  # doctest: +SKIP
    """
    facts = facts or load_factbase()
    scenario, lines = read_scenario(path)
    check_references(scenario, facts, path, lines)
    return solve_scenario(scenario, facts)


plan = run_plan
"""``reeplan.plan(path)``: the same as :func:`run_plan`."""


def solve_scenario(scenario: Scenario, facts: FactBase) -> Plan:
    """Assemble and solve ``scenario`` with the foresight it asks for."""
    problem = assemble(scenario, facts)
    provenance = Provenance(sources=tuple(sorted(problem.sources)),
                            data_fingerprint=facts.fingerprint(),
                            data_layers=tuple(facts.layers),
                            scenario=scenario.model_dump(mode="json"))
    if scenario.foresight == "myopic":
        return solve_myopic(problem, scenario.myopic_window_years, name=scenario.name,
                            provenance=provenance)
    return solve(problem, name=scenario.name, provenance=provenance)
