"""A country's rare-earth chain in one year, per stage and element, built from the fact base.

:func:`country_chain` is what ``reeplan chain`` prints. It takes the country's published mine
output, splits it by the element distribution of its producing deposit (the balance
problem), runs it through the stages its online plants cover, and sets the result against
domestic demand: imports, dependence, the surplus of co-products nobody at home uses and
its value, and the stage where each element's domestic chain breaks (the bottleneck).
Every figure names the fact-base row it comes from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from reeplan.data import FactBase, load_factbase
from reeplan.data.selection import (
    consumption,
    deposit_mix,
    home_countries,
    is_country_group,
    mine_output,
    non_magnet_split,
    oxide_prices,
)
from reeplan.domain import (
    UNITS,
    Recipe,
    Stage,
    chain_from_facts,
    recipe_as_used,
    recipe_from_facts,
)
from reeplan.errors import ReeplanError
from reeplan.flows.coproduction import (
    UNASSIGNED,
    best_distribution,
    distribution_from_table,
    unassigned_share,
)
from reeplan.flows.recycling import MagnetEndOfLife, end_of_life_magnets
from reeplan.flows.stages import STAGE_ORDER, run_chain
from reeplan.metrics.basket import basket_value
from reeplan.types import CONFIDENCE_LEVELS, POOLED_ELEMENTS

__all__ = ["MAGNET_RECIPE", "CountryChain", "country_chain"]

MAGNET_RECIPE = "NdFeB_sintered_standard"
"""A single-grade magnet material (``magnet_composition`` table) for ``recipe=``."""
_ONLINE_STATUS = {"operating", "commissioning"}
_ANNOUNCED_STATUS = {"construction", "planned"}
_DEMAND_STAGES = (Stage.MINING, Stage.CONCENTRATE, Stage.CRACKING, Stage.SEPARATION)
"""Stages whose product is measured in t REO, so consumption in t REO applies to them."""
OTHER = POOLED_ELEMENTS
STALE_YEARS = 5
"""A consumption figure further than this from the year asked is flagged as stale [years]."""


@dataclass(frozen=True)
class CountryChain:
    """One country's chain in one year.

    Attributes
    ----------
    country, year, series
        ISO3 code, year, and the production series the mine output comes from.
    flows
        The stage run (:func:`reeplan.flows.stages.run_stages`) over (stage, element) [t].
    balance
        Per stage and element: ``capacity`` [t/yr, stage total], ``output``, ``demand``,
        ``imports``, ``surplus`` [t] (t REO up to separation, t metal content after),
        ``dependence`` (imports / demand) [fraction] and ``surplus_value`` [USD] at
        separation. Elements whose demand is not broken down share the row ``other``.
    elements
        Per element: mined [t REO], separated [t REO], demand [t REO], dependence at
        separation, surplus and its value, revenue share of the mine's basket and the
        bottleneck stage.
    stages
        Per stage: plants online, capacity, output, demand, imports and dependence.
    facilities
        The country's plants, whether they count in the year and why.
    end_of_life
        Magnets in use, reaching end of life and recycled in the year, by product
        (:class:`~reeplan.flows.recycling.MagnetEndOfLife`); ``None`` without demand data.
    notes
        Plain-language caveats (unknown capacities, demand not broken down, ...).
    sources
        Every source or assumption behind the figures.
    """

    country: str
    year: int
    series: str
    flows: xr.Dataset
    balance: pd.DataFrame
    elements: pd.DataFrame
    stages: pd.DataFrame
    facilities: pd.DataFrame
    end_of_life: MagnetEndOfLife | None
    notes: tuple[str, ...]
    sources: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """Return every part as JSON-ready records."""
        return {
            "country": self.country, "year": self.year, "series": self.series,
            "stages": _records(self.stages), "elements": _records(self.elements),
            "balance": _records(self.balance), "facilities": _records(self.facilities),
            "end_of_life": None if self.end_of_life is None
            else _records(self.end_of_life.products),
            "notes": list(self.notes), "sources": _records(self.sources),
        }


@dataclass
class _Trace:
    sources: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def country_chain(
    country: str = "RUS",
    year: int = 2024,
    *,
    facts: FactBase | None = None,
    series: str | None = None,
    deposit_mix: Mapping[str, float] | None = None,
    recipe: str | None = None,
) -> CountryChain:
    """Build and balance ``country``'s rare-earth chain in ``year`` from the fact base.

    Parameters
    ----------
    country
        ISO 3166-1 alpha-3 code, or a country group (``country_groups`` table, e.g. EU27):
        its members' mine output, deposits and plants, and the group's own consumption.
    year
        Year of mine output and of the plants counted (online by then).
    facts
        Fact base; the embedded one by default.
    series
        Production series (default: newest USGS edition reporting ``year``).
    deposit_mix
        Share of mine output from each producing deposit [fraction]; needed only when the
        country has more than one producing deposit with an element distribution.
    recipe
        Magnet material of the alloy stage (``magnet_composition`` table); by default the
        magnet as used (:func:`reeplan.domain.recipe_as_used`), the planner's too.

    Returns
    -------
    CountryChain

    Raises
    ------
    ReeplanError
        Unknown country, no series for the year, or a missing parameter, each named.
    """
    facts = facts or load_factbase()
    trace = _Trace()
    _known_country(facts, country)
    mine_total, chosen = _mine_output(facts, country, year, series, trace)
    distribution = _feed_distribution(facts, country, year, deposit_mix, mine_total, trace)
    elements = _element_table(facts)
    magnet = recipe_as_used(facts, year) if recipe is None else recipe_from_facts(facts, recipe)
    trace.sources.update(magnet.source_ids)
    # elements the magnet and other uses need appear even where the ore holds none
    split, split_sources = non_magnet_split(facts, year)
    needed = magnet.elements | set(split)
    extra = sorted(needed - {str(e) for e in distribution["element"].values})
    distribution = xr.concat([distribution, xr.zeros_like(distribution.isel(element=0))
                              .expand_dims(element=extra)], dim="element") \
        if extra else distribution
    chain = chain_from_facts(facts)
    trace.sources.update(chain.sources.values())
    national = _national_figures(facts, country, year)
    capacity, members, plants = _stage_capacities(facts, country, year,
                                                  set(distribution.attrs["deposits"]),
                                                  national, trace)
    factors = {str(e): float(f) for e, f in elements["metal_per_oxide"].items()}
    rest = mine_total * unassigned_share(distribution)
    if rest > 0:
        trace.notes.append(f"{rest:,.0f} t REO of mine output is not broken down by element "
                           f"in the distribution used; it follows the chain to separation "
                           f"and leaves it as residue (no element, no price).")
    flows = run_chain(mine_total * distribution, chain, capacity, factors, magnet, members,
                      unassigned=rest)
    _below_published(national, country, flows, trace)
    demand, magnets_used = _demand(facts, (country, year), distribution, factors, magnet,
                                   split, trace)
    if demand.notnull().any():
        trace.sources.update(split_sources)
    prices, price_sources = oxide_prices(facts, year)
    trace.sources.update(price_sources)
    balance = _balance(flows, demand, prices)
    element_view = _element_view(flows, balance, distribution, magnet, prices)
    eol = None if magnets_used is None else _end_of_life(facts, magnets_used, magnet, year,
                                                         trace)
    return CountryChain(
        country=country, year=year, series=chosen, flows=flows, balance=balance,
        elements=element_view,
        stages=_stage_view(flows, balance, plants,
                           (magnets_used, _magnets_made(facts, country, year, trace))),
        facilities=plants,
        end_of_life=eol, notes=tuple(trace.notes), sources=_sources(facts, trace.sources),
    )


def _end_of_life(facts: FactBase, magnets: float, recipe: Recipe, year: int,
                 trace: _Trace) -> MagnetEndOfLife:
    """Magnets in use and at end of life, given ``magnets`` [t/yr] entering use in ``year``."""
    eol = end_of_life_magnets(facts, magnets, year, recipe)
    trace.sources.update(eol.sources)
    recycled = float(eol.products["recycled"].sum())
    trace.notes.append(
        f"End of life: {eol.products['end_of_life'].sum():,.0f} t of magnets leave use in "
        f"{year}, of {magnets:,.0f} t entering it (past use extrapolated back at the "
        f"historical growth rate); {recycled:,.1f} t are recycled at today's rate.")
    return eol


def _known_country(facts: FactBase, country: str) -> None:
    known = set(facts["countries"]["iso3"])
    if country not in known and not is_country_group(facts, country):
        groups = ", ".join(sorted(set(facts["country_groups"]["group"])))
        raise ReeplanError(f"unknown country '{country}'; expected an ISO 3166-1 alpha-3 code "
                           f"listed by 'reeplan data show countries' or a country group "
                           f"({groups})")


def _mine_output(facts: FactBase, country: str, year: int, series: str | None,
                 trace: _Trace) -> tuple[float, str]:
    """Mine output of ``country`` [t REO], a group's the sum of its members'."""
    members = sorted(home_countries(facts, country))
    found = [mine_output(facts, member, year, series) for member in members]
    chosen = found[0].series
    mining = [(m, f) for m, f in zip(members, found, strict=True) if f.source_id is not None]
    if not mining:
        trace.notes.append(f"{chosen} reports no rare-earth mine output for {country} "
                           f"in {year}; mine output is taken as 0.")
        return 0.0, chosen
    for member, f in mining:
        trace.sources.add(str(f.source_id))
        if f.qualifier:
            trace.notes.append(f"Mine output of {member}, {f.qualifier}{f.value:,.0f} t REO, "
                               f"is a bound or estimate in {chosen}; the chain uses the "
                               f"number as printed.")
    if len(members) > 1:
        trace.notes.append(f"Mine output of {country} is its members': " + ", ".join(
            f"{m} {f.value:,.0f} t REO" for m, f in mining) + ".")
    return sum(f.value for _, f in mining), chosen


def _feed_distribution(facts: FactBase, country: str, year: int,
                       mix: Mapping[str, float] | None, mine_total: float,
                       trace: _Trace) -> xr.DataArray:
    deposits = facts["deposits"]
    dists = facts["element_distributions"]
    producing = deposits[deposits["country"].isin(home_countries(facts, country))
                         & (deposits["status"] == "producing")]
    usable = [d for d in producing["deposit_id"] if d in set(dists["deposit_id"])]
    if mix is None and len(usable) > 1:
        mix = _published_mix(facts, country, year, trace)
        if mix is None:
            raise ReeplanError(f"{country} has several producing deposits with an element "
                               f"distribution ({', '.join(usable)}) and the deposit_mixes "
                               f"table has no split for it; give deposit_mix (CLI: --mix "
                               f"DEPOSIT=SHARE) to say how mine output splits")
    if mix is None:
        mix = {usable[0]: 1.0} if usable else {}
    if not mix:
        if mine_total > 0:
            raise ReeplanError(f"{country} mines rare earths but none of its producing "
                               f"deposits has an element distribution in the fact base")
        return _empty_distribution(facts)
    return _mixed(facts, dists, mix, trace)


def _published_mix(facts: FactBase, country: str, year: int,
                   trace: _Trace) -> dict[str, float] | None:
    """The country's deposit mix (:func:`reeplan.data.selection.deposit_mix`), traced."""
    found = deposit_mix(facts, country, year)
    if found is None:
        return None
    trace.sources.update(found.source_ids)
    trace.notes.append(f"Mine output split between deposits as in the deposit_mixes table "
                       f"({found.year}): " + ", ".join(f"{d} {100 * v:.3g}%" for d, v in
                                                       found.shares.items()) + ".")
    return found.shares


