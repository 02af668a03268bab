"""The rare-metal chains (W, Mo, Nb, Ta, Li, Ti, Zr ...) on the roadmap model's machinery.

Each tracked commodity has two stages, in t of its content: concentrate (what the mines
make, the rare-earth mines' co-products included) and the refined product it trades as.
Co-production across commodities is physics: every mine's concentrate carries each
commodity at its own ratio (:attr:`reeplan.optimize.problem.Candidate.coproducts`), so a
loparite mine planned for its rare earths makes its Nb, Ta and Ti whether or not anyone
refines them. The planner's mining stage includes cracking (SMZ's chlorination of
loparite), where the co-products part from the rare earths: rare-earth concentrate sold
or tolled abroad leaves them at home.

Per commodity and year (all t content):

* concentrate: mined at home + bought - sold - left unprocessed = fed to refining, where
  concentrate is bought and sold only if it has a merchant market (Nb concentrate has
  none: the pyrochlore producers are integrated) and a commodity used as concentrate
  (zircon) trades as its product;
* refining: refined = recovery x feed (the refiners' ``prod``, within their capacity);
* use: refined + imported - exported + unmet = consumption x (1 - downstream share) +
  what conversion plants take (their output over their recovery);
* a second product where it matters (tungsten carbide, lithium hydroxide): converted +
  imported - exported + unmet = consumption x downstream share, traded at the refined
  product's price times its ratio;
* a price taker: exports, concentrate and refined together, stay within the country's
  share of the world market (``export_cap``);
* no re-export: exports of the refined product (the second product's counted by the
  refined product they took) stay within what is refined at home and within what the
  home-mined concentrate kept at home refines to (imported concentrate is refined for the
  home market only), exports of the second product within what is converted at home,
  and concentrate sold within what is mined at home.

Trade follows the partners' rules (blocked, banned years, premium, discount, freight) at
one world price per commodity: buying costs the price times the partner's premium, selling
earns it less the partner's discount, so a round trip never pays. A partner sells only
what it makes: concentrate of what it mines, the refined product of what it makes at all
(China mines no niobium and no titanium feedstock).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from reeplan.optimize.expressions import MUSD, home_separated_oxide
from reeplan.optimize.lp import LinearProgram, Param, Term
from reeplan.optimize.problem import Problem

__all__ = ["converted_content", "define_rare_metals", "group_output", "home_refined",
           "mined_content", "rare_metal_value", "refined_content", "solved_rare_metals"]

def _tracked(params: Param) -> bool:
    return bool(params.sizes.get("commodity", 0))


def mined_content(lp: LinearProgram) -> list[Term]:
    """Content of each commodity in concentrate mined at home [t/yr], (commodity, year).

    Every mine's output times its co-product ratios; mines abroad count for nothing.
    """
    return [lp.variables["prod"].term(lp.params["coproduct"]).sum("candidate")]


def refined_content(lp: LinearProgram) -> list[Term]:
    """Refined output at home [t content/yr], over (commodity, year).

    The refineries' output, and for a commodity used as concentrate what is fed.
    """
    terms = [lp.variables["prod"].term(lp.params["rm_refines"]).sum("candidate")]
    if "rm_direct" in lp.variables:
        terms.append(lp.variables["rm_direct"].term())
    return terms


def converted_content(lp: LinearProgram) -> list[Term]:
    """The second product made at home [t content/yr], over (commodity, year)."""
    return [lp.variables["prod"].term(lp.params["rm_converts"]).sum("candidate")]


def home_refined(lp: LinearProgram) -> list[Term]:
    """Refined output at home from home-mined concentrate [t content/yr], (commodity, year).

    What is refined less the recovery times the concentrate bought: the output the
    country would have without imported feed (bought concentrate counted as refined
    first). Targets on output and its value count this, so imported feed never meets a
    roadmap's production target.
    """
    bought = lp.variables["rm_conc_import"].sum("partner") * _minus_recovery
    return [*refined_content(lp), bought]


def _coords(params: Param, *dims: str) -> dict[str, Any]:
    return {d: params.indexes[d] for d in dims}


def define_rare_metals(lp: LinearProgram, problem: Problem) -> None:
    """Variables, balances and trade of the rare-metal chains (none without commodities).

    See the module docstring for the balances; costs enter the objective here.
    """
    p = lp.params
    if not _tracked(p):
        return
    cy = _coords(p, "commodity", "year")
    pcy = _coords(p, "partner", "commodity", "year")
    open_ = (~p["blocked"] & ~p["banned"]).broadcast_like(p["rm_price"])
    conc_open = open_ & p["rm_concentrate_traded"]
    feed = lp.add_variables("rm_feed", cy)
    if bool(p["rm_direct"].any()):
        lp.add_variables("rm_direct", cy, mask=p["rm_direct"].broadcast_like(p["rm_price"]))
    refined = refined_content(lp)
    left = lp.add_variables("rm_left", cy)
    unmet = lp.add_variables("rm_unmet", cy)
    imp = lp.add_variables("rm_import", pcy, mask=open_ & p["rm_sells_refined"])
    exp = lp.add_variables("rm_export", pcy, mask=open_ & p["buys"])
    c_imp = lp.add_variables("rm_conc_import", pcy,
                             mask=conc_open & p["rm_sells_concentrate"])
    c_exp = lp.add_variables("rm_conc_export", pcy, mask=conc_open & p["buys"])
    kept = mined_content(lp)
    lp.add_constraints("rm_concentrate", [*kept, c_imp.sum("partner"), -c_exp.sum("partner"),
                                          -left.term(), -feed.term()], "==", 0.0, cy)
    lp.add_constraints("rm_refining", [*refined, feed.term(_minus_recovery)],
                       "==", 0.0, cy)
    second = _define_downstream(lp, open_)
    made, d_exp = second if second else ([], [])
    lp.add_constraints("rm_use", [*refined, imp.sum("partner"),
                                  -exp.sum("partner"), unmet.term(),
                                  *[-(t * _per_conversion) for t in made]], "==",
                       lambda q: q["rm_consumption"] * (1 - q["rm_down_share"]), cy)
    exported = [exp.sum("partner"), *[t * _per_conversion for t in d_exp]]
    lp.add_constraints("rm_exports_within_refined",
                       [*exported, *[-t for t in refined]], "<=", 0.0, cy)
    # ... and within what home-mined concentrate kept at home refines to: imported
    # concentrate is refined for the home market, never to be sold on
    lp.add_constraints("rm_exports_within_home_ore",
                       [*exported, *[t * _minus_recovery for t in kept],
                        c_exp.sum("partner") * _recovery], "<=", 0.0, cy)
    lp.add_constraints("rm_concentrate_exports_within_mined",
                       [c_exp.sum("partner"), *[-t for t in kept]], "<=", 0.0, cy)
    capped = (p["rm_export_cap"] < np.inf).broadcast_like(p["rm_price"])
    if bool(capped.any()):  # a price taker: at most its share of the world market
        lp.add_constraints("rm_export_cap", [exp.sum("partner"), c_exp.sum("partner"),
                                             *d_exp], "<=",
                           lambda q: q["rm_export_cap"].where(q["rm_export_cap"] < np.inf, 0.0)
                           .broadcast_like(q["rm_price"]), cy, mask=capped)
    for name, coef in _costs().items():
        if name in lp.variables:
            lp.add_cost(lp.variables[name].term(coef))


def _define_downstream(lp: LinearProgram, open_: xr.DataArray
                       ) -> tuple[list[Term], list[Term]] | None:
    """The second products' use and trade; their output and exports as terms (or None).

    converted + imported - exported + unmet = consumption x downstream share; exports
    within what is converted at home.
    """
    p = lp.params
    has = (p["rm_down_share"] > 0).broadcast_like(p["rm_price"])
    if not bool(has.any()):
        return None
    cy = _coords(p, "commodity", "year")
    pcy = _coords(p, "partner", "commodity", "year")
    d_imp = lp.add_variables("rm_down_import", pcy, mask=open_ & has & p["rm_sells_refined"])
    d_exp = lp.add_variables("rm_down_export", pcy, mask=open_ & has & p["buys"])
    d_unmet = lp.add_variables("rm_down_unmet", cy, mask=has)
    made = converted_content(lp)
    lp.add_constraints("rm_downstream_use", [*made, d_imp.sum("partner"), -d_exp.sum("partner"),
                                             d_unmet.term()], "==",
                       lambda q: q["rm_consumption"] * q["rm_down_share"], cy, mask=has)
    lp.add_constraints("rm_downstream_exports_within_converted",
                       [d_exp.sum("partner"), *[-t for t in made]], "<=", 0.0, cy, mask=has)
    # what conversion adds counts for value targets only on home-refined feed
    home = lp.add_variables("rm_conv_home", cy, mask=has)
    lp.add_constraints("rm_conv_home_within_converted", [home.term(), *[-t for t in made]],
                       "<=", 0.0, cy, mask=has)
    lp.add_constraints("rm_conv_home_within_home_refined",
                       [home.term(_per_conversion), *[-t for t in home_refined(lp)]], "<=",
                       0.0, cy, mask=has)
    return made, [d_exp.sum("partner")]


def _per_conversion(q: Param) -> xr.DataArray:
    """Refined product a tonne of the second product takes [t content/t content]."""
    per: xr.DataArray = 1.0 / q["rm_conversion_recovery"]
    return per


def _recovery(q: Param) -> xr.DataArray:
    return q["rm_recovery"]


def _minus_recovery(q: Param) -> xr.DataArray:
    return -q["rm_recovery"]


def _trade(q: Param, flow: str, share: xr.DataArray | float) -> xr.DataArray:
    """Discounted cost of a tonne bought (or, negative, sold) [M USD/t].

    Over (partner, commodity, year): the world price times ``share`` (1 for the refined
    product, the concentrate share for concentrate, the price ratio for the second
    product), times the premium or less the discount, plus freight either way.
    """
    factor = q["buy_factor"] if flow == "import" else -q["sell_factor"]
    unit = q["rm_price"] * share * factor + q["freight"]
    cost: xr.DataArray = (unit * q["discount"] / MUSD).transpose("partner", "commodity",
                                                                  "year")
    return cost


def _costs() -> dict[str, Callable[[Param], xr.DataArray]]:
    def unmet(q: Param) -> xr.DataArray:
        cost: xr.DataArray = (q["unmet_penalty"] * q["discount"] / MUSD).broadcast_like(
            q["rm_price"])
        return cost

    return {
        "rm_import": lambda q: _trade(q, "import", 1.0),
        "rm_export": lambda q: _trade(q, "export", 1.0),
        "rm_conc_import": lambda q: _trade(q, "import", q["rm_concentrate_share"]),
        "rm_conc_export": lambda q: _trade(q, "export", q["rm_concentrate_share"]),
        "rm_unmet": unmet,
        "rm_down_import": lambda q: _trade(q, "import", q["rm_down_ratio"]),
        "rm_down_export": lambda q: _trade(q, "export", q["rm_down_ratio"]),
        "rm_down_unmet": unmet,
    }


def rare_metal_value(lp: LinearProgram, group: str = "") -> list[Term]:
    """Refined rare-metal output from home ore at world prices [M USD/yr], over year.

    With ``group``, only the product group's rare metals (:func:`home_refined`); a second
    product made at home from home-refined feed adds what converting adds: its price less
    that of the refined product it took (imported feed converted adds nothing).
    """
    p = lp.params
    if not _tracked(p):
        return []
    pick = p["group_commodity"].sel(group=group, drop=True) if group \
        else xr.ones_like(p["rm_product_factor"])

    def worth(q: Param) -> xr.DataArray:
        value: xr.DataArray = q["rm_price"] * pick / MUSD
        return value

    def added(q: Param) -> xr.DataArray:  # a second product: what converting adds
        value: xr.DataArray = q["rm_price"] * (q["rm_down_ratio"]
                                               - 1 / q["rm_conversion_recovery"]) * pick / MUSD
        return value

    terms = [(t * worth).sum("commodity") for t in home_refined(lp)]
    if "rm_conv_home" in lp.variables:  # converted from home-refined feed only
        terms.append(lp.variables["rm_conv_home"].term(added).sum("commodity"))
    return terms


def group_output(lp: LinearProgram, group: str) -> list[Term]:
    """Output at home of a product group [t/yr of products], over year.

    Its rare metals' refined output from home ore in t of product (content times the
    product factor, :func:`home_refined`) plus its rare-earth element groups' oxide
    separated at home [t REO].
    """
    p = lp.params
    terms: list[Term] = []
    if _tracked(p):
        weight = p["group_commodity"].sel(group=group, drop=True) * p["rm_product_factor"]
        terms += [(t * weight).sum("commodity") for t in home_refined(lp)]
    pick = p["group_element"].sel(group=group, drop=True)
    terms += [(t * pick).sum("element") for t in home_separated_oxide(lp)]
    return terms


def solved_rare_metals(solution: xr.Dataset, params: Param) -> xr.Dataset:
    """The rare-metal flows of a solution [t content], over (commodity, year).

    ``mined``, ``concentrate_imports``, ``concentrate_exports``, ``unprocessed``, ``refining_feed``,
    ``refined``, ``imports``, ``exports``, ``consumption`` (of the commodity in every form)
    and ``unmet``; for the second products ``conversion_feed`` (refined product taken),
    ``converted``, ``downstream_imports``, ``downstream_exports``, ``downstream_use``
    (consumption x downstream share) and ``downstream_unmet`` (zero without one).
    """
    s, p = solution, params
    mined = (s["prod"] * p["coproduct"]).sum("candidate")
    converted = (s["prod"] * p["rm_converts"]).sum("candidate")
    none = xr.zeros_like(p["rm_consumption"])

    def summed(name: str) -> xr.DataArray:
        found: xr.DataArray = s[name].fillna(0.0).sum("partner") if name in s else none
        return found

    second = {
        "conversion_feed": converted / p["rm_conversion_recovery"], "converted": converted,
        "downstream_imports": summed("rm_down_import"),
        "downstream_exports": summed("rm_down_export"),
        "downstream_use": p["rm_consumption"] * p["rm_down_share"],
        "downstream_unmet": s["rm_down_unmet"].fillna(0.0) if "rm_down_unmet" in s else none}
    return xr.Dataset(second | {
        "mined": mined, "concentrate_imports": s["rm_conc_import"].sum("partner"),
        "concentrate_exports": s["rm_conc_export"].sum("partner"),
        "unprocessed": s["rm_left"], "refining_feed": s["rm_feed"],
        "refined": (s["prod"] * p["rm_refines"]).sum("candidate")
        + (s["rm_direct"].fillna(0.0) if "rm_direct" in s else 0.0),
        "imports": s["rm_import"].sum("partner"), "exports": s["rm_export"].sum("partner"),
        "consumption": p["rm_consumption"], "unmet": s["rm_unmet"]})
