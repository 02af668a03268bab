"""Compare two solved plans: cost, targets and builds side by side."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from reeplan.optimize import Plan

__all__ = ["PlanComparison", "compare_plans"]


@dataclass(frozen=True)
class PlanComparison:
    """Two plans side by side.

    Attributes
    ----------
    names
        Names of plan ``a`` and plan ``b``.
    cost
        Discounted cost of each [USD] and the difference b - a.
    targets
        Per target: first year met in each plan (blank if never) and the largest
        shortfall in each [t/yr or USD/yr].
    builds
        Per candidate: capacity built in each plan [t/yr], the difference, and the first
        year online in each.
    """

    names: tuple[str, str]
    cost: pd.Series
    targets: pd.DataFrame
    builds: pd.DataFrame


def compare_plans(a: Plan, b: Plan, names: tuple[str, str] = ("a", "b")) -> PlanComparison:
    """Set plans ``a`` and ``b`` side by side (see :class:`PlanComparison`)."""
    na, nb = names
    cost = pd.Series({na: a.cost, nb: b.cost, "difference": b.cost - a.cost})
    return PlanComparison(names, cost, _targets(a, b, names), _builds(a, b, names))


def _targets(a: Plan, b: Plan, names: tuple[str, str]) -> pd.DataFrame:
    frames = []
    for plan, name in zip((a, b), names, strict=True):
        t = plan.targets
        if t.empty:
            continue
        met = t[t["met"]].groupby("target")["year"].min().rename(f"first_met_{name}")
        worst = t.groupby("target")["shortfall"].max().rename(f"max_shortfall_{name}")
        frames += [met, worst]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, axis=1).rename_axis("target").reset_index()


def _builds(a: Plan, b: Plan, names: tuple[str, str]) -> pd.DataFrame:
    frames = []
    for plan, name in zip((a, b), names, strict=True):
        g = plan.builds.groupby("candidate")
        frames += [g["capacity"].sum().rename(f"capacity_{name}"),
                   g["online_year"].min().rename(f"first_online_{name}")]
    df = pd.concat(frames, axis=1).rename_axis("candidate").reset_index()
    for name in names:
        df[f"capacity_{name}"] = df[f"capacity_{name}"].fillna(0.0)
    df["capacity_difference"] = df[f"capacity_{names[1]}"] - df[f"capacity_{names[0]}"]
    return df.sort_values("candidate").reset_index(drop=True)
