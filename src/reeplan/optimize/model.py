"""The roadmap model on linopy: one ``define_*`` function per variable or constraint family.

:func:`build_model` reads as the table of contents. Units: tonnes per year [t/yr] of each
stage's product (mining and separation in t REO, metal in t metal, magnets in t magnet),
costs in US dollars discounted to the first year [USD].
"""

from __future__ import annotations

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from reeplan.optimize.problem import PlanStage, Problem

__all__ = ["build_model"]


def build_model(p: Problem) -> linopy.Model:
    """Build the least-cost roadmap model of ``p`` (not solved)."""
    m = linopy.Model(force_dim_names=True)
    define_capacity(m, p)
    define_mining(m, p)
    define_separation(m, p)
    define_metal(m, p)
    define_recycling(m, p)
    define_magnets(m, p)
    define_trade(m, p)
    define_budget(m, p)
    define_targets(m, p)
    define_objective(m, p)
    return m


# --------------------------------------------------------------------------- coordinates


def _coord(name: str, values: list[str] | list[int]) -> pd.Index:
    return pd.Index(values, name=name)


def _years(p: Problem) -> list[int]:
    return list(p.years)


def _ids(p: Problem, stage: PlanStage | None = None) -> list[str]:
    cands = sorted(p.candidates, key=lambda c: c.id) if stage is None else p.of_stage(stage)
    return [c.id for c in cands]


def _recipe_elements(p: Problem) -> list[str]:
    return sorted({e for c in p.recipe.wt_pct for e in p.recipe.members(c)})


def _discount(p: Problem) -> xr.DataArray:
    y = np.array(p.years)
    return xr.DataArray((1 + p.discount_rate) ** -(y - y[0]), dims="year",
                        coords={"year": list(p.years)})


def magnet_reo(p: Problem) -> float:
    """Rare-earth oxide equivalent of one tonne of magnet [t REO / t magnet]."""
    return sum(w / 100 / p.metal_per_oxide[p.recipe.members(c)[0]]
               for c, w in p.recipe.wt_pct.items()) / p.magnet_yield


# --------------------------------------------------------------------------- families


def define_capacity(m: linopy.Model, p: Problem) -> None:
    """``build`` (new capacity decided per year), ``prod`` and the capacity limit.

    Capacity decided in year tau is online from tau + lead time; existing capacity is
    online throughout; total capacity never exceeds the candidate's maximum. Builds of a
    technology the scenario denies are fixed at zero.
    """
    ids, years = _ids(p), _years(p)
    by_id = {c.id: c for c in p.candidates}
    room = [0.0 if by_id[i].technology not in p.allowed_technology
            else by_id[i].max_capacity - by_id[i].existing for i in ids]
    upper = xr.DataArray(np.repeat(np.array(room)[:, None], len(years), axis=1),
                         coords={"candidate": ids, "year": years})
    build = m.add_variables(lower=0, upper=upper, name="build")
    prod = m.add_variables(lower=0, coords=[_coord("candidate", ids), _coord("year", years)],
                           name="prod")
    lead = np.array([by_id[i].lead_time for i in ids])
    y = np.array(years)
    online = (y[None, None, :] + lead[:, None, None]) <= y[None, :, None]
    mask = xr.DataArray(online.astype(float), coords={"candidate": ids, "year": years,
                                                      "decision": years})
    built = (build.rename({"year": "decision"}) * mask).sum("decision")
    existing = xr.DataArray([by_id[i].existing for i in ids], coords={"candidate": ids})
    m.add_constraints(prod - built <= existing, name="capacity")
    m.add_constraints(build.sum("year") <= xr.DataArray(room, coords={"candidate": ids}),
                      name="max_capacity")


def define_mining(m: linopy.Model, p: Problem) -> None:
    """Concentrate exports and the reserve limit of each mine.

    Mine output either feeds domestic separation or leaves as concentrate
    (``conc_export``, valued at zero: a conservative assumption).
    """
    mines = p.of_stage("mining")
    if not mines:
        return
    ids = [c.id for c in mines]
    m.add_variables(lower=0, coords=[_coord("mine", ids), _coord("year", _years(p))],
                    name="conc_export")
    prod = m.variables["prod"].sel(candidate=ids).rename({"candidate": "mine"})
    m.add_constraints(m.variables["conc_export"] <= prod, name="conc_export_limit")
    if p.national_reserve is not None:
        m.add_constraints(prod.sum(["mine", "year"]) <= p.national_reserve,
                          name="national_reserve")
    bounded = [c for c in mines if c.reserve is not None]
    if bounded:
        bids = [c.id for c in bounded]
        limit = xr.DataArray([c.reserve for c in bounded], coords={"mine": bids})
        m.add_constraints(prod.sel(mine=bids).sum("year") <= limit, name="reserves")


