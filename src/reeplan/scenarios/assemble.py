"""Turn a scenario and the fact base into a :class:`~reeplan.optimize.Problem`.

Every number comes from the scenario (which names its source or assumption for each
candidate) or from the fact base; references the fact base cannot resolve raise a
:class:`~reeplan.errors.DataValidationError` naming the scenario file, line and key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from reeplan.data import FactBase
from reeplan.data.selection import (
    MarketPrices,
    assumption_value,
    concentrate_value,
    consumption,
    exchange_rate,
    home_countries,
    magnet_quote,
    magnet_share,
    market_prices,
    mine_output,
    non_magnet_split,
    oxide_prices,
)
from reeplan.domain import chain_from_facts, recipe_as_used
from reeplan.errors import DataValidationError, Problem, ReeplanError
from reeplan.flows.coproduction import (
    best_distribution,
    distribution_from_table,
    unassigned_share,
)
from reeplan.flows.recycling import magnet_flows, recycling_rate
from reeplan.optimize.problem import Candidate, Partner, Target, environment_key
from reeplan.optimize.problem import Problem as PlanProblem
from reeplan.scenarios.markets import check_partner_use, magnet_oxide, partner_use
from reeplan.scenarios.rare_metals import (
    check_rare_metals,
    coproducts,
    partner_sells,
    rare_metal_inputs,
)
from reeplan.scenarios.spec import DEFAULT_PENALTY, CandidateSpec, Scenario, TargetSpec
from reeplan.types import MARKETS, SINGLE_COUNTRY_PARTNERS

__all__ = ["assemble", "check_references"]

RESERVE_SERIES = {"usgs": "USGS MCS2025", "ministry": "MinPrirody 2025"}
"""Which production series holds the national reserve for each ``reserve_estimate``."""
MAGNET_PRICE_RULE = "magnet_price_follows_nd"
CONCENTRATE_STORAGE = "concentrate_storage"
"""The assumption that prices storing concentrate at a domestic mine [USD/t/yr]."""
"""The assumption that prices magnets from a quote of another year by the Nd price."""


def check_references(scenario: Scenario, facts: FactBase, path: str | Path,
                     lines: Mapping[str, int]) -> None:
    """Check country, elements, deposits and sources against the fact base.

    ``lines`` maps key paths to lines of ``path`` (:func:`~reeplan.scenarios.spec.read_scenario`)
    so that each problem names where it is.
    """
    problems: list[Problem] = []

    def bad(key: str, message: str) -> None:
        top = key.split(".", maxsplit=1)[0]
        problems.append(Problem(str(path), lines.get(key, lines.get(top)), key, message,
                                unit="line"))

    _check_country_and_elements(scenario, facts, bad)
    _check_candidates(scenario, facts, bad)
    _check_sources(scenario, facts, bad)
    check_rare_metals(scenario, facts, bad)
    if not problems:
        _check_modelled(scenario, facts, bad)
        _check_prices(scenario, facts, bad)
    if problems:
        raise DataValidationError(problems)


def _check_country_and_elements(scenario: Scenario, facts: FactBase,
                                bad: Callable[[str, str], None]) -> None:
    groups = set(facts["country_groups"]["group"])
    if scenario.country not in set(facts["countries"]["iso3"]) | groups:
        bad("country", f"unknown country '{scenario.country}'; expected an ISO 3166 alpha-3 "
                       f"code or a country group ({', '.join(sorted(groups))})")
    elements = set(facts["elements"]["symbol"])
    for pid, partner in scenario.policy.partners.items():
        for field in ("export_caps_t", "buys_at_most_t"):
            for e in getattr(partner, field):
                if e not in elements:
                    bad(f"policy.partners.{pid}.{field}.{e}", f"unknown element '{e}'")
    check_partner_use(scenario, facts, bad)


def _check_modelled(scenario: Scenario, facts: FactBase,
                    bad: Callable[[str, str], None]) -> None:
    """Export caps must name elements the plan models; a cap on another would vanish."""
    modelled = set(_elements(scenario, facts))
    _check_technologies(scenario, facts, bad)
    for e in scenario.policy.reserve.max_t:
        if e not in modelled:
            bad(f"policy.reserve.max_t.{e}", f"the plan does not model '{e}' (it tracks "
                                             f"{', '.join(sorted(modelled))})")
    years = range(scenario.horizon.start, scenario.horizon.end + 1)
    _check_decided(scenario, years, bad)
    for pid in scenario.policy.magnet_inputs_from:
        if pid not in scenario.policy.partners:
            bad(f"policy.magnet_inputs_from.{pid}",
                f"partner '{pid}' is not in policy.partners "
                f"({', '.join(scenario.policy.partners) or 'none'}); a cap on it would have "
                f"no effect")
    for pid, partner in scenario.policy.partners.items():
        outside = [y for y in partner.banned_years if y not in years]
        if outside:
            bad(f"policy.partners.{pid}.banned_years", f"{outside} outside the horizon "
                                                       f"{years.start}-{years.stop - 1}")
        for field in ("export_caps_t", "buys_at_most_t"):
            for e in getattr(partner, field):
                if e not in modelled:
                    bad(f"policy.partners.{pid}.{field}.{e}",
                        f"the plan does not model '{e}' (it tracks "
                        f"{', '.join(sorted(modelled))}: the elements of the mines' "
                        f"distributions, of the magnet recipe, and those with a price); a "
                        f"cap on it would have no effect")


def _check_decided(scenario: Scenario, years: range,
                   bad: Callable[[str, str], None]) -> None:
    """Builds already decided fall inside the horizon and within the candidate's room."""
    for cid, c in scenario.candidates.items():
        for year, cap in c.decided_t.items():
            if year not in years:
                bad(f"candidates.{cid}.decided_t.{year}",
                    f"{year} is outside the horizon {years.start}-{years.stop - 1}")
            elif cap > c.max_capacity_t - c.existing_t:
                bad(f"candidates.{cid}.decided_t.{year}",
                    f"{cap:g} t/yr is more than the room to max_capacity_t "
                    f"({c.max_capacity_t - c.existing_t:g})")


