"""Linear expressions of the roadmap model that several families and the targets share.

Each function returns terms over ``year`` (and ``element`` where it says so) built from the
model's variables and the parameter dataset, so the model, the targets and the explanation
read one definition. Units: t REO/yr for oxide quantities, t/yr of each product, M USD/yr
for values.
"""

from __future__ import annotations

import xarray as xr

from reeplan.domain import Recipe
from reeplan.errors import ChainDefinitionError
from reeplan.optimize.lp import LinearProgram, Param, Term, Var
from reeplan.optimize.params import oxide_price
from reeplan.types import PlanStage

__all__ = [
    "ELEMENT_GROUPS",
    "MUSD",
    "TRADED_PRODUCTS",
    "consumption_reo",
    "domestic_reo",
    "feed_bought",
    "group_pick",
    "home_output",
    "home_separated_oxide",
    "magnet_oxide",
    "mine_feed",
    "output_value",
    "product_trade",
    "product_unmet",
    "product_use",
    "recipe_arrays",
    "reserve_drawn",
    "separated_oxide",
    "solved_stage_output",
    "solved_tolled_oxide",
    "stage_ids",
    "stage_output",
    "tolled_ids",
    "tolled_oxide",
    "traded_reo",
    "unmet_reo",
]

MUSD = 1e6
"""USD per unit of the objective, the budget and value targets: the model counts money in
millions of US dollars so that its coefficients stay within a few orders of magnitude."""


def stage_ids(params: Param, stage: PlanStage) -> list[str]:
    """Candidates at ``stage``, in the dataset's (sorted) order."""
    stages = params["stage"].values
    return [str(c) for c, s in zip(params["candidate"].values, stages, strict=True)
            if s == stage]


def stage_output(lp: LinearProgram, stage: PlanStage) -> Term:
    """Output of all plants of ``stage`` [t/yr of its product], over year."""
    ids = stage_ids(lp.params, stage)
    return lp.variables["prod"].sel(candidate=ids).sum("candidate")


def tolled_ids(params: Param, partner: str | None = None) -> list[str]:
    """Separation plants abroad that separate the country's ore under a tolling contract."""
    p = params
    return [str(c) for c, s, a, who in zip(p["candidate"].values, p["stage"].values,
                                           p["abroad"].values, p["candidate_partner"].values,
                                           strict=True)
            if s == "separation" and a and (partner is None or who == partner)]


def home_output(lp: LinearProgram, stage: PlanStage) -> Term:
    """Output of the plants of ``stage`` at home [t/yr]: neither mines abroad nor tolling."""
    p = lp.params
    ids = [c for c in stage_ids(p, stage) if not bool(p["abroad"].sel(candidate=c))]
    return lp.variables["prod"].sel(candidate=ids).sum("candidate")


def tolled_oxide(lp: LinearProgram) -> list[Term]:
    """Oxide separated abroad from the country's ore (tolling) [t REO/yr], (element, year).

    It comes back as imports; the ore left the country as concentrate.
    """
    if "toll_feed" not in lp.variables:
        return []
    p = lp.params
    share = p["oxide_per_mined"] * p["distribution"]
    return [lp.variables["toll_feed"].term(share).sum("mine")]


def mine_feed(lp: LinearProgram) -> list[Term]:
    """Mine output kept at home for cracking [t REO/yr], over (mine, year).

    What is mined, less what is sold as concentrate and what is stored, plus what is
    drawn from store.
    """
    mines = list(lp.params["mine"].values)
    v = lp.variables
    prod = v["prod"].sel(candidate=mines).rename(candidate="mine")
    return [prod.term(), -v["conc_sold"].term(), -v["conc_held"].term(),
            v["conc_drawn"].term()]


def separated_oxide(lp: LinearProgram) -> list[Term]:
    """Separated oxide by element [t REO/yr], over (element, year).

    Recovery x feed x the ore's distribution (the balance problem).
    """
    p = lp.params
    share = p["oxide_per_mined"] * p["distribution"]
    return [(t * share).sum("mine") for t in mine_feed(lp)]


def home_separated_oxide(lp: LinearProgram) -> list[Term]:
    """Oxide separated at home by element [t REO/yr], over (element, year).

    What the oxide balance reads (none without mines or separation plants), less what is
    separated abroad under tolling.
    """
    p = lp.params
    if not (list(p["mine"].values) and stage_ids(p, "separation")):
        return []
    return [*separated_oxide(lp), *[-t for t in tolled_oxide(lp)]]


def magnet_oxide(params: Param) -> float:
    """Oxide needed per tonne of finished magnet [t REO / t].

    :meth:`reeplan.domain.StageChain.oxide_per_magnet`, stored on the dataset.
    """
    return float(params["oxide_per_magnet"])


