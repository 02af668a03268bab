"""The roadmap model: one ``define_*`` function per variable or constraint family.

:func:`build_model` reads as the table of contents. Units: tonnes per year [t/yr] of each
stage's product (mining and separation in t REO, metal in t metal, magnets in t magnet),
money in millions of US dollars discounted to the first year [M USD]. Every number comes
from the parameter dataset (:func:`reeplan.optimize.params.build_parameters`); those a
risk draw may vary enter as functions of it, so :class:`reeplan.optimize.highs.HighsModel`
can change them in place.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from reeplan.errors import ChainDefinitionError
from reeplan.optimize.expressions import (
    MUSD,
    mine_feed,
    recipe_arrays,
    separated_oxide,
    stage_ids,
    stage_output,
    tolled_ids,
    tolled_oxide,
)
from reeplan.optimize.lp import LinearProgram, Param, Term
from reeplan.optimize.params import (
    build_parameters,
    buy_price,
    oxide_price,
    reference_price_values,
    sale_price,
)
from reeplan.optimize.problem import Problem
from reeplan.optimize.rare_metals import define_rare_metals
from reeplan.optimize.targets import define_targets, shortfall_cost

__all__ = ["MUSD", "STEADY_OPERATION_USD_PER_T", "build_model", "steady_operation_cost"]


def build_model(p: Problem, params: Param | None = None) -> LinearProgram:
    """Build the least-cost roadmap model of ``p`` (not solved).

    ``params`` defaults to :func:`~reeplan.optimize.params.build_parameters` of ``p``; pass
    it to reuse a dataset built once (myopic windows, risk draws).
    """
    lp = LinearProgram(build_parameters(p) if params is None else params)
    define_capacity(lp)
    define_minimum_sizes(lp, p)
    define_mining(lp)
    define_trade(lp)
    define_separation(lp)
    define_metal(lp)
    define_recycling(lp)
    define_magnets(lp, p)
    define_exports_within_supply(lp, p)
    define_local_content(lp, p)
    define_rare_metals(lp, p)
    define_environment_caps(lp)
    define_budget(lp)
    define_targets(lp, p)
    define_objective(lp)
    define_steady_operation(lp)
    return lp


STEADY_OPERATION_USD_PER_T = 1.0
"""What each tonne a plant's output changes from one year to the next costs in the
objective [USD/t]: a tie-break, far below any real cost (opex is thousands of USD/t), so
that of plans costing the same the planner picks the one whose plants run steadily. Without
it, two plants of equal cost may swap output from year to year, one standing idle for a
year between full years; no real operator does that. It is not a cost of the plan:
:attr:`reeplan.optimize.solve.Plan.cost` leaves it out."""


def define_steady_operation(lp: LinearProgram) -> None:
    """Output changes of each plant from year to year, priced at the tie-break.

    prod[k, y] - prod[k, y - 1] = rise[k, y] - fall[k, y] for every year after the first;
    rise and fall cost :data:`STEADY_OPERATION_USD_PER_T` a tonne, discounted.
    """
    p = lp.params
    years = p["year"].values
    if len(years) < 2:
        return
    later = xr.DataArray(years > years[0], coords={"year": years}, dims="year")
    coords = _coords(p, "candidate", "year")
    mask = later.broadcast_like(p["existing"])
    rise = lp.add_variables("output_rise", coords, mask=mask)
    fall = lp.add_variables("output_fall", coords, mask=mask)
    change = xr.DataArray(np.eye(len(years)) - np.eye(len(years), k=-1),
                          coords={"year": years, "t": years}, dims=("year", "t"))
    prod = lp.variables["prod"].rename(year="t")
    lp.add_constraints("output_change", [prod.term(change).sum("t"), -rise.term(),
                                         fall.term()], "==", 0.0, coords, mask=mask)

    def price(q: Param) -> xr.DataArray:
        cost: xr.DataArray = (STEADY_OPERATION_USD_PER_T * q["discount"] / MUSD
                              ).broadcast_like(q["existing"])
        return cost

    lp.add_cost(rise.term(price))
    lp.add_cost(fall.term(price))


def steady_operation_cost(solution: xr.Dataset, params: Param) -> float:
    """The tie-break's part of a solution's objective [M USD, discounted]."""
    if "output_rise" not in solution:
        return 0.0
    moved = (solution["output_rise"].fillna(0.0) + solution["output_fall"].fillna(0.0))
    return float((moved * params["discount"]).sum()) * STEADY_OPERATION_USD_PER_T / MUSD


def _coords(params: Param, *dims: str) -> dict[str, Any]:
    """The dataset's own index of each dimension (reused, not rebuilt)."""
    return {d: params.indexes[d] for d in dims}