def _check_technologies(scenario: Scenario, facts: FactBase,
                        bad: Callable[[str, str], None]) -> None:
    """A granted technology exists, is a process, and is commercial."""
    rows = {str(r["technology_id"]): r for r in facts["technologies"].to_dict(orient="records")}
    for tid in scenario.policy.technology_access:
        key, row = f"policy.technology_access.{tid}", rows.get(tid)
        if row is None:
            bad(key, f"unknown technology '{tid}'; expected a technology_id of the "
                     f"technologies table")
        elif row["kind"] == "substitute":
            bad(key, f"'{tid}' replaces the product in use, it is not a process: use "
                     f"demand.rare_earth_free_share")
        elif pd.isna(row["commercial_from"]):
            bad(key, f"'{tid}' is not commercial yet ({row['readiness']}); it cannot be "
                     f"granted")


def _check_prices(scenario: Scenario, facts: FactBase,
                  bad: Callable[[str, str], None]) -> None:
    """The magnet recipe's elements need a price at or before the first planning year."""
    start = _price_year(scenario)
    prices, _ = oxide_prices(facts, start)
    recipe = recipe_as_used(facts, scenario.horizon.start)
    missing = sorted(e for e in recipe.elements if e not in prices)
    if missing:
        first = int(facts["prices"]["year"].min())
        key = "prices.year" if scenario.prices.year else "horizon.start"
        bad(key, f"no oxide price of {', '.join(missing)} at or before {start} in the prices "
                 f"table (its first year is {first}); start the horizon later or add prices")


def _check_sources(scenario: Scenario, facts: FactBase,
                   bad: Callable[[str, str], None]) -> None:
    known = set(facts["sources"]["source_id"]) | set(facts["assumptions"]["assumption_id"])
    claims = set(facts["targets"]["claim_id"])
    cited: list[tuple[str, str | None]] = [
        (f"candidates.{cid}.source", c.source) for cid, c in scenario.candidates.items()]
    cited += [(f"policy.partners.{pid}.source", q.source)
              for pid, q in scenario.policy.partners.items()]
    cited += [("policy.technology_access_source", scenario.policy.technology_access_source),
              ("policy.local_content_source", scenario.policy.local_content_source),
              ("policy.magnet_inputs_source", scenario.policy.magnet_inputs_source),
              ("policy.environment_caps_source", scenario.policy.environment_caps_source),
              ("policy.reserve.source", scenario.policy.reserve.source),
              ("demand.source", scenario.demand.source),
              ("ramp_up.source", scenario.ramp_up.source),
              ("prices.source", scenario.prices.source)]
    cited += [(f"targets.{i}.source", t.source) for i, t in enumerate(scenario.targets)]
    for key, value in cited:
        for s in (value or "").split(";"):
            if s.strip() and s.strip() not in known | claims:
                bad(key, f"'{s.strip()}' is not a known source, assumption or claim id")