def _mixed(facts: FactBase, dists: pd.DataFrame, mix: Mapping[str, float],
           trace: _Trace) -> xr.DataArray:
    total = sum(mix.values())
    if any(v < 0 for v in mix.values()) or abs(total - 1.0) > 1e-6:
        raise ReeplanError(f"deposit mix {dict(mix)} must hold non-negative shares summing "
                           f"to 1")
    parts = []
    rest = 0.0
    for deposit, weight in mix.items():
        best = best_distribution(dists, deposit)
        if best is None:
            raise ReeplanError(f"deposit '{deposit}' has no element distribution")
        rows = dists[dists["deposit_id"] == deposit]
        part = distribution_from_table(dists, best)
        trace.sources.add(str(part.attrs["source_id"]))
        trace.notes.append(f"Element split of {deposit} ore: distribution '{best}' "
                           f"({rows.loc[rows['distribution_id'] == best, 'confidence'].iloc[0]}"
                           f" confidence).")
        parts.append(part * weight)
        rest += unassigned_share(part) * weight
    combined = xr.concat(parts, dim="deposit", join="outer", fill_value=0.0).sum("deposit")
    combined.attrs = {"deposits": list(mix), "units": "fraction of TREO", UNASSIGNED: rest}
    return combined


def _empty_distribution(facts: FactBase) -> xr.DataArray:
    el = facts["elements"]
    symbols = el.loc[el["kind"] == "rare_earth", "symbol"].tolist()
    return xr.DataArray(np.zeros(len(symbols)), dims="element", coords={"element": symbols},
                        attrs={"deposits": []})