# --------------------------------------------------------------------------- capacity


def buildable(params: Param) -> xr.DataArray:
    """Where a build may be decided: granted technology, room to grow, online in time."""
    last = int(params["year"].values[-1])
    online = params["decision"] + params["lead_time"]
    in_time = (online <= last) & (online >= params["online_from"])
    room = params["max_capacity"] > params["existing"]
    fixed = params["fixed_build"].notnull()
    return (params["allowed"] & room & in_time) | fixed


def define_capacity(lp: LinearProgram) -> None:
    """``build`` (capacity decided per year) and ``prod``, within the online capacity.

    Output of candidate k in year y stays within its existing capacity plus every build,
    times the share of it usable then (the online schedule: lead time, delay and ramp-up,
    a parameter): prod[k, y] <= existing[k] + sum_d online[k, d, y] build[k, d]. All builds
    together stay within the room to the candidate's maximum. Builds of a technology the
    scenario denies, or that would come online after the horizon, are not created; builds
    already decided are fixed at their value.
    """
    p = lp.params
    room = p["max_capacity"] - p["existing"]
    fixed = p["fixed_build"]
    upper = xr.where(fixed.notnull(), fixed, room.broadcast_like(fixed))
    lower = xr.where(fixed.notnull(), fixed, 0.0)
    build = lp.add_variables("build", _coords(p, "candidate", "decision"), lower=lower,
                             upper=upper, mask=buildable(p))
    prod = lp.add_variables("prod", _coords(p, "candidate", "year"))

    def online(q: Param) -> xr.DataArray:
        return -q["online"]

    lp.add_constraints("capacity", [prod.term(), (build.term(online)).sum("decision")], "<=",
                       lambda q: q["existing"].broadcast_like(q["year"]),
                       _coords(p, "candidate", "year"))
    bound = p["offtake"] > 0
    if bool(bound.any()):  # offtake contracts: at least a share of the capacity online

        def taken(q: Param) -> xr.DataArray:
            share: xr.DataArray = q["online"] * q["offtake"]
            return share

        # a contract the chain cannot feed (its inputs capped or blocked) falls short at
        # the unmet-demand penalty and is reported, never an infeasible model
        short = lp.add_variables("offtake_short", _coords(p, "candidate", "year"),
                                 mask=bound)
        lp.add_constraints("offtake", [prod.term(), -(build.term(taken)).sum("decision"),
                                       short.term()], ">=",
                           lambda q: q["existing"] * q["offtake"],
                           _coords(p, "candidate", "year"), mask=bound)
    has_build = (build.cols >= 0).any("decision")
    lp.add_constraints("build_limit", [build.sum("decision")], "<=", room,
                       _coords(p, "candidate"), mask=has_build)
    groups = p["variant_of"].values
    shared = sorted({str(g) for g, c in zip(groups, p["candidate"].values, strict=True)
                     if str(g) != str(c)})
    if shared:  # technology variants share their base candidate's maximum capacity
        member = xr.DataArray([[float(str(g) == s) for g in groups] for s in shared],
                              coords={"base": shared, "candidate": p["candidate"].values},
                              dims=("base", "candidate"))
        base_room = room.sel(candidate=shared).rename(candidate="base")
        lp.add_constraints("technology_share", [build.term(member).sum("candidate",
                                                                      "decision")],
                           "<=", base_room, {"base": shared})


def define_minimum_sizes(lp: LinearProgram, problem: Problem) -> None:
    """Each year's build is zero or between the candidate's minimum size and its room.

    Only with ``integer_sizes`` (a binary ``build_on`` per candidate and year: a MILP) and
    for candidates with a minimum size that may still be built.
    """
    p = lp.params
    if not problem.integer_sizes:
        return
    build = lp.variables["build"]
    sized = (build.cols >= 0) & (p["min_size"] > 0) & p["fixed_build"].isnull()
    if not bool(sized.any()):
        return
    coords = _coords(p, "candidate", "decision")
    on = lp.add_variables("build_on", coords, upper=1.0, mask=sized, integer=True)
    room = p["max_capacity"] - p["existing"]
    lp.add_constraints("min_size", [build.term(), on.term(-p["min_size"])], ">=", 0.0, coords,
                       mask=sized)
    lp.add_constraints("build_if_on", [build.term(), on.term(-room)], "<=", 0.0, coords,
                       mask=sized)


# --------------------------------------------------------------------------- mining