def _mine_feed(m: linopy.Model, p: Problem) -> linopy.LinearExpression | None:
    mines = p.of_stage("mining")
    if not mines:
        return None
    ids = [c.id for c in mines]
    prod = m.variables["prod"].sel(candidate=ids).rename({"candidate": "mine"})
    feed: linopy.LinearExpression = prod - m.variables["conc_export"]
    return feed


def _distribution(p: Problem) -> xr.DataArray:
    mines = p.of_stage("mining")
    return xr.DataArray([[c.distribution.get(e, 0.0) for e in p.elements] for c in mines],
                        coords={"mine": [c.id for c in mines], "element": list(p.elements)})


def define_separation(m: linopy.Model, p: Problem) -> None:
    """Separated oxide by element, locked to the mines' distributions (the balance problem).

    Separated output = recovery x mine feed, element by element in the ore's ratios; total
    separated output is the separation plants' ``prod``. Oxide balance per element: output
    + imports - exports - disposal = metal feed + non-magnet use.
    """
    years, elements = _years(p), list(p.elements)
    coords = [_coord("element", elements), _coord("year", years)]
    for name in ("metal_in", "other_use", "dispose_oxide"):
        m.add_variables(lower=0, coords=coords, name=name)
    seps = _ids(p, "separation")
    sep_total = m.variables["prod"].sel(candidate=seps).sum("candidate")
    feed = _mine_feed(m, p)
    if feed is None:
        if seps:
            m.add_constraints(sep_total == 0, name="separation_feed")
        separated: linopy.LinearExpression | int = 0
    else:
        m.add_constraints(sep_total - p.separation_recovery * feed.sum("mine") == 0,
                          name="separation_feed")
        separated = p.separation_recovery * (feed * _distribution(p)).sum("mine")
    not_recipe = [e for e in elements if e not in _recipe_elements(p)]
    if not_recipe:
        m.add_constraints(m.variables["metal_in"].sel(element=not_recipe) == 0,
                          name="metal_in_recipe_only")
    m.add_variables(lower=0, coords=[_coord("partner", [q.id for q in p.partners]), *coords],
                    name="import_oxide")
    m.add_variables(lower=0, coords=[_coord("partner", [q.id for q in p.partners]), *coords],
                    name="export_oxide")
    m.add_constraints(
        separated + m.variables["import_oxide"].sum("partner")
        - m.variables["export_oxide"].sum("partner") - m.variables["dispose_oxide"]
        - m.variables["metal_in"] - m.variables["other_use"] == 0, name="oxide_balance")
    other = xr.DataArray([p.other_demand.get(y, 0.0) for y in years], coords={"year": years})
    m.add_constraints(m.variables["other_use"].sum("element") >= other, name="other_demand")


def define_metal(m: linopy.Model, p: Problem) -> None:
    """Metal making: oxide in, metal out at factor x recovery; capacity on total metal."""
    factors = xr.DataArray([p.metal_per_oxide.get(e, 1.0) for e in p.elements],
                           coords={"element": list(p.elements)})
    total = (m.variables["metal_in"] * factors * p.metal_recovery).sum("element")
    metals = _ids(p, "metal")
    m.add_constraints(m.variables["prod"].sel(candidate=metals).sum("candidate") - total == 0,
                      name="metal_output")


def define_recycling(m: linopy.Model, p: Problem) -> None:
    """Recycling plants take end-of-life magnets, up to what is collectable each year."""
    years = _years(p)
    plants = _ids(p, "recycling")
    if not plants:
        return
    scrap = xr.DataArray([p.scrap_available.get(y, 0.0) for y in years], coords={"year": years})
    m.add_constraints(m.variables["prod"].sel(candidate=plants).sum("candidate") <= scrap,
                      name="scrap_available")