def _element_table(facts: FactBase) -> pd.DataFrame:
    return facts["elements"].set_index("symbol")


def _stage_capacities(
    facts: FactBase, country: str, year: int, feeds: set[str],
    national: Mapping[Stage, pd.DataFrame], trace: _Trace,
) -> tuple[dict[Stage, float | None], dict[Stage, dict[str, float | None]], pd.DataFrame]:
    plants = facts["facilities"]  # rare-metal refineries are not rare-earth plants
    plants = plants[plants["country"].isin(home_countries(facts, country))
                    & (plants["stage"] != "refining")].copy()
    verdicts = [_counts(r, year, feeds) for r in plants.itertuples()]
    plants["counted"] = pd.Series([v[0] for v in verdicts], index=plants.index, dtype=bool)
    plants["why"] = pd.Series([v[1] for v in verdicts], index=plants.index, dtype=object)
    integrated = _integrated(plants)
    capacity: dict[Stage, float | None] = {}
    members: dict[Stage, dict[str, float | None]] = {}
    for stage in STAGE_ORDER[1:]:
        capacity[stage] = _capacity(plants, stage, integrated, trace)
        online = plants[(plants["stage"] == str(stage)) & plants["counted"]]
        if not online.empty:
            members[stage] = {str(f): None if pd.isna(c) else float(c) for f, c in
                              zip(online["facility_id"], online["stage_capacity"], strict=True)}
    for stage, rows in national.items():
        capacity[stage] = _as_published(rows, (country, year, stage), capacity[stage], trace)
    if capacity[Stage.ALLOY] == 0 and Stage.MAGNET in national:
        capacity[Stage.ALLOY] = None  # the magnet makers cast their own alloy
        trace.notes.append("No alloy plant listed: alloy is taken as cast by the magnet "
                           "makers the national magnet figure counts, without a limit of "
                           "its own.")
    trace.sources.update(str(s) for s in plants.loc[plants["counted"], "source_id"])
    for fid, (counted, why) in zip(plants["facility_id"], verdicts, strict=True):
        if not counted and why.startswith("feed"):
            trace.notes.append(f"{fid} is left out: its {why}.")
    cols = ["facility_id", "stage", "feed", "status", "start_year", "stage_capacity",
            "counted", "why"]
    return capacity, members, plants[cols].reset_index(drop=True)


