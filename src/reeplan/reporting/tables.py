"""The plan's output tables, with units in their column names, computed from its dataset.

Each function reads :attr:`reeplan.optimize.Plan.solution` and the parameters it was
solved with; nothing is recomputed by a second model. Conventions:

- ``flows``: one row per stage, element and year, in the stage's unit (t REO up to
  separation, t metal, t magnet), with production + recycled_in + imports = exports +
  to_next_stage + final_use + losses + stock_change on every row. ``losses`` are what is
  lost when this stage's product is turned into the next one (cracking and separation
  losses on the mined row, metal-making losses on the oxide row, alloy and magnet scrap on
  the metal row), and ``to_next_stage`` is what reaches the next product.
- ``costs``: undiscounted money per year [M USD] and the discount factor; the headline
  ``discounted_cost_musd`` is capex + opex + imports + freight - export revenue,
  discounted, with penalties reported apart.
- ``dependence``: gross import share = imports / consumption and net import share =
  max(imports - exports, 0) / consumption, all rare-earth products in t REO equivalent.
- ``rare_metals``: the rare-metal chains by commodity and year, in t of content, with
  the same two import shares of the refined product.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from reeplan.domain import UNITS
from reeplan.optimize import Plan
from reeplan.optimize.expressions import (
    MUSD,
    consumption_reo,
    magnet_oxide,
    solved_stage_output,
    solved_tolled_oxide,
    stage_ids,
)
from reeplan.optimize.model import concentrate_cost, concentrate_price
from reeplan.optimize.params import buy_price, oxide_price, sale_price
from reeplan.optimize.rare_metals import solved_rare_metals
from reeplan.optimize.solve import TOLLED
from reeplan.optimize.targets import penalty_cost
from reeplan.types import Stage

__all__ = ["builds_table", "clean", "costs_table", "dependence_table", "discounted_cost_musd",
           "environment_table", "flows_table", "rare_metals_table", "targets_table",
           "trade_table"]

_CAPACITY_DIGITS = 1
"""Capacities are published to the tonne at best; one decimal keeps sums honest."""


def clean(df: pd.DataFrame) -> pd.DataFrame:
    """No ``-0.0`` and no float noise below a gram."""
    out = df.copy()
    for c in out.select_dtypes("float").columns:
        v = out[c].to_numpy(copy=True)
        v[np.abs(v) < 1e-9] = 0.0
        out[c] = v
    return out


def builds_table(plan: Plan, worth: pd.DataFrame | None = None) -> pd.DataFrame:
    """The builds: project, stage, place, years, capacity [t/yr], capex [M USD], reason.

    ``peak_use_share``: the most of its plant's capacity used in a year once all of it is
    fully online [fraction] (empty when that is after the horizon); below 0.6 the reason
    says the plant is oversized.
    """
    b = plan.builds
    regions = {c.id: c.region for c in plan.problem.candidates}
    out = pd.DataFrame({
        "project": b["candidate"], "stage": b["stage"], "country": plan.problem.country,
        "region": [regions.get(str(c), "") for c in b["candidate"]],
        "decision_year": b["decision_year"], "online_year": b["online_year"],
        "capacity_t_per_yr": b["capacity"].astype(float).round(_CAPACITY_DIGITS),
        "capex_musd": (b["capex"].astype(float) / MUSD).round(3),
        "peak_use_share": b["peak_use_share"].astype(float).round(3), "reason": b["reason"]})
    if worth is not None:
        w = worth.set_index("candidate")
        out["worth_musd"] = [float(w["worth_musd"].get(c, 0.0)) for c in out["project"]]
        out["reason"] = [_worth_words(r, c, w) for r, c in
                         zip(out["reason"], out["project"], strict=True)]
    out["reason"] = out["reason"] + b["oversized"]
    return clean(out)


def _worth_words(reason: str, candidate: str, worth: pd.DataFrame) -> str:
    """The reason, with what the build is worth; the target it serves most, if any.

    The target named is the one whose penalty rises most without the build (the dual of
    the first binding target names one that may barely need it). The worth is split into
    capex, opex and trade, penalties of targets and penalties of demand and contracts
    unmet, so that a worth made of penalties reads as one.
    """
    if candidate not in worth.index:
        return reason
    most = str(worth["most_missed_target"].loc[candidate]) \
        if "most_missed_target" in worth else ""
    if most and most != "nan":
        reason = f"target '{most}'"
    value = float(worth["worth_musd"].loc[candidate])
    named = [(float(worth[column].loc[candidate]), words) for column, words in _WORTH_PARTS
             if abs(float(worth[column].loc[candidate])) > 0.05]
    words = f"{reason}; without it the plan costs {abs(value):,.1f} M USD " \
            f"{'more' if value >= 0 else 'less'} (discounted)"
    if len(named) > 1:  # say what the sum is made of, signs as they add up
        words += ": " + ", ".join(f"{what} {v:+,.1f}" for v, what in named)
    return words


_WORTH_PARTS = (("added_cost_musd", "capex, opex and trade"),
                ("added_penalties_musd", "penalties of targets then missed"),
                ("added_unmet_musd", "penalties of demand and contracts then unmet"))
"""The parts of a build's worth, as its reason names them [M USD, discounted]."""