def define_mining(lp: LinearProgram) -> None:
    """Concentrate sold and the reserve limits of mines [t REO].

    ``conc_export`` earns :func:`concentrate_price`: the contained oxides' value at the
    reference prices times the concentrate share (a realised concentrate price over its
    oxides' value), when any partner is open to buy it.

    Mine output either feeds domestic cracking and separation or leaves as concentrate,
    sold to a partner (its market, its discount, its freight and routes), or a domestic
    mine stores it (``conc_held``, at ``conc_holding_cost`` per tonne and year) to feed or
    sell later (``conc_drawn``; the stock never below zero); a mine abroad (equity or
    offtake) only feeds, its concentrate never re-exported. All
    domestic mines together stay within the national reserve; a mine with its own reserve
    stays within it too.
    """
    p = lp.params
    mines = list(p["mine"].values)
    if not mines:
        return
    # sold from a domestic mine to a partner open that year
    sellable = (~p["mine_abroad"] & p["buys"] & ~p["banned"]).transpose(
        "mine", "partner", "year")
    conc = lp.add_variables("conc_export", _coords(p, "mine", "partner", "year"),
                            mask=sellable)
    # one column per mine and year for what leaves, so that the many rows that read the
    # feed (each element's oxide balance, exports, targets) do not grow with the partners
    sold = lp.add_variables("conc_sold", _coords(p, "mine", "year"))
    lp.add_constraints("conc_sold_total", [sold.term(), -conc.sum("partner")], "==", 0.0,
                       _coords(p, "mine", "year"))
    prod = lp.variables["prod"].sel(candidate=mines).rename(candidate="mine")
    # a domestic mine may store concentrate it cannot sell or feed yet, and draw it later
    stores = bool(np.isfinite(float(p["conc_holding_cost"])))
    home = (~p["mine_abroad"] & stores).broadcast_like(p["discount"]).transpose("mine",
                                                                                "year")
    held = lp.add_variables("conc_held", _coords(p, "mine", "year"), mask=home)
    drawn = lp.add_variables("conc_drawn", _coords(p, "mine", "year"), mask=home)
    lp.add_constraints("conc_stock_level",
                       [held.rename(year="t").term(cumulative).sum("t"),
                        -drawn.rename(year="t").term(cumulative).sum("t")], ">=", 0.0,
                       _coords(p, "mine", "year"), mask=home)

    def hold(q: Param) -> xr.DataArray:
        return q["conc_holding_cost"] * holding_years(q) / MUSD

    lp.add_cost(held.term(hold))
    lp.add_cost(drawn.term(lambda q: -hold(q)))
    lp.add_constraints("conc_export_limit", [sold.term(), held.term(), -drawn.term(),
                                             -prod.term()], "<=", 0.0,
                       _coords(p, "mine", "year"))
    if np.isfinite(float(p["national_reserve"])):
        lp.add_constraints("national_reserve",
                           [prod.term((~p["mine_abroad"]).astype(float)).sum("mine", "year")],
                           "<=", float(p["national_reserve"]), {})
    reserve = p["reserve"].sel(candidate=mines).rename(candidate="mine")
    bounded = reserve < np.inf
    if bool(bounded.any()):
        lp.add_constraints("reserves", [prod.sum("year")], "<=", reserve.where(bounded, 0.0),
                           _coords(p, "mine"), mask=bounded)


# --------------------------------------------------------------------------- trade