NATIONAL_FIGURES: dict[Stage, tuple[str, str, str]] = {
    Stage.SEPARATION: ("refinery_production", "t REO", "t REO"),
    Stage.METAL: ("metal_production", "t", "t of metal"),
    Stage.MAGNET: ("magnet_production", "t", "t of magnets"),
}
"""Stages whose national output a ``production`` row may publish: (metric, unit, words)."""


def _national_figures(facts: FactBase, country: str,
                      year: int) -> dict[Stage, pd.DataFrame]:
    """Each stage's published national output in ``year``, where there is one.

    The rows of every series, highest confidence first (then by series name): the first
    is the figure used, the others are named beside it.
    """
    prod = facts["production"]
    here = prod[(prod["commodity"] == "rare_earths") & (prod["country"] == country)
                & (prod["year"] == year) & prod["value"].notna()]
    found = {}
    for stage, (metric, unit, _) in NATIONAL_FIGURES.items():
        rows = here[(here["metric"] == metric) & (here["unit"] == unit)]
        if not rows.empty:
            found[stage] = _best_first(rows)
    return found


def _best_first(rows: pd.DataFrame, year: int | None = None) -> pd.DataFrame:
    """Published figures best first; the one rule for a national figure.

    Nearest ``year`` (when given), then highest confidence, then by series name.
    """
    rank = {c: i for i, c in enumerate(CONFIDENCE_LEVELS)}
    keys = rows.assign(_rank=rows["confidence"].map(rank),
                       _gap=0 if year is None else (rows["year"] - year).abs())
    return keys.sort_values(["_gap", "_rank", "series"])


