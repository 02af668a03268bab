"""Choosing among estimates: which series of figures a computation uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from reeplan.errors import ReeplanError, UnknownItemError
from reeplan.types import CONFIDENCE_LEVELS, PRICE_UNITS

if TYPE_CHECKING:
    from reeplan.data.loader import FactBase

__all__ = ["ConcentrateValue", "Consumption", "MagnetQuote", "MarketPrices", "MineOutput",
           "assumption_value", "best_distribution", "choose_series", "concentrate_value",
           "consumption", "deposit_mix", "exchange_rate", "home_countries",
           "is_country_group", "magnet_quote", "magnet_share", "market_prices", "mine_output",
           "nearest_year", "non_magnet_split", "oxide_prices", "stage_parameter"]


def choose_series(rows: pd.DataFrame, year: int, series: str | None = None) -> str:
    """Return the estimate series to use for ``year``.

    Parameters
    ----------
    rows
        Production rows (columns ``year`` and ``series``) of one commodity.
    year
        Year of the figures.
    series
        Asked-for series; by default the newest USGS Mineral Commodity Summaries edition
        that reports ``year``, else the first series in alphabetical order.

    Raises
    ------
    UnknownItemError
        When no series reports ``year``, or the asked-for series does not.
    """
    available = sorted(set(rows.loc[rows["year"] == year, "series"]))
    if not available:
        years = sorted({int(y) for y in rows["year"]})
        raise UnknownItemError("year", str(year), [str(y) for y in years])
    if series is not None:
        if series not in available:
            raise UnknownItemError("series", series, available)
        return series
    usgs = [str(s) for s in available if str(s).startswith("USGS MCS")]
    return max(usgs) if usgs else str(available[0])


@dataclass(frozen=True)
class MarketPrices:
    """Oxide prices of one market, and its metal-to-oxide price ratio.

    Attributes
    ----------
    market
        ``china`` or ``ex_china`` (:data:`reeplan.types.MARKETS`).
    oxide
        Price of each element's oxide [USD/kg].
    metal_ratio
        Metal price over oxide price, per kg of each [ratio], from same-day quotes of NdPr
        metal and oxide.
    sources
        Source and assumption ids behind the figures.
    remarks
        Per element, which rule priced it, in words (an NdPr quote standing in, an old
        quote, an ex-China premium); elements priced by their own recent quote have none.
    """

    market: str
    oxide: dict[str, float]
    metal_ratio: float
    sources: frozenset[str]
    remarks: Mapping[str, tuple[str, ...]]

    @property
    def notes(self) -> tuple[str, ...]:
        """Every remark as one line, ``"<element>: <remark>"``."""
        return tuple(f"{e}: {r}" for e, said in self.remarks.items() for r in said)


def _quoted(prices: pd.DataFrame, year: int, basis: str, form: str) -> pd.DataFrame:
    """Quotes of ``basis`` and ``form`` in USD/kg at or before ``year``, newest last.

    The value is taken at a range's midpoint; an annual average comes after a point quote
    of its year.
    """
    by_group = prices.attrs["by_group"]
    rows: pd.DataFrame | None = by_group.get((basis, form))
    if rows is None:
        return prices.iloc[:0]
    return rows[rows["year"].to_numpy() <= year]


STALE_QUOTE_YEARS = 1
"""A price quote older than this many years before the year priced gets a note [years]."""


def _quote_table(facts: FactBase) -> pd.DataFrame:
    """The quotes in USD/kg with their midpoints, sorted newest last.

    A quote in yuan (``CNY/t``, as Chinese price services publish them) converts at the
    yuan's annual average rate of its year (:func:`exchange_rate`); ``sources`` holds the
    quote's source and the rate's. Grouped by (basis, form) in ``attrs["by_group"]``;
    prepared once per fact base.
    """
    def compute() -> pd.DataFrame:
        prices = facts["prices"]
        rows = prices.copy()
        high = rows["value_high"].where(rows["value_high"].notna(), rows["value"])
        mid = (rows["value"].astype(float) + high.astype(float)) / 2
        per_usd_kg = []
        sources = []
        for unit, year, source in zip(rows["unit"], rows["year"], rows["source_id"],
                                      strict=True):
            if unit == "USD/kg":
                per_usd_kg.append(1.0)
                sources.append(frozenset({str(source)}))
            elif unit == "CNY/t":
                rate, fx = exchange_rate(facts, "CNY", int(year))
                per_usd_kg.append(rate * 1000.0)  # CNY/t -> USD/kg
                sources.append(frozenset({str(source), *fx}))
            else:  # a unit the schema admits (PRICE_UNITS) must be converted here
                raise ReeplanError(f"prices: unit {unit!r} has no conversion to USD/kg; "
                                   f"expected one of {', '.join(PRICE_UNITS)}")
        rows["mid"] = mid / per_usd_kg
        rows["sources"] = pd.Series(sources, index=rows.index, dtype=object)
        rows["annual"] = rows["period"] == "annual average"
        rows = rows.sort_values(["year", "annual"], kind="stable")
        rows.attrs["by_group"] = dict(iter(rows.groupby(["basis", "form"], sort=False)))
        return rows

    return facts.derived(("quote_table",), compute, pd.DataFrame)


def market_prices(facts: FactBase, year: int, market: str = "china") -> MarketPrices:
    """Prices a plan trades at in ``market`` in ``year``: the one rule for prices.

    China: per element, the newest Chinese oxide quote at or before ``year`` (the midpoint
    of a range); Nd and Pr take the NdPr oxide quote where it is newer than theirs, and Pr
    without any takes Nd's price (assumption ``nd_pr_at_ndpr_price``). Ex-China: the
    Chinese price times the ex-China premium of the element, read from an ex-China and a
    Chinese quote of the same year (the newest such pair at or before ``year``; at least
    1; 1 without a pair; for Nd and Pr an NdPr quote stands in for a year without theirs), so
    that quotes of different dates never make a price gap (assumption
    ``ex_china_premium``). Policy floors and a producer's realised prices are never market
    prices. The metal ratio is NdPr metal over NdPr oxide quoted the same day in the market
    (else in China).

    Raises
    ------
    ReeplanError
        For an unknown market.
    """
    if market not in ("china", "ex_china"):
        raise ReeplanError(f"unknown market '{market}'; expected china or ex_china")
    return facts.derived(("market_prices", year, market),
                         lambda: _market_prices(facts, year, market), MarketPrices)


def _market_prices(facts: FactBase, year: int, market: str) -> MarketPrices:
    prices = _quote_table(facts)
    oxide: dict[str, float] = {}
    used: set[str] = set()
    remarks: dict[str, list[str]] = {}
    rows = _quoted(prices, year, "china", "oxide")
    single = rows[rows["element"].notna()].groupby("element").tail(1)
    quoted_in: dict[str, int] = {}
    for e, v, src, quoted in zip(single["element"], single["mid"], single["sources"],
                                 single["year"], strict=True):
        oxide[str(e)] = float(v)
        quoted_in[str(e)] = int(quoted)
        used |= src
        if year - int(quoted) > STALE_QUOTE_YEARS:
            remarks.setdefault(str(e), []).append(
                f"the newest Chinese quote is of {int(quoted)}, {year - int(quoted)} years "
                f"before {year}.")
    _nd_pr_from_ndpr(rows, oxide, quoted_in, used, remarks)
    if market == "ex_china":
        outside, china = _yearly_oxide(prices, year, "ex_china"), \
            _yearly_oxide(prices, year, "china")
        for e in list(oxide):
            premium, sources = _ex_china_premium(outside, china, e)
            oxide[e] *= premium
            used |= sources
            if premium > 1:
                remarks.setdefault(e, []).append(f"ex-China premium x{premium:.2f} over China.")
    order = ["china"] if market == "china" else ["ex_china", "china"]
    ratio, ratio_sources = _metal_ratio(prices, year, order)
    return MarketPrices(market, oxide, ratio, frozenset(used | ratio_sources),
                        {e: tuple(said) for e, said in remarks.items()})


@dataclass(frozen=True)
class MagnetQuote:
    """The magnet price quote a plan prices magnets from (its content revalued at Nd's price).

    Attributes
    ----------
    price
        Magnet price [USD/kg of magnet].
    year
        Year of the quote.
    nd_price
        Chinese Nd oxide price of that year [USD/kg] (:func:`market_prices`).
    sources
        Source ids of the quote and of the Nd price.
    """

    price: float
    year: int
    nd_price: float
    sources: frozenset[str]


def magnet_quote(facts: FactBase, year: int) -> MagnetQuote:
    """The newest Chinese magnet quote at or before ``year``, else the first after it.

    Raises
    ------
    ReeplanError
        When the prices table has no magnet quote, or no Nd oxide price in its year.
    """
    prices = _quote_table(facts)
    rows = _quoted(prices, 9999, "china", "magnet")
    if rows.empty:
        raise ReeplanError("the prices table has no magnet quote (form 'magnet', basis "
                           "'china'); magnets cannot be priced")
    before = rows[rows["year"] <= year]
    row = before.iloc[-1] if not before.empty else rows.iloc[0]
    quoted = int(row["year"])
    china = market_prices(facts, quoted, "china")
    if "Nd" not in china.oxide:
        raise ReeplanError(f"the prices table has no Chinese Nd oxide price at or before "
                           f"{quoted}, the year of the magnet quote")
    return MagnetQuote(float(row["mid"]), quoted, china.oxide["Nd"],
                       frozenset(row["sources"]) | china.sources)


_YearlyQuotes = dict[str, dict[int, tuple[float, frozenset[str]]]]
"""Element (or ``"NdPr"``) -> year -> (USD/kg, sources): the last quote of each year."""


def _yearly_oxide(prices: pd.DataFrame, year: int, basis: str) -> _YearlyQuotes:
    """Oxide quotes of ``basis`` at or before ``year``, per element and year (newest last)."""
    rows = _quoted(prices, year, basis, "oxide")
    found: _YearlyQuotes = {}
    for e, product, y, v, src in zip(rows["element"], rows["product"], rows["year"],
                                     rows["mid"], rows["sources"], strict=True):
        key = str(e) if isinstance(e, str) else "NdPr" if product == "NdPr oxide" else ""
        if key:
            found.setdefault(key, {})[int(y)] = (float(v), src)
    return found


def _ex_china_premium(outside: _YearlyQuotes, china: _YearlyQuotes,
                      element: str) -> tuple[float, set[str]]:
    """Ex-China over Chinese price of ``element``'s oxide from quotes of the same year.

    Nd and Pr take the NdPr oxide's in a year without quotes of their own.
    """
    def own(quotes: _YearlyQuotes) -> dict[int, tuple[float, frozenset[str]]]:
        mixed = quotes.get("NdPr", {}) if element in ("Nd", "Pr") else {}
        return {**mixed, **quotes.get(element, {})}  # its own quote first, in a year

    out, home = own(outside), own(china)
    common = sorted(set(out) & set(home))
    if not common:
        return 1.0, set()
    y = common[-1]
    return max(out[y][0] / home[y][0], 1.0), {*out[y][1], *home[y][1], "ex_china_premium"}


ND_PR_RULE = "nd_pr_at_ndpr_price"
"""The assumption that prices Nd and Pr oxide at the NdPr oxide quote when it is newer."""


def _nd_pr_from_ndpr(rows: pd.DataFrame, oxide: dict[str, float], quoted_in: dict[str, int],
                     used: set[str], remarks: dict[str, list[str]]) -> None:
    """Nd and Pr at the newest NdPr oxide quote where theirs are older or missing.

    Without an NdPr quote, Pr without a quote of its own takes Nd's price.
    """
    ndpr = rows[rows["product"] == "NdPr oxide"]
    if ndpr.empty:
        if "Pr" not in oxide and "Nd" in oxide:
            oxide["Pr"] = oxide["Nd"]
            used.add(ND_PR_RULE)
            remarks.setdefault("Pr", []).append(
                "priced at the Nd oxide price (no Pr or NdPr quote by then).")
        return
    newest = int(ndpr["year"].iloc[-1])
    for e in ("Nd", "Pr"):
        if e not in oxide or quoted_in[e] < newest:
            oxide[e] = float(ndpr["mid"].iloc[-1])
            used.update({*ndpr["sources"].iloc[-1], ND_PR_RULE})
            remarks.setdefault(e, []).append(
                f"priced at the NdPr oxide quote (china, {newest}).")


def _metal_ratio(prices: pd.DataFrame, year: int, order: list[str]) -> tuple[float, set[str]]:
    def quotes(basis: str, form: str, product: str) -> dict[tuple[int, str, str], float]:
        rows = _quoted(prices, 9999, basis, form)
        rows = rows[rows["product"] == product]
        return {(int(y), str(p), str(s)): float(v) for y, p, s, v in
                zip(rows["year"], rows["period"], rows["source_id"], rows["mid"], strict=True)}

    for basis in order:
        metal = quotes(basis, "metal", "NdPr metal")
        oxide = quotes(basis, "oxide", "NdPr oxide")
        same_day = sorted(set(metal) & set(oxide), key=lambda k: (abs(k[0] - year), k))
        if same_day:
            # the quote pair nearest to ``year``: ratios move far less than prices
            best = same_day[0]
            return metal[best] / oxide[best], {best[2]}
    raise ReeplanError("the prices table has no same-day NdPr metal and oxide quotes; the "
                       "metal price ratio cannot be read")


def oxide_prices(facts: FactBase, year: int,
                 market: str = "china") -> tuple[dict[str, float], set[str]]:
    """Oxide prices [USD/kg] of ``market`` in ``year`` and their sources.

    See :func:`market_prices`.
    """
    found = market_prices(facts, year, market)
    return dict(found.oxide), set(found.sources)


def stage_parameter(facts: FactBase, stage: str,
                    parameter: str = "recovery") -> tuple[float, str]:
    """One value of the ``stage_parameters`` table and its source id.

    Raises
    ------
    ReeplanError
        When the table has no such row (e.g. a user layer removed it), naming the row to add.
    """
    params = facts["stage_parameters"]
    rows = params[(params["stage"] == stage) & (params["parameter"] == parameter)]
    if rows.empty:
        raise ReeplanError(f"stage_parameters has no {parameter} for stage '{stage}'; add a "
                           f"row (stage={stage}, parameter={parameter})")
    return float(rows["value"].iloc[0]), str(rows["source_id"].iloc[0])


def assumption_value(facts: FactBase, assumption_id: str) -> float:
    """The number of a labelled assumption; raises if it has none (never a silent NaN)."""
    table = facts["assumptions"].set_index("assumption_id")["value"]
    if assumption_id not in table.index or pd.isna(table[assumption_id]):
        raise ReeplanError(f"the assumptions table has no value for '{assumption_id}'")
    return float(table[assumption_id])


FX_HELD = "fx_held_after_forecast"
"""The assumption that holds a rate path flat after its last published year."""


def exchange_rate(facts: FactBase, currency: str, year: int) -> tuple[float, frozenset[str]]:
    """Units of ``currency`` per USD in ``year``, and the sources behind the figure.

    The path of annual averages and forecasts (``exchange_rates``): the row of ``year``,
    else the last year before it (held flat after the path ends: :data:`FX_HELD`), else
    the first year after it. No path for the currency raises, naming the table.
    """
    table = facts["exchange_rates"]
    rows = table[(table["currency"] == currency) & (table["kind"] != "on_date")]
    if rows.empty:
        raise ReeplanError(f"the exchange_rates table has no {currency} per USD path")
    before = rows[rows["year"] <= year]
    row = (before.sort_values("year").iloc[-1] if not before.empty
           else rows.sort_values("year").iloc[0])
    sources = {str(row["source_id"])}
    if int(row["year"]) < year:
        sources.add(FX_HELD)
    return float(row["value"]), frozenset(sources)


@dataclass(frozen=True)
class MineOutput:
    """A country's published rare-earth mine output in one year.

    Attributes
    ----------
    value
        Mine output [t REO]; 0 when the series reports none for the country.
    series, source_id
        The production series and source the figure comes from (``source_id`` is ``None``
        when the series has no row for the country).
    qualifier
        ``">"``, ``"<"`` or ``"~"`` when the figure is a bound or estimate, else ``""``.
    """

    value: float
    series: str
    source_id: str | None
    qualifier: str


def mine_output(facts: FactBase, country: str, year: int,
                series: str | None = None) -> MineOutput:
    """Rare-earth mine output of ``country`` in ``year``: the one rule every part uses.

    The series is :func:`choose_series`'s (newest USGS edition reporting the year, unless
    one is asked for); a country the series does not list mined nothing in it.
    """
    prod = facts["production"]
    mined = prod[(prod["commodity"] == "rare_earths") & (prod["metric"] == "mine_production")]
    chosen = choose_series(mined, year, series)
    row = mined[(mined["series"] == chosen) & (mined["year"] == year)
                & (mined["country"] == country)]
    if row.empty:
        return MineOutput(0.0, chosen, None, "")
    r = row.iloc[0]
    qualifier = r["qualifier"] if isinstance(r["qualifier"], str) else ""
    return MineOutput(float(r["value"]), chosen, str(r["source_id"]), qualifier)


def home_countries(facts: FactBase, country: str) -> frozenset[str]:
    """The countries ``country`` stands for: a group's members (EU27), else itself.

    The one rule by which the planner and ``reeplan chain`` count plants, deposits and
    mine output as domestic.
    """
    groups = facts["country_groups"]
    members = frozenset(str(m) for m in groups.loc[groups["group"] == country, "iso3"])
    return members or frozenset({country})


def is_country_group(facts: FactBase, code: str) -> bool:
    """Whether ``code`` is a country group (``country_groups`` table), e.g. EU27."""
    return bool((facts["country_groups"]["group"] == code).any())


@dataclass(frozen=True)
class Consumption:
    """A country's rare-earth consumption and the share of it that goes into magnets.

    Attributes
    ----------
    total
        Consumption [t REO/yr].
    year
        Year of the consumption row used.
    magnet_share
        Share of rare-earth volume used in magnets [fraction]: the country's own where it
        is published (Japan), else the world's.
    source_ids
        Sources and assumptions behind the figures.
    magnets_t
        Magnets used [t/yr] where published apart (EU27); ``total`` then excludes them and
        holds only the compounds and metals used.
    """

    total: float
    year: int
    magnet_share: float
    source_ids: frozenset[str]
    magnets_t: float | None = None


MAGNETS_USED = "NdFeB magnets used"
"""``end_use`` of a demand row giving the magnets a country uses [t magnet/yr]."""


def consumption(facts: FactBase, country: str, year: int) -> Consumption | None:
    """Consumption of ``country`` nearest to ``year`` (the later one on a tie), or ``None``.

    The one rule by which ``reeplan chain`` and the planner read consumption. The magnet
    share is the country's own row nearest ``year`` if it has one, else the world's (and
    the assumption that the country splits its use like the world is cited).
    """
    demand = facts["demand"]
    here = demand[demand["scope"] == country]
    total = _nearest(here[(here["end_use"] == "consumption") & (here["unit"] == "t")], year)
    own = _nearest(here[here["end_use"] == "magnets share of volume"], year)
    share = own if own is not None else _magnet_share_row(demand, year)
    if total is None or share is None:
        return None
    sources = {str(total["source_id"]), str(share["source_id"])}
    if own is None and country != "WLD":
        sources.add("magnet_share_as_russian_split")
    magnets = _nearest(here[(here["end_use"] == MAGNETS_USED) & (here["unit"] == "t")], year)
    if magnets is not None:
        sources.add(str(magnets["source_id"]))
    return Consumption(float(total["value"]), int(total["year"]),
                       float(share["value"]) / 100.0, frozenset(sources),
                       None if magnets is None else float(magnets["value"]))


NON_MAGNET_USES = "non-magnet uses"
"""``end_use`` of the world demand rows that split non-magnet use by element [%]."""


def non_magnet_split(facts: FactBase, year: int) -> tuple[dict[str, float], frozenset[str]]:
    """Share of each element in non-magnet rare-earth use [fraction], and its sources.

    The world's split nearest ``year`` (the one rule for ``reeplan chain`` and the
    planner); every country is taken to use rare earths outside magnets like the world.
    Empty when the demand table holds none.
    """
    demand = facts["demand"]
    rows = demand[(demand["scope"] == "WLD") & (demand["end_use"] == NON_MAGNET_USES)
                  & (demand["unit"] == "%")]
    if rows.empty:
        return {}, frozenset()
    rows = nearest_year(rows, year)
    total = float(rows["value"].sum())
    return ({str(e): float(v) / total for e, v in zip(rows["elements"], rows["value"],
                                                      strict=True)},
            frozenset(str(s) for s in rows["source_id"]))


@dataclass(frozen=True)
class DepositMix:
    """How a country's mine output splits between its deposits in one year.

    Attributes
    ----------
    shares
        Share of mine output by deposit [fraction, summing to 1].
    year
        Year of the ``deposit_mixes`` rows used.
    source_ids
        Their sources and assumptions.
    """

    shares: dict[str, float]
    year: int
    source_ids: frozenset[str]


def deposit_mix(facts: FactBase, country: str, year: int) -> DepositMix | None:
    """The country's published deposit mix nearest ``year``, or ``None`` without one."""
    table = facts["deposit_mixes"]
    rows = table[table["country"] == country]
    if rows.empty:
        return None
    rows = nearest_year(rows, year)
    total = float(rows["value"].sum())
    return DepositMix({str(d): float(v) / total for d, v in
                       zip(rows["deposit_id"], rows["value"], strict=True)},
                      int(rows["year"].iloc[0]), frozenset(str(s) for s in rows["source_id"]))