def define_trade(lp: LinearProgram) -> None:
    """Trade per partner, product, element and year, within the policy world.

    Sanctioned partners and elements without a reference price are not traded (no column);
    metal is traded for the recipe's elements only. Export controls cap what a partner sells
    us of an element, oxide plus metal in oxide equivalent (``export_control``), or of
    magnets (an upper bound); what its industry uses caps what it buys from us of an
    element (``import_control``), what its separators take from others the concentrate
    (``concentrate_buy_cap``), and what its market absorbs the magnets; the routes to a
    partner carry at most its route capacity of rare-earth products (oxide, metal,
    magnets, concentrate sold), both ways
    (``route_capacity``); rare metals are not on these routes.
    """
    p = lp.params
    open_ = ~p["blocked"] & p["tradable"] & ~p["banned"]  # (partner, element, year)
    coords = _coords(p, "partner", "element", "year")
    like = xr.zeros_like(oxide_price(p) * p["freight"], dtype=bool)
    buys = p["buys"]  # a partner behind a tariff wall sells to us but buys nothing
    lp.add_variables("import_oxide", coords, mask=open_.broadcast_like(like))
    lp.add_variables("export_oxide", coords, mask=(open_ & buys).broadcast_like(like))
    metal_open = open_ & p["in_recipe"]
    lp.add_variables("import_metal", coords, mask=metal_open.broadcast_like(like))
    lp.add_variables("export_metal", coords, mask=(metal_open & buys).broadcast_like(like))
    magnet_coords = _coords(p, "partner", "year")
    magnet_open = (~p["blocked"] & ~p["banned"]).broadcast_like(p["discount"])
    lp.add_variables("import_magnet", magnet_coords, mask=magnet_open,
                     upper=lambda q: q["magnet_cap"].broadcast_like(q["year"]))
    lp.add_variables("export_magnet", magnet_coords, mask=magnet_open & buys,
                     upper=lambda q: q["magnet_buy_cap"].broadcast_like(q["year"]))
    v = lp.variables
    capped = p["export_cap"].notnull() & open_
    if bool(capped.any()):
        lp.add_constraints("export_control", [v["import_oxide"].term(),
                                              v["import_metal"].term(1 / p["metal_per_oxide"])],
                           "<=", lambda q: q["export_cap"].fillna(0.0).broadcast_like(q["year"]),
                           coords, mask=capped.broadcast_like(like))
    absorbed = p["import_cap"].notnull() & open_ & buys
    if bool(absorbed.any()):
        lp.add_constraints("import_control", [v["export_oxide"].term(),
                                              v["export_metal"].term(1 / p["metal_per_oxide"])],
                           "<=", lambda q: q["import_cap"].fillna(0.0).broadcast_like(q["year"]),
                           coords, mask=absorbed.broadcast_like(like))
    conc_capped = (p["conc_buy_cap"] < np.inf) & buys
    if "conc_export" in v and bool(conc_capped.any()):
        lp.add_constraints("concentrate_buy_cap", [v["conc_export"].sum("mine")], "<=",
                           lambda q: q["conc_buy_cap"].where(
                               np.isfinite(q["conc_buy_cap"]), 0.0).broadcast_like(q["year"]),
                           magnet_coords, mask=conc_capped.broadcast_like(p["discount"]))
    routed = (p["route_capacity"] < np.inf) & ~p["blocked"]
    if bool(routed.any()):
        moved = [v[n].sum("element") for n in ("import_oxide", "export_oxide", "import_metal",
                                               "export_metal")]
        moved += [v["import_magnet"].term(), v["export_magnet"].term()]
        if "conc_export" in v:
            moved.append(v["conc_export"].sum("mine"))
        lp.add_constraints("route_capacity", moved, "<=",
                           lambda q: q["route_capacity"].where(
                               np.isfinite(q["route_capacity"]), 0.0).broadcast_like(q["year"]),
                           magnet_coords, mask=routed.broadcast_like(p["discount"]))


# --------------------------------------------------------------------------- stages