def _as_published(rows: pd.DataFrame, where: tuple[str, int, Stage],
                  capacity: float | None, trace: _Trace) -> float:
    """The year's output limit of a stage: its published national figure.

    A plant's capacity is what it could do; in a past year the chain runs what was
    reported (USGS: US compounds, 7,600 t REO in 2024; China's separation quota; China's
    88,000 t of NdPr metal and 300,000 t of NdFeB magnets, Argus), and the rest of the
    stage's feed stays unprocessed (exported, as Mountain Pass's concentrate went to
    China). A published figure above the listed plants' capacity says the list is
    incomplete; other series of the same figure are named.
    """
    country, year, stage = where
    row, others = rows.iloc[0], rows.iloc[1:]
    published = float(row["value"])
    words = NATIONAL_FIGURES[stage][2]
    trace.sources.add(str(row["source_id"]))
    also = "".join(f" Another estimate: {v:,.0f} {words} ({series}, {source})."
                   for v, series, source in zip(others["value"].astype(float),
                                                others["series"], others["source_id"],
                                                strict=True))
    done = "separated" if stage == Stage.SEPARATION else "processed"
    trace.notes.append(f"{stage.capitalize()} in {year} is the published national figure, "
                       f"{published:,.0f} {words} ({row['series']}: {row['basis']}); feed "
                       f"beyond it is not {done} at home.{also}")
    if capacity == 0:
        trace.notes.append(f"No {stage} plant of {country} is listed: the national figure "
                           f"stands for them.")
    elif capacity is not None and published > capacity:
        trace.notes.append(f"The plants listed for {country} make at most "
                           f"{capacity:,.0f} {words}/yr at the {stage} stage: the list is "
                           f"incomplete.")
    return published


def _magnets_made(facts: FactBase, country: str, year: int, trace: _Trace) -> float | None:
    """Magnets the country makes [t/yr]: its published national figure nearest ``year``.

    Within :data:`STALE_YEARS` (the best-ranked series of that year), so that the magnet
    stage's imports are the magnets used less those made at home (Japan, 12,400 t in
    2020, makes more than it uses); ``None`` where none is published.
    """
    prod = facts["production"]
    rows = prod[(prod["commodity"] == "rare_earths") & (prod["country"] == country)
                & (prod["metric"] == NATIONAL_FIGURES[Stage.MAGNET][0]) & prod["value"].notna()
                & ((prod["year"] - year).abs() <= STALE_YEARS)]
    if rows.empty:
        return None
    best = _best_first(rows, year).iloc[0]
    trace.sources.add(str(best["source_id"]))
    if int(best["year"]) != year:
        trace.notes.append(f"Magnets made at home: {float(best['value']):,.0f} t "
                           f"({best['series']}, {int(best['year'])}, the nearest published "
                           f"year); the magnet stage's imports are the magnets used less "
                           f"these.")
    return float(best["value"])


SHORT_OF_PUBLISHED = 0.9
"""Below this share of a stage's published national figure, the chain says why [fraction]."""


