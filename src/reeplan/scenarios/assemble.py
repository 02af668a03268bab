"""Turn a scenario and the fact base into a :class:`~reeplan.optimize.Problem`.

Every number comes from the scenario (which names its source or assumption for each
candidate) or from the fact base; references the fact base cannot resolve raise a
:class:`~reeplan.errors.DataValidationError` naming the scenario file, line and key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from reeplan.data import FactBase
from reeplan.errors import DataValidationError, Problem
from reeplan.flows.coproduction import UNLISTED, distribution_from_table
from reeplan.optimize.model import magnet_reo
from reeplan.optimize.problem import Candidate, Partner, Recipe, Target
from reeplan.optimize.problem import Problem as PlanProblem
from reeplan.scenarios.spec import CandidateSpec, Scenario, _read

__all__ = ["assemble", "check_references"]

MAGNET_MATERIAL = "NdFeB_sintered_standard"
MAGNET_YIELD_ID = "sintered_magnet_yield"
RESERVE_SERIES = {"usgs": "USGS MCS2025", "ministry": "MinPrirody 2025"}
"""Which production series holds the national reserve for each ``reserve_estimate``."""
PRICE_MARKUPS = {"metal": "metal_price_markup", "magnet": "magnet_price_markup"}


def check_references(scenario: Scenario, facts: FactBase, path: str | Path) -> None:
    """Check country, elements, deposits and sources against the fact base."""
    _, lines = _read(Path(path)) if Path(path).is_file() else ({}, {})
    problems: list[Problem] = []

    def bad(key: str, message: str) -> None:
        top = key.split(".", maxsplit=1)[0]
        problems.append(Problem(str(path), lines.get(key, lines.get(top)), key, message,
                                unit="line"))

    _check_country_and_elements(scenario, facts, bad)
    _check_candidates(scenario, facts, bad)
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


def _check_candidates(scenario: Scenario, facts: FactBase,
                      bad: Callable[[str, str], None]) -> None:
    deposits = set(facts["deposits"]["deposit_id"])
    known = set(facts["sources"]["source_id"]) | set(facts["assumptions"]["assumption_id"])
    for cid, c in scenario.candidates.items():
        if c.stage == "mining" and c.deposit not in deposits:
            bad(f"candidates.{cid}.deposit", f"unknown deposit '{c.deposit}'; a mine needs "
                                             f"a fact-base deposit")
        for s in c.source.split(";"):
            if s.strip() not in known:
                bad(f"candidates.{cid}.source", f"'{s.strip()}' is not a known source or "
                                                f"assumption id")
    for name in scenario.remove_candidates:
        if name not in scenario.candidates:
            bad("remove_candidates", f"unknown candidate '{name}'")


def assemble(scenario: Scenario, facts: FactBase) -> PlanProblem:
    """Build the planning problem a scenario describes."""
    years = tuple(range(scenario.horizon.start, scenario.horizon.end + 1))
    cands = [_candidate(cid, c, facts) for cid, c in sorted(scenario.candidates.items())
             if cid not in scenario.remove_candidates]
    recipe = _recipe(facts)
    factors = facts["elements"].set_index("symbol")["metal_per_oxide"].to_dict()
    elements = sorted({e for c in cands for e in c.distribution}
                      | {e for comp in recipe.wt_pct for e in recipe.members(comp)})
    oxide = _oxide_prices(facts, scenario.horizon.start)
    metal_markup = _assumption(facts, PRICE_MARKUPS["metal"])
    metal = {e: oxide[e] / factors[e] * metal_markup for e in oxide if e in factors}
    probe = PlanProblem(years=years, elements=tuple(elements), candidates=(),
                        partners=(), recipe=recipe,
                        metal_per_oxide={e: float(factors.get(e, 1.0)) for e in elements},
                        oxide_price={e: oxide.get(e, 0.0) for e in elements}, metal_price={},
                        magnet_price=0.0, magnet_demand={}, other_demand={})
    per_magnet = magnet_reo(probe)
    magnet_price = per_magnet * oxide["Nd"] * _assumption(facts, PRICE_MARKUPS["magnet"])
    total, share = _consumption(scenario, facts)
    growth = [(1 + scenario.demand.growth_per_year) ** (y - years[0]) for y in years]
    return PlanProblem(
        years=years, elements=tuple(elements), candidates=tuple(cands),
        partners=tuple(Partner(pid, q.blocked, q.sell_discount, q.buy_premium,
                               dict(q.export_caps_t), q.magnet_cap_t)
                       for pid, q in sorted(scenario.policy.partners.items())),
        recipe=recipe, metal_per_oxide=probe.metal_per_oxide,
        oxide_price={e: oxide.get(e, 0.0) for e in elements},
        metal_price={e: metal.get(e, 0.0) for e in elements}, magnet_price=magnet_price,
        magnet_demand={y: total * share / per_magnet * g for y, g in zip(years, growth,
                                                                          strict=True)},
        other_demand={y: total * (1 - share) * g for y, g in zip(years, growth, strict=True)},
        scrap_available=dict.fromkeys(years, scenario.demand.scrap_t_per_year),
        targets=tuple(Target(t.id, t.kind, t.value, t.year, t.stage, t.penalty_usd_per_t)
                      for t in scenario.targets),
        allowed_technology=frozenset(scenario.policy.technology),
        discount_rate=scenario.discount_rate,
        budget=None if scenario.budget_musd_per_year is None
        else scenario.budget_musd_per_year * 1e6,
        national_reserve=_reserve(facts, scenario),
        tradable=frozenset(e for e in elements if e in oxide),
    )


def _candidate(cid: str, c: CandidateSpec, facts: FactBase) -> Candidate:
    dist: dict[str, float] = {}
    if c.stage == "mining" and c.deposit is not None:
        table = facts["element_distributions"]
        ids = table.loc[table["deposit_id"] == c.deposit, "distribution_id"]
        if ids.empty:
            raise DataValidationError([Problem("scenario", None, f"candidates.{cid}.deposit",
                                               f"deposit '{c.deposit}' has no element "
                                               f"distribution")])
        d = distribution_from_table(table, str(sorted(set(ids))[0]))
        dist = {str(k): float(v) for k, v in d.to_series().items()}
    return Candidate(cid, c.stage, c.existing_t, c.max_capacity_t, c.capex_usd_per_tpa,
                     c.opex_usd_per_t, c.lead_time_years, c.technology, dist)


def _recipe(facts: FactBase) -> Recipe:
    comp = facts["magnet_composition"]
    rows = comp[comp["material"] == MAGNET_MATERIAL]
    rare = set(facts["elements"].query("kind == 'rare_earth'")["symbol"])
    wt = {str(c): float(v) for c, v in zip(rows["component"], rows["value"], strict=True)
          if c in rare}
    params = facts["stage_parameters"]
    yield_ = float(params.loc[params["stage"] == "magnet", "value"].iloc[0])
    return Recipe(wt, {"Nd": ("Nd", "Pr")}, yield_)


def _oxide_prices(facts: FactBase, year: int) -> dict[str, float]:
    """Latest oxide price at or before ``year`` [USD/t]; Pr from NdPr oxide when alone."""
    prices = facts["prices"]
    ok = prices[(prices["form"] == "oxide") & (prices["unit"] == "USD/kg")
                & (prices["year"] <= year)]
    single = ok[ok["element"].notna()].sort_values("year").groupby("element").tail(1)
    out = {str(e): 1000 * float(v) for e, v in zip(single["element"], single["value"],
                                                    strict=True)}
    ndpr = ok[ok["product"] == "NdPr oxide"].sort_values("year")
    if "Pr" not in out and not ndpr.empty:
        out["Pr"] = 1000 * float(ndpr["value"].iloc[-1])
    out.pop(UNLISTED, None)
    return out


def _assumption(facts: FactBase, name: str) -> float:
    a = facts["assumptions"].set_index("assumption_id")["value"]
    return float(a.get(name, float("nan")))


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