def _check_feed(scenario: Scenario, key: str, feed_from: list[str],
                bad: Callable[[str, str], None]) -> None:
    """A plant's ``feed_from`` names mine candidates of the scenario."""
    for mine in feed_from:
        other = scenario.candidates.get(mine)
        if other is None or other.stage != "mining" or mine in scenario.remove_candidates:
            bad(f"{key}.feed_from", f"'{mine}' is not a mine candidate of the scenario; "
                                    f"expected the id of a mining candidate")


def _check_candidates(scenario: Scenario, facts: FactBase,
                      bad: Callable[[str, str], None]) -> None:
    deposits = facts["deposits"].set_index("deposit_id")["country"]
    distributed = set(facts["element_distributions"]["deposit_id"])
    home = home_countries(facts, scenario.country)
    projects = facts["project_costs"].set_index("project_id")
    for cid, c in scenario.candidates.items():
        key = f"candidates.{cid}"
        if c.project is not None:
            _check_project(key, c, projects, bad)
        if c.stage == "separation" and bool(c.ownership) != bool(c.supplied_by):
            bad(f"{key}.ownership", "a separation plant abroad (tolling) needs both ownership "
                                    "(the tolling contract) and supplied_by (the partner)")
        elif c.stage not in ("mining", "separation") and (c.ownership or c.supplied_by):
            bad(f"{key}.ownership", "only a mine abroad (equity or offtake) or a separation "
                                    "plant abroad (tolling) takes ownership and supplied_by")
        elif c.supplied_by and c.supplied_by not in scenario.policy.partners:
            bad(f"{key}.supplied_by", f"partner '{c.supplied_by}' is not in policy.partners "
                                      f"({', '.join(scenario.policy.partners) or 'none'})")
        _check_feed(scenario, key, c.feed_from, bad)
        if c.capacity_excludes:
            _check_excludes(key, c, scenario, facts, bad)
        if c.stage != "mining":
            continue
        if c.deposit not in deposits.index:
            bad(f"{key}.deposit", f"unknown deposit '{c.deposit}'; a mine needs a fact-base "
                                  f"deposit")
            continue
        if c.deposit not in distributed:
            bad(f"{key}.deposit", f"deposit '{c.deposit}' has no element distribution in "
                                  f"the fact base")
        _check_abroad(key, c, str(deposits[str(c.deposit)]), scenario, home, bad)


EXCLUDED_SHARE_TOLERANCE = 0.02
"""How far apart the excluded elements' shares in a plant's fed mines may be [fraction]."""


def _check_excludes(key: str, c: CandidateSpec, scenario: Scenario, facts: FactBase,
                    bad: Callable[[str, str], None]) -> None:
    """A plant's excluded elements are in its feed, in one share across its fed mines."""
    shares = excluded_shares(c, scenario, facts)
    if not shares:
        bad(f"{key}.capacity_excludes", "none of the feed_from mines has an element "
                                        "distribution; expected the ore the capacity is "
                                        "stated on")
        return
    fed = {e for m in shares for e in _mine_distribution(
        str(scenario.candidates[m].deposit), facts)}
    missing = sorted(set(c.capacity_excludes) - fed)
    if missing:
        bad(f"{key}.capacity_excludes", f"{', '.join(missing)} not in the feed's element "
                                        f"distribution; expected elements of the ore")
    elif max(shares.values()) - min(shares.values()) > EXCLUDED_SHARE_TOLERANCE:
        listed = ", ".join(f"{m} {v:.1%}" for m, v in sorted(shares.items()))
        bad(f"{key}.capacity_excludes", f"the excluded elements' share differs between the "
                                        f"fed mines ({listed}); expected one ore type")
    elif max(shares.values()) >= 0.95:
        bad(f"{key}.capacity_excludes", "the excluded elements are nearly all of the ore; "
                                        "expected a capacity stated on what is separated")


def _check_project(key: str, c: CandidateSpec, projects: pd.DataFrame,
                   bad: Callable[[str, str], None]) -> None:
    """A candidate naming a real project stays within the project's published figures."""
    if c.project not in projects.index:
        bad(f"{key}.project", f"unknown project '{c.project}'; expected a project_id of "
                              f"the project_costs table")
        return
    row = projects.loc[str(c.project)].to_dict()
    low, high = float(row["capex_low_usd_per_tpa"]), float(row["capex_high_usd_per_tpa"])
    if not low <= c.capex_usd_per_tpa <= high:
        bad(f"{key}.capex_usd_per_tpa",
            f"{c.capex_usd_per_tpa:,.0f} USD per t/yr is outside the published range of "
            f"project '{c.project}', {low:,.0f} to {high:,.0f} ({row['source_id']})")
    if c.stage != row["stage"] and not (c.stage == "mining" and row["stage"] == "cracking"):
        bad(f"{key}.stage", f"project '{c.project}' is a {row['stage']} plant, not {c.stage}")