ElementGroup = str
"""``"all"`` rare earths, the ``"magnet"`` elements (those of the magnet recipe), or the
``"light"``, ``"medium"`` or ``"heavy"`` ones (the elements table's groups)."""
ELEMENT_GROUPS = ("all", "magnet", "light", "medium", "heavy")


def group_pick(params: Param, group: ElementGroup) -> xr.DataArray:
    """1 for the elements of ``group``, 0 for the others, over element."""
    if group not in ELEMENT_GROUPS:
        raise ChainDefinitionError(f"unknown element group '{group}'; expected one of "
                                   f"{', '.join(ELEMENT_GROUPS)}")
    if group == "all":
        return xr.ones_like(params["metal_per_oxide"])
    if group == "magnet":
        return params["in_recipe"].astype(float)
    return (params["element_group"] == group).astype(float)


def magnet_group_share(params: Param, group: ElementGroup) -> float:
    """Share of a magnet's rare-earth oxide that the elements of ``group`` make up."""
    content = params["recipe_share"].values / params["metal_per_oxide"].values  # by element
    total = float(content.sum())
    pick = group_pick(params, group).transpose("element").values
    return float((content * pick).sum()) / total if total else 0.0


def traded_reo(lp: LinearProgram, flow: str, group: ElementGroup = "all",
               partner: str | None = None) -> list[Term]:
    """Imports or exports (``flow``) of rare-earth products [t REO/yr].

    Oxide, metal over its factor, magnets by their oxide content; for an element group
    only its elements (magnets by the group's share of their oxide); with ``partner``,
    trade with that partner only.
    """
    v, p = lp.variables, lp.params

    def pick(name: str) -> Var:
        return v[name] if partner is None else v[name].sel(partner=[partner])

    share = group_pick(p, group)
    in_magnets = magnet_oxide(p) * magnet_group_share(p, group)
    terms = [pick(f"{flow}_oxide").term(share).sum("partner", "element"),
             pick(f"{flow}_metal").term(share / p["metal_per_oxide"]).sum("partner",
                                                                          "element"),
             pick(f"{flow}_magnet").term(in_magnets).sum("partner")]
    if flow == "import":
        terms += feed_bought(lp, group, partner)
        terms += _tolled_back(lp, group, partner)
    return terms


TRADED_PRODUCTS = ("oxide", "metal", "magnet")
"""The rare-earth products a country trades and uses, each a stage of the chain."""


def product_trade(lp: LinearProgram, flow: str, product: str,
                  group: ElementGroup = "all") -> list[Term]:
    """Imports or exports of one product [t REO/yr], over year.

    ``oxide`` includes oxide coming back from tolling (an import); ``metal`` over its
    factor; ``magnet`` by its oxide content (the group's share of it). Concentrate is not
    a product here: feed bought abroad is imported ore, counted with all products.
    """
    v, p = lp.variables, lp.params
    share = group_pick(p, group)
    if product == "oxide":
        terms = [v[f"{flow}_oxide"].term(share).sum("partner", "element")]
        return terms + (_tolled_back(lp, group, None) if flow == "import" else [])
    if product == "metal":
        return [v[f"{flow}_metal"].term(share / p["metal_per_oxide"]).sum("partner",
                                                                         "element")]
    if product == "magnet":
        return [v[f"{flow}_magnet"].term(magnet_oxide(p) * magnet_group_share(p, group)
                                         ).sum("partner")]
    raise ChainDefinitionError(f"unknown product '{product}'; expected one of "
                               f"{', '.join(TRADED_PRODUCTS)}")


def product_unmet(lp: LinearProgram, product: str, group: ElementGroup = "all"
                  ) -> list[Term]:
    """Use of one product left unmet [t REO/yr]: other uses for oxide, magnets for magnets.

    Metal has no use of its own left unmet (a magnet not made is unmet as a magnet).
    """
    if product == "oxide":
        return _unmet_other(lp, group)
    if product == "magnet":
        return _unmet_magnets(lp, group)
    return []