def define_separation(lp: LinearProgram) -> None:
    """Separated oxide by element, locked to the mines' distributions (the balance problem).

    Separated output = concentrate, cracking and separation recoveries x mine feed,
    element by element in the ore's ratios; its total is the separation plants' ``prod``
    (capacity on output). Oxide balance per element: output + imports - exports -
    stockpiled = metal feed + non-magnet use. Non-magnet demand is met element by element
    in its split, each element's use exactly its demand (what is left is exported or
    stockpiled, never used up unseen); a problem without a split (small tests) lets any
    oxide meet it. Demand no supply reaches is unmet at the stated penalty.
    """
    p = lp.params
    coords = _coords(p, "element", "year")
    recipe = p["in_recipe"].broadcast_like(p["discount"])
    metal_in = lp.add_variables("metal_in", coords, mask=recipe)
    pooled = bool(p["other_pooled"])
    split = (p["other_split"] > 0).broadcast_like(p["discount"])
    other_use = lp.add_variables("other_use", coords, mask=None if pooled else split)
    stock = lp.add_variables("stock_oxide", coords)
    unmet = lp.add_variables("unmet_other", coords, mask=split) if not pooled \
        else lp.add_variables("unmet_other", _coords(p, "year"))
    seps = stage_ids(p, "separation")
    mines = list(p["mine"].values)
    if seps:
        separated = [t.sum("element") for t in separated_oxide(lp)] if mines else []
        lp.add_constraints("separation_feed", [stage_output(lp, "separation"),
                                               *[-t for t in separated]], "==", 0.0,
                           _coords(p, "year"))
        if "feed_group" in p.dims and mines:  # plants that separate only their own mines
            share = (p["oxide_per_mined"] * p["distribution"]).sum("element")
            own = [(t * share * p["mine_in_group"]).sum("mine") for t in mine_feed(lp)]
            lp.add_constraints("dedicated_feed",
                               [lp.variables["prod"].term(p["plant_in_group"]).sum(
                                   "candidate"), *[-t for t in own]], "<=", 0.0,
                               _coords(p, "feed_group", "year"))
    elif mines:  # nothing at home separates ore: all of it leaves as concentrate
        lp.add_constraints("unseparated_ore", [t.sum("mine") for t in mine_feed(lp)], "==",
                           0.0, _coords(p, "year"))
    tolled = tolled_ids(p)
    if tolled and mines:  # part of the feed is separated abroad and comes back as oxide
        toll = lp.add_variables("toll_feed", _coords(p, "mine", "year"))
        lp.add_constraints("toll_feed_within_feed", [toll.term(), *[-t for t in mine_feed(lp)]],
                           "<=", 0.0, _coords(p, "mine", "year"))
        lp.add_constraints("tolled_separation",
                           [lp.variables["prod"].sel(candidate=tolled).sum("candidate"),
                            *[-t.sum("element") for t in tolled_oxide(lp)]], "==", 0.0,
                           _coords(p, "year"))
    v = lp.variables
    terms = [v["import_oxide"].sum("partner"), -v["export_oxide"].sum("partner"),
             -stock.term(), -metal_in.term(), -other_use.term(), *define_reserve(lp)]
    if mines and seps:
        terms += separated_oxide(lp)
    lp.add_constraints("oxide_balance", terms, "==", 0.0, coords)
    if pooled:
        lp.add_constraints("other_demand", [other_use.sum("element"), unmet.term()], ">=",
                           lambda q: q["other_demand"], _coords(p, "year"))
    else:
        lp.add_constraints("other_demand", [other_use.term(), unmet.term()], "==",
                           lambda q: q["other_demand"] * q["other_split"], coords, mask=split)


def cumulative(params: Param) -> xr.DataArray:
    """1 where year ``t`` is at or before ``year``, over (year, t): sums a flow to a level."""
    years = params["year"].values
    return xr.DataArray((years[None, :] <= years[:, None]).astype(float),
                        coords={"year": years, "t": years}, dims=("year", "t"))


def holding_years(params: Param) -> xr.DataArray:
    """Discounted years a tonne put into the reserve in year ``year`` is held [years]."""
    later = cumulative(params).rename(year="held", t="year")  # held >= year
    held: xr.DataArray = (later * params["discount"].rename(year="held")).sum("held")
    return held


def define_reserve(lp: LinearProgram) -> list[Term]:
    """A strategic reserve per element [t REO], carried from year to year.

    ``reserve_fill`` and ``reserve_draw`` enter the oxide balance; the level (what was
    there before the horizon plus all fills less all draws so far) stays between 0 and the
    cap; each tonne held costs ``reserve_holding_cost`` a year (charged, discounted, on the
    fill for every year from then on, and credited back on the draw). Returns the oxide
    balance terms (none without a reserve).
    """
    p = lp.params
    held = p["reserve_cap"] > 0
    if not bool(held.any()):
        return []
    coords = _coords(p, "element", "year")
    mask = held.broadcast_like(p["discount"])
    fill = lp.add_variables("reserve_fill", coords, mask=mask)
    draw = lp.add_variables("reserve_draw", coords, mask=mask)
    level = [fill.rename(year="t").term(cumulative).sum("t"),
             -draw.rename(year="t").term(cumulative).sum("t")]
    lp.add_constraints("reserve_full", level, "<=",
                       lambda q: (q["reserve_cap"] - q["reserve_initial"]).broadcast_like(
                           q["discount"]), coords, mask=mask)
    lp.add_constraints("reserve_empty", level, ">=",
                       lambda q: (-q["reserve_initial"]).broadcast_like(q["discount"]), coords,
                       mask=mask)

    def hold(q: Param) -> xr.DataArray:
        return q["reserve_holding_cost"] * holding_years(q) / MUSD

    lp.add_cost(fill.term(hold))
    lp.add_cost(draw.term(lambda q: -hold(q)))
    return [-fill.term(), draw.term()]


def define_metal(lp: LinearProgram) -> None:
    """Metal making: oxide in, metal out at factor x recovery; capacity on metal output."""
    p = lp.params
    made = lp.variables["metal_in"].term(p["metal_per_oxide"] * p["metal_recovery"])
    lp.add_constraints("metal_output", [stage_output(lp, "metal"), -made.sum("element")], "==",
                       0.0, _coords(p, "year"))