def _per_element(da: xr.DataArray) -> xr.DataArray:
    return da.transpose("element", "year")


def flows_table(plan: Plan) -> pd.DataFrame:
    """Stage, element, year, unit and the balance columns (see the module docstring)."""
    s, q = plan.solution, plan.params
    zero = xr.zeros_like(oxide_price(q))
    mines = list(q["mine"].values)
    rows = []
    separated = zero
    if mines:
        prod = s["prod"].sel(candidate=mines).rename(candidate="mine")
        abroad = q["mine_abroad"]
        mined = (q["distribution"] * prod.where(~abroad, 0.0)).sum("mine")
        bought = (q["distribution"] * prod.where(abroad, 0.0)).sum("mine")
        sold = (q["distribution"] * s["conc_export"].fillna(0.0).sum("partner")).sum("mine")
        sent = (q["distribution"] * s["toll_feed"]).sum("mine") if "toll_feed" in s else zero
        stored = (q["distribution"] * (s["conc_held"] - s["conc_drawn"])).sum("mine")
        fed = mined + bought - sold - sent - stored
        reached = q["oxide_per_mined"] * fed if stage_ids(q, "separation") else zero
        rows.append(_rows("mining", UNITS[Stage.MINING], production=mined, imports=bought,
                          exports=sold + sent, to_next_stage=reached, losses=fed - reached,
                          stock_change=stored))
        separated = reached
    metal_in = s["metal_in"]
    made = metal_in * q["metal_per_oxide"] * q["metal_recovery"]
    rows.append(_rows("separation", UNITS[Stage.SEPARATION], production=separated,
                      imports=s["import_oxide"].sum("partner") + _tolled_back(plan),
                      exports=s["export_oxide"].sum("partner"),
                      to_next_stage=metal_in * q["metal_recovery"],
                      losses=metal_in * (1 - q["metal_recovery"]), final_use=s["other_use"],
                      stock_change=s["stock_oxide"] + _reserve_change(plan)))
    recycled = solved_stage_output(s, q, "recycling") * q["recipe_share"] \
        * q["recycling_recovery"]
    yields = q["magnet_per_alloy_metal"]
    alloy = s["alloy_use"]
    rows.append(_rows("metal", UNITS[Stage.METAL], production=made, recycled_in=recycled,
                      imports=s["import_metal"].sum("partner"),
                      exports=s["export_metal"].sum("partner"), to_next_stage=alloy * yields,
                      losses=alloy * (1 - yields), stock_change=s["stock_metal"]))
    frame = pd.concat([*rows, _magnet_rows(plan)], ignore_index=True)
    return clean(frame)


_BALANCE = ("production", "recycled_in", "imports", "exports", "to_next_stage", "final_use",
            "losses", "stock_change")