def product_use(lp: LinearProgram, product: str, group: ElementGroup = "all"
                ) -> tuple[list[Term], xr.DataArray]:
    """Use at home of one product [t REO/yr], over year: terms and a fixed part.

    Oxide: used in other uses and fed to metal making for metal used at home (metal
    exported or stocked counts by the oxide it took, out), with other uses left unmet;
    metal: used in alloy; magnets: the magnets needed (fixed). The dependence table's
    stages (:func:`reeplan.reporting.tables.dependence_table`) count use alike but leave
    unmet use and reserve draws out of imports, so an import cap's "achieved" may exceed
    the table's share when either is not zero.
    """
    v, p = lp.variables, lp.params
    share = group_pick(p, group)
    none = xr.zeros_like(p["discount"])
    if product == "oxide":
        def per_metal(q: Param) -> xr.DataArray:  # oxide a tonne of metal took
            took: xr.DataArray = -share / (q["metal_per_oxide"] * q["metal_recovery"])
            return took

        return [v["other_use"].term(share).sum("element"),
                v["metal_in"].term(share).sum("element"),
                v["export_metal"].term(per_metal).sum("partner", "element"),
                v["stock_metal"].term(per_metal).sum("element"),
                *product_unmet(lp, "oxide", group)], none
    if product == "metal":
        return [v["alloy_use"].term(share / p["metal_per_oxide"]).sum("element")], none
    if product == "magnet":
        fixed: xr.DataArray = p["magnet_demand"] * magnet_oxide(p) \
            * magnet_group_share(p, group)
        return [], fixed
    raise ChainDefinitionError(f"unknown product '{product}'; expected one of "
                               f"{', '.join(TRADED_PRODUCTS)}")


def unmet_reo(lp: LinearProgram, group: ElementGroup = "all") -> list[Term]:
    """Demand left unmet [t REO/yr], over year.

    Magnets by their oxide (the group's share of it), other uses by element (all of a
    pooled problem's for ``all`` only).
    """
    return _unmet_magnets(lp, group) + _unmet_other(lp, group)


def _unmet_magnets(lp: LinearProgram, group: ElementGroup) -> list[Term]:
    """Magnets left unmet, by the group's share of their oxide [t REO/yr]."""
    p = lp.params
    return [lp.variables["unmet_magnets"].term(magnet_oxide(p) * magnet_group_share(p, group))]


def _unmet_other(lp: LinearProgram, group: ElementGroup) -> list[Term]:
    """Other uses left unmet [t REO/yr]: by element, or a pooled problem's for ``all``."""
    other = lp.variables["unmet_other"]
    if "element" in other.cols.dims:
        return [other.term(group_pick(lp.params, group)).sum("element")]
    return [other.term()] if group == "all" else []


def reserve_drawn(lp: LinearProgram, group: ElementGroup = "all") -> list[Term]:
    """Oxide drawn from the strategic reserve [t REO/yr], over year (none without one).

    Import caps count it as imports: a reserve bought abroad before a capped year and drawn
    in it would otherwise meet the cap with imports made earlier.
    """
    if "reserve_draw" not in lp.variables:
        return []
    return [lp.variables["reserve_draw"].term(group_pick(lp.params, group)).sum("element")]


def _tolled_back(lp: LinearProgram, group: ElementGroup, partner: str | None) -> list[Term]:
    """Oxide coming back from tolling abroad [t REO/yr], over year."""
    p = lp.params
    ids = tolled_ids(p, partner)
    if not ids:
        return []
    if group == "all":
        return [lp.variables["prod"].sel(candidate=ids).sum("candidate")]
    if partner is not None and len(set(p["candidate_partner"].sel(
            candidate=tolled_ids(p)).values)) > 1:
        raise ChainDefinitionError("a cap on one element group from one partner with "
                                   "tolling through several partners is not modelled")
    return [(t * group_pick(p, group)).sum("element") for t in tolled_oxide(lp)]


def feed_bought(lp: LinearProgram, group: ElementGroup = "all",
                partner: str | None = None) -> list[Term]:
    """Concentrate from mines abroad (equity or offtake) [t REO/yr], over year: imports.

    For the magnet group, the recipe's elements in it; with ``partner``, from that one.
    """
    p = lp.params
    abroad = [str(m) for m, a, c in zip(p["mine"].values, p["mine_abroad"].values,
                                        _mine_partners(lp), strict=True)
              if a and (partner is None or c == partner)]
    if not abroad:
        return []
    prod = lp.variables["prod"].sel(candidate=abroad).rename(candidate="mine")
    if group != "all":
        share = p["distribution"].sel(mine=abroad) * group_pick(p, group)
        return [prod.term(share).sum("mine", "element")]
    return [prod.sum("mine")]


def _mine_partners(lp: LinearProgram) -> list[str]:
    """The partner each mine's concentrate comes from ('' for a domestic mine)."""
    return [str(x) for x in lp.params["mine_partner"].values]