def define_recycling(lp: LinearProgram) -> None:
    """Recycling plants take end-of-life magnets, up to what is collectable each year."""
    p = lp.params
    if not stage_ids(p, "recycling"):
        return
    lp.add_constraints("scrap_available", [stage_output(lp, "recycling")], "<=",
                       lambda q: q["scrap"], _coords(p, "year"))


def recycled_metal(lp: LinearProgram) -> Term:
    """Metal recovered from recycled magnets, by element [t/yr]."""
    p = lp.params
    return stage_output(lp, "recycling") * (p["recipe_share"] * p["recycling_recovery"])


def define_magnets(lp: LinearProgram, problem: Problem) -> None:
    """Metal balance, the magnet recipe and the magnet balance.

    Metal per element: made + recycled + imported - exported - stockpiled = used in alloy.
    Alloy per recipe component: the elements that supply it (Nd or Pr for 'Nd') cover
    magnets x wt% / (alloy yield x magnet yield). Magnets made + imported - exported +
    unmet >= demand, unmet demand at the stated penalty.
    """
    p = lp.params
    coords = _coords(p, "element", "year")
    recipe = p["in_recipe"].broadcast_like(p["discount"])
    alloy = lp.add_variables("alloy_use", coords, mask=recipe)
    stock = lp.add_variables("stock_metal", coords, mask=recipe)
    unmet = lp.add_variables("unmet_magnets", _coords(p, "year"))
    v = lp.variables
    supply = [v["metal_in"].term(p["metal_per_oxide"] * p["metal_recovery"]),
              v["import_metal"].sum("partner"), -v["export_metal"].sum("partner"),
              -stock.term(), -alloy.term()]
    if stage_ids(p, "recycling"):
        supply.append(recycled_metal(lp))
    lp.add_constraints("metal_balance", supply, "==", 0.0, coords, mask=recipe)
    need, member = recipe_arrays(problem.recipe, p)
    components = list(problem.recipe.wt_pct)
    lp.add_constraints("recipe", [(alloy.term(member)).sum("element"),
                                  stage_output(lp, "magnet") * -need], "==", 0.0,
                       {"component": components, "year": list(p["year"].values)})
    lp.add_constraints("magnet_demand", [stage_output(lp, "magnet"),
                                         v["import_magnet"].sum("partner"),
                                         -v["export_magnet"].sum("partner"), unmet.term()],
                       ">=", lambda q: q["magnet_demand"], _coords(p, "year"))


def define_local_content(lp: LinearProgram, problem: Problem) -> None:
    """Offtake contracts: a stage's input comes at least a share from the stage before it.

    ``metal``: oxide fed to metal making at home [t REO] comes at least the share from
    oxide separated at home (recipe elements, summed); ``magnet``: metal used in alloy at
    home [t] comes at least the share from metal made or recycled at home. Both in total
    over the recipe's elements and per year.
    """
    p, v = lp.params, lp.variables
    coords = _coords(p, "year")
    share = problem.local_content
    unknown = sorted(set(share) - {"metal", "magnet"})
    if unknown:
        raise ChainDefinitionError(f"local content for {', '.join(unknown)}: only 'metal' "
                                   f"and 'magnet' are modelled")
    pick = p["in_recipe"].astype(float)
    if share.get("metal", 0.0) > 0:
        home = [(t * pick).sum("element") for t in separated_oxide(lp)] \
            if list(p["mine"].values) and stage_ids(p, "separation") else []
        lp.add_constraints("local_content_metal",
                           [v["metal_in"].sum("element") * share["metal"], *[-t for t in home]],
                           "<=", 0.0, coords)
    _magnet_inputs(lp, problem)
    if share.get("magnet", 0.0) > 0:
        made = [v["metal_in"].term(p["metal_per_oxide"] * p["metal_recovery"]).sum("element")]
        if stage_ids(p, "recycling"):
            made.append(recycled_metal(lp).sum("element"))
        lp.add_constraints("local_content_magnet",
                           [v["alloy_use"].sum("element") * share["magnet"],
                            *[-t for t in made]], "<=", 0.0, coords)


