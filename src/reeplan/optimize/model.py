"""The roadmap model on linopy: one ``define_*`` function per variable or constraint family.

:func:`build_model` reads as the table of contents. Units: tonnes per year [t/yr] of each
stage's product (mining and separation in t REO, metal in t metal, magnets in t magnet),
costs in US dollars discounted to the first year [USD].
"""

from __future__ import annotations

from collections.abc import Mapping

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from reeplan.errors import ChainDefinitionError
from reeplan.flows.recycling import magnet_reo_content
from reeplan.optimize.problem import PlanStage, Problem

__all__ = ["MUSD", "build_model"]

MUSD = 1e6
"""USD per unit of the objective, the budget and value targets: the model counts money in
millions of US dollars so that its coefficients stay within a few orders of magnitude."""


def build_model(p: Problem) -> linopy.Model:
    """Build the least-cost roadmap model of ``p`` (not solved)."""
    m = linopy.Model(force_dim_names=True)
    define_capacity(m, p)
    define_mining(m, p)
    define_trade(m, p)
    define_separation(m, p)
    define_metal(m, p)
    define_recycling(m, p)
    define_magnets(m, p)
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
    """Rare-earth oxide needed per tonne of finished magnet [t REO / t magnet].

    The magnet's content divided by the yield of magnet making (scrap included).
    """
    return magnet_reo_content(p.recipe, dict(p.metal_per_oxide)) / p.magnet_yield


# --------------------------------------------------------------------------- families


def define_capacity(m: linopy.Model, p: Problem) -> None:
    """``build`` (capacity decided per year), ``capacity`` online and ``prod``.

    capacity[k, y] = capacity[k, y-1] + build[k, y - lead_k], starting from the existing
    capacity; capacity never exceeds the candidate's maximum. Output stays within capacity,
    except that in a build's first year online only the ramp-up share of it is usable.
    Builds of a technology the scenario denies, or that would come online after the
    horizon, are fixed at zero; builds already decided (``fixed_builds``) are fixed at
    their value.
    """
    ids, years = _ids(p), _years(p)
    by_id = {c.id: c for c in p.candidates}
    y = np.array(years)
    allowed = np.array([by_id[i].technology in p.allowed_technology for i in ids])
    lead = np.array([by_id[i].lead_time for i in ids])
    in_time = (y[None, :] + lead[:, None]) <= y[-1]
    room = np.array([by_id[i].max_capacity - by_id[i].existing for i in ids])
    upper = np.where(allowed[:, None] & in_time, room[:, None], 0.0)
    lower = np.zeros_like(upper)
    for (cid, year), value in p.fixed_builds.items():
        i, j = ids.index(cid), years.index(year)
        if value > upper[i, j] + 1e-9:
            raise ChainDefinitionError(f"candidate '{cid}', field 'fixed_builds': {value} t/yr "
                                       f"decided in {year} exceeds what may be built then "
                                       f"({upper[i, j]})")
        lower[i, j] = upper[i, j] = value
    cy = {"candidate": ids, "year": years}
    build = m.add_variables(lower=xr.DataArray(lower, coords=cy),
                            upper=xr.DataArray(upper, coords=cy), name="build")
    maximum = xr.DataArray([by_id[i].max_capacity for i in ids], coords={"candidate": ids})
    upper_cap = xr.DataArray(np.repeat(maximum.values[:, None], len(years), axis=1), coords=cy)
    capacity = m.add_variables(lower=0, upper=upper_cap, name="capacity")
    prod = m.add_variables(lower=0, coords=[_coord("candidate", ids), _coord("year", years)],
                           name="prod")
    new = _coming_online(build, {i: by_id[i].lead_time for i in ids})
    existing = xr.DataArray(np.where(y[None, :] == y[0],
                                     np.array([by_id[i].existing for i in ids])[:, None], 0.0),
                            coords=cy)
    m.add_constraints(capacity - capacity.shift(year=1).fillna(0) - new == existing,
                      name="capacity_balance")
    usable = capacity if p.ramp_up == 1.0 else capacity - (1.0 - p.ramp_up) * new
    m.add_constraints(prod - usable <= 0, name="capacity")
    define_minimum_sizes(m, p, xr.DataArray(upper, coords=cy))