def _below_published(national: Mapping[Stage, pd.DataFrame], country: str,
                     flows: xr.Dataset, trace: _Trace) -> None:
    """Say so where the chain makes much less than a stage's published national output.

    The chain runs the country's own mine output; a country that also processes imported
    feed (China: Myanmar's ionic clays, US and Australian concentrate) publishes more.
    """
    for stage, rows in national.items():
        made, published = float(flows["product"].sel(stage=str(stage))), \
            float(rows["value"].iloc[0])
        if made < SHORT_OF_PUBLISHED * published:
            trace.notes.append(
                f"The chain makes {made:,.0f} {NATIONAL_FIGURES[stage][2]} at the {stage} "
                f"stage against {published:,.0f} published: it runs {country}'s own mine "
                f"output only, and the published figure also counts what imported feed and "
                f"imported oxide or metal make (see each element's bottleneck).")


def _counts(r: Any, year: int, feeds: set[str]) -> tuple[bool, str]:
    start = r.start_year
    started = start is None or (isinstance(start, float) and math.isnan(start)) \
        or int(start) <= year
    if isinstance(r.feed, str) and r.feed and r.feed not in feeds:
        return False, f"feed '{r.feed}' is not among the deposits modelled"
    if r.status in _ONLINE_STATUS and started:
        return True, "online"
    if r.status in _ANNOUNCED_STATUS and not (start is None or pd.isna(start)) \
            and int(start) <= year:
        return True, f"announced for {int(start)} ({r.status})"
    if r.status in _ONLINE_STATUS | _ANNOUNCED_STATUS:
        return False, f"not online by {year} ({r.status})"
    return False, str(r.status)


def _integrated(plants: pd.DataFrame) -> dict[int, list[str]]:
    """Stages done inside integrated plants, by stage index.

    A plant fed straight from a deposit does every stage between the mine and its own
    (e.g. mine, concentrator and separation in one).
    """
    covered: dict[int, list[str]] = {}
    fed = plants[plants["counted"] & plants["feed"].notna()]
    for r in fed.itertuples():
        for i in range(1, STAGE_ORDER.index(Stage(str(r.stage)))):
            covered.setdefault(i, []).append(str(r.facility_id))
    return covered


def _capacity(plants: pd.DataFrame, stage: Stage, integrated: Mapping[int, list[str]],
              trace: _Trace) -> float | None:
    online = plants[(plants["stage"] == str(stage)) & plants["counted"]]
    if online.empty:
        by = integrated.get(STAGE_ORDER.index(stage), [])
        if by:
            trace.notes.append(f"No separate {stage} plant: taken as done inside "
                               f"{', '.join(by)}, without a capacity limit of its own.")
            return None
        return 0.0
    unknown = online.loc[online["stage_capacity"].isna(), "facility_id"].tolist()
    if unknown:
        trace.notes.append(f"Capacity of {', '.join(unknown)} ({stage}) is not published in "
                           f"t/yr of its product: it is not taken as a limit.")
        return None
    return float(online["stage_capacity"].sum())


