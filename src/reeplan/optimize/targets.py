"""Target kinds as one table of rules, read by the model and by the explanation alike.

Each :class:`TargetRule` says what a kind's left-hand side is, its sense, the right-hand
side, the unit of a shortfall, how "achieved" is computed from the solution, and which
stages to look at when a miss is explained. A target is soft: a ``shortfall`` column,
priced at the target's stated penalty, keeps every plan feasible, so a miss is reported
with its size and reason instead of an infeasible solve. An unknown kind raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from reeplan.errors import ChainDefinitionError
from reeplan.optimize.expressions import (
    MUSD,
    consumption_reo,
    domestic_reo,
    home_output,
    output_value,
    product_trade,
    product_unmet,
    product_use,
    reserve_drawn,
    traded_reo,
    unmet_reo,
)
from reeplan.optimize.lp import LinearProgram, Param, Sense, Term
from reeplan.optimize.problem import Problem, Target
from reeplan.optimize.rare_metals import converted_content, group_output, rare_metal_value
from reeplan.types import PlanStage

__all__ = ["PENALTY_PARTS", "RULES", "TargetRule", "achieved", "define_targets",
           "penalty_cost", "penalty_parts", "rule",
           "shortfall_cost"]


@dataclass(frozen=True)
class TargetRule:
    """How one kind of target enters the model and the explanation.

    Attributes
    ----------
    kind
        The kind's name.
    meaning
        One line for people.
    sense
        ``">="``: lhs + shortfall >= rhs; ``"<="``: lhs - shortfall <= rhs.
    lhs
        Terms over year for a target (model units: t/yr, t REO/yr or M USD/yr).
    rhs
        Right-hand side over year from the parameters and the target's value.
    unit
        Unit of the shortfall as reported.
    scale
        Reported units per model unit of the shortfall (M USD to USD for values).
    achieved
        From the left-hand side's value at the solution, what the target measures.
    stages
        Stages whose candidates explain a miss.
    share_of
        For a share of a use the plan decides (one product's use at home): that use as
        terms and a fixed part, or ``None`` where the share is of a given consumption
        (``rhs``). With a use, the constraint is lhs - value x use <= value x fixed part
        (shortfall apart) and "achieved" is lhs / (use + fixed part).
    measure_unit
        Unit of the value and of what is achieved, where it is not the shortfall's (a
        share is a fraction; its shortfall is in tonnes).
    """

    kind: str
    meaning: str
    sense: Sense
    lhs: Callable[[LinearProgram, Target], list[Term]]
    rhs: Callable[[Param, float, Target], xr.DataArray]
    unit: str
    scale: float
    achieved: Callable[[xr.DataArray, Param, Target], xr.DataArray]
    stages: Callable[[Target], tuple[PlanStage, ...]]
    share_of: Callable[[LinearProgram, Target], tuple[list[Term], xr.DataArray] | None] = \
        lambda lp, t: None
    measure_unit: str = ""

    @property
    def value_unit(self) -> str:
        """Unit of the target's value and of what is achieved."""
        return self.measure_unit or self.unit


_UPSTREAM: Mapping[str, tuple[PlanStage, ...]] = {
    "mining": ("mining",), "separation": ("mining", "separation"),
    "metal": ("mining", "separation", "metal"),
    "magnet": ("mining", "separation", "metal", "magnet"), "recycling": ("recycling",)}
"""A stage and the stages that feed it: where a miss of its output may come from."""



def _per_year(q: Param, value: float, t: Target) -> xr.DataArray:
    return xr.full_like(q["discount"], value)


def _share_of_consumption(q: Param, value: float, t: Target) -> xr.DataArray:
    return value * consumption_reo(q, t.elements)


def _per_use(lhs: xr.DataArray, use: xr.DataArray) -> xr.DataArray:
    """``lhs`` as a share of ``use``; NaN where nothing is used."""
    share: xr.DataArray = lhs / use.where(use > 0)
    return share


def _fraction(lhs: xr.DataArray, q: Param, t: Target) -> xr.DataArray:
    return _per_use(lhs, consumption_reo(q, t.elements))


def _import_lhs(lp: LinearProgram, t: Target) -> list[Term]:
    """Imports of the target's elements, and demand left unmet; net of exports for a net share.

    Unmet demand counts as imports: use the country does not supply itself is never
    import substitution, so leaving demand unmet cannot meet the target. So does oxide
    drawn from the strategic reserve (:func:`reeplan.optimize.expressions.reserve_drawn`).
    """
    drawn = reserve_drawn(lp, t.elements) if t.product in ("all", "oxide") else []
    if t.product != "all":  # one product's trade over its use at home
        terms = product_trade(lp, "import", t.product, t.elements) \
            + product_unmet(lp, t.product, t.elements) + drawn
        if t.measure == "net":
            terms += [-x for x in product_trade(lp, "export", t.product, t.elements)]
        return terms
    terms = traded_reo(lp, "import", t.elements) + unmet_reo(lp, t.elements) + drawn
    if t.measure == "net":
        terms += [-x for x in traded_reo(lp, "export", t.elements)]
    return terms