def _rows(stage: str, unit: str, **flows: xr.DataArray) -> pd.DataFrame:
    cols = {k: _per_element(flows[k]).to_series() for k in _BALANCE if k in flows}
    df = pd.DataFrame(cols).reset_index()
    for k in _BALANCE:
        if k not in df:
            df[k] = 0.0
    df.insert(0, "stage", stage)
    df.insert(3, "unit", unit)
    return df[["stage", "element", "year", "unit", *_BALANCE]]


def _magnet_rows(plan: Plan) -> pd.DataFrame:
    s = plan.solution
    made = solved_stage_output(plan.solution, plan.params, "magnet").to_series()
    imports = s["import_magnet"].sum("partner").to_series()
    exports = s["export_magnet"].sum("partner").to_series()
    df = pd.DataFrame({"production": made, "imports": imports, "exports": exports})
    df["final_use"] = df["production"] + df["imports"] - df["exports"]
    df = df.reset_index().rename(columns={"index": "year"})
    for k in _BALANCE:
        if k not in df:
            df[k] = 0.0
    df.insert(0, "stage", "magnet")
    df.insert(1, "element", "")
    df.insert(3, "unit", UNITS[Stage.MAGNET])
    return df[["stage", "element", "year", "unit", *_BALANCE]]


def trade_table(plan: Plan) -> pd.DataFrame:
    """Trade: flow, product, element, partner, year, tonnes and value [M USD].

    The value is what was paid or earned at the partner's price, premium or discount;
    freight is in ``costs``.
    """
    t = plan.trade.copy()
    q = plan.params
    prices = {(p, "import"): buy_price(q, p) for p in ("oxide", "metal")}
    prices |= {(p, "export"): sale_price(q, p) for p in ("oxide", "metal")}
    reference = oxide_price(q)
    values = []
    for r in t.itertuples():
        if r.product in TOLLED:  # our own ore and oxide: the fee is in opex, freight apart
            values.append(0.0)
            continue
        if str(r.product).startswith("rare metal"):  # one world price per commodity
            partner = q.sel(partner=r.partner)
            price = float(q["rm_price"].sel(commodity=r.element, year=r.year)) * float(
                partner["buy_factor"] if r.flow == "import" else partner["sell_factor"])
            if r.product == "rare metal (concentrate)":
                price *= float(q["rm_concentrate_share"].sel(commodity=r.element))
            if r.product == "rare metal (second product)":
                price *= float(q["rm_down_ratio"].sel(commodity=r.element))
            values.append(float(r.tonnes) * price / MUSD)  # type: ignore[arg-type]
            continue
        if str(r.product).startswith("concentrate"):  # oxides held x concentrate share
            share = float(q["concentrate_value_share"])
            if r.flow == "export":  # what the partner pays for the oxides
                price = float(prices[("oxide", "export")].sel(
                    partner=r.partner, element=r.element, year=r.year)) * share
            else:  # bought abroad at reference prices and the partner's premium
                price = float(reference.sel(element=r.element, year=r.year)) * share \
                    * float(q["buy_factor"].sel(partner=r.partner))
            values.append(float(r.tonnes) * price / MUSD)  # type: ignore[arg-type]
            continue
        if r.product == "magnet":
            partner = q.sel(partner=r.partner)
            factor = float(partner["buy_factor"] if r.flow == "import"
                           else partner["sell_factor"])
            price = float(q["magnet_price"].sel(year=r.year)) * factor
        else:
            price = float(prices[(str(r.product), str(r.flow))].sel(
                partner=r.partner, element=r.element, year=r.year))
        values.append(float(r.tonnes) * price / MUSD)  # type: ignore[arg-type]
    t["value_musd"] = values
    return clean(t[["flow", "product", "element", "partner", "year", "tonnes",
                     "value_musd"]])


def _reo(plan: Plan, flow: str) -> xr.DataArray:
    s, q = plan.solution, plan.params
    oxide = s[f"{flow}_oxide"].sum(["partner", "element"])
    metal = (s[f"{flow}_metal"] / q["metal_per_oxide"]).sum(["partner", "element"])
    magnets = magnet_oxide(q) * s[f"{flow}_magnet"].sum("partner")
    total: xr.DataArray = oxide + metal + magnets
    if flow == "import":
        total = total + (_feed_bought(plan) + _tolled_back(plan)).sum("element")
    return total