def _check_abroad(key: str, c: CandidateSpec, where: str, scenario: Scenario,
                  home: frozenset[str], bad: Callable[[str, str], None]) -> None:
    """A mine abroad states its ownership and supplier; a mine at home states neither."""
    if where in home and (c.ownership or c.supplied_by):
        bad(f"{key}.ownership", f"deposit '{c.deposit}' is in {where}, at home: ownership "
                                f"and supplied_by are for mines abroad")
    elif where not in home and not (c.ownership and c.supplied_by):
        bad(f"{key}.ownership", f"deposit '{c.deposit}' is in {where}, outside "
                                f"{scenario.country}: a mine abroad needs ownership (the "
                                f"equity or offtake that gives the country its concentrate) "
                                f"and supplied_by (the partner it comes from)")

    for name in scenario.remove_candidates:
        if name not in scenario.candidates:
            bad("remove_candidates", f"unknown candidate '{name}'")


def _elements(scenario: Scenario, facts: FactBase) -> list[str]:
    """Elements the plan models: the mines' distributions, the recipe's, those priced."""
    return facts.derived(("modelled_elements", scenario.model_dump_json()),
                         lambda: _modelled(scenario, facts), list)


def _modelled(scenario: Scenario, facts: FactBase) -> list[str]:
    recipe = recipe_as_used(facts, scenario.horizon.start)
    dists = facts["element_distributions"]
    listed: set[str] = set()
    for cid, c in scenario.candidates.items():
        if c.stage == "mining" and c.deposit is not None and cid not in \
                scenario.remove_candidates:
            best = best_distribution(dists, c.deposit)
            if best is not None:
                listed |= {str(e) for e in dists.loc[dists["distribution_id"] == best,
                                                      "element"]}
    priced, _ = oxide_prices(facts, _price_year(scenario))
    return sorted(listed | recipe.elements | set(priced))