def domestic_reo(lp: LinearProgram, stage: PlanStage, group: ElementGroup = "all"
                 ) -> list[Term]:
    """What the country itself supplies at ``stage`` [t REO/yr], over year.

    ``mining``: ore mined (t REO, kept or exported); ``separation``: oxide separated;
    ``recycling``: metal recovered from scrap, in oxide equivalent. For the magnet group,
    only the recipe's elements (mined and separated by the ore's distribution).
    """
    p = lp.params
    home = (~p["mine_abroad"]).astype(float)
    if stage == "recycling":
        recovered = stage_output(lp, "recycling") * (
            p["recipe_share"] * p["recycling_recovery"] / p["metal_per_oxide"]
            * group_pick(p, group))
        return [recovered.sum("element")]
    if group != "all":
        pick = group_pick(p, group)
        if stage == "mining":
            mines = list(p["mine"].values)
            prod = lp.variables["prod"].sel(candidate=mines).rename(candidate="mine")
            return [prod.term(p["distribution"] * pick * home).sum("mine", "element")]
        return [(t * (p["oxide_per_mined"] * p["distribution"] * pick)).sum("mine", "element")
                for t in mine_feed(lp)] + [-(t * pick).sum("element")
                                           for t in tolled_oxide(lp)]
    if stage == "mining":  # extraction at home: mines abroad are imported feed
        mines = list(p["mine"].values)
        return [lp.variables["prod"].sel(candidate=mines).rename(candidate="mine").term(
            home).sum("mine")]
    return [home_output(lp, stage)]  # separation abroad (tolling) is not done at home


def consumption_reo(params: Param, group: ElementGroup = "all") -> xr.DataArray:
    """Domestic consumption in oxide equivalent [t REO/yr], over year.

    Magnets by their oxide (for a group, its share of it) and other uses (for a group, its
    elements' part of the non-magnet split; a problem without a split counts other uses
    for ``all`` only).
    """
    magnets: xr.DataArray = magnet_oxide(params) * params["magnet_demand"] \
        * magnet_group_share(params, group)
    if bool(params["other_pooled"]):
        part = 1.0 if group == "all" else 0.0
    else:
        part = float((params["other_split"] * group_pick(params, group)).sum())
    total: xr.DataArray = magnets + params["other_demand"] * part
    return total


def output_value(lp: LinearProgram) -> list[Term]:
    """Domestic output at reference prices, each stage's value added once [M USD/yr].

    Separated oxide at oxide prices; metal at its price less its oxide's; magnets at their
    price less their metal content's.
    """
    v = lp.variables

    def oxide(p: Param) -> xr.DataArray:
        return oxide_price(p) / MUSD

    def metal_gain(p: Param) -> xr.DataArray:
        made = p["metal_recovery"] * p["metal_per_oxide"]
        return made * (oxide_price(p, "metal") - oxide_price(p) / p["metal_per_oxide"]) / MUSD

    def magnet_gain(p: Param) -> xr.DataArray:
        content = (oxide_price(p, "metal") * p["recipe_share"]).sum("element")
        gain: xr.DataArray = (p["magnet_price"] - content / p["magnet_per_alloy_metal"]) / MUSD
        return gain

    terms = [(t * oxide).sum("element") for t in separated_oxide(lp)]
    terms.append(v["metal_in"].term(metal_gain).sum("element"))
    terms.append(stage_output(lp, "magnet") * magnet_gain)
    return terms


def recipe_arrays(recipe: Recipe, params: Param) -> tuple[xr.DataArray, xr.DataArray]:
    """Metal per tonne of magnet by recipe component [t/t], and who supplies each.

    The need is wt% over the alloy and magnet yields; the members are 0/1 over component
    and element.
    """
    comps = list(recipe.wt_pct)
    member = xr.DataArray([[float(e in recipe.members(c)) for e in params["element"].values]
                           for c in comps],
                          coords={"component": comps, "element": params["element"].values})
    need = xr.DataArray([w / 100 for w in recipe.wt_pct.values()],
                        coords={"component": comps}) / params["magnet_per_alloy_metal"]
    return need, member


def solved_tolled_oxide(solution: xr.Dataset, params: Param) -> xr.DataArray:
    """Oxide separated abroad from the country's ore in a solution [t REO].

    Over (mine, element, year); zeros without tolling (:func:`tolled_oxide` in the model).
    """
    if "toll_feed" not in solution:
        return xr.zeros_like(params["distribution"] * params["discount"])
    back: xr.DataArray = params["oxide_per_mined"] * params["distribution"] \
        * solution["toll_feed"]
    return back


def solved_stage_output(solution: xr.Dataset, params: Param, stage: PlanStage) -> xr.DataArray:
    """Output of all plants of ``stage`` in a solution [t/yr of its product], over year."""
    total: xr.DataArray = solution["prod"].sel(candidate=stage_ids(params, stage)).sum(
        "candidate")
    return total