def _recycled_metal(m: linopy.Model, p: Problem) -> linopy.LinearExpression:
    plants = _ids(p, "recycling")
    share = dict.fromkeys(p.elements, 0.0)
    for c, w in p.recipe.wt_pct.items():
        share[p.recipe.members(c)[0]] += w / 100 * p.recycling_recovery
    s = xr.DataArray([share[e] for e in p.elements], coords={"element": list(p.elements)})
    recycled: linopy.LinearExpression = m.variables["prod"].sel(candidate=plants).sum(
        "candidate") * s
    return recycled


def define_magnets(m: linopy.Model, p: Problem) -> None:
    """Metal balance, the magnet recipe and the magnet balance.

    Metal per element: made + recycled + imported - exported - disposed = used in alloy.
    Alloy per recipe component: the elements that supply it (Nd or Pr for 'Nd') cover
    magnets x wt% / yield. Magnets made + imported - exported >= demand.
    """
    years, elements = _years(p), list(p.elements)
    partners = [q.id for q in p.partners]
    coords = [_coord("element", elements), _coord("year", years)]
    alloy = m.add_variables(lower=0, coords=coords, name="alloy_use")
    for name in ("import_metal", "export_metal"):
        m.add_variables(lower=0, coords=[_coord("partner", partners), *coords], name=name)
    dispose = m.add_variables(lower=0, coords=coords, name="dispose_metal")
    factors = xr.DataArray([p.metal_per_oxide.get(e, 1.0) for e in elements],
                           coords={"element": elements})
    made = m.variables["metal_in"] * factors * p.metal_recovery
    m.add_constraints(made + _recycled_metal(m, p) + m.variables["import_metal"].sum("partner")
                      - m.variables["export_metal"].sum("partner") - dispose - alloy == 0,
                      name="metal_balance")
    magnets = m.variables["prod"].sel(candidate=_ids(p, "magnet")).sum("candidate")
    for component, wt in p.recipe.wt_pct.items():
        members = [e for e in p.recipe.members(component) if e in elements]
        need = magnets * (wt / 100 / p.magnet_yield)
        m.add_constraints(alloy.sel(element=members).sum("element") - need == 0,
                          name=f"recipe_{component}")
    used = {e for c in p.recipe.wt_pct for e in p.recipe.members(c)}
    spare = [e for e in elements if e not in used]
    if spare:
        m.add_constraints(alloy.sel(element=spare) == 0, name="alloy_recipe_only")
    pc = [_coord("partner", partners), _coord("year", years)]
    imp = m.add_variables(lower=0, coords=pc, name="import_magnet")
    exp = m.add_variables(lower=0, coords=pc, name="export_magnet")
    demand = xr.DataArray([p.magnet_demand.get(y, 0.0) for y in years], coords={"year": years})
    m.add_constraints(magnets + imp.sum("partner") - exp.sum("partner") >= demand,
                      name="magnet_demand")


def define_trade(m: linopy.Model, p: Problem) -> None:
    """Sanctions block partners; export controls cap what a partner sells us."""
    if p.tradable is not None:
        untradable = [e for e in p.elements if e not in p.tradable]
        if untradable:
            for name in ("import_oxide", "export_oxide", "import_metal", "export_metal"):
                m.add_constraints(m.variables[name].sel(element=untradable) == 0,
                                  name=f"untradable_{name}")
    for q in p.partners:
        if q.blocked:
            for name in ("import_oxide", "export_oxide", "import_metal", "export_metal",
                         "import_magnet", "export_magnet"):
                m.add_constraints(m.variables[name].sel(partner=q.id) == 0,
                                  name=f"blocked_{name}_{q.id}")
            continue
        for element, cap in sorted(q.export_caps.items()):
            if element not in p.elements:
                continue
            bought = (m.variables["import_oxide"].sel(partner=q.id, element=element)
                      + m.variables["import_metal"].sel(partner=q.id, element=element))
            m.add_constraints(bought <= cap, name=f"export_control_{q.id}_{element}")
        if q.magnet_cap is not None:
            m.add_constraints(m.variables["import_magnet"].sel(partner=q.id) <= q.magnet_cap,
                              name=f"export_control_{q.id}_magnet")