def assemble(scenario: Scenario, facts: FactBase) -> PlanProblem:
    """Build the planning problem a scenario describes (references already checked)."""
    years = tuple(range(scenario.horizon.start, scenario.horizon.end + 1))
    cands = [_candidate(cid, c, scenario, facts) for cid, c in
             sorted(scenario.candidates.items()) if cid not in scenario.remove_candidates]
    cands += _technology_variants(cands, scenario, facts)
    recipe = recipe_as_used(facts, scenario.horizon.start)
    chain = chain_from_facts(facts)
    factors = {str(k): float(v) for k, v in
               facts["elements"].set_index("symbol")["metal_per_oxide"].items()}
    elements = _elements(scenario, facts)
    quoted = {m: market_prices(facts, _price_year(scenario), m) for m in MARKETS}
    markets = {m: _market(found) for m, found in quoted.items()}
    oxide, metal = markets[scenario.prices.market]
    price_sources = set().union(*(found.sources for found in quoted.values()))
    conc = concentrate_value(facts, _price_year(scenario))
    price_sources |= conc.sources
    per_magnet = chain.oxide_per_magnet(recipe, factors)
    magnet = magnet_quote(facts, _price_year(scenario))
    price_sources |= magnet.sources
    # China's export price, its rare-earth content revalued at China's Nd price of the
    # year [USD/t]: China makes 94% of the world's magnets, whichever market the plan is in
    nd_china = markets["china"][0]["Nd"]
    magnet_price = 1000 * magnet.price + per_magnet * (nd_china - 1000 * magnet.nd_price)
    price_notes: dict[tuple[str, str], tuple[str, ...]] = {
        (m, e): said for m, found in quoted.items() for e, said in found.remarks.items()}
    price_notes[("all", "magnet")] = (
        f"China's {magnet.year} export price, {magnet.price:.2f} USD/kg, its "
        f"{per_magnet:.3f} t REO per t revalued from {magnet.nd_price:.2f} to "
        f"{nd_china / 1000:.2f} USD/kg of Nd oxide: {magnet_price / 1000:.2f} USD/kg.",)
    total, share, magnets, demand_sources = _consumption(scenario, facts)
    split, split_sources = _traded_split(facts, scenario, frozenset(e for e in elements
                                                                     if e in oxide))
    demand_sources |= split_sources
    growth = [(1 + scenario.demand.growth_per_year) ** (y - years[0]) for y in years]
    if magnets is None:  # magnets are the share of consumption that goes into them
        magnets, others = total * share / per_magnet, total * (1 - share)
    else:  # magnets published apart: the consumption is of compounds and metals only
        others = total
    magnet_demand = {y: magnets * g * _rare_earth_part(scenario, y)
                     for y, g in zip(years, growth, strict=True)}
    rare = rare_metal_inputs(scenario, facts, years)
    in_magnet = magnet_oxide(recipe, factors, per_magnet)
    uses = {pid: partner_use(q, scenario, facts, recipe, in_magnet, split, elements)
            for pid, q in scenario.policy.partners.items() if q.buys_what_it_uses}
    demand_sources |= {s for u in uses.values() for s in u.source_ids}
    fx = {s for t in scenario.targets if t.currency == "RUB"
          for s in exchange_rate(facts, "RUB", t.year)[1]}
    sources = _cited(scenario) | price_sources | demand_sources | set(chain.sources.values()) \
        | set(recipe.source_ids) | {MAGNET_PRICE_RULE, CONCENTRATE_STORAGE} | rare.sources | fx
    return PlanProblem(
        years=years, elements=tuple(elements), candidates=tuple(cands),
        partners=tuple(Partner(pid, blocked=q.blocked, sell_discount=q.sell_discount,
                               buy_premium=q.buy_premium, export_caps=dict(q.export_caps_t),
                               magnet_cap=q.magnet_cap_t,
                               magnet_buy_cap=q.buys_magnets_at_most_t,
                               import_caps={**(uses[pid].tonnes if pid in uses else {}),
                                            **q.buys_at_most_t},
                               import_caps_by_year={
                                   y: {**caps, **q.buys_at_most_t} for y, caps in
                                   (uses[pid].by_year if pid in uses else {}).items()},
                               concentrate_buy_cap=q.buys_concentrate_at_most_t,
                               route_capacity=q.route_capacity_t,
                               buys_nothing=q.buys_nothing,
                               transport_cost=q.transport_cost_usd_per_t,
                               banned_years=frozenset(q.banned_years),
                               market=_partner_market(pid, q.market),
                               **partner_sells(pid, scenario, facts))
                       for pid, q in sorted(scenario.policy.partners.items())),
        market_prices=markets, allow_reexport=scenario.policy.allow_reexport,
        price_notes=price_notes,
        local_content={str(k): float(v) for k, v in scenario.policy.local_content.items()},
        magnet_inputs_from={str(k): float(v)
                            for k, v in scenario.policy.magnet_inputs_from.items()},
        magnet_inputs_from_year=scenario.policy.magnet_inputs_from_year or years[0],
        **_environment(facts, scenario),
        reserve_caps=dict(scenario.policy.reserve.max_t),
        reserve_initial=dict(scenario.policy.reserve.initial_t),
        reserve_holding_cost=scenario.policy.reserve.holding_cost_usd_per_t_yr,
        concentrate_holding_cost=assumption_value(facts, CONCENTRATE_STORAGE),
        country=scenario.country, concentrate_share=conc.share,
        reference_market=scenario.prices.market,
        unmet_penalty=scenario.demand.unmet_penalty_usd_per_t,
        recipe=recipe,
        metal_per_oxide={e: float(factors.get(e, 1.0)) for e in elements},
        chain=chain, ramp_up=scenario.ramp_up.curve,
        oxide_price={e: oxide.get(e, 0.0) for e in elements},
        metal_price={e: metal.get(e, 0.0) for e in elements}, magnet_price=magnet_price,
        magnet_demand=magnet_demand,
        other_demand={y: others * g for y, g in zip(years, growth, strict=True)},
        other_split=split,
        element_groups={str(k): str(v) for k, v in
                        facts["elements"].set_index("symbol")["group"].items()
                        if str(k) in elements},
        scrap_available=_scrap(facts, scenario, magnet_demand)
        if any(c.stage == "recycling" for c in cands) else {},
        targets=_targets(scenario, facts),
        fixed_builds={(cid, int(year)): float(cap) * capacity_basis(c, scenario, facts)
                      for cid, c in sorted(
            scenario.candidates.items()) if cid not in scenario.remove_candidates
            for year, cap in c.decided_t.items()},
        allowed_technology=frozenset(scenario.policy.technology),
        discount_rate=scenario.discount_rate,
        budget=None if scenario.budget_musd_per_year is None
        else scenario.budget_musd_per_year * 1e6,
        national_reserve=_reserve(facts, scenario),
        tradable=frozenset(e for e in elements if e in oxide),
        integer_sizes=scenario.minimum_plant_sizes,
        sources=frozenset(sources),
        rare_metals=rare.metals, product_groups=rare.groups,
    )


