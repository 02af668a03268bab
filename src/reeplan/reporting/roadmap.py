"""Write a plan to a directory people and programs read: its tables and its provenance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reeplan.optimize import Plan
from reeplan.reporting.files import write_output_dir

__all__ = ["TABLES", "write_plan"]

TABLES = ("builds", "production", "trade", "targets", "unmet", "binding")
"""The plan's tables written by :func:`write_plan`, as CSV and Parquet."""


def write_plan(result: Plan, out: str | Path, *, force: bool = False,
               protected: Sequence[str | Path] = ()) -> list[Path]:
    """Write the roadmap to ``out``, atomically.

    Every table as CSV and Parquet, the scenario as resolved, and ``run.json`` (status,
    cost, provenance) last.

    See :func:`reeplan.reporting.files.write_output_dir` for what is refused and how a
    kill mid-write leaves no half-written directory.
    """
    tables = {name: getattr(result, name) for name in TABLES}
    prov = result.provenance
    meta = {"scenario": result.name, "status": str(result.status),
            "discounted_cost_usd": result.cost, "discounted_penalties_usd": result.penalties,
            "missed": list(result.missed), "provenance": prov.to_dict()}
    documents = {"scenario.resolved.json": prov.scenario or {}, "run.json": meta}
    return write_output_dir(out, tables, documents, force=force,
                            protected=[Path(p) for p in protected])