def _product_use(lp: LinearProgram, t: Target) -> tuple[list[Term], xr.DataArray] | None:
    """The use at home of an import cap's product (``None``: all products, consumption)."""
    return None if t.product == "all" else product_use(lp, t.product, t.elements)


def _rare_metal_imports(lp: LinearProgram, t: Target) -> list[Term]:
    """Imports of one rare metal (refined and second product) and its use left unmet.

    In t content a year. Net of exports for a net share; unmet use counts as imports (see
    :func:`_import_lhs`).
    """
    pick = (lp.params["commodity"] == t.commodity).astype(float)
    v = lp.variables
    second = "rm_down_import" in v
    terms = [v[n].term(pick).sum("partner", "commodity") for n in
             ("rm_import", *(["rm_down_import"] if second else []))]
    terms += [v[n].term(pick).sum("commodity") for n in  # unmet is not supplied
              ("rm_unmet", *(["rm_down_unmet"] if second else []))]
    if t.measure == "net":
        terms += [v[n].term(-pick).sum("partner", "commodity") for n in
                  ("rm_export", *(["rm_down_export"] if second else []))]
    return terms


def _rare_metal_use(q: Param, t: Target) -> xr.DataArray:
    use: xr.DataArray = q["rm_consumption"].sel(commodity=t.commodity, drop=True)
    return use


def _rare_metal_need(lp: LinearProgram, t: Target) -> tuple[list[Term], xr.DataArray]:
    """What the country needs of one rare metal [t content/yr].

    Its use, and the content a second product's conversion loses (imported refined
    product fed to it is imported too).
    """
    pick = (lp.params["commodity"] == t.commodity).astype(float)

    def lost(q: Param) -> xr.DataArray:
        share: xr.DataArray = (1 / q["rm_conversion_recovery"] - 1) * pick
        return share

    return [(x * lost).sum("commodity") for x in converted_content(lp)], \
        _rare_metal_use(lp.params, t)


RULES: Mapping[str, TargetRule] = {
    "output": TargetRule(
        "output", "domestic output of the target's stage of at least the value [t/yr]",
        ">=", lambda lp, t: domestic_reo(lp, "mining") if t.stage == "mining"
        else [home_output(lp, t.stage)], _per_year, "t/yr", 1.0,
        lambda lhs, q, t: lhs, lambda t: _UPSTREAM[t.stage]),
    "import_share": TargetRule(
        "import_share", "imports (gross, or net of exports) of all rare-earth products, or of "
        "one product (oxide, metal or magnets), of all rare earths or an element group, "
        "with use left unmet, at most the value [fraction] of their consumption (of that "
        "product's use at home), all in t REO equivalent", "<=", _import_lhs,
        _share_of_consumption, "t REO/yr of imports above the cap", 1.0, _fraction,
        lambda t: ("separation", "metal", "magnet"), _product_use, "fraction"),
    "self_sufficiency": TargetRule(
        "self_sufficiency", "domestic supply at the target's stage (ore mined, oxide "
        "separated, or metal recycled, in t REO) at least the value [fraction] of "
        "consumption [t REO] of the target's elements", ">=",
        lambda lp, t: domestic_reo(lp, t.stage, t.elements),
        _share_of_consumption, "t REO/yr of domestic supply", 1.0, _fraction,
        lambda t: _UPSTREAM[t.stage], measure_unit="fraction"),
    "supplier_share": TargetRule(
        "supplier_share", "imports from one partner country of all rare-earth products "
        "(oxide, metal and magnets, in t REO) at most the value [fraction] of consumption of "
        "the target's elements", "<=",
        lambda lp, t: traded_reo(lp, "import", t.elements, partner=t.partner),
        _share_of_consumption, "t REO/yr of imports above the cap", 1.0, _fraction,
        lambda t: ("mining", "separation", "metal", "magnet", "recycling"),
        measure_unit="fraction"),
    "output_value": TargetRule(
        "output_value", "domestic output worth at least the value [USD/yr] at reference "
        "prices, each stage's value added counted once (rare earths) and the refined "
        "rare metals the plan tracks (or those of the target's product group) at world "
        "prices", ">=",
        lambda lp, t: [*output_value(lp), *rare_metal_value(lp, t.group)],
        lambda q, value, t: _per_year(q, value / MUSD, t),
        "USD/yr", MUSD, lambda lhs, q, t: lhs * MUSD,
        lambda t: ("mining", "separation", "metal", "magnet", "rare_metal_mining",
                   "rare_metal_refining", "rare_metal_conversion")),
    "group_output": TargetRule(
        "group_output", "domestic output of a product group (its rare metals' refined "
        "products in t of product, its rare-earth element groups' oxide separated at home "
        "in t REO) of at least the value [t/yr]", ">=",
        lambda lp, t: group_output(lp, t.group), _per_year, "t/yr", 1.0,
        lambda lhs, q, t: lhs,
        lambda t: ("mining", "separation", "rare_metal_mining", "rare_metal_refining")),
    "rare_metal_import_share": TargetRule(
        "rare_metal_import_share", "imports of one rare metal, its refined and its second "
        "product (gross, or net of exports), with use left unmet, at most the value "
        "[fraction] of what it needs (its use and the content its conversion loses), in t "
        "content",
        "<=", _rare_metal_imports, lambda q, value, t: value * _rare_metal_use(q, t),
        "t/yr of imports above the cap", 1.0,
        lambda lhs, q, t: _per_use(lhs, _rare_metal_use(q, t)),
        lambda t: ("mining", "rare_metal_mining", "rare_metal_refining",
                   "rare_metal_conversion"), _rare_metal_need, "fraction"),
}
"""The rule of every target kind the model knows."""