def _reserve_change(plan: Plan) -> xr.DataArray:
    """Oxide put into (or, negative, drawn from) the strategic reserve [t REO]."""
    s, q = plan.solution, plan.params
    if "reserve_fill" not in s:
        return xr.zeros_like(oxide_price(q))
    change: xr.DataArray = s["reserve_fill"] - s["reserve_draw"]
    return change


def _tolled_back(plan: Plan) -> xr.DataArray:
    """Oxide separated abroad from the country's ore, by element [t REO], (element, year)."""
    back: xr.DataArray = solved_tolled_oxide(plan.solution, plan.params).sum("mine")
    return back


def _feed_bought(plan: Plan) -> xr.DataArray:
    """Concentrate bought from mines abroad, by element [t REO], over (element, year)."""
    s, q = plan.solution, plan.params
    prod = s["prod"].sel(candidate=list(q["mine"].values)).rename(candidate="mine")
    bought: xr.DataArray = (q["distribution"] * prod.where(q["mine_abroad"], 0.0)).sum("mine")
    return bought


def dependence_table(plan: Plan) -> pd.DataFrame:
    """Dependence: consumption, imports, exports [t REO] and import shares [fraction].

    Gross share = imports / consumption; net share = max(imports - exports, 0) /
    consumption; in oxide equivalent, by year. Stage ``all products``: every product
    traded over all consumption, for all rare earths, for each element used (in magnets,
    by the recipe, with magnets traded counted by their content, and in other uses, by
    the non-magnet split), for the light, medium and heavy groups and for the magnet
    elements (the recipe's) as a group. Stages ``oxide``, ``metal`` and ``magnet``: one
    product's trade over the use of that product at home (oxide used in other uses and in
    making the metal used at home; metal used in alloy; magnets needed).
    """
    q = plan.params
    frames = [_shares(consumption_reo(q), _reo(plan, "import"), _reo(plan, "export"),
                      "all rare earths")]
    frames += [_shares(use, imports, exports, "all rare earths", stage)
               for stage, (use, imports, exports) in _stage_flows(plan).items()]
    used = [str(e) for e, r, o in zip(q["element"].values, q["recipe_share"].values,
                                      q["other_split"].values, strict=True) if r > 0 or o > 0]
    flows = {e: _element_flows(plan, e) for e in used}
    frames += [_shares(*flows[e], e) for e in used]
    groups = dict(zip(q["element"].values, q["element_group"].values, strict=True))
    members = {g: [e for e in used if groups[e] == g] for g in ("light", "medium", "heavy")}
    members["magnet elements"] = [e for e in used if float(q["recipe_share"].sel(element=e))]
    for label, elements in members.items():
        if elements:
            totals = [sum(flows[e][k] for e in elements) for k in range(3)]
            frames.append(_shares(totals[0], totals[1], totals[2],  # type: ignore[arg-type]
                                  label if label == "magnet elements" else f"{label} group"))
    return clean(pd.concat(frames, ignore_index=True))


def _stage_flows(plan: Plan) -> dict[str, tuple[xr.DataArray, xr.DataArray, xr.DataArray]]:
    """Use at home, imports and exports of each traded product [t REO], by year."""
    s, q = plan.solution, plan.params
    per_oxide = q["metal_per_oxide"]

    def traded(flow: str, product: str) -> xr.DataArray:
        amount = s[f"{flow}_{product}"].sum("partner")
        if product == "magnet":
            return amount * magnet_oxide(q)
        total: xr.DataArray = (amount / per_oxide if product == "metal" else amount).sum(
            "element")
        return total

    # oxide used at home: metal exported or stocked counts by the oxide it took, out
    metal_out = (s["export_metal"].sum("partner") + s["stock_metal"]) \
        / (per_oxide * q["metal_recovery"])
    oxide_use = s["other_use"].sum("element") + (s["metal_in"] - metal_out).sum("element")
    metal_use = (s["alloy_use"] / per_oxide).sum("element")
    magnet_use = q["magnet_demand"] * magnet_oxide(q)
    tolled = _tolled_back(plan).sum("element")
    return {product: (use, traded("import", product) + (tolled if product == "oxide" else 0.0),
                      traded("export", product))
            for product, use in (("oxide", oxide_use), ("metal", metal_use),
                                 ("magnet", magnet_use))}


