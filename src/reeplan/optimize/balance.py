"""Mass balance of a plan, recomputed from its solution, never taken from the solver.

Every identity of the chain is evaluated on the solved flows, per stage, element and year:
mine output by element against concentrate sold and feed; separated oxide against the
separation plants' output; the oxide and metal markets (made + imported + recycled =
exported + used + stocked); the alloy recipe; magnet supply against demand; output within
online capacity. A violation raises :class:`~reeplan.errors.MassBalanceError` naming the
worst cells.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from reeplan.errors import MassBalanceError
from reeplan.optimize.expressions import stage_ids

__all__ = ["check_plan_balance", "plan_residuals"]

TOL = 1e-6
"""Relative tolerance of each identity (of the largest flow in it), plus the same absolute
[t]."""


def _sum_stage(sol: xr.Dataset, params: xr.Dataset, stage: str) -> xr.DataArray:
    ids = stage_ids(params, stage)  # type: ignore[arg-type]
    return sol["prod"].sel(candidate=ids).sum("candidate")


def plan_residuals(sol: xr.Dataset, params: xr.Dataset) -> dict[str, tuple[xr.DataArray,
                                                                             xr.DataArray]]:
    """Each identity's residual and scale, by name ("stage" of the chain it checks)."""
    out: dict[str, tuple[xr.DataArray, xr.DataArray]] = {}
    mines = list(params["mine"].values)
    prod = sol["prod"]
    separated = xr.zeros_like(params["oxide_price"])
    if mines:
        mp = prod.sel(candidate=mines).rename(candidate="mine")
        conc = sol["conc_export"]
        feed = mp - conc
        out["mining (concentrate sold within output)"] = (feed.clip(max=0.0), mp)
        separated = params["oxide_per_mined"] * (params["distribution"] * feed).sum("mine")
        if stage_ids(params, "separation"):
            out["separation"] = (_sum_stage(sol, params, "separation") - separated.sum("element"),
                                 separated.sum("element"))
    imports, exports = sol["import_oxide"].sum("partner"), sol["export_oxide"].sum("partner")
    used = sol["metal_in"] + sol["other_use"] + sol["stock_oxide"]
    out["oxide market"] = (separated + imports - exports - used,
                           abs(separated) + imports + exports + used)
    f = params["metal_per_oxide"] * params["metal_recovery"]
    made = sol["metal_in"] * f
    out["metal"] = (_sum_stage(sol, params, "metal") - made.sum("element"), made.sum("element"))
    recycled = _sum_stage(sol, params, "recycling") * params["recipe_share"] \
        * params["recycling_recovery"]
    m_imp, m_exp = sol["import_metal"].sum("partner"), sol["export_metal"].sum("partner")
    m_used = sol["alloy_use"] + sol["stock_metal"]
    out["metal market"] = (made + recycled + m_imp - m_exp - m_used,
                           made + recycled + m_imp + m_exp + m_used)
    magnets = _sum_stage(sol, params, "magnet")
    supply = magnets + sol["import_magnet"].sum("partner") - sol["export_magnet"].sum("partner") \
        + sol["unmet_magnets"]
    out["magnet demand"] = ((supply - params["magnet_demand"]).clip(max=0.0),
                            params["magnet_demand"] + magnets)
    online = params["existing"] + (params["online"] * sol["build"]).sum("decision")
    out["capacity"] = ((prod - online).clip(min=0.0), online + prod)
    for name in [v for v in sol.data_vars if str(v).startswith("stock_") or v in (
            "other_use", "metal_in", "alloy_use", "import_oxide", "export_oxide")]:
        out[f"non-negative {name}"] = (sol[name].clip(max=0.0), abs(sol[name]))
    return out


def check_plan_balance(sol: xr.Dataset, params: xr.Dataset, recipe_need: xr.DataArray,
                       member: xr.DataArray) -> None:
    """Raise :class:`~reeplan.errors.MassBalanceError` if any identity fails.

    Parameters
    ----------
    sol
        The plan's solution dataset.
    params
        The parameter dataset it was solved with.
    recipe_need, member
        Metal per tonne of magnet by recipe component [t/t], and which elements supply
        each component (0/1 over component and element).
    """
    residuals = plan_residuals(sol, params)
    alloy = (sol["alloy_use"] * member).sum("element")
    need = _sum_stage(sol, params, "magnet") * recipe_need
    residuals["alloy recipe"] = (alloy - need, alloy + need)
    worst: list[tuple[float, str]] = []
    for name, pair in residuals.items():
        res, scale = xr.broadcast(*pair)
        bad = abs(res) > TOL * (abs(scale) + 1.0)
        if bool(bad.any()):
            for idx in zip(*np.nonzero(bad.values), strict=True):
                cell = res[tuple(idx)]
                labels = ", ".join(f"{d}={cell[d].item()}" for d in res.dims)
                worst.append((float(abs(cell)), f"{name} [{labels}]: off by "
                                                f"{float(cell):,.6g} t"))
    if worst:
        worst.sort(key=lambda w: -w[0])
        shown = "; ".join(w[1] for w in worst[:5])
        raise MassBalanceError(f"the plan does not balance in {len(worst)} cell(s); worst: "
                               f"{shown}")