def define_exports_within_supply(lp: LinearProgram, problem: Problem) -> None:
    """No re-export: what leaves the country is what it separates, recycles or makes.

    Per element and year, oxide and metal exported, in oxide equivalent [t REO], stay
    within the oxide separated at home plus the metal recycled at home; magnets exported
    stay within the magnets made at home [t]. Imported material may be used at home or
    processed into a product for the home market, never sold on: a plan that imports to
    re-export lives off price gaps between markets, not off a supply chain. A scenario may
    allow transit trade (``policy.allow_reexport``).
    """
    if problem.allow_reexport:
        return
    p = lp.params
    v = lp.variables
    per_oxide = 1 / p["metal_per_oxide"]
    out = [v["export_oxide"].sum("partner"), v["export_metal"].term(per_oxide).sum("partner")]
    home = [-t for t in separated_oxide(lp)] if list(p["mine"].values) and \
        stage_ids(p, "separation") else []
    if stage_ids(p, "recycling"):
        home.append(-(recycled_metal(lp) * per_oxide))
    tradable = p["tradable"].broadcast_like(p["discount"])
    lp.add_constraints("exports_within_supply", [*out, *home], "<=", 0.0,
                       _coords(p, "element", "year"), mask=tradable)
    lp.add_constraints("magnet_exports_within_make",
                       [v["export_magnet"].sum("partner"), -stage_output(lp, "magnet")], "<=",
                       0.0, _coords(p, "year"))


def define_environment_caps(lp: LinearProgram) -> None:
    """Environmental caps: what the plants at home emit or use of an indicator a year.

    Each plant's output times its stage's intensity (mines abroad and tolling count for
    nothing here: their toll falls abroad) stays within the scenario's cap.
    """
    p = lp.params
    capped = p["environment_cap"] < np.inf
    if not bool(capped.any()):
        return
    lp.add_constraints("environment_cap",
                       [lp.variables["prod"].term(p["environment"]).sum("candidate")], "<=",
                       lambda q: q["environment_cap"].where(q["environment_cap"] < np.inf,
                                                           0.0).broadcast_like(q["discount"]),
                       _coords(p, "indicator", "year"),
                       mask=capped.broadcast_like(p["discount"]))


def define_budget(lp: LinearProgram) -> None:
    """Capital spent each year stays within the budget [M USD/yr], when one is set."""
    p = lp.params
    if not np.isfinite(float(p["budget"])):
        return
    lp.add_constraints("budget", [lp.variables["build"].term(
        lambda q: q["capex"] / MUSD).sum("candidate")], "<=", lambda q: q["budget"] / MUSD,
        {"decision": list(p["decision"].values)})


# --------------------------------------------------------------------------- objective


def concentrate_price(q: Param) -> xr.DataArray:
    """What a tonne of REO in a mine's concentrate fetches from each partner [USD/t].

    Over (mine, partner, year): its oxides at what the partner pays for them
    (:func:`~reeplan.optimize.params.sale_price`: its market, less its discount, never
    above a free seller's price) times the concentrate share (a realised concentrate
    price over its oxides' value).
    """
    sale = sale_price(q, "oxide")  # (partner, element, year), the dataset's elements
    dist = q.variables["distribution"].transpose("mine", "element").values
    values = np.einsum("me,pey->mpy", dist, sale.values) \
        * float(q.variables["concentrate_value_share"].values)
    return xr.DataArray(values, dims=("mine", "partner", "year"),
                        coords=[q.indexes["mine"], q.indexes["partner"], q.indexes["year"]])


def concentrate_cost(q: Param) -> xr.DataArray:
    """What a tonne of REO in concentrate from a mine abroad costs [USD/t], (mine, year).

    Its oxides at reference prices times the concentrate share, times the supplying
    partner's premium; 0 for a domestic mine (whose cost is its opex).
    """
    v = q.variables
    values = np.einsum("me,ey->my", v["distribution"].transpose("mine", "element").values,
                       reference_price_values(q)) * float(v["concentrate_value_share"].values) \
        * v["mine_buy_factor"].values[:, None]
    return xr.DataArray(values, dims=("mine", "year"),
                        coords=[q.indexes["mine"], q.indexes["year"]])


def trade_cost(q: Param, product: str, flow: str) -> xr.DataArray:
    """Discounted cost of a tonne of ``product`` bought or sold [M USD/t].

    Over (partner, element, year): :func:`~reeplan.optimize.params.buy_price` (the
    partner's market price times its premium; a licensed export at the dearest market's),
    or, negative, :func:`~reeplan.optimize.params.sale_price` (less its discount, and never
    above what the same tonne costs from a free seller), plus freight either way; computed
    on arrays, since risk draws re-price it thousands of times.
    """
    if flow == "import":
        price = buy_price(q, product)
        unit = price.values
    else:
        price = sale_price(q, product)
        unit = -price.values
    freight = q.variables["freight"].values[:, None, None]
    discount = q.variables["discount"].values[None, None, :]
    return price.copy(deep=False, data=(unit + freight) * discount / MUSD)


