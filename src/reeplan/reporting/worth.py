"""What each build and the targets are worth, by re-solving without them.

A build's worth is how much more the plan costs without it: its builds set to zero and
operations re-optimised in the same HiGHS model (:class:`reeplan.optimize.Evaluator`),
penalties of any target it then misses included. The cost of the targets is the plan's
cost, penalties apart, less the cost of the same problem planned without targets.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import xarray as xr

from reeplan.optimize import Evaluation, Evaluator, Plan, solve
from reeplan.optimize.expressions import MUSD
from reeplan.optimize.targets import penalty_parts, shortfall_cost

__all__ = ["build_worth", "cost_of_each_target", "cost_of_targets_musd"]


def build_worth(plan: Plan) -> pd.DataFrame:
    """Per candidate built: how much more the plan costs without it [M USD, discounted].

    ``worth_musd`` counts everything the objective counts, penalties included, and splits
    into ``added_cost_musd`` (capex, opex, trade and freight), ``added_penalties_musd``
    (penalties of targets then missed) and ``added_unmet_musd`` (demand and offtake
    contracts then left unmet, at the unmet-demand penalty), each beyond the plan's own;
    ``most_missed_target`` is the target whose penalty rises most without it (empty when
    none rises), the build's reason.
    """
    built = plan.solution["build"]
    ids = [str(c) for c in built["candidate"].values if float(built.sel(candidate=c).sum()) > 0]
    cols = ["candidate", "worth_musd", "added_cost_musd", "added_penalties_musd",
            "added_unmet_musd", "most_missed_target"]
    if not ids:
        return pd.DataFrame(columns=cols)
    ev = Evaluator(plan.problem, plan.params)
    base = ev.evaluate(built)
    base_parts = _penalties(ev, base, plan)
    base_targets = _target_penalties(ev, base, plan)
    rows = []
    for cid in ids:
        without = built.copy()
        without.loc[{"candidate": cid}] = 0.0
        result = ev.evaluate(without)
        added = _target_penalties(ev, result, plan) - base_targets
        most = str(added.idxmax()) if len(added) and float(added.max()) > 0.05 * MUSD else ""
        parts = {k: (v - base_parts[k]) / MUSD for k, v in _penalties(ev, result, plan).items()}
        worth = (result.cost - base.cost) / MUSD
        missed = parts["targets missed"]
        unmet = parts["demand unmet"] + parts["contracts short"]
        rows.append({"candidate": cid, "worth_musd": worth,
                     "added_cost_musd": worth - missed - unmet,
                     "added_penalties_musd": missed, "added_unmet_musd": unmet,
                     "most_missed_target": most})
    return pd.DataFrame(rows, columns=cols)


def _target_penalties(ev: Evaluator, result: Evaluation, plan: Plan) -> pd.Series:
    """Discounted penalty of each target's shortfall in an evaluation [USD], by target."""
    if "shortfall" not in ev.lp.variables:
        return pd.Series(dtype=float)
    short = ev.values(result, "shortfall").fillna(0.0)
    cost = short * shortfall_cost(plan.params) * plan.params["discount"]
    return cost.sum("year").to_series()


def _penalties(ev: Evaluator, result: Evaluation, plan: Plan) -> dict[str, float]:
    """Discounted penalties of an evaluation [USD] by part (:func:`penalty_parts`)."""
    names = ["unmet_magnets", "unmet_other"] + [n for n in ("shortfall", "rm_unmet",
                                                            "rm_down_unmet", "offtake_short")
                                                if n in ev.lp.variables]
    values = xr.Dataset({n: ev.values(result, n) for n in names})
    return {k: float((v * plan.params["discount"]).sum())
            for k, v in penalty_parts(values, plan.params).items()}


def cost_of_targets_musd(plan: Plan) -> float:
    """What meeting (or trying to meet) the targets costs [M USD, discounted].

    The plan's cost without penalties less that of the same problem planned without
    targets.
    """
    free = solve(replace(plan.problem, targets=()), name=f"{plan.name} (no targets)")
    return (plan.cost - plan.penalties - (free.cost - free.penalties)) / MUSD


def cost_of_each_target(plan: Plan) -> pd.DataFrame:
    """What each target costs: the plan's cost less that of the plan without it.

    One row per target: ``cost_musd`` [M USD, discounted, penalties apart], the capex,
    opex and trade the target adds over the same problem planned with every other target
    but this one (an unmet target's cost is what the plan spends trying); one re-solve each.
    """
    cols = ["target", "cost_musd"]
    own = plan.cost - plan.penalties
    rows = []
    for t in plan.problem.targets:
        rest = tuple(x for x in plan.problem.targets if x.id != t.id)
        free = solve(replace(plan.problem, targets=rest), name=f"{plan.name} (no {t.id})")
        rows.append({"target": t.id, "cost_musd": (own - (free.cost - free.penalties)) / MUSD})
    return pd.DataFrame(rows, columns=cols)