def _demand(facts: FactBase, where: tuple[str, int], distribution: xr.DataArray,
            factors: Mapping[str, float], recipe: Recipe, split: Mapping[str, float],
            trace: _Trace) -> tuple[xr.DataArray, float | None]:
    """Domestic demand of (country, year) [t REO] by element, and the magnets used [t/yr].

    Magnets by the recipe, other uses by the non-magnet split; NaN for an element neither
    uses, OTHER holding what no split covers. The magnets are the published tonnage where
    there is one, else the magnet share of consumption over the oxide a tonne of magnets
    takes through the chain; ``None`` without consumption.
    """
    country, year = where
    elements = [str(e) for e in distribution["element"].values]
    values = dict.fromkeys([*elements, OTHER], math.nan)
    found = consumption(facts, country, year)
    if found is None:
        trace.notes.append(f"No published rare-earth consumption for {country}: demand, "
                           f"imports and dependence are not computed.")
        return _as_array(values), None
    trace.sources.update(found.source_ids)
    if abs(found.year - year) > STALE_YEARS:
        trace.notes.append(f"The consumption figure is of {found.year}, {abs(found.year - year)} "
                           f"years from {year}: no nearer one is published; read the demand "
                           f"and dependence below as an order of magnitude.")
    total, share = found.total, found.magnet_share
    oxide = {c: wt / factors[recipe.members(c)[0]] for c, wt in recipe.wt_pct.items()}
    per_magnet = chain_from_facts(facts).oxide_per_magnet(
        recipe, {e: factors[e] for e in recipe.elements})
    if found.magnets_t is None:
        trace.notes.append(
            f"Demand: {total:,.0f} t REO/yr ({found.year}); "
            f"{100 * share:.0f}% of it for magnets split by the {recipe.material} recipe, "
            f"the rest by the world's non-magnet split (an assumption).")
        in_magnets, others = total * share, total * (1.0 - share)
    else:  # magnets published apart; the consumption is of compounds and metals
        in_magnets, others = found.magnets_t * per_magnet, total
        trace.notes.append(
            f"Demand: {total:,.0f} t REO/yr of compounds and metals ({found.year}), split by "
            f"the world's non-magnet split (an assumption), and {found.magnets_t:,.0f} t of "
            f"magnets, {in_magnets:,.0f} t REO split by the {recipe.material} recipe.")
    scale = in_magnets / sum(oxide.values())
    for component, amount in oxide.items():
        members = [e for e in recipe.members(component) if e in values]
        feed = np.array([float(distribution.sel(element=e)) for e in members])
        weights = feed / feed.sum() if feed.sum() > 0 else np.eye(len(members))[0]
        for e, w in zip(members, weights, strict=True):
            values[e] = scale * amount * float(w)
    for e, part in split.items():
        values[e] = (0.0 if math.isnan(values[e]) else values[e]) + others * part
    values[OTHER] = 0.0 if split else others
    return _as_array(values), in_magnets / per_magnet


def _as_array(values: Mapping[str, float]) -> xr.DataArray:
    return xr.DataArray(list(values.values()), dims="element",
                        coords={"element": list(values)}, attrs={"units": "t REO"})


def _balance(flows: xr.Dataset, demand: xr.DataArray, prices: Mapping[str, float]) -> pd.DataFrame:
    rows = []
    known = {str(e) for e in demand["element"].values if not math.isnan(float(demand.sel(
        element=e))) and e != OTHER}
    for stage in STAGE_ORDER:
        out = flows["output"].sel(stage=str(stage)).to_series()
        cap = float(flows["capacity"].sel(stage=str(stage)))
        applies = stage in _DEMAND_STAGES
        pooled_out = float(out[[e for e in out.index if e not in known]].sum())
        pooled_dem = float(demand.sel(element=OTHER)) if applies else math.nan
        excess = max(pooled_out - pooled_dem, 0.0) if applies else math.nan
        for element, value in out.items():
            dem = float(demand.sel(element=element)) if applies and element in known \
                else math.nan
            if element in known:
                surplus = max(value - dem, 0.0) if applies else math.nan
            else:
                surplus = value * excess / pooled_out if pooled_out > 0 else 0.0
            rows.append(_row(stage, str(element), cap, float(value), dem, surplus, prices))
        rows.append(_row(stage, OTHER, cap, pooled_out, pooled_dem, excess, {}))
    df = pd.DataFrame(rows)
    df["imports"] = (df["demand"] - df["output"]).clip(lower=0.0)
    df["dependence"] = df["imports"] / df["demand"].where(df["demand"] > 0)
    return df[["stage", "element", "capacity", "output", "demand", "imports", "dependence",
               "surplus", "surplus_value"]]


def _row(stage: Stage, element: str, cap: float, out: float, dem: float, surplus: float,
         prices: Mapping[str, float]) -> dict[str, Any]:
    at_separation = stage is Stage.SEPARATION and element in prices
    value = surplus * prices[element] * 1000.0 if at_separation else math.nan
    return {"stage": str(stage), "element": element, "capacity": cap, "output": out,
            "demand": dem, "surplus": surplus, "surplus_value": value}