def magnet_share(facts: FactBase, year: int) -> tuple[float, str]:
    """World share of rare-earth volume used in magnets nearest to ``year`` [fraction].

    Returns the share and its source; :func:`consumption` reads it by the same rule.
    """
    row = _magnet_share_row(facts["demand"], year)
    if row is None:
        raise ReeplanError("the demand table has no world magnet share of volume")
    return float(row["value"]) / 100.0, str(row["source_id"])


def _magnet_share_row(demand: pd.DataFrame, year: int) -> pd.Series | None:
    return _nearest(demand[(demand["scope"] == "WLD")
                           & (demand["end_use"] == "magnets share of volume")], year)


def nearest_year(rows: pd.DataFrame, year: int) -> pd.DataFrame:
    """All of ``rows`` (not empty) of the year nearest ``year``, the later one on a tie."""
    nearest = _nearest(rows, year)
    assert nearest is not None
    found: pd.DataFrame = rows[rows["year"] == nearest["year"]]
    return found


def _nearest(rows: pd.DataFrame, year: int) -> pd.Series | None:
    if rows.empty:
        return None
    order = rows.assign(gap=(rows["year"] - year).abs()).sort_values(["gap", "year"],
                                                                   ascending=[True, False])
    return order.iloc[0]


@dataclass(frozen=True)
class ConcentrateValue:
    """What a buyer pays for rare earths in concentrate, as a share of their oxides' value.

    Attributes
    ----------
    share
        Realised concentrate price over the value of the oxides it contains at Chinese
        prices of the same year [fraction]: the discount for cracking, separating and
        for selling mixed material to the one market that buys it.
    sources
        Source ids behind the figure.
    note
        How it was derived, in words.
    """

    share: float
    sources: frozenset[str]
    note: str


