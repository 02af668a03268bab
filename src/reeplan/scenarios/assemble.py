"""Turn a scenario and the fact base into a :class:`~reeplan.optimize.Problem`.

Every number comes from the scenario (which names its source or assumption for each
candidate) or from the fact base; references the fact base cannot resolve raise a
:class:`~reeplan.errors.DataValidationError` naming the scenario file, line and key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from reeplan.data import FactBase
from reeplan.data.selection import (
    assumption_value,
    choose_series,
    oxide_prices,
    stage_parameter,
)
from reeplan.domain import recipe_from_facts
from reeplan.errors import DataValidationError, Problem, ReeplanError
from reeplan.flows.coproduction import best_distribution, distribution_from_table
from reeplan.flows.recycling import magnet_flows, recycling_rate
from reeplan.optimize.model import magnet_reo
from reeplan.optimize.problem import Candidate, Partner, Target
from reeplan.optimize.problem import Problem as PlanProblem
from reeplan.scenarios.spec import DEFAULT_PENALTY, CandidateSpec, Scenario, TargetSpec

__all__ = ["assemble", "check_references"]

MAGNET_MATERIAL = "NdFeB_sintered_standard"
RESERVE_SERIES = {"usgs": "USGS MCS2025", "ministry": "MinPrirody 2025"}
"""Which production series holds the national reserve for each ``reserve_estimate``."""
PRICE_MARKUPS = {"metal": "metal_price_markup", "magnet": "magnet_price_markup"}


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
    if problems:
        raise DataValidationError(problems)


def _check_country_and_elements(scenario: Scenario, facts: FactBase,
                                bad: Callable[[str, str], None]) -> None:
    if scenario.country not in set(facts["countries"]["iso3"]):
        bad("country", f"unknown country '{scenario.country}'; expected an ISO 3166 alpha-3 "
                       f"code")
    elements = set(facts["elements"]["symbol"])
    for pid, partner in scenario.policy.partners.items():
        for e in partner.export_caps_t:
            if e not in elements:
                bad(f"policy.partners.{pid}.export_caps_t.{e}", f"unknown element '{e}'")


def _check_sources(scenario: Scenario, facts: FactBase,
                   bad: Callable[[str, str], None]) -> None:
    known = set(facts["sources"]["source_id"]) | set(facts["assumptions"]["assumption_id"])
    claims = set(facts["targets"]["claim_id"])
    cited: list[tuple[str, str | None]] = [
        (f"candidates.{cid}.source", c.source) for cid, c in scenario.candidates.items()]
    cited += [(f"policy.partners.{pid}.source", q.source)
              for pid, q in scenario.policy.partners.items()]
    cited += [("demand.source", scenario.demand.source),
              ("ramp_up.source", scenario.ramp_up.source)]
    cited += [(f"targets.{i}.source", t.source) for i, t in enumerate(scenario.targets)]
    for key, value in cited:
        for s in (value or "").split(";"):
            if s.strip() and s.strip() not in known | claims:
                bad(key, f"'{s.strip()}' is not a known source, assumption or claim id")


def _check_candidates(scenario: Scenario, facts: FactBase,
                      bad: Callable[[str, str], None]) -> None:
    deposits = set(facts["deposits"]["deposit_id"])
    distributed = set(facts["element_distributions"]["deposit_id"])
    for cid, c in scenario.candidates.items():
        if c.stage == "mining" and c.deposit not in deposits:
            bad(f"candidates.{cid}.deposit", f"unknown deposit '{c.deposit}'; a mine needs "
                                             f"a fact-base deposit")
        elif c.stage == "mining" and c.deposit not in distributed:
            bad(f"candidates.{cid}.deposit", f"deposit '{c.deposit}' has no element "
                                             f"distribution in the fact base")
    for name in scenario.remove_candidates:
        if name not in scenario.candidates:
            bad("remove_candidates", f"unknown candidate '{name}'")


def assemble(scenario: Scenario, facts: FactBase) -> PlanProblem:
    """Build the planning problem a scenario describes."""
    years = tuple(range(scenario.horizon.start, scenario.horizon.end + 1))
    cands = [_candidate(cid, c, facts) for cid, c in sorted(scenario.candidates.items())
             if cid not in scenario.remove_candidates]
    recipe = recipe_from_facts(facts, MAGNET_MATERIAL)
    factors = facts["elements"].set_index("symbol")["metal_per_oxide"].to_dict()
    elements = sorted({e for c in cands for e in c.distribution}
                      | {e for comp in recipe.wt_pct for e in recipe.members(comp)})
    usd_per_kg, _ = oxide_prices(facts, scenario.horizon.start)
    oxide = {e: 1000 * v for e, v in usd_per_kg.items()}  # USD/t
    metal_markup = assumption_value(facts, PRICE_MARKUPS["metal"])
    metal = {e: oxide[e] / factors[e] * metal_markup for e in oxide if e in factors}
    probe = PlanProblem(years=years, elements=tuple(elements), candidates=(),
                        partners=(), recipe=recipe,
                        metal_per_oxide={e: float(factors.get(e, 1.0)) for e in elements},
                        oxide_price={e: oxide.get(e, 0.0) for e in elements}, metal_price={},
                        magnet_price=0.0, magnet_demand={}, other_demand={},
                        magnet_yield=stage_parameter(facts, "magnet")[0])
    per_magnet = magnet_reo(probe)
    magnet_price = per_magnet * oxide["Nd"] * assumption_value(facts, PRICE_MARKUPS["magnet"])
    total, share = _consumption(scenario, facts)
    growth = [(1 + scenario.demand.growth_per_year) ** (y - years[0]) for y in years]
    magnet_demand = {y: total * share / per_magnet * g * _rare_earth_part(scenario, y)
                     for y, g in zip(years, growth, strict=True)}
    return PlanProblem(
        years=years, elements=tuple(elements), candidates=tuple(cands),
        partners=tuple(Partner(pid, q.blocked, q.sell_discount, q.buy_premium,
                               dict(q.export_caps_t), q.magnet_cap_t, q.route_capacity_t,
                               q.transport_cost_usd_per_t)
                       for pid, q in sorted(scenario.policy.partners.items())),
        recipe=recipe, metal_per_oxide=probe.metal_per_oxide,
        separation_recovery=stage_parameter(facts, "separation")[0],
        metal_recovery=stage_parameter(facts, "metal")[0], magnet_yield=probe.magnet_yield,
        recycling_recovery=stage_parameter(facts, "recycling")[0],
        ramp_up=scenario.ramp_up.first_year_share,
        oxide_price={e: oxide.get(e, 0.0) for e in elements},
        metal_price={e: metal.get(e, 0.0) for e in elements}, magnet_price=magnet_price,
        magnet_demand=magnet_demand,
        other_demand={y: total * (1 - share) * g for y, g in zip(years, growth, strict=True)},
        scrap_available=_scrap(facts, scenario, magnet_demand)
        if any(c.stage == "recycling" for c in cands) else {},
        targets=tuple(_target(t, scenario, facts) for t in scenario.targets),
        allowed_technology=frozenset(scenario.policy.technology),
        discount_rate=scenario.discount_rate,
        budget=None if scenario.budget_musd_per_year is None
        else scenario.budget_musd_per_year * 1e6,
        national_reserve=_reserve(facts, scenario),
        tradable=frozenset(e for e in elements if e in oxide),
        integer_sizes=scenario.minimum_plant_sizes,
    )


def _candidate(cid: str, c: CandidateSpec, facts: FactBase) -> Candidate:
    dist: dict[str, float] = {}
    if c.stage == "mining" and c.deposit is not None:
        table = facts["element_distributions"]
        best = best_distribution(table, c.deposit)  # present: check_references made sure
        if best is not None:
            d = distribution_from_table(table, best)
            dist = {str(k): float(v) for k, v in d.to_series().items()}
    return Candidate(cid, c.stage, c.existing_t, c.max_capacity_t, c.capex_usd_per_tpa,
                     c.opex_usd_per_t, c.lead_time_years, c.technology, dist,
                     min_size=c.min_size_t)


def _target(t: TargetSpec, scenario: Scenario, facts: FactBase) -> Target:
    penalty = t.penalty if t.penalty is not None else DEFAULT_PENALTY[t.kind]
    if t.kind == "output_multiple":  # "triple by 2030": an output target in tonnes
        base = t.baseline_t if t.baseline_t is not None else _mine_output(facts, scenario, t)
        return Target(t.id, "output", t.value * base, t.year, t.stage, penalty)
    value = t.value * 1e6 if t.kind == "output_value" else t.value  # M USD -> USD
    return Target(t.id, t.kind, value, t.year, t.stage, penalty)


def _mine_output(facts: FactBase, scenario: Scenario, t: TargetSpec) -> float:
    """The country's rare-earth mine output in the year before the horizon [t REO]."""
    year = scenario.horizon.start - 1
    prod = facts["production"]
    rows = prod[(prod["commodity"] == "rare_earths") & (prod["country"] == scenario.country)
                & (prod["metric"] == "mine_production") & (prod["year"] == year)]
    if t.stage != "mining" or rows.empty:
        raise ReeplanError(f"target '{t.id}': give baseline_t, the output to multiply; only "
                           f"a mining target defaults to the production table ({year})")
    series = choose_series(rows, year)
    return float(rows.loc[rows["series"] == series, "value"].iloc[0])


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


def _consumption(scenario: Scenario, facts: FactBase) -> tuple[float, float]:
    demand = facts["demand"]
    share_rows = demand[demand["end_use"] == "magnets share of volume"]
    share = float(share_rows.sort_values("year")["value"].iloc[-1]) / 100
    if scenario.demand.consumption_t_reo is not None:
        return scenario.demand.consumption_t_reo, share
    rows = demand[(demand["scope"] == scenario.country) & (demand["end_use"] == "consumption")
                  & (demand["unit"] == "t")]
    if rows.empty:
        return 0.0, share
    return float(rows.sort_values("year")["value"].iloc[-1]), share


def _reserve(facts: FactBase, scenario: Scenario) -> float | None:
    prod = facts["production"]
    rows = prod[(prod["commodity"] == "rare_earths") & (prod["country"] == scenario.country)
                & (prod["metric"] == "reserves")
                & (prod["series"] == RESERVE_SERIES[scenario.reserve_estimate])]
    if rows.empty:
        return None
    value: float = pd.to_numeric(rows.sort_values("year")["value"]).iloc[-1]
    return float(value)