def _element_view(flows: xr.Dataset, balance: pd.DataFrame, distribution: xr.DataArray,
                  recipe: Recipe, prices: Mapping[str, float]) -> pd.DataFrame:
    sep = balance[balance["stage"] == str(Stage.SEPARATION)].set_index("element")
    mined = balance[balance["stage"] == str(Stage.MINING)].set_index("element")["output"]
    dist = {str(e): float(v) for e, v in distribution.to_series().items() }
    basket = basket_value(dist, prices) if dist else None
    out = flows["output"]
    rows = []
    for element in sep.index:
        if element == OTHER and not (mined.get(element, 0.0) or sep.at[element, "demand"]
                                     or sep.at[element, "output"]):
            continue  # nothing pooled: every element has its own row
        is_el = element in out["element"].values
        last = STAGE_ORDER[-1] if element in recipe.elements else Stage.SEPARATION
        rows.append({
            "element": element, "mined": mined.get(element, math.nan),
            "separated": sep.at[element, "output"], "demand": sep.at[element, "demand"],
            "imports": sep.at[element, "imports"], "dependence": sep.at[element, "dependence"],
            "surplus": sep.at[element, "surplus"], "surplus_value": sep.at[element,
                                                                           "surplus_value"],
            "revenue_share": _revenue_share(basket, element),
            "bottleneck": _bottleneck(out.sel(element=element), last) if is_el else "",
        })
    return pd.DataFrame(rows)


def _revenue_share(basket: pd.DataFrame | None, element: str) -> float:
    if basket is None or element not in basket.index:
        return math.nan
    return float(basket["value_share"].get(element, math.nan))


def _bottleneck(output: xr.DataArray, last: Stage) -> str:
    """Stage where the element's domestic flow falls most (to ``last``); '' if none."""
    stages = [str(s) for s in STAGE_ORDER[: STAGE_ORDER.index(last) + 1]]
    flow = output.sel(stage=stages).to_numpy()
    if flow[0] <= 0:
        return ""
    drops = flow[:-1] - flow[1:]
    i = int(np.argmax(drops))
    return stages[i + 1] if drops[i] > 1e-9 * flow[0] else ""


def _stage_view(flows: xr.Dataset, balance: pd.DataFrame, plants: pd.DataFrame,
                magnets: tuple[float | None, float | None]) -> pd.DataFrame:
    """Per stage: plants, capacity, output and, where known, demand and imports.

    Demand is in t REO up to separation and, at the magnet stage, the magnets used [t];
    imports are what the stage's output leaves of it. ``magnets``: the magnets used and
    the country's published magnet output [t/yr] (``None`` where unknown); the published
    output, where there is one, stands for the magnets made at home, since the chain's own
    run makes only what the country's ore feeds (China's magnets are mostly made from
    imported feed, not imported).
    """
    magnets_used, magnets_made = magnets
    rows = []
    for stage in STAGE_ORDER:
        b = balance[(balance["stage"] == str(stage)) & (balance["element"] != OTHER)]
        other = balance[(balance["stage"] == str(stage)) & (balance["element"] == OTHER)]
        known = b[b["demand"].notna()]
        output = float(flows["product"].sel(stage=str(stage)))
        if stage in _DEMAND_STAGES:
            demand = float(known["demand"].sum() + other["demand"].sum(min_count=1))
            imports = float(known["imports"].sum() + other["imports"].sum()) \
                if not math.isnan(demand) else math.nan
        elif stage is Stage.MAGNET and magnets_used is not None:
            made = output if magnets_made is None else max(output, magnets_made)
            demand, imports = magnets_used, max(magnets_used - made, 0.0)
        else:
            demand = imports = math.nan
        online = plants.loc[(plants["stage"] == str(stage)) & plants["counted"], "facility_id"]
        rows.append({
            "stage": str(stage), "plants": ", ".join(online) or "-",
            "capacity": float(flows["capacity"].sel(stage=str(stage))),
            "output": output,
            "unit": UNITS[stage],
            "demand": demand, "imports": imports,
            "dependence": imports / demand if demand and demand > 0 else math.nan,
        })
    return pd.DataFrame(rows)


def _sources(facts: FactBase, ids: set[str]) -> pd.DataFrame:
    return pd.DataFrame([{"source_id": s, "description": facts.provenance(s)}
                         for s in sorted(ids)])


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    clean = df.astype(object).where(df.notna(), None)
    return [{str(k): _plain(v) for k, v in r.items()} for r in clean.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