def _traded_split(facts: FactBase, scenario: Scenario, tradable: frozenset[str]
                  ) -> tuple[dict[str, float], set[str]]:
    """Non-magnet demand by element [fraction], over the elements the plan can trade.

    Elements without a price (no market, so no import) share out pro rata over the
    priced ones, as the ``non_magnet_element_split`` assumption says.
    """
    split, sources = non_magnet_split(facts, scenario.horizon.start)
    kept = {e: v for e, v in split.items() if e in tradable}
    total = sum(kept.values())
    if total <= 0:
        return {}, set()
    return {e: v / total for e, v in sorted(kept.items())}, set(sources)


_EFFECTS = ("energy", "ammonia", "wastewater", "co2")
"""Environmental indicators a technology row states a factor for."""


def _technology_variants(cands: list[Candidate], scenario: Scenario,
                         facts: FactBase) -> list[Candidate]:
    """One variant per candidate and granted technology of its stage (the plan chooses).

    A variant shares its candidate's maximum capacity, has no existing capacity, costs and
    takes the technology's factors of the candidate's capex, opex and lead time, and is
    online no earlier than the grant year.
    """
    table = facts["technologies"].set_index("technology_id")
    kinds = facts["deposits"].set_index("deposit_id")["deposit_type"]
    specs = scenario.candidates
    out: list[Candidate] = []
    for tid, year in sorted(scenario.policy.technology_access.items()):
        t = table.loc[tid].to_dict()
        for c in cands:
            deposit = specs[c.id].deposit if c.id in specs else None
            wanted = t["deposit_type"] if isinstance(t["deposit_type"], str) else None
            if c.stage != t["stage"] or c.abroad or (wanted is not None and (
                    deposit is None or kinds.get(deposit) != wanted)):
                continue
            out.append(replace(
                c, id=f"{c.id}@{tid}", existing=0.0,
                capex=c.capex * float(t["capex_factor"]),
                opex=c.opex * float(t["opex_factor"]),
                lead_time=max(0, c.lead_time + int(t["lead_time_change"])),
                min_size=0.0, variant_of=c.id, process=str(tid),
                online_from=max(int(year), int(t["commercial_from"])),
                environment_factor={i: float(t[f"{i}_factor"]) for i in _EFFECTS}))
    return out


ENVIRONMENT_TECHNOLOGY = {"mining": "open_pit_flotation", "separation": "solvent_extraction",
                          "metal": "molten_salt_electrolysis", "magnet": "sintering",
                          "recycling": "hydrogen_processing",
                          "rare_metal_refining": "cradle_to_gate"}
"""The process whose environmental intensities each stage takes, until technologies are
chosen in the plan."""


def _environment(facts: FactBase, scenario: Scenario) -> dict[str, Any]:
    """Intensities by (stage, indicator), the unit of each indicator's total, the caps."""
    table = facts["environmental_intensities"]
    intensity: dict[tuple[str, str], float] = {}
    units: dict[str, str] = {}
    for r in table.to_dict(orient="records"):
        if ENVIRONMENT_TECHNOLOGY.get(str(r["stage"])) != r["technology"]:
            continue
        total = str(r["unit"]).removesuffix("/t").strip()
        if units.setdefault(str(r["indicator"]), total) != total:
            raise ReeplanError(f"environmental_intensities: indicator '{r['indicator']}' is "
                               f"in {units[str(r['indicator'])]} for one stage and {total} "
                               f"for another; expected one unit")
        commodity = r.get("commodity")
        stage = environment_key(str(r["stage"]),
                                commodity if isinstance(commodity, str) else None)
        intensity[(stage, str(r["indicator"]))] = float(r["value"])
    return {"environment": intensity, "environment_units": units,
            "environment_technology": dict(ENVIRONMENT_TECHNOLOGY),
            "environment_caps": dict(scenario.policy.environment_caps)}


def _price_year(scenario: Scenario) -> int:
    return scenario.prices.year or scenario.horizon.start


def _partner_market(pid: str, market: str | None) -> str:
    """The market a partner trades at: as stated, else China's for CHN, ex-China's for the rest.

    The West buys and sells at delivered-Europe prices; third countries resell Chinese
    material at them.
    """
    return market or ("china" if pid == "CHN" else "ex_china")


