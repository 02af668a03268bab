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
from reeplan.optimize.expressions import solved_stage_output, stage_ids
from reeplan.optimize.rare_metals import solved_rare_metals

__all__ = ["check_plan_balance", "plan_residuals"]

TOL = 1e-6
"""Relative tolerance of each identity (of the largest flow in it), plus the same absolute
[t]."""


Residual = tuple[np.ndarray, np.ndarray, tuple[str, ...]]
"""An identity's residual and scale over the named dimensions (numpy arrays, same shape)."""


def _a(da: xr.DataArray, *dims: str) -> np.ndarray:
    """Values of ``da`` with its dimensions in the order ``dims`` (all of them)."""
    return np.asarray(da.transpose(*dims).values if da.ndim > 1 else da.values, dtype=float)


def _stage_sum(sol: xr.Dataset, params: xr.Dataset, stage: str) -> np.ndarray:
    """Output of all plants of ``stage`` by year [t/yr]."""
    return _a(solved_stage_output(sol, params, stage), "year")  # type: ignore[arg-type]


def plan_residuals(sol: xr.Dataset, params: xr.Dataset) -> dict[str, Residual]:
    """Each identity's residual and scale, by name (the part of the chain it checks)."""
    out: dict[str, Residual] = {}
    ey = ("element", "year")
    n_el, n_yr = params.sizes["element"], params.sizes["year"]
    separated = np.zeros((n_el, n_yr))
    mines = [str(m) for m in params["mine"].values]
    prod = _a(sol["prod"], "candidate", "year")
    index = {str(c): i for i, c in enumerate(sol["candidate"].values)}
    if mines:
        mp = prod[[index[m] for m in mines]]
        held = _a(sol["conc_held"], "mine", "year") - _a(sol["conc_drawn"], "mine", "year")
        feed = mp - _a(sol["conc_export"].sum("partner"), "mine", "year") - held
        out["mining (concentrate sold within output)"] = (np.minimum(feed, 0.0), mp,
                                                           ("mine", "year"))
        level = np.cumsum(held, axis=1)
        out["concentrate stock level"] = (np.minimum(level, 0.0), np.abs(level) + mp,
                                          ("mine", "year"))
        dist = _a(params["distribution"], "mine", "element")
        separated = float(params["oxide_per_mined"]) * dist.T @ feed
        if stage_ids(params, "separation"):
            total = separated.sum(axis=0)
            out["separation"] = (_stage_sum(sol, params, "separation") - total, total, ("year",))
    imports = _a(sol["import_oxide"], "partner", "element", "year").sum(axis=0)
    exports = _a(sol["export_oxide"], "partner", "element", "year").sum(axis=0)
    used = _a(sol["metal_in"], *ey) + _a(sol["other_use"], *ey) + _a(sol["stock_oxide"], *ey)
    if "reserve_fill" in sol:  # a strategic reserve filled and drawn
        used = used + _a(sol["reserve_fill"], *ey) - _a(sol["reserve_draw"], *ey)
        level = np.cumsum(_a(sol["reserve_fill"], *ey) - _a(sol["reserve_draw"], *ey),
                          axis=1) + _a(params["reserve_initial"], "element")[:, None]
        cap = _a(params["reserve_cap"], "element")[:, None]
        out["reserve level"] = (np.minimum(level, 0.0) + np.maximum(level - cap, 0.0),
                                np.abs(level) + cap, ey)
    out["oxide market"] = (separated + imports - exports - used,
                           np.abs(separated) + imports + exports + used, ey)
    factor = _a(params["metal_per_oxide"], "element") * float(params["metal_recovery"])
    made = _a(sol["metal_in"], *ey) * factor[:, None]
    out["metal"] = (_stage_sum(sol, params, "metal") - made.sum(axis=0), made.sum(axis=0),
                    ("year",))
    share = _a(params["recipe_share"], "element") * float(params["recycling_recovery"])
    recycled = share[:, None] * _stage_sum(sol, params, "recycling")[None, :]
    m_imp = _a(sol["import_metal"], "partner", "element", "year").sum(axis=0)
    m_exp = _a(sol["export_metal"], "partner", "element", "year").sum(axis=0)
    m_used = _a(sol["alloy_use"], *ey) + _a(sol["stock_metal"], *ey)
    out["metal market"] = (made + recycled + m_imp - m_exp - m_used,
                           made + recycled + m_imp + m_exp + m_used, ey)
    magnets = _stage_sum(sol, params, "magnet")
    demand = _a(params["magnet_demand"], "year")
    supply = magnets + _a(sol["import_magnet"], "partner", "year").sum(axis=0) \
        - _a(sol["export_magnet"], "partner", "year").sum(axis=0) + _a(sol["unmet_magnets"],
                                                                        "year")
    out["magnet demand"] = (np.minimum(supply - demand, 0.0), demand + magnets, ("year",))
    online = _a(params["existing"], "candidate")[:, None] + np.einsum(
        "kdy,kd->ky", _a(params["online"], "candidate", "decision", "year"),
        _a(sol["build"], "candidate", "decision"))
    out["capacity"] = (np.maximum(prod - online, 0.0), online + prod, ("candidate", "year"))
    for name in ("other_use", "metal_in", "alloy_use", "stock_oxide", "stock_metal"):
        v = _a(sol[name], *ey)
        out[f"non-negative {name}"] = (np.minimum(v, 0.0), np.abs(v), ey)
    if "rm_feed" in sol:
        out.update(_rare_metal_residuals(sol, params))
    return out