def define_minimum_sizes(m: linopy.Model, p: Problem, upper: xr.DataArray) -> None:
    """Each year's build is zero or between the candidate's minimum size and its room.

    Only with ``integer_sizes`` (a binary ``build_on`` per candidate and year: a MILP) and
    for candidates with a minimum size that may still be built.
    """
    if not p.integer_sizes:
        return
    sized = [c for c in sorted(p.candidates, key=lambda c: c.id)
             if c.min_size > 0 and float(upper.sel(candidate=c.id).max()) > 0]
    if not sized:
        return
    ids = [c.id for c in sized]
    on = m.add_variables(binary=True, coords=[_coord("candidate", ids),
                                              _coord("year", _years(p))], name="build_on")
    build = m.variables["build"].sel(candidate=ids)
    smallest = xr.DataArray([c.min_size for c in sized], coords={"candidate": ids})
    m.add_constraints(build - smallest * on >= 0, name="min_size")
    m.add_constraints(build - upper.sel(candidate=ids) * on <= 0, name="build_if_on")


def _coming_online(build: linopy.Variable, lead: dict[str, int]) -> linopy.LinearExpression:
    """Capacity coming online each year [t/yr]: build[k, y - lead_k]."""
    parts = []
    for years_ahead in sorted(set(lead.values())):
        ids = [i for i, v in lead.items() if v == years_ahead]
        parts.append(build.sel(candidate=ids).shift(year=years_ahead).fillna(0))
    return _merged(parts, dim="candidate").sel(candidate=list(lead))


def _merged(parts: list[linopy.LinearExpression], dim: str = "_term") -> linopy.LinearExpression:
    """Sum of ``parts`` in one operation (``dim="_term"``) or their stack along ``dim``."""
    merged = linopy.merge(parts, dim=dim)
    if not isinstance(merged, linopy.LinearExpression):
        raise TypeError(f"expected a linear expression, got {type(merged).__name__}")
    return merged