def rule(kind: str) -> TargetRule:
    """The rule of ``kind``; an unknown kind raises, naming the known ones."""
    if kind not in RULES:
        raise ChainDefinitionError(f"unknown target kind '{kind}'; expected one of "
                                   f"{', '.join(RULES)}")
    return RULES[kind]


def shortfall_cost(q: Param) -> xr.DataArray:
    """Cost of one model unit of each target's shortfall [USD], by target."""
    scale = np.array([rule(str(k)).scale for k in q["target_kind"].values])
    return q["target_penalty"] * xr.DataArray(scale, coords={"target": q["target"].values})


def define_targets(lp: LinearProgram, problem: Problem) -> None:
    """Soft targets: one ``shortfall`` column per target and year, priced in the objective.

    Each target is one family ``target_<id>`` over its years; shortfalls are in the model
    units of the rule (t/yr, t REO/yr or M USD/yr) and absent before a target's first year.
    """
    p = lp.params
    if not problem.targets:
        return
    for t in problem.targets:
        rule(t.kind)
    active = p["year"] >= p["target_from"]
    short = lp.add_variables("shortfall", {"target": list(p["target"].values),
                                           "year": list(p["year"].values)}, mask=active)
    for t in problem.targets:
        r = rule(t.kind)
        s = short.sel(target=t.id).term(1.0 if r.sense == ">=" else -1.0)
        terms, rhs = _sides(lp, r, t)
        lp.add_constraints(f"target_{t.id}", [*terms, s], r.sense, rhs,
                           {"year": list(p["year"].values)}, mask=active.sel(target=t.id))


def _sides(lp: LinearProgram, r: TargetRule, t: Target
           ) -> tuple[list[Term], Callable[[Param], xr.DataArray]]:
    """A target's left-hand terms (shortfall apart) and its right-hand side."""

    def value(q: Param) -> float:
        return float(q["target_value"].sel(target=t.id))

    use = r.share_of(lp, t)
    if use is None:
        return r.lhs(lp, t), lambda q: r.rhs(q, value(q), t)
    used, fixed = use  # a share of a use the plan decides: lhs - value x use <= value x fixed

    def minus_value(q: Param) -> float:
        return -value(q)

    return r.lhs(lp, t) + [u * minus_value for u in used], lambda q: value(q) * fixed


def achieved(lp: LinearProgram, x: np.ndarray, params: Param, t: Target) -> xr.DataArray:
    """What target ``t`` measures at the solution ``x``, over year (its rule's units)."""
    r = rule(t.kind)
    lhs = lp.evaluate(r.lhs(lp, t), x, params)
    use = r.share_of(lp, t)
    if use is None:
        return r.achieved(lhs, params, t)
    used, fixed = use
    total = fixed + (lp.evaluate(used, x, params) if used else 0.0)
    return _per_use(lhs, total)


PENALTY_PARTS = ("targets missed", "demand unmet", "contracts short")
"""What penalties are for, as :func:`penalty_parts` splits them."""


def penalty_parts(solution: xr.Dataset, params: Param) -> dict[str, xr.DataArray]:
    """Penalties of a solution by year [USD, undiscounted], by what they are for.

    ``targets missed``: each target's shortfall at its own penalty; ``demand unmet``:
    rare-earth and rare-metal demand left unmet; ``contracts short``: offtake contracts
    the chain cannot feed; both at the unmet-demand penalty.
    """
    zero = xr.zeros_like(params["discount"])
    other = solution["unmet_other"]
    if "element" in other.dims:
        other = other.sum("element")
    unmet: xr.DataArray = params["unmet_penalty"] * (solution["unmet_magnets"] + other)
    for name in ("rm_unmet", "rm_down_unmet"):
        if name in solution:
            unmet = unmet + params["unmet_penalty"] * solution[name].fillna(0.0).sum(
                "commodity")
    short = params["unmet_penalty"] * solution["offtake_short"].fillna(0.0).sum(
        "candidate") if "offtake_short" in solution else zero
    missed = (solution["shortfall"] * shortfall_cost(params)).sum("target") \
        if "shortfall" in solution else zero
    return dict(zip(PENALTY_PARTS, (missed, unmet, short), strict=True))


def penalty_cost(solution: xr.Dataset, params: Param) -> xr.DataArray:
    """Penalties of a solution by year [USD, undiscounted], all parts together."""
    parts = list(penalty_parts(solution, params).values())
    total: xr.DataArray = parts[0] + parts[1] + parts[2]
    return total
