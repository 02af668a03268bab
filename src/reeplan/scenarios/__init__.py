"""Scenario files (YAML, validated) and their assembly into planning problems."""

from reeplan.scenarios.spec import Scenario, load_scenario

__all__ = ["Scenario", "load_scenario"]