def _rare_metal_residuals(sol: xr.Dataset, params: xr.Dataset) -> dict[str, Residual]:
    """The rare-metal chains: concentrate, refining and use, per commodity and year."""
    f = {k: _a(v, "commodity", "year") for k, v in solved_rare_metals(sol, params).items()}
    cy = ("commodity", "year")
    conc_in = f["mined"] + f["concentrate_imports"]
    conc_out = f["concentrate_exports"] + f["unprocessed"] + f["refining_feed"]
    recovery = _a(params["rm_recovery"], "commodity")[:, None]
    supply = f["refined"] + f["imports"] - f["exports"] + f["unmet"]
    use = f["consumption"] - f["downstream_use"] + f["conversion_feed"]
    per_conversion = 1 / _a(params["rm_conversion_recovery"], "commodity")[:, None]
    sent = f["exports"] + f["downstream_exports"] * per_conversion  # refined product sent
    second = f["converted"] + f["downstream_imports"] - f["downstream_exports"] \
        + f["downstream_unmet"]
    out: dict[str, Residual] = {
        "rare-metal concentrate": (conc_in - conc_out, conc_in + conc_out, cy),
        "rare-metal refining": (f["refined"] - recovery * f["refining_feed"],
                                f["refined"] + f["refining_feed"], cy),
        "rare-metal use": (supply - use, np.abs(supply) + use, cy),
        "rare-metal second product": (second - f["downstream_use"],
                                      np.abs(second) + f["downstream_use"], cy),
        "rare-metal re-export": (np.maximum(sent - f["refined"], 0.0),
                                 sent + f["refined"], cy),
        "rare-metal second-product re-export": (
            np.maximum(f["downstream_exports"] - f["converted"], 0.0),
            f["downstream_exports"] + f["converted"], cy)}
    for name in ("unprocessed", "refining_feed"):
        out[f"non-negative {name}"] = (np.minimum(f[name], 0.0), np.abs(f[name]), cy)
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
    alloy = _a(member, "component", "element") @ _a(sol["alloy_use"], "element", "year")
    need = _a(recipe_need, "component")[:, None] * _stage_sum(sol, params, "magnet")[None, :]
    residuals["alloy recipe"] = (alloy - need, alloy + need, ("component", "year"))
    worst: list[tuple[float, str]] = []
    for name, (res, scale, dims) in residuals.items():
        bad = np.abs(res) > TOL * (np.abs(scale) + 1.0)
        labels = [sol[d].values if d in sol.coords else member[d].values for d in dims]
        for idx in zip(*np.nonzero(bad), strict=True):
            where = ", ".join(f"{d}={labels[k][j]}" for k, (d, j) in enumerate(zip(
                dims, idx, strict=True)))
            worst.append((float(abs(res[idx])), f"{name} [{where}]: off by "
                                                 f"{float(res[idx]):,.6g} t"))
    if worst:
        worst.sort(key=lambda w: -w[0])
        shown = "; ".join(w[1] for w in worst[:5])
        raise MassBalanceError(f"the plan does not balance in {len(worst)} cell(s); worst: "
                               f"{shown}")
