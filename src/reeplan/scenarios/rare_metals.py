"""The rare-metal part of a scenario, checked and turned into the planner's inputs.

A scenario names the commodities it tracks (``rare_metals.commodities``); each needs a
``rare_metal_products`` row and a consumption figure for the country (the fact base's or
the scenario's). Mines with a concentrate composition make their co-products of the
tracked commodities; ``group_output`` targets count the roadmap's product groups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from reeplan.data import FactBase
from reeplan.data.rare_metals import (
    announced_capacity,
    coproduct_ratios,
    latest_output,
    producer_of,
    product_group_members,
    rare_metal_consumption,
    rare_metal_downstream,
    rare_metal_product,
)
from reeplan.data.selection import assumption_value
from reeplan.errors import ReeplanError
from reeplan.optimize.problem import ProductGroup, RareMetal
from reeplan.scenarios.spec import CandidateSpec, Scenario
from reeplan.types import RARE_METAL_STAGES, SINGLE_COUNTRY_PARTNERS

__all__ = ["PRICE_TAKER", "RareMetalInputs", "check_rare_metals", "coproducts",
           "partner_sells", "rare_metal_inputs"]

PRICE_TAKER = "price_taker_share"
"""The assumption holding the share of a world rare-metal market the country may sell."""


def check_rare_metals(scenario: Scenario, facts: FactBase,
                      bad: Callable[[str, str], None]) -> None:
    """Each tracked commodity has its product and consumption; plants and groups resolve."""
    _check_commodities(scenario, facts, bad)
    tracked = scenario.rare_metals.commodities
    deposits = set(facts["deposits"]["deposit_id"])
    for cid, c in scenario.candidates.items():
        if c.stage not in RARE_METAL_STAGES:
            continue
        if c.commodity not in tracked:
            bad(f"candidates.{cid}.commodity",
                f"'{c.commodity}' is not in rare_metals.commodities "
                f"({', '.join(tracked) or 'none'}); the plan would ignore this plant")
        if c.deposit is not None and c.deposit not in deposits:
            bad(f"candidates.{cid}.deposit", f"unknown deposit '{c.deposit}'")
    groups = set(facts["product_groups"]["group_id"])
    for i, t in enumerate(scenario.targets):
        if t.commodity is not None and t.commodity not in tracked:
            bad(f"targets.{i}.commodity", f"'{t.commodity}' is not in rare_metals.commodities "
                                          f"({', '.join(tracked) or 'none'})")
        if t.group is not None and t.group not in groups:
            bad(f"targets.{i}.group", f"unknown product group '{t.group}'; expected one of "
                                      f"{', '.join(sorted(groups))}")


def _check_commodities(scenario: Scenario, facts: FactBase,
                       bad: Callable[[str, str], None]) -> None:
    tracked = scenario.rare_metals.commodities
    products = set(facts["rare_metal_products"]["commodity"])
    start = scenario.rare_metals.consumption_year or scenario.horizon.start
    for i, k in enumerate(tracked):
        if k not in products:
            bad(f"rare_metals.commodities.{i}", f"'{k}' has no rare_metal_products row (its "
                                                f"product, price and yields); the fact base "
                                                f"has {', '.join(sorted(products))}")
        elif k not in scenario.rare_metals.consumption_t and rare_metal_consumption(
                facts, scenario.country, k, start) is None:
            bad(f"rare_metals.commodities.{i}",
                f"no consumption of '{k}' for {scenario.country} in the rare_metal_balances "
                f"table; give rare_metals.consumption_t.{k} [t content/yr]")
    for field in ("consumption_t", "growth_by_commodity", "downstream_share"):
        for k in getattr(scenario.rare_metals, field):
            if k not in tracked:
                bad(f"rare_metals.{field}.{k}", f"'{k}' is not in rare_metals.commodities")
    _check_downstream(scenario, facts, bad)


def _check_downstream(scenario: Scenario, facts: FactBase,
                      bad: Callable[[str, str], None]) -> None:
    """A second product named has its row; a conversion plant has a share to serve."""
    tracked = scenario.rare_metals.commodities
    seconds = set(facts["rare_metal_downstream"]["commodity"])
    for k, share in scenario.rare_metals.downstream_share.items():
        if k in tracked and share > 0 and k not in seconds:
            bad(f"rare_metals.downstream_share.{k}",
                f"'{k}' has no rare_metal_downstream row (its second product, price ratio "
                f"and recovery); the fact base has {', '.join(sorted(seconds)) or 'none'}")
    for cid, c in scenario.candidates.items():
        if c.stage == "rare_metal_conversion" and c.commodity in tracked and not \
                scenario.rare_metals.downstream_share.get(c.commodity, 0.0):
            bad(f"candidates.{cid}.stage", f"a conversion plant of '{c.commodity}' needs "
                                           f"rare_metals.downstream_share.{c.commodity} "
                                           f"above 0; the plan would ignore this plant")


def coproducts(cid: str, c: CandidateSpec, scenario: Scenario,
               facts: FactBase) -> dict[str, float]:
    """What a mine's concentrate carries of the tracked rare metals [t per t of product].

    A rare-earth mine per t REO, from its deposit's concentrate composition; a rare-metal
    mine per t of its commodity's content (1 for it), from the composition if it has one.
    """
    tracked = list(scenario.rare_metals.commodities)
    if c.stage == "rare_metal_mining":
        assert c.commodity is not None  # the spec requires it on rare-metal stages
        return coproduct_ratios(facts, c.deposit, c.commodity, tracked) if c.deposit \
            else {c.commodity: 1.0}
    if c.stage == "mining" and c.deposit is not None and tracked:
        return coproduct_ratios(facts, c.deposit, "REO", tracked)
    return {}


def partner_sells(pid: str, scenario: Scenario,
                  facts: FactBase) -> dict[str, frozenset[str] | None]:
    """What a partner can sell us of the tracked rare metals (Partner fields).

    A single country: concentrate of what it mines, the refined product of what it makes
    at all (:func:`~reeplan.data.rare_metals.producer_of`); a group of countries, any.
    The scenario's ``sells_rare_metal_concentrate`` overrides the concentrate list.
    """
    stated = scenario.policy.partners[pid].sells_rare_metal_concentrate  # type: ignore[index]
    if pid not in SINGLE_COUNTRY_PARTNERS:
        return {"sells_concentrate": None if stated is None else frozenset(stated),
                "sells_refined": None}
    made = {k: producer_of(facts, pid, k) for k in scenario.rare_metals.commodities}
    concentrate = frozenset(stated) if stated is not None else frozenset(
        k for k, (mines, _) in made.items() if mines)
    return {"sells_concentrate": concentrate,
            "sells_refined": frozenset(k for k, (_, makes) in made.items() if makes)}


@dataclass(frozen=True)
class RareMetalInputs:
    """The rare metals tracked, the product groups targets count, and their sources."""

    metals: tuple[RareMetal, ...]
    groups: tuple[ProductGroup, ...]
    sources: frozenset[str]


def rare_metal_inputs(scenario: Scenario, facts: FactBase,
                      years: tuple[int, ...]) -> RareMetalInputs:
    """The planner's rare-metal inputs of ``scenario`` (references already checked)."""
    spec = scenario.rare_metals
    start = spec.consumption_year or scenario.horizon.start
    metals: list[RareMetal] = []
    sources: set[str] = set()
    for k in spec.commodities:
        product = rare_metal_product(facts, k)
        sources |= product.source_ids
        if k in spec.consumption_t:
            base = float(spec.consumption_t[k])
        else:
            found = rare_metal_consumption(facts, scenario.country, k, start)
            if found is None:  # check_rare_metals made sure; a library caller may not
                raise ReeplanError(f"no consumption of '{k}' for {scenario.country}")
            base, _, source = found
            sources.add(source)
        growth = spec.growth_by_commodity.get(k, spec.growth_per_year)
        until = spec.growth_until or years[-1]
        use = {y: base * (1 + growth) ** (min(y, until) - years[0]) for y in years}
        share = assumption_value(facts, PRICE_TAKER)
        metal = RareMetal(k, use, product.price, product.concentrate_share,
                          product.refining_recovery, product.product,
                          product.product_per_content, product.used_as_concentrate,
                          product.concentrate_market, share * product.world_output)
        second = rare_metal_downstream(facts, k)
        split = float(spec.downstream_share.get(k, 0.0))
        if second is not None and split > 0:  # a second product takes part of the use
            metal = replace(metal, downstream=second.product, downstream_share=split,
                            downstream_ratio=second.price_ratio,
                            conversion_recovery=second.conversion_recovery)
            sources |= second.source_ids
        metals.append(metal)
        sources.add(PRICE_TAKER)
    groups = []
    for gid in sorted({str(t.group) for t in scenario.targets if t.group is not None}):
        commodities, element_groups, source = product_group_members(facts, gid)
        sources |= set(source.split(";"))
        left = tuple(k for k in commodities if k not in spec.commodities)
        made = [(k, *found) for k in left
                if (found := latest_output(facts, scenario.country, k)) is not None]
        sources |= {str(src) for *_, src in made}
        plants = [(k, *found) for k in left
                  for found in announced_capacity(facts, scenario.country, k)]
        sources |= {src for *_, src in plants}
        announced = [(k, t, y or 0, name) for k, t, y, name, _ in plants]
        groups.append(ProductGroup(gid, tuple(k for k in commodities if k in spec.commodities),
                                   tuple(element_groups), left,
                                   tuple((k, t, y) for k, t, y, _ in made),
                                   tuple(announced)))
    return RareMetalInputs(tuple(metals), tuple(groups), frozenset(sources))