def define_mining(m: linopy.Model, p: Problem) -> None:
    """Concentrate exports and the reserve limits of mines.

    Mine output either feeds domestic separation or leaves as concentrate
    (``conc_export``, valued at zero: a conservative assumption). All mines together stay
    within the national reserve; a mine with its own reserve stays within it too [t REO].
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


def separated_oxide(m: linopy.Model, p: Problem) -> linopy.LinearExpression | None:
    """Separated oxide by element [t REO/yr]: recovery x mine feed x ore distribution."""
    feed = _mine_feed(m, p)
    if feed is None:
        return None
    out: linopy.LinearExpression = p.separation_recovery * (feed * _distribution(p)).sum("mine")
    return out


_TRADE = ("import_oxide", "export_oxide", "import_metal", "export_metal")
_MAGNET_TRADE = ("import_magnet", "export_magnet")


def define_trade(m: linopy.Model, p: Problem) -> None:
    """Trade per partner, product, element and year, within the policy world.

    Sanctioned partners and elements without a reference price cannot be traded (upper
    bound 0); export controls cap what a partner sells us of an element, oxide plus metal
    (``export_control``), or of magnets (an upper bound); ``traded`` counts the tonnes
    moved to and from each partner, both ways, which its routes' capacity bounds and its
    transport cost prices.
    """
    years, elements = _years(p), list(p.elements)
    partners = [q.id for q in p.partners]
    blocked = np.array([q.blocked for q in p.partners])
    tradable = np.array([p.tradable is None or e in p.tradable for e in elements])
    open_ = (~blocked[:, None, None] & tradable[None, :, None]).repeat(len(years), axis=2)
    coords = {"partner": partners, "element": elements, "year": years}
    upper = xr.DataArray(np.where(open_, np.inf, 0.0), coords=coords)
    for name in _TRADE:
        m.add_variables(lower=0, upper=upper, name=name)
    magnet_cap = np.array([0.0 if q.blocked else np.inf if q.magnet_cap is None
                           else q.magnet_cap for q in p.partners])
    upper_magnet = xr.DataArray(magnet_cap[:, None].repeat(len(years), 1),
                                coords={"partner": partners, "year": years})
    for name in _MAGNET_TRADE:
        m.add_variables(lower=0, upper=upper_magnet, name=name)
    v = m.variables
    caps = xr.DataArray([[np.nan if q.blocked else q.export_caps.get(e, np.nan)
                          for e in elements] for q in p.partners],
                        coords={"partner": partners, "element": elements})
    if bool(caps.notnull().any()):
        bought = v["import_oxide"] + v["import_metal"]
        m.add_constraints(bought <= caps.fillna(0.0), name="export_control",
                          mask=caps.notnull().broadcast_like(bought.const))
    routes = {q.id: q.route_capacity for q in p.partners
              if q.route_capacity is not None and not q.blocked}
    if routes or any(q.transport_cost for q in p.partners):
        traded = m.add_variables(lower=0, coords=[_coord("partner", partners),
                                                  _coord("year", years)], name="traded")
        moved = linopy.merge([*(v[n].sum("element") for n in _TRADE), 1 * v["import_magnet"],
                              1 * v["export_magnet"]])
        m.add_constraints(traded - moved == 0, name="traded_tonnes")
        if routes:
            limit = xr.DataArray(list(routes.values()), coords={"partner": list(routes)})
            m.add_constraints(traded.sel(partner=list(routes)) <= limit,
                              name="route_capacity")


def define_separation(m: linopy.Model, p: Problem) -> None:
    """Separated oxide by element, locked to the mines' distributions (the balance problem).

    Separated output = recovery x mine feed, element by element in the ore's ratios; total
    separated output is the separation plants' ``prod``. Oxide balance per element: output
    + imports - exports - disposal = metal feed + non-magnet use. Only recipe elements
    are made into metal.
    """
    years, elements = _years(p), list(p.elements)
    cy = {"element": elements, "year": years}
    in_recipe = np.array([e in _recipe_elements(p) for e in elements])
    metal_upper = xr.DataArray(np.where(in_recipe, np.inf, 0.0)[:, None].repeat(len(years), 1),
                               coords=cy)
    metal_in = m.add_variables(lower=0, upper=metal_upper, name="metal_in")
    ey = [_coord("element", elements), _coord("year", years)]
    other_use = m.add_variables(lower=0, coords=ey, name="other_use")
    dispose = m.add_variables(lower=0, coords=ey, name="dispose_oxide")
    seps = _ids(p, "separation")
    sep_total = m.variables["prod"].sel(candidate=seps).sum("candidate")
    feed = _mine_feed(m, p)
    separated = separated_oxide(m, p)
    if feed is not None:
        m.add_constraints(sep_total - p.separation_recovery * feed.sum("mine") == 0,
                          name="separation_feed")
    elif seps:
        m.add_constraints(sep_total == 0, name="separation_feed")
    v = m.variables
    terms = [v["import_oxide"].sum("partner"), -1 * v["export_oxide"].sum("partner"),
             -1 * dispose, -1 * metal_in, -1 * other_use]
    if separated is not None:
        terms.append(separated)
    m.add_constraints(_merged(terms) == 0, name="oxide_balance")
    other = xr.DataArray([p.other_demand.get(y, 0.0) for y in years], coords={"year": years})
    m.add_constraints(other_use.sum("element") >= other, name="other_demand")


def _factors(p: Problem) -> xr.DataArray:
    return xr.DataArray([p.metal_per_oxide.get(e, 1.0) for e in p.elements],
                        coords={"element": list(p.elements)})


def made_metal(m: linopy.Model, p: Problem) -> linopy.LinearExpression:
    """Metal made from domestic and imported oxide, by element [t/yr]."""
    made: linopy.LinearExpression = m.variables["metal_in"] * _factors(p) * p.metal_recovery
    return made


def define_metal(m: linopy.Model, p: Problem) -> None:
    """Metal making: oxide in, metal out at factor x recovery; capacity on total metal."""
    metals = _ids(p, "metal")
    m.add_constraints(m.variables["prod"].sel(candidate=metals).sum("candidate")
                      - made_metal(m, p).sum("element") == 0, name="metal_output")


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
    cy = {"element": elements, "year": years}
    in_recipe = np.array([e in _recipe_elements(p) for e in elements])
    alloy = m.add_variables(lower=0, upper=xr.DataArray(
        np.where(in_recipe, np.inf, 0.0)[:, None].repeat(len(years), 1), coords=cy),
        name="alloy_use")
    dispose = m.add_variables(lower=0, coords=[_coord("element", elements), _coord("year", years)],
                              name="dispose_metal")
    v = m.variables
    supply = [made_metal(m, p), v["import_metal"].sum("partner"),
              -1 * v["export_metal"].sum("partner"), -1 * dispose, -1 * alloy]
    if _ids(p, "recycling"):
        supply.append(_recycled_metal(m, p))
    m.add_constraints(_merged(supply) == 0, name="metal_balance")
    magnets = v["prod"].sel(candidate=_ids(p, "magnet")).sum("candidate")
    for component, wt in p.recipe.wt_pct.items():
        members = [e for e in p.recipe.members(component) if e in elements]
        need = magnets * (wt / 100 / p.magnet_yield)
        m.add_constraints(alloy.sel(element=members).sum("element") - need == 0,
                          name=f"recipe_{component}")
    demand = xr.DataArray([p.magnet_demand.get(y, 0.0) for y in years], coords={"year": years})
    m.add_constraints(magnets + v["import_magnet"].sum("partner")
                      - v["export_magnet"].sum("partner") >= demand, name="magnet_demand")


def define_budget(m: linopy.Model, p: Problem) -> None:
    """Capital spent each year stays within the budget [M USD/yr], when one is set."""
    if p.budget is None:
        return
    capex = _per_candidate(p, "capex") / MUSD
    m.add_constraints((m.variables["build"] * capex).sum("candidate") <= p.budget / MUSD,
                      name="budget")


def _per_candidate(p: Problem, attribute: str) -> xr.DataArray:
    ids = _ids(p)
    by_id = {c.id: c for c in p.candidates}
    return xr.DataArray([float(getattr(by_id[i], attribute)) for i in ids],
                        coords={"candidate": ids})


def imports_reo(m: linopy.Model, p: Problem) -> linopy.LinearExpression:
    """Imports of all rare-earth products in tonnes of oxide equivalent [t REO/yr]."""
    v = m.variables
    total: linopy.LinearExpression = (
        v["import_oxide"].sum(["partner", "element"])
        + (v["import_metal"] / _factors(p)).sum(["partner", "element"])
        + magnet_reo(p) * v["import_magnet"].sum("partner"))
    return total


def consumption_reo(p: Problem) -> xr.DataArray:
    """Domestic consumption in tonnes of oxide equivalent [t REO/yr], by year."""
    years = _years(p)
    return xr.DataArray([p.other_demand.get(y, 0.0) + magnet_reo(p) * p.magnet_demand.get(y, 0.0)
                         for y in years], coords={"year": years})


def output_value(m: linopy.Model, p: Problem) -> linopy.LinearExpression:
    """Domestic output at reference prices, each stage's value added once [USD/yr].

    Separated oxide at oxide prices; metal at its price less its oxide's; magnets at their
    price less their metal content's.
    """
    ox, mt = _price(p.oxide_price, p), _price(p.metal_price, p)
    metal_gain = mt - ox / _factors(p)
    content = sum(w / 100 / p.magnet_yield * p.metal_price.get(p.recipe.members(c)[0], 0.0)
                  for c, w in p.recipe.wt_pct.items())
    magnets = m.variables["prod"].sel(candidate=_ids(p, "magnet")).sum("candidate")
    value: linopy.LinearExpression = ((made_metal(m, p) * metal_gain).sum("element")
                                      + (p.magnet_price - content) * magnets)
    separated = separated_oxide(m, p)
    if separated is not None:
        value = value + (separated * ox).sum("element")
    return value


def define_targets(m: linopy.Model, p: Problem) -> None:
    """Soft targets: each has a ``shortfall`` variable priced in the objective.

    Shortfalls are in t/yr (output, and imports above an import-share cap) or M USD/yr
    (output value); they are zero before a target's first year.
    """
    years = _years(p)
    if not p.targets:
        return
    ids = [t.id for t in p.targets]
    starts = np.array([t.from_year for t in p.targets])
    upper = xr.DataArray(np.where(np.array(years)[None, :] >= starts[:, None], np.inf, 0.0),
                         coords={"target": ids, "year": years})
    short = m.add_variables(lower=0, upper=upper, name="shortfall")
    for t in p.targets:
        active = [y for y in years if y >= t.from_year]
        s = short.sel(target=t.id, year=active)
        if t.kind == "output":
            out = m.variables["prod"].sel(candidate=_ids(p, t.stage), year=active)
            m.add_constraints(out.sum("candidate") + s >= t.value, name=f"target_{t.id}")
        elif t.kind == "output_value":
            m.add_constraints(output_value(m, p).sel(year=active) / MUSD + s >= t.value / MUSD,
                              name=f"target_{t.id}")
        elif t.kind == "self_sufficiency":
            out = m.variables["prod"].sel(candidate=_ids(p, "separation"), year=active)
            need = t.value * consumption_reo(p).sel(year=active)
            m.add_constraints(out.sum("candidate") + s >= need, name=f"target_{t.id}")
        else:
            limit = t.value * consumption_reo(p).sel(year=active)
            m.add_constraints(imports_reo(m, p).sel(year=active) - s <= limit,
                              name=f"target_{t.id}")


def _price(table: Mapping[str, float], p: Problem) -> xr.DataArray:
    return xr.DataArray([table.get(e, 0.0) for e in p.elements],
                        coords={"element": list(p.elements)})


def define_objective(m: linopy.Model, p: Problem) -> None:
    """Discounted capex + opex + imports - exports + transport + penalties [M USD]."""
    partners = [q.id for q in p.partners]
    buy = xr.DataArray([1 + q.buy_premium for q in p.partners], coords={"partner": partners})
    sell = xr.DataArray([1 - q.sell_discount for q in p.partners], coords={"partner": partners})
    ox, mt = _price(p.oxide_price, p), _price(p.metal_price, p)
    v = m.variables
    # coefficients are combined first, so each term costs one multiplication and one sum
    terms = [(v["build"] * _per_candidate(p, "capex")).sum("candidate"),
             (v["prod"] * _per_candidate(p, "opex")).sum("candidate"),
             (v["import_oxide"] * (ox * buy)).sum(["partner", "element"]),
             (v["export_oxide"] * (-ox * sell)).sum(["partner", "element"]),
             (v["import_metal"] * (mt * buy)).sum(["partner", "element"]),
             (v["export_metal"] * (-mt * sell)).sum(["partner", "element"]),
             (v["import_magnet"] * (p.magnet_price * buy)).sum("partner"),
             (v["export_magnet"] * (-p.magnet_price * sell)).sum("partner")]
    if "traded" in v:
        freight = xr.DataArray([q.transport_cost for q in p.partners],
                               coords={"partner": partners})
        terms.append((v["traded"] * freight).sum("partner"))
    if p.targets:
        # a value shortfall is counted in M USD, a tonnage shortfall in tonnes
        penalty = xr.DataArray([t.penalty * (MUSD if t.kind == "output_value" else 1.0)
                                for t in p.targets],
                               coords={"target": [t.id for t in p.targets]})
        terms.append((v["shortfall"] * penalty).sum("target"))
    cost = _merged(terms)
    m.add_objective((cost * (_discount(p) / MUSD)).sum("year"))