def magnet_trade_cost(q: Param, flow: str) -> xr.DataArray:
    """Discounted cost of a tonne of magnets bought or sold [M USD/t], (partner, year).

    The magnet price times the partner's premium (or, negative, less its discount), plus
    freight; on arrays, as :func:`trade_cost`.
    """
    v = q.variables
    factor = v["buy_factor" if flow == "import" else "sell_factor"].values[:, None]
    sign = 1.0 if flow == "import" else -1.0
    unit = sign * v["magnet_price"].values[None, :] * factor + v["freight"].values[:, None]
    return xr.DataArray(unit * v["discount"].values[None, :] / MUSD,
                        coords=[q.indexes["partner"], q.indexes["year"]],
                        dims=("partner", "year"))


def define_objective(lp: LinearProgram) -> None:
    """Discounted capex + opex + imports - exports + freight + penalties [M USD].

    Imports cost the partner's market price times its premium, exports earn it less its
    discount; each tonne moved either way pays the partner's freight; a
    target's shortfall and unmet demand cost their stated penalties.
    """
    v = lp.variables

    def at(year_dim: str = "year"):  # type: ignore[no-untyped-def]
        def discounted(f):  # type: ignore[no-untyped-def]
            def coef(q: Param) -> xr.DataArray:
                d = q["discount"] if year_dim == "year" else q["discount"].rename(
                    year="decision")
                return f(q) * d / MUSD  # type: ignore[no-any-return]
            return coef
        return discounted

    costs = {
        "build": at("decision")(lambda q: q["capex"]),
        "prod": at()(lambda q: q["opex"] + q["toll_freight"]),
        "import_oxide": lambda q: trade_cost(q, "oxide", "import"),
        "export_oxide": lambda q: trade_cost(q, "oxide", "export"),
        "import_metal": lambda q: trade_cost(q, "metal", "import"),
        "export_metal": lambda q: trade_cost(q, "metal", "export"),
        "import_magnet": lambda q: magnet_trade_cost(q, "import"),
        "export_magnet": lambda q: magnet_trade_cost(q, "export"),
        "unmet_magnets": at()(lambda q: q["unmet_penalty"]),
        "unmet_other": at()(lambda q: q["unmet_penalty"]),
    }
    if "offtake_short" in v:
        costs["offtake_short"] = at()(lambda q: q["unmet_penalty"])
    for name, coef in costs.items():
        lp.add_cost(v[name].term(coef))
    if "shortfall" in v:
        lp.add_cost(v["shortfall"].term(at()(shortfall_cost)))
    if "conc_export" in v:
        lp.add_cost(v["conc_export"].term(at()(lambda q: q["freight"] - concentrate_price(q))))
        mines = list(lp.params["mine"].values)
        bought = v["prod"].sel(candidate=mines).rename(candidate="mine")
        lp.add_cost(bought.term(at()(lambda q: concentrate_cost(q) + q["mine_freight"])))


def _magnet_inputs(lp: LinearProgram, problem: Problem) -> None:
    """Partners' material in magnets made at home: at most a share of the alloy's metal.

    Per capped partner and year from ``magnet_inputs_from_year``: its metal of the
    recipe's elements plus the metal its oxide of them makes [t] <= share x metal used in
    alloy at home [t]. All of the partner's oxide of those elements counts as magnet feed
    (it may also go to other uses: a conservative reading).
    """
    p, v = lp.params, lp.variables
    caps = problem.magnet_inputs_from
    known = set(p["partner"].values)
    unknown = sorted(set(caps) - known)
    if unknown:
        raise ChainDefinitionError(f"magnet_inputs_from names {', '.join(unknown)}, not a "
                                   f"partner of the problem")
    years = [int(y) for y in p["year"].values if int(y) >= problem.magnet_inputs_from_year]
    if not caps or not years:
        return
    pick = p["in_recipe"].astype(float)
    for partner, share in sorted(caps.items()):
        coords = {"year": years}
        bought = [v["import_metal"].sel(partner=partner, year=years).term(pick).sum("element"),
                  v["import_oxide"].sel(partner=partner, year=years).term(
                      pick * p["metal_per_oxide"] * p["metal_recovery"]).sum("element")]
        lp.add_constraints(f"magnet_inputs_{partner}",
                           [*bought, -v["alloy_use"].sel(year=years).term(share).sum("element")],
                           "<=", 0.0, coords)
