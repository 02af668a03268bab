"""Market depth on the demand side: what a partner can buy from us, from what it uses.

A partner buys an element from us for its own industry; resale onward is not absorption
(resale to China is trade with China, resale to a blocked partner what its sanctions
forbid). So the countries a scenario names under ``buys_what_it_uses`` bound, element by
element, what the partner buys: their consumption as the planner reads a country's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from reeplan.data import FactBase
from reeplan.data.selection import (
    consumption,
    home_countries,
    is_country_group,
)
from reeplan.domain.recipe import Recipe
from reeplan.scenarios.spec import PartnerSpec, Scenario

__all__ = ["PARTNER_USE_RULE", "PartnerUse", "check_partner_use", "magnet_oxide", "magnets_made",
           "partner_use"]

PARTNER_USE_RULE = "partner_buys_its_use"
"""The assumption that a partner buys from us at most what its named countries use."""


@dataclass(frozen=True)
class PartnerUse:
    """What a partner's countries use of each element [t REO/yr], and the sources.

    Attributes
    ----------
    tonnes
        Use by element, over the elements the plan models; an element they do not use is
        0 (not bought).
    year
        Latest year of the consumption rows read.
    source_ids
        Consumption, split and recipe sources, and :data:`PARTNER_USE_RULE`.
    by_year
        Use by planning year and element, where it changes over the horizon (growth, magnet
        plants): empty when it is ``tonnes`` every year.
    """

    tonnes: dict[str, float]
    year: int
    source_ids: frozenset[str]
    by_year: dict[int, dict[str, float]] = field(default_factory=dict)


def check_partner_use(scenario: Scenario, facts: FactBase,
                      bad: Callable[[str, str], None]) -> None:
    """Check each country under ``buys_what_it_uses``.

    It must be known, abroad, have a consumption, and be counted once (not twice in one
    partner or group, nor under two partners).
    """
    known = set(facts["countries"]["iso3"])
    home = home_countries(facts, scenario.country)
    year = _year(scenario)
    counted: dict[str, str] = {}  # member country -> where it is counted already
    for pid, q in scenario.policy.partners.items():
        for i, code in enumerate(q.buys_what_it_uses):
            key = f"policy.partners.{pid}.buys_what_it_uses.{i}"
            members = home_countries(facts, code)
            twice = sorted(m for m in members if m in counted)
            if twice:
                bad(key, f"'{code}' counts {', '.join(twice)} again (already under "
                         f"{counted[twice[0]]}); expected each country's use once")
                continue
            counted.update(dict.fromkeys(members, f"{pid} as {code}"))
            if code not in known and not is_country_group(facts, code):
                bad(key, f"unknown country '{code}'; expected an ISO 3166 alpha-3 code or a "
                         f"country group")
            elif home_countries(facts, code) & home:
                bad(key, f"'{code}' is (or holds) the planning country {scenario.country}; "
                         f"a partner's use is use abroad")
            elif consumption(facts, code, year) is None:
                bad(key, f"no rare-earth consumption for '{code}' in the demand table "
                         f"(end_use 'consumption', unit t); expected a published figure")


def magnet_oxide(recipe: Recipe, metal_per_oxide: Mapping[str, float],
                 oxide_per_magnet: float) -> dict[str, float]:
    """Oxide of each recipe element per tonne of magnet made [t REO / t magnet].

    ``oxide_per_magnet`` [t REO / t] split over the recipe's elements by their oxide
    content (metal wt% over each element's metal-per-oxide factor).
    """
    rare = {e: w / metal_per_oxide[e] for e, w in recipe.wt_pct.items()}
    total = sum(rare.values())
    return {e: oxide_per_magnet * v / total for e, v in rare.items()}


def partner_use(q: PartnerSpec, scenario: Scenario, facts: FactBase, recipe: Recipe,
                per_magnet: Mapping[str, float], split: Mapping[str, float],
                elements: list[str]) -> PartnerUse:
    """Use of each element by the countries of ``q.buys_what_it_uses`` [t REO/yr].

    A country's consumption nearest the first planning year, read as the planner reads the
    planning country's: where its magnets are published apart, the consumption is of
    compounds and metals only and splits by ``split``, the planner's own non-magnet split
    over the elements it trades [fraction]; otherwise its magnet share goes to the
    recipe's elements by their oxide content (``per_magnet``, :func:`magnet_oxide`) and
    the rest splits by ``split``. Over the horizon it grows by ``q.use_growth_per_year``
    from each country's consumption year, and each tonne of ``q.magnets_made_t`` adds
    ``per_magnet`` [t REO per t of magnet, by element]. References are checked by
    :func:`check_partner_use`; the split's sources are the caller's.
    """
    year = _year(scenario)
    years = range(scenario.horizon.start, scenario.horizon.end + 1)
    rare_total = sum(per_magnet.values())
    use = dict.fromkeys(elements, 0.0)
    grown = {y: dict.fromkeys(elements, 0.0) for y in years}
    sources = {PARTNER_USE_RULE}
    latest = 0
    for code in q.buys_what_it_uses:
        found = consumption(facts, code, year)
        assert found is not None  # check_partner_use made sure
        latest = max(latest, found.year)
        sources |= found.source_ids
        magnets = 0.0 if found.magnets_t is not None else found.total * found.magnet_share
        if magnets:
            sources |= recipe.source_ids
        for e in use:
            level = (found.total - magnets) * split.get(e, 0.0) \
                + magnets * per_magnet.get(e, 0.0) / rare_total
            use[e] += level
            for y in years:
                grown[y][e] += level * (1 + q.use_growth_per_year) ** (y - found.year)
    if q.magnets_made_t:
        sources |= recipe.source_ids
        for y in years:
            made = magnets_made(q.magnets_made_t, y)
            for e, oxide in per_magnet.items():
                if e in grown[y]:
                    grown[y][e] += made * oxide
    changes = bool(q.use_growth_per_year or q.magnets_made_t)
    return PartnerUse(use, latest, frozenset(sources), grown if changes else {})


def magnets_made(path: Mapping[int, float], year: int) -> float:
    """The step path's value in ``year``: the latest listed year's, 0 before the first."""
    listed = [y for y in path if y <= year]
    return float(path[max(listed)]) if listed else 0.0


def _year(scenario: Scenario) -> int:
    return scenario.demand.consumption_year or scenario.horizon.start
