"""Solve a :class:`~reeplan.optimize.problem.Problem` with HiGHS and explain the result.

A :class:`Plan` carries the status, the builds (each with the reason it pays), the
trajectories, the costs, the targets met or missed (by how much, from when) and the
constraints that bind, from the duals.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum

import linopy
import pandas as pd

from reeplan.errors import ReeplanError
from reeplan.optimize.model import (
    MUSD,
    build_model,
    consumption_reo,
    imports_reo,
    output_value,
)
from reeplan.optimize.problem import Candidate, PlanStage, Problem, Target

__all__ = ["Plan", "SolveStatus", "solve", "solve_myopic"]

TOL = 1e-6
"""Values below this [t or USD] are read as zero."""


class SolveStatus(StrEnum):
    """Outcome of a solve."""

    OPTIMAL = "optimal"
    FAILED = "failed"


@dataclass(frozen=True)
class Plan:
    """A solved roadmap.

    Attributes
    ----------
    status
        :class:`SolveStatus`.
    cost
        Discounted total cost [USD], penalties included.
    builds
        One row per build: candidate, stage, decision and online year, capacity [t/yr],
        capex [USD, undiscounted], reason.
    production
        Output per candidate and year [t/yr].
    trade
        Imports and exports per product, partner, element and year [t].
    targets
        Per target and year: required value, shortfall [t/yr], met.
    missed
        Plain-language lines: each missed target, shortfall and first year, and why.
    binding
        Constraint families with non-zero duals, largest total first (duals in M USD of
        discounted cost per unit of the constraint).
    """

    status: SolveStatus
    cost: float
    builds: pd.DataFrame
    production: pd.DataFrame
    trade: pd.DataFrame
    targets: pd.DataFrame
    missed: tuple[str, ...]
    binding: pd.DataFrame


def solve(problem: Problem) -> Plan:
    """Build the model of ``problem``, solve it with HiGHS (direct interface), explain it.

    Perfect foresight: every year of the horizon is decided at once. With integer sizes
    (a MILP), the builds found are then fixed and the linear rest solved again, so that
    the plan carries duals.
    """
    model = _solved(problem)
    if problem.integer_sizes and "build_on" in model.variables:
        built = model.variables["build"].solution.to_series()
        fixed = {(str(c), int(y)): max(float(v), 0.0)
                 for (c, y), v in zip(built.index.to_list(), built.to_list(), strict=True)}
        model = _solved(replace(problem, integer_sizes=False, fixed_builds=fixed))
    binding = _binding(model)
    targets = _targets(model, problem)
    return Plan(
        status=SolveStatus.OPTIMAL,
        cost=float(model.objective.value or 0.0) * MUSD,
        builds=_builds(model, problem, binding),
        production=_production(model),
        trade=_trade(model),
        targets=targets,
        missed=tuple(_missed(problem, targets, model)),
        binding=binding,
    )


def solve_myopic(problem: Problem, window: int, step: int = 1) -> Plan:
    """Rolling horizon: decide ``step`` years at a time, seeing only ``window`` years ahead.

    At each start year the model covers the horizon's first year to ``window - 1`` years
    after the start, with the builds of earlier steps fixed; it fixes the builds decided in
    the ``step`` years from the start. A final solve of the whole horizon with every build
    fixed gives the plan, its costs and its duals. Myopia never lowers the cost.
    """
    if window < 1 or step < 1 or step > window:
        raise ReeplanError(f"myopic window {window} and step {step}: expected "
                           f"1 <= step <= window")
    fixed: dict[tuple[str, int], float] = {}
    years = list(problem.years)
    for s in range(0, len(years), step):
        seen = tuple(years[: min(s + window, len(years))])
        sub = replace(problem, years=seen, fixed_builds=dict(fixed),
                      targets=tuple(t for t in problem.targets if t.from_year in seen))
        built = _solved(sub).variables["build"].solution.to_series()
        decided = set(years[s: s + step])
        for (cid, year), value in zip(built.index.to_list(), built.to_list(), strict=True):
            if int(year) in decided:
                fixed[(str(cid), int(year))] = max(float(value), 0.0)
    return solve(replace(problem, fixed_builds=fixed))


def _solved(problem: Problem) -> linopy.Model:
    model = build_model(problem)
    options: dict[str, object] = {"output_flag": False, "threads": 1, "random_seed": 0}
    with _native_stdout_silenced():
        status, condition = model.solve(solver_name="highs", io_api="direct",
                                        **options)  # type: ignore[arg-type]
    if status != "ok":
        raise ReeplanError(f"the solver did not find a plan ({status}: {condition}); the "
                           f"targets are soft, so this points to an error in the inputs")
    return model


@contextmanager
def _native_stdout_silenced() -> Iterator[None]:
    """Keep HiGHS's banner off standard output, where it would corrupt CSV or JSON.

    HiGHS prints it from its C++ constructor, before any option applies, so only the file
    descriptor can be redirected.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _solution(model: linopy.Model, name: str) -> pd.Series:
    s: pd.Series = model.variables[name].solution.to_series()
    return s


def _builds(model: linopy.Model, p: Problem, binding: pd.DataFrame) -> pd.DataFrame:
    by_id = {c.id: c for c in p.candidates}
    rows = []
    sol = _solution(model, "build")
    for (cid, year), cap in zip(sol.index.to_list(), sol.to_list(), strict=True):
        if cap <= TOL:
            continue
        c = by_id[str(cid)]
        rows.append({"candidate": c.id, "stage": c.stage, "decision_year": int(year),
                     "online_year": int(year) + c.lead_time, "capacity": float(cap),
                     "capex": float(cap) * c.capex,
                     "reason": _reason(c, int(year) + c.lead_time, p, model)})
    cols = ["candidate", "stage", "decision_year", "online_year", "capacity", "capex", "reason"]
    return pd.DataFrame(rows, columns=cols)