def _shares(use: xr.DataArray, imports: xr.DataArray, exports: xr.DataArray,
            label: str, stage: str = "all products") -> pd.DataFrame:
    df = pd.DataFrame({"consumption_t_reo": use.to_series(),
                       "imports_t_reo": imports.to_series(),
                       "exports_t_reo": exports.to_series()})
    c = df["consumption_t_reo"].where(df["consumption_t_reo"] > 0)
    df["gross_import_share"] = df["imports_t_reo"] / c
    df["net_import_share"] = (df["imports_t_reo"] - df["exports_t_reo"]).clip(lower=0) / c
    df = df.reset_index()
    df.insert(0, "element", label)
    df.insert(0, "stage", stage)
    return df


def _element_flows(plan: Plan, element: str) -> tuple[xr.DataArray, xr.DataArray,
                                                      xr.DataArray]:
    """Consumption, imports and exports of one element [t REO].

    Consumption: its content in the magnets needed (by the recipe) and its part of other
    uses (the non-magnet split); trade: oxide, metal over its factor, the element's oxide
    in magnets, and concentrate bought abroad.
    """
    s, q = plan.solution, plan.params
    f = float(q["metal_per_oxide"].sel(element=element))
    per_magnet = float(q["recipe_share"].sel(element=element)) / f \
        / float(q["magnet_per_alloy_metal"])
    use = q["magnet_demand"] * per_magnet \
        + q["other_demand"] * float(q["other_split"].sel(element=element))

    def moved(flow: str) -> xr.DataArray:
        total: xr.DataArray = (s[f"{flow}_oxide"].sel(element=element).sum("partner")
                               + s[f"{flow}_metal"].sel(element=element).sum("partner") / f
                               + s[f"{flow}_magnet"].sum("partner") * per_magnet)
        if flow == "import":
            total = total + (_feed_bought(plan) + _tolled_back(plan)).sel(element=element)
        return total

    return use, moved("import"), moved("export")


def costs_table(plan: Plan) -> pd.DataFrame:
    """Costs by year [M USD, undiscounted] and the discount factor.

    Capex, opex (with the cost of holding what the plan put into a strategic reserve;
    the reserve held before the horizon is a sunk cost), imports, export revenue
    (concentrate sold included), freight and penalties; the rare-metal chains' trade
    included.
    """
    s, q = plan.solution, plan.params
    capex = (s["build"] * q["capex"]).sum("candidate").rename(decision="year") / MUSD
    opex = (s["prod"] * q["opex"]).sum("candidate") / MUSD
    if "reserve_fill" in s:  # holding what the plan put into the reserve, year by year
        added = _reserve_change(plan).cumsum("year").sum("element")
        opex = opex + added * q["reserve_holding_cost"] / MUSD
    stored = (s["conc_held"] - s["conc_drawn"]).cumsum("year").sum("mine")
    opex = opex + stored * q["conc_holding_cost"].fillna(0.0) / MUSD  # stored at mines
    paid = sum((s[f"import_{p}"] * buy_price(q, p)).sum(["partner", "element"])
               for p in ("oxide", "metal"))
    paid = paid + (s["import_magnet"] * q["magnet_price"] * q["buy_factor"]).sum("partner")
    earned = sum((s[f"export_{p}"] * sale_price(q, p)).sum(["partner", "element"])
                 for p in ("oxide", "metal"))
    earned = earned + (s["export_magnet"] * q["magnet_price"] * q["sell_factor"]).sum("partner")
    sold = s["conc_export"].fillna(0.0)
    earned = earned + (sold * concentrate_price(q)).sum(["mine", "partner"])
    mines = list(q["mine"].values)
    bought = s["prod"].sel(candidate=mines).rename(candidate="mine")
    paid = paid + (bought * concentrate_cost(q)).sum("mine")
    moved = sum(s[f"{f}_{p}"].sum("element") for f in ("import", "export")
                for p in ("oxide", "metal"))
    moved = moved + s["import_magnet"] + s["export_magnet"] + sold.sum("mine")
    if "rm_import" in s:  # the rare-metal chains, at one world price per commodity
        paid = paid + _rare_metal_money(s, q, "import")
        earned = earned + _rare_metal_money(s, q, "export")
        moved = moved + sum(s[f"rm_{n}"].fillna(0.0).sum("commodity") for n in
                            ("import", "export", "conc_import", "conc_export",
                             "down_import", "down_export") if f"rm_{n}" in s)
    freight = (moved * q["freight"]).sum("partner") + (bought * q["mine_freight"]).sum("mine") \
        + (s["prod"] * q["toll_freight"]).sum("candidate")
    penalties = penalty_cost(s, q)
    df = pd.DataFrame({"capex_musd": capex.to_series(), "opex_musd": opex.to_series(),
                       "imports_musd": (paid / MUSD).to_series(),
                       "export_revenue_musd": (earned / MUSD).to_series(),
                       "freight_musd": (freight / MUSD).to_series(),
                       "penalties_musd": (penalties / MUSD).to_series(),
                       "discount_factor": q["discount"].to_series()}).reset_index()
    return clean(df)