def _market(found: MarketPrices) -> tuple[dict[str, float], dict[str, float]]:
    """Oxide and metal prices of a market [USD/t of oxide, USD/t of metal] by element.

    Metal is priced from its oxide with the market's metal-to-oxide price ratio per kg
    (NdPr metal over NdPr oxide, quoted the same day), not a markup on top of the oxygen
    removed.
    """
    oxide = {e: 1000 * v for e, v in found.oxide.items()}  # USD/t
    return oxide, {e: v * found.metal_ratio for e, v in oxide.items()}


def _cited(scenario: Scenario) -> set[str]:
    """Every source, assumption or claim id the scenario cites."""
    cited: list[str | None] = [c.source for c in scenario.candidates.values()]
    cited += [q.source for q in scenario.policy.partners.values()]
    cited += [scenario.demand.source, scenario.ramp_up.source, scenario.prices.source,
              scenario.policy.local_content_source, scenario.policy.reserve.source,
              scenario.policy.magnet_inputs_source,
              scenario.policy.technology_access_source,
              scenario.policy.environment_caps_source]
    cited += [t.source for t in scenario.targets]
    return {s.strip() for value in cited for s in (value or "").split(";") if s.strip()}


def _mine_distribution(deposit: str, facts: FactBase) -> dict[str, float]:
    """The element shares [fraction] of a deposit's best distribution (empty: none)."""
    table = facts["element_distributions"]
    best = best_distribution(table, deposit)
    if best is None:
        return {}
    return {str(k): float(v) for k, v in distribution_from_table(table, best).to_series().items()}


def excluded_shares(c: CandidateSpec, scenario: Scenario, facts: FactBase
                    ) -> dict[str, float]:
    """Share of a plant's excluded elements in each fed mine's separated oxide [fraction].

    Parameters
    ----------
    c
        A separation plant with ``capacity_excludes`` and ``feed_from``.

    Returns
    -------
    dict
        By fed mine candidate: the excluded elements' share of the oxides its distribution
        names (what separation puts out); mines without a distribution are left out.
    """
    shares: dict[str, float] = {}
    for mine in c.feed_from:
        spec = scenario.candidates.get(mine)
        dist = _mine_distribution(str(spec.deposit), facts) if spec and spec.deposit else {}
        if dist:
            shares[mine] = sum(dist.get(e, 0.0) for e in c.capacity_excludes) / sum(
                dist.values())
    return shares


def capacity_basis(c: CandidateSpec, scenario: Scenario, facts: FactBase) -> float:
    """The plan's tonnes (all oxides out) per tonne of a plant's stated capacity [t/t].

    1 unless the plant states its capacity without some elements (``capacity_excludes``):
    then 1 / (1 - their share in its feed), the fed mines' shares being equal (checked).
    """
    shares = excluded_shares(c, scenario, facts) if c.capacity_excludes else {}
    if not shares:
        return 1.0
    return 1.0 / (1.0 - sum(shares.values()) / len(shares))


def _candidate(cid: str, c: CandidateSpec, scenario: Scenario, facts: FactBase) -> Candidate:
    basis = capacity_basis(c, scenario, facts)
    dist: dict[str, float] = {}
    rest = 0.0
    if c.stage == "mining" and c.deposit is not None:
        table = facts["element_distributions"]
        best = best_distribution(table, c.deposit)  # present: check_references made sure
        if best is not None:
            d = distribution_from_table(table, best)
            dist = {str(k): float(v) for k, v in d.to_series().items()}
            rest = unassigned_share(d)
    return Candidate(cid, c.stage, c.existing_t * basis, c.max_capacity_t * basis,
                     c.capex_usd_per_tpa / basis, c.opex_usd_per_t / basis,
                     c.lead_time_years, c.technology, dist,
                     min_size=c.min_size_t * basis, unassigned=rest, region=c.region,
                     abroad=c.supplied_by or "", commodity=c.commodity or "",
                     coproducts=coproducts(cid, c, scenario, facts),
                     offtake_share=c.offtake_share,
                     offtake_from=c.offtake_from or scenario.horizon.start,
                     offtake_until=c.offtake_until or 0, feed_from=tuple(c.feed_from))