def define_budget(m: linopy.Model, p: Problem) -> None:
    """Capital spent each year stays within the budget [USD/yr], when one is set."""
    if p.budget is None:
        return
    ids = _ids(p)
    by_id = {c.id: c for c in p.candidates}
    capex = xr.DataArray([by_id[i].capex for i in ids], coords={"candidate": ids})
    m.add_constraints((m.variables["build"] * capex).sum("candidate") <= p.budget,
                      name="budget")


def imports_reo(m: linopy.Model, p: Problem) -> linopy.LinearExpression:
    """Imports of all rare-earth products in tonnes of oxide equivalent [t REO/yr]."""
    inv = xr.DataArray([1 / p.metal_per_oxide.get(e, 1.0) for e in p.elements],
                       coords={"element": list(p.elements)})
    return (m.variables["import_oxide"].sum(["partner", "element"])
            + (m.variables["import_metal"] * inv).sum(["partner", "element"])
            + magnet_reo(p) * m.variables["import_magnet"].sum("partner"))


def consumption_reo(p: Problem) -> xr.DataArray:
    """Domestic consumption in tonnes of oxide equivalent [t REO/yr], by year."""
    years = _years(p)
    return xr.DataArray([p.other_demand.get(y, 0.0) + magnet_reo(p) * p.magnet_demand.get(y, 0.0)
                         for y in years], coords={"year": years})


def define_targets(m: linopy.Model, p: Problem) -> None:
    """Soft targets: each has a ``shortfall`` variable [t/yr] priced in the objective."""
    years = _years(p)
    if not p.targets:
        return
    ids = [t.id for t in p.targets]
    short = m.add_variables(lower=0, coords=[_coord("target", ids), _coord("year", years)],
                            name="shortfall")
    for t in p.targets:
        active = [y for y in years if y >= t.from_year]
        s = short.sel(target=t.id, year=active)
        if t.kind == "output":
            out = m.variables["prod"].sel(candidate=_ids(p, t.stage), year=active)
            m.add_constraints(out.sum("candidate") + s >= t.value, name=f"target_{t.id}")
        else:
            limit = t.value * consumption_reo(p).sel(year=active)
            m.add_constraints(imports_reo(m, p).sel(year=active) - s <= limit,
                              name=f"target_{t.id}")
        inactive = [y for y in years if y < t.from_year]
        if inactive:
            m.add_constraints(short.sel(target=t.id, year=inactive) == 0,
                              name=f"target_{t.id}_inactive")


def _price(p: Problem, table: dict[str, float] | object) -> xr.DataArray:
    assert isinstance(table, dict)
    return xr.DataArray([table.get(e, 0.0) for e in p.elements],
                        coords={"element": list(p.elements)})


def define_objective(m: linopy.Model, p: Problem) -> None:
    """Discounted capex + opex + imports - exports + shortfall penalties [USD]."""
    ids = _ids(p)
    by_id = {c.id: c for c in p.candidates}
    partners = [q.id for q in p.partners]
    capex = xr.DataArray([by_id[i].capex for i in ids], coords={"candidate": ids})
    opex = xr.DataArray([by_id[i].opex for i in ids], coords={"candidate": ids})
    buy = xr.DataArray([1 + q.buy_premium for q in p.partners], coords={"partner": partners})
    sell = xr.DataArray([1 - q.sell_discount for q in p.partners], coords={"partner": partners})
    ox, mt = _price(p, dict(p.oxide_price)), _price(p, dict(p.metal_price))
    v = m.variables
    cost = ((v["build"] * capex).sum("candidate") + (v["prod"] * opex).sum("candidate")
            + (v["import_oxide"] * ox * buy).sum(["partner", "element"])
            - (v["export_oxide"] * ox * sell).sum(["partner", "element"])
            + (v["import_metal"] * mt * buy).sum(["partner", "element"])
            - (v["export_metal"] * mt * sell).sum(["partner", "element"])
            + (v["import_magnet"] * (p.magnet_price * buy)).sum("partner")
            - (v["export_magnet"] * (p.magnet_price * sell)).sum("partner"))
    if p.targets:
        penalty = xr.DataArray([t.penalty for t in p.targets],
                               coords={"target": [t.id for t in p.targets]})
        cost = cost + (v["shortfall"] * penalty).sum("target")
    m.add_objective((cost * _discount(p)).sum("year"))