def _rare_metal_money(s: xr.Dataset, q: xr.Dataset, flow: str) -> xr.DataArray:
    """Paid for rare-metal imports, or earned by exports, by year [USD].

    The refined product at the world price, concentrate at its share of it, the second
    product at its ratio, times the partner's premium (or less its discount).
    """
    factor = q["buy_factor" if flow == "import" else "sell_factor"]
    tonnes = s[f"rm_{flow}"].fillna(0.0) \
        + s[f"rm_conc_{flow}"].fillna(0.0) * q["rm_concentrate_share"]
    if f"rm_down_{flow}" in s:
        tonnes = tonnes + s[f"rm_down_{flow}"].fillna(0.0) * q["rm_down_ratio"]
    money: xr.DataArray = (tonnes * q["rm_price"] * factor).sum(["partner", "commodity"])
    return money


def rare_metals_table(plan: Plan) -> pd.DataFrame:
    """The rare-metal chains by commodity and year [t content], with import shares.

    commodity, year, unit, mined (co-products of rare-earth mines included),
    concentrate_imports,
    concentrate_exports, unprocessed, refining_feed, refining_losses, refined, imports,
    exports, consumption, unmet, gross_import_share = imports / consumption,
    net_import_share = max(imports - exports, 0) / consumption, feed_import_share =
    concentrate_imports / refining_feed (the refinery's dependence on bought feed),
    refined_from_home_ore = refined - recovery x concentrate_imports (what targets count),
    product and refined_t_product (that in t of the product it trades as); the second
    product: conversion_feed, converted, downstream_imports, downstream_exports,
    downstream_use, downstream_unmet and second_product. Import shares count both
    products over what is needed (consumption and the content conversion loses):
    (imports + downstream_imports) / (consumption + conversion_feed - converted), and net
    of both exports.
    """
    cols = ["commodity", "year", "unit", "mined", "concentrate_imports",
            "concentrate_exports", "unprocessed", "refining_feed", "refining_losses",
            "refined", "refined_from_home_ore", "imports", "exports", "consumption", "unmet",
            "conversion_feed", "converted", "downstream_imports", "downstream_exports",
            "downstream_use", "downstream_unmet",
            "gross_import_share", "net_import_share", "feed_import_share", "product",
            "refined_t_product", "second_product"]
    s, q = plan.solution, plan.params
    if "rm_feed" not in s:
        return pd.DataFrame(columns=cols)
    flows = solved_rare_metals(s, q)
    flows["refining_losses"] = flows["refining_feed"] - flows["refined"]
    need = flows["consumption"] + flows["conversion_feed"] - flows["converted"]
    use = need.where(need > 0)  # the content conversion loses is needed too
    bought = flows["imports"] + flows["downstream_imports"]
    sold = flows["exports"] + flows["downstream_exports"]
    flows["gross_import_share"] = bought / use
    flows["net_import_share"] = (bought - sold).clip(min=0) / use
    feed = flows["refining_feed"].where(flows["refining_feed"] > 0)
    flows["feed_import_share"] = flows["concentrate_imports"] / feed
    flows["refined_from_home_ore"] = flows["refined"] \
        - q["rm_recovery"] * flows["concentrate_imports"]
    flows["refined_t_product"] = flows["refined_from_home_ore"] * q["rm_product_factor"]
    df = flows.to_dataframe().reset_index()
    products = {m.commodity: m.product for m in plan.problem.rare_metals}
    df["product"] = df["commodity"].map(products)
    df["second_product"] = df["commodity"].map(
        {m.commodity: m.downstream for m in plan.problem.rare_metals})
    df["unit"] = "t content"
    return clean(df[cols])