def _targets(scenario: Scenario, facts: FactBase) -> tuple[Target, ...]:
    """The scenario's targets; a ``supplier_share`` one becomes one target per partner."""
    found: list[Target] = []
    for t in scenario.targets:
        target = _target(t, scenario, facts)
        if t.kind != "supplier_share":
            found.append(target)
            continue
        partners = t.partners or [p for p in sorted(scenario.policy.partners)
                                  if p in SINGLE_COUNTRY_PARTNERS]
        if not partners:
            raise ReeplanError(f"target '{t.id}': supplier_share caps imports from one "
                               f"country, and the scenario has no single-country partner "
                               f"(policy.partners: {', '.join(SINGLE_COUNTRY_PARTNERS)})")
        found += [replace(target, id=f"{t.id}_{p}", partner=p) for p in partners]
    return tuple(found)


def _target(t: TargetSpec, scenario: Scenario, facts: FactBase) -> Target:
    penalty = t.penalty if t.penalty is not None else DEFAULT_PENALTY[t.kind]
    if t.kind == "output_multiple":  # "triple by 2030": an output target in tonnes
        base = t.baseline_t if t.baseline_t is not None else _mine_output(facts, scenario, t)
        return Target(t.id, "output", t.value * base, t.year, t.stage, penalty)
    value = t.value
    if t.kind == "output_value":  # M USD, or bn RUB at the stated rate, to USD
        value = t.value * 1e9 / exchange_rate(facts, "RUB", t.year)[0] \
            if t.currency == "RUB" else t.value * 1e6
    baseline = None
    if t.baseline is not None:
        base_year = scenario.horizon.start - 1
        baseline = t.baseline * 1e9 / exchange_rate(facts, "RUB", base_year)[0] \
            if t.currency == "RUB" else t.baseline * 1e6
    return Target(t.id, t.kind, value, t.year, t.stage, penalty, t.measure, t.elements,
                  group=t.group or "", commodity=t.commodity or "", baseline=baseline,
                  product=t.product)


def _mine_output(facts: FactBase, scenario: Scenario, t: TargetSpec) -> float:
    """The country's rare-earth mine output in the year before the horizon [t REO]."""
    year = scenario.horizon.start - 1
    found = mine_output(facts, scenario.country, year) if t.stage == "mining" else None
    if found is None or found.source_id is None:
        raise ReeplanError(f"target '{t.id}': give baseline_t, the output to multiply; only "
                           f"a mining target defaults to the production table ({year})")
    return found.value


def _scrap(facts: FactBase, scenario: Scenario,
           magnets: Mapping[int, float]) -> dict[int, float]:
    """End-of-life magnets collectable each year [t/yr], from the stock model."""
    rate = scenario.demand.collection_rate
    if rate is None:
        rate = recycling_rate(facts)[0]
    if not any(magnets.values()):
        return dict.fromkeys(magnets, 0.0)
    flows, _, _ = magnet_flows(facts, magnets)
    outflow = flows["outflow"].sum("product")
    return {int(y): float(v) * rate for y, v in zip(outflow["year"].values, outflow.values,
                                                     strict=True)}


def _rare_earth_part(scenario: Scenario, year: int) -> float:
    """Share of magnet demand still met by rare-earth magnets in ``year`` [fraction]."""
    d = scenario.demand
    start = d.rare_earth_free_from or scenario.horizon.start
    return 1.0 - d.rare_earth_free_share if year >= start else 1.0


def _consumption(scenario: Scenario, facts: FactBase
                 ) -> tuple[float, float, float | None, set[str]]:
    """Consumption [t REO/yr], magnet share, magnets used [t/yr] (or None), sources.

    Consumption in the first planning year; magnets where published apart. The same rule
    ``reeplan chain`` reads (:func:`reeplan.data.selection.consumption`).
    """
    year = scenario.demand.consumption_year or scenario.horizon.start
    found = consumption(facts, scenario.country, year)
    if scenario.demand.consumption_t_reo is not None:
        share, source = magnet_share(facts, year)
        return scenario.demand.consumption_t_reo, share, None, {source}
    if found is None:
        raise ReeplanError(f"no rare-earth consumption for {scenario.country} in the demand "
                           f"table; give demand.consumption_t_reo in the scenario")
    return found.total, found.magnet_share, found.magnets_t, set(found.source_ids)


def _reserve(facts: FactBase, scenario: Scenario) -> float | None:
    prod = facts["production"]
    rows = prod[(prod["commodity"] == "rare_earths") & (prod["country"] == scenario.country)
                & (prod["metric"] == "reserves")
                & (prod["series"] == RESERVE_SERIES[scenario.reserve_estimate])]
    if rows.empty:
        return None
    value: float = pd.to_numeric(rows.sort_values("year")["value"]).iloc[-1]
    return float(value)