def concentrate_value(facts: FactBase, year: int) -> ConcentrateValue:
    """The concentrate discount, derived from a producer's realised price.

    MP Materials' realised price per kg of REO in Mountain Pass concentrate (sold mostly
    to China) over the value of Mountain Pass's oxides (its most trusted distribution) at
    Chinese prices of the quote's year. Raises when the table holds no such quote.
    """
    prices = facts["prices"]
    rows = prices[(prices["form"] == "concentrate") & (prices["basis"] == "realised")
                  & (prices["unit"] == "USD/kg") & (prices["year"] <= max(year, 2024))]
    if rows.empty:
        raise ReeplanError("the prices table has no realised price of REO in concentrate; "
                           "the value of concentrate cannot be read")
    quote = rows.sort_values("year", kind="stable").iloc[-1]
    qyear = int(quote["year"])
    dists = facts["element_distributions"]
    best = best_distribution(dists, "mountain_pass")
    if best is None:
        raise ReeplanError("no element distribution of mountain_pass to value its "
                           "concentrate")
    d = dists[dists["distribution_id"] == best]
    china = market_prices(facts, qyear, "china")
    value = sum(float(v) / 100 * china.oxide.get(str(e), 0.0)
                for e, v in zip(d["element"], d["value"], strict=True))
    share = float(quote["value"]) / value
    note = (f"concentrate sells at {share:.0%} of its oxides' value: {quote['value']} USD/kg "
            f"REO realised ({qyear}) over {value:.2f} USD/kg of Mountain Pass oxides "
            f"({best}) at Chinese prices")
    return ConcentrateValue(share, frozenset({str(quote["source_id"]),
                                              str(d["source_id"].iloc[0]),
                                              *china.sources}), note)


_CONFIDENCE_RANK = {level: rank for rank, level in enumerate(CONFIDENCE_LEVELS)}


def best_distribution(table: pd.DataFrame, deposit_id: str) -> str | None:
    """Id of the distribution of ``deposit_id`` to use.

    Complete before partial (a partial one leaves REO without an element), then the
    highest confidence, then the id.

    Returns ``None`` when the ``element_distributions`` table has none for the deposit.
    """
    rows = table[table["deposit_id"] == deposit_id]
    if rows.empty:
        return None
    order = rows.assign(rank=rows["confidence"].map(_CONFIDENCE_RANK),
                        partial=~rows["complete"].astype(bool)).sort_values(
        ["partial", "rank", "distribution_id"], kind="stable")
    return str(order["distribution_id"].iloc[0])