def discounted_cost_musd(costs: pd.DataFrame) -> tuple[float, float]:
    """The plan's discounted cost without penalties, and its discounted penalties [M USD]."""
    d = costs["discount_factor"]
    cost = (d * (costs["capex_musd"] + costs["opex_musd"] + costs["imports_musd"]
                 + costs["freight_musd"] - costs["export_revenue_musd"])).sum()
    return float(cost), float((d * costs["penalties_musd"]).sum())


def targets_table(plan: Plan) -> pd.DataFrame:
    """target, kind, stage, unit, year, required, achieved, shortfall, shortfall_unit, met.

    ``unit`` is that of ``required`` and ``achieved`` (``fraction`` for a share);
    ``shortfall_unit`` that of ``shortfall`` (t/yr, t REO/yr, USD/yr). ``stage``: the stage
    an output or self-sufficiency target counts, or the one product an import cap is on
    (``oxide``, ``metal``, ``magnet``, the dependence table's stages).
    """
    t = plan.targets
    cols = ["target", "kind", "stage", "unit", "year", "required", "achieved", "shortfall",
            "shortfall_unit", "met"]
    if t.empty:
        return pd.DataFrame(columns=cols)
    stages = {x.id: x.stage if x.kind in ("output", "self_sufficiency")
              else x.product if x.kind == "import_share" and x.product != "all" else ""
              for x in plan.problem.targets}
    out = t.copy()
    out["stage"] = [stages[i] for i in out["target"]]
    return clean(out[cols])


def environment_table(plan: Plan) -> pd.DataFrame:
    """The environmental toll at home: year, stage, technology, indicator, unit, value.

    Each plant at home's output times its intensity (its stage's, in the
    ``environmental_intensities`` table, times its technology's effect); a rare-metal
    refinery's stage names its commodity (``rare_metal_refining:W``) and takes the
    commodity's cradle-to-gate intensity; mines abroad and tolling leave theirs abroad and
    count for nothing here.
    """
    p, s, q = plan.problem, plan.solution, plan.params
    cols = ["year", "stage", "technology", "indicator", "unit", "value"]
    if not p.environment:
        return pd.DataFrame(columns=cols)
    toll = (s["prod"] * q["environment"]).to_dataframe("value").reset_index()
    by_id = {c.id: c for c in p.candidates}
    rows = []
    for r in toll.to_dict(orient="records"):
        c, indicator = by_id[str(r["candidate"])], str(r["indicator"])
        if c.abroad or (c.environment_stage, indicator) not in p.environment:
            continue
        rows.append({"year": int(r["year"]), "stage": c.environment_stage,
                     "technology": c.process or p.environment_technology.get(c.stage, ""),
                     "indicator": indicator, "unit": p.environment_units[indicator],
                     "value": float(r["value"])})
    grouped = pd.DataFrame(rows, columns=cols).groupby(
        ["year", "stage", "technology", "indicator", "unit"], as_index=False)["value"].sum()
    return clean(pd.DataFrame(grouped)[cols])
