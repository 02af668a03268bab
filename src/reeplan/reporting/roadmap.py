"""Write a plan to a directory people and programs read: its tables and its provenance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from reeplan.optimize import Plan
from reeplan.reporting.files import write_output_dir
from reeplan.reporting.tables import (
    builds_table,
    clean,
    costs_table,
    dependence_table,
    discounted_cost_musd,
    environment_table,
    flows_table,
    rare_metals_table,
    targets_table,
    trade_table,
)
from reeplan.reporting.worth import build_worth, cost_of_each_target, cost_of_targets_musd

__all__ = ["TABLES", "plan_tables", "write_plan"]

TABLES = ("builds", "flows", "trade", "prices", "dependence", "costs", "targets", "production",
          "unmet", "round_trips", "cross_trades", "binding", "environment", "rare_metals")
"""The plan's tables written by :func:`write_plan`, as CSV and Parquet."""


def plan_tables(result: Plan, worth: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Every output table of a plan (see :mod:`reeplan.reporting.tables`).

    ``worth`` (:func:`reeplan.reporting.worth.build_worth`) adds what each build is worth.
    """
    tables = {"builds": builds_table(result, worth), "flows": flows_table(result),
              "trade": trade_table(result), "prices": result.prices,
              "dependence": dependence_table(result),
              "costs": costs_table(result), "targets": targets_table(result),
              "production": result.production.rename(columns={"output": "output_t_per_yr"}),
              "unmet": result.unmet, "round_trips": result.round_trips,
              "cross_trades": result.cross_trades,
              "binding": result.binding, "environment": environment_table(result),
              "rare_metals": rare_metals_table(result)}
    return {name: clean(frame) for name, frame in tables.items()}


def write_plan(result: Plan, out: str | Path, *, force: bool = False,
               protected: Sequence[str | Path] = ()) -> list[Path]:
    """Write the roadmap to ``out``, atomically.

    Every table as CSV and Parquet, the scenario as resolved, and ``run.json`` (status,
    cost, provenance) last.

    See :func:`reeplan.reporting.files.write_output_dir` for what is refused and how a
    kill mid-write leaves no half-written directory.
    """
    tables = plan_tables(result, build_worth(result))
    each = cost_of_each_target(result)
    tables["targets"] = clean(tables["targets"].merge(
        each.rename(columns={"cost_musd": "cost_of_target_musd"}), on="target", how="left"))
    prov = result.provenance
    cost, penalties = discounted_cost_musd(tables["costs"])
    meta: dict[str, Any] = {
        "scenario": result.name, "status": str(result.status),
        "discounted_cost_musd": cost, "discounted_penalties_musd": penalties,
        "discounted_penalties_by_part_musd": {k: v / 1e6 for k, v in
                                              result.penalties_by_part.items()},
        "cost_of_targets_musd": cost_of_targets_musd(result),
        "cost_of_each_target_musd": dict(zip(each["target"], each["cost_musd"], strict=True)),
        "objective_musd": result.cost / 1e6, "missed": list(result.missed),
        "provenance": prov.to_dict()}
    documents = {"scenario.resolved.json": prov.scenario or {}, "run.json": meta}
    return write_output_dir(out, tables, documents, force=force,
                            protected=[Path(p) for p in protected])