def _reason(c: Candidate, online: int, p: Problem, model: linopy.Model) -> str:
    """The target whose constraint binds while the build is online, else cost."""
    for t in p.targets:
        if t.kind == "output" and t.stage != c.stage:
            continue
        dual = model.constraints[f"target_{t.id}"].dual.to_series()
        later = dual[dual.index >= online]
        if (later.abs() > TOL).any():
            return f"target '{t.id}'"
    return "cheaper than importing"


def _production(model: linopy.Model) -> pd.DataFrame:
    s = _solution(model, "prod")
    return s.rename("output").reset_index()


def _trade(model: linopy.Model) -> pd.DataFrame:
    frames = []
    for name in ("import_oxide", "export_oxide", "import_metal", "export_metal",
                 "import_magnet", "export_magnet"):
        s = _solution(model, name)
        df = s[s > TOL].rename("tonnes").reset_index()
        flow, product = name.split("_")
        df.insert(0, "product", product)
        df.insert(0, "flow", flow)
        if "element" not in df:
            df["element"] = ""
        frames.append(df[["flow", "product", "partner", "element", "year", "tonnes"]])
    return pd.concat(frames, ignore_index=True)


def _targets(model: linopy.Model, p: Problem) -> pd.DataFrame:
    if not p.targets:
        return pd.DataFrame(columns=["target", "year", "required", "achieved", "shortfall",
                                     "met"])
    short = _solution(model, "shortfall")
    kinds = {t.kind for t in p.targets}
    imports = imports_reo(model, p).solution.to_series() if "import_share" in kinds else None
    consumption = consumption_reo(p).to_series()
    value = output_value(model, p).solution.to_series() if "output_value" in kinds else None
    prod = _solution(model, "prod")
    rows = []
    for t in p.targets:
        for year in p.years:
            if year < t.from_year:
                continue
            if t.kind in ("output", "self_sufficiency"):
                stage = t.stage if t.kind == "output" else "separation"
                ids = [c.id for c in p.of_stage(stage)]
                achieved = float(sum(prod.get((i, year), 0.0) for i in ids))
                if t.kind == "self_sufficiency":
                    c = float(consumption[year])
                    achieved = achieved / c if c > 0 else math.nan
            elif value is not None and t.kind == "output_value":
                achieved = float(value[year])
            else:
                assert imports is not None
                c = float(consumption[year])
                achieved = float(imports[year]) / c if c > 0 else math.nan
            s = float(short[(t.id, year)]) * (MUSD if t.kind == "output_value" else 1.0)
            rows.append({"target": t.id, "year": year, "required": t.value,
                         "achieved": achieved, "shortfall": s, "met": s <= TOL})
    return pd.DataFrame(rows)


_SHORTFALL_UNITS = {"output": "t/yr", "import_share": "t REO/yr of imports above the cap",
                    "self_sufficiency": "t REO/yr of domestic oxide", "output_value": "USD/yr"}


def _missed(p: Problem, targets: pd.DataFrame, model: linopy.Model) -> list[str]:
    lines = []
    for t in p.targets:
        rows = targets[(targets["target"] == t.id) & ~targets["met"]]
        if rows.empty:
            continue
        first = int(rows["year"].min())
        worst = float(rows["shortfall"].max())
        unit = _SHORTFALL_UNITS[t.kind]
        why = "; ".join(_why(t, first, p, model)) or "meeting it costs more than its penalty"
        lines.append(f"Target '{t.id}' is missed from {first} by up to {worst:,.0f} {unit}: "
                     f"{why}.")
    return lines


def _why(t: Target, year: int, p: Problem, model: linopy.Model) -> list[str]:
    stages: list[PlanStage] = [t.stage] if t.kind == "output" \
        else ["separation", "metal", "magnet"]
    built = _solution(model, "build").groupby(level=0).sum()
    reasons = []
    for stage in stages:
        for c in p.of_stage(stage):
            if c.technology not in p.allowed_technology and c.max_capacity > c.existing:
                reasons.append(f"{c.id} needs {c.technology} technology, which the "
                               f"scenario does not grant")
            elif p.years[0] + c.lead_time > year and c.max_capacity > c.existing:
                reasons.append(f"lead time of {c.id}: new capacity is online from "
                               f"{p.years[0] + c.lead_time} at the earliest")
            elif c.existing + float(built.get(c.id, 0.0)) >= c.max_capacity - TOL \
                    and c.max_capacity > 0:
                reasons.append(f"{c.id} is built to its maximum of {c.max_capacity:,.0f} t/yr")
        if not p.of_stage(stage):
            reasons.append(f"no {stage} candidate exists")
    if "reserves" in model.constraints:
        dual = model.constraints["reserves"].dual.to_series()
        reasons += [f"the reserve of {mine} is exhausted" for mine, d in dual.items()
                    if abs(d) > TOL]
    return reasons


def _binding(model: linopy.Model) -> pd.DataFrame:
    rows = []
    for name in model.constraints:
        dual = model.constraints[name].dual
        total = float(abs(dual).sum())
        if total > TOL:
            rows.append({"constraint": name, "total_abs_dual": total,
                         "cells": int((abs(dual) > TOL).sum())})
    df = pd.DataFrame(rows, columns=["constraint", "total_abs_dual", "cells"])
    return df.sort_values("total_abs_dual", ascending=False).reset_index(drop=True)
