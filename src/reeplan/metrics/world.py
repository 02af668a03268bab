"""The world supply picture of one commodity in one year, every figure with its source.

:func:`world` is what ``reeplan world`` prints; notebook users call it directly and get
labelled frames back.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import pandas as pd

from reeplan.data import SCHEMAS, FactBase, load_factbase
from reeplan.data.selection import choose_series
from reeplan.errors import DataValidationError, Problem, ReeplanError, UnknownItemError
from reeplan.metrics.concentration import hhi, top_n_share
from reeplan.metrics.dependence import reserve_life

__all__ = ["WorldOverview", "world"]

WORLD, OTHERS = "WLD", "ROW"
PRODUCTION_METRICS = ("mine_production", "refinery_production", "primary_production",
                      "sponge_production")
"""Production metrics :func:`world` reports, whichever the source uses for a commodity."""
ROUNDING_SLACK = 0.02
"""How far listed countries may sum above the published world total [fraction]: USGS rounds
the total (2024 rare earths: countries sum to 393,950 t REO, world 390,000 t REO)."""
_SHARES_RULE = SCHEMAS["stage_shares"].shares[0]
STAGE_SLACK = _SHARES_RULE.tolerance / _SHARES_RULE.limit
"""How far a stage's listed shares may sum above 100% [fraction]: the rounding slack the
fact base's share check already accepts (0.5 percentage points)."""

T = TypeVar("T")


@dataclass(frozen=True)
class WorldOverview:
    """World production, reserves and concentration of one commodity in one year.

    Attributes
    ----------
    commodity, year, unit, series
        What is shown: the commodity id, the year of production, the unit of quantities,
        and the estimate series the production figures come from (e.g. 'USGS MCS2025').
    countries
        One row per producing or reserve-holding country (and 'ROW' for the unlisted rest):
        production and reserves [``unit``], share of world production [fraction], static
        reserve life [years], and the source id of each figure.
    summary
        World totals and indicators: world production and reserves as published, China's
        share, HHI (0-1; a lower bound, 'ROW' not being split), top-3 share and names.
    stages
        Per chain stage, basis and source: China's share [%], top-3 countries and share,
        HHI of the listed shares (a lower bound) and how many countries the source lists.
    alternatives
        Other estimates that differ from the chosen series (other editions, national
        agencies), kept side by side rather than averaged.
    sources
        Every source id cited above, with title, publisher, year and url.
    """

    commodity: str
    year: int
    unit: str
    series: str
    countries: pd.DataFrame
    summary: pd.Series
    stages: pd.DataFrame
    alternatives: pd.DataFrame
    sources: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """Every figure as one tidy long table: section, item, metric, value, unit, source_id."""
        rows: list[dict[str, Any]] = []
        for iso3, r in self.countries.iterrows():
            for metric, unit, src in (("production", self.unit, "production_source"),
                                      ("share", "fraction", "production_source"),
                                      ("reserves", self.unit, "reserves_source"),
                                      ("reserve_life", "years", "reserves_source")):
                rows.append({"section": "country", "item": iso3, "metric": metric,
                             "value": r[metric], "unit": unit, "source_id": r[src]})
        for key, value in self.summary.items():
            rows.append({"section": "world", "item": WORLD, "metric": key, "value": value,
                         "unit": _SUMMARY_UNITS.get(str(key), self.unit),
                         "source_id": self.summary_sources.get(str(key), "")})
        for _, r in self.stages.iterrows():
            item = f"{r['stage']} {int(r['year'])} ({r['basis']})"
            for metric, unit in (("china_share", "%"), ("top3_share", "%"), ("hhi", "0-1")):
                rows.append({"section": "stage", "item": item, "metric": metric,
                             "value": r[metric], "unit": unit, "source_id": r["source_id"]})
        return pd.DataFrame(rows)

    @property
    def summary_sources(self) -> dict[str, str]:
        """Source id behind each summary figure (derived figures name their inputs' source)."""
        src = self.countries["production_source"].dropna()
        main = str(src.iloc[0]) if len(src) else ""
        return {k: main for k in self.summary.index if k not in {"top3_countries"}}

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary of every part."""
        return {
            "commodity": self.commodity,
            "year": self.year,
            "unit": self.unit,
            "series": self.series,
            "summary": _jsonable(self.summary.to_dict()),
            "countries": _records(self.countries.reset_index()),
            "stages": _records(self.stages),
            "alternatives": _records(self.alternatives),
            "sources": _records(self.sources),
        }


_SUMMARY_UNITS = {
    "china_share": "fraction", "hhi": "0-1", "top3_share": "fraction",
    "top3_countries": "", "world_reserve_life": "years", "listed_countries": "count",
}


def world(
    commodity: str = "rare_earths",
    year: int | None = None,
    *,
    series: str | None = None,
    facts: FactBase | None = None,
) -> WorldOverview:
    """Summarise world supply of ``commodity`` in ``year`` from the fact base.

    Parameters
    ----------
    commodity
        ``"rare_earths"`` or a rare-metal symbol (``"W"``, ``"Li"``, ...).
    year
        Production year; the latest year in the data when omitted.
    series
        Estimate series for production and reserves (e.g. ``"USGS MCS2024"``); by default
        the newest USGS edition that reports ``year``.
    facts
        A loaded fact base; the embedded one when omitted.

    Returns
    -------
    WorldOverview

    Raises
    ------
    UnknownItemError
        For an unknown commodity, a year without data or an unknown series.
    DataValidationError
        When the figures cannot be combined (countries summing above the world total,
        units that differ, negative quantities), naming the rows by file and line.
    """
    facts = facts if facts is not None else load_factbase()
    prod = facts["production"]
    known = sorted(facts["commodities"]["commodity"])
    if commodity not in known:
        raise UnknownItemError("commodity", commodity, known)
    prod = prod[prod["commodity"] == commodity]
    mined = prod[prod["metric"].isin(PRODUCTION_METRICS)]
    if mined.empty:
        raise ReeplanError(f"the fact base has no production figures for '{commodity}'")
    year = int(mined["year"].max()) if year is None else year
    chosen = choose_series(mined, year, series)
    metric = _main_metric(mined[mined["series"] == chosen])
    current = mined[(mined["series"] == chosen) & (mined["year"] == year)
                    & (mined["metric"] == metric)]
    if not (current["country"] == WORLD).any():  # shares of the listed countries only
        listed = ", ".join(sorted(str(c) for c in current["country"]))
        raise ReeplanError(f"the fact base has no world total of "
                           f"{metric.replace('_', ' ')} of '{commodity}' in {year} (series "
                           f"'{chosen}'), only {listed}: world shares, "
                           f"China's share and HHI would count the listed countries alone")
    reserves = _latest_reserves(prod, chosen)
    reserves, other_basis = _comparable_reserves(current, reserves)
    unit = _single_unit(current, reserves, commodity)
    what = f"{metric} of '{commodity}' in {year} (series '{chosen}')"
    countries, summary = _supply(current, reserves, what, unit)
    used = set(current["source_id"]) | set(reserves["source_id"])
    stages = _stage_table(facts["stage_shares"], commodity, year)
    used |= set(stages["source_id"])
    alternatives = _alternatives(prod, chosen, year)
    if not other_basis.empty:
        alternatives = pd.concat([alternatives, other_basis[alternatives.columns]],
                                 ignore_index=True)
    used |= set(alternatives["source_id"])
    src = facts["sources"]
    sources = src[src["source_id"].isin(used)][["source_id", "title", "publisher", "year",
                                                "url"]].reset_index(drop=True)
    return WorldOverview(commodity, year, unit, chosen, countries, summary, stages,
                         alternatives, sources)


def _comparable_reserves(current: pd.DataFrame,
                         reserves: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off reserves published on another basis than production.

    USGS gives zirconium production in gross weight of concentrate and reserves as ZrO2
    content: such reserves are shown side by side, and no reserve life is computed from
    them. Reserves in several units at once are a data error and stay to be reported.
    """
    units = set(reserves["unit"])
    if len(units) == 1 and units != set(current["unit"]) and len(set(current["unit"])) == 1:
        return reserves.iloc[0:0], reserves
    return reserves, reserves.iloc[0:0]


def _single_unit(current: pd.DataFrame, reserves: pd.DataFrame, commodity: str) -> str:
    """The one unit of production and reserves; shares and R/P are meaningless otherwise.

    Raises
    ------
    DataValidationError
        Naming each row whose unit is not the most common one.
    """
    rows = _figures(current, reserves)
    units = set(rows["unit"])
    if len(units) == 1:
        return str(units.pop())
    usual = str(rows["unit"].value_counts().index[0])
    odd = rows[rows["unit"] != usual]
    message = (f"production and reserves of '{commodity}' in one series use different units "
               f"({', '.join(sorted(units))}); expected one unit, '{usual}' as in the other "
               f"rows, so that shares and reserve life can be computed")
    raise DataValidationError([Problem(*_locate(origin), "unit", message)
                               for origin in odd["origin"]])


def _supply(current: pd.DataFrame, reserves: pd.DataFrame, what: str,
            unit: str) -> tuple[pd.DataFrame, pd.Series]:
    """The country table and the summary, after checking the figures can be combined.

    Raises
    ------
    DataValidationError
        When the countries sum above the world total, or a metric rejects the figures
        (e.g. a negative quantity), naming the rows by file and line.
    """
    rows = _figures(current, reserves)
    problems = _negative_rows(rows, unit) + _world_total_problems(current, what, unit)
    if problems:
        raise DataValidationError(problems)
    countries = _located(lambda: _country_table(current, reserves), rows, what)
    summary = _located(lambda: _summary(countries, current, reserves), rows, what)
    return countries, summary


def _figures(current: pd.DataFrame, reserves: pd.DataFrame) -> pd.DataFrame:
    """Production and reserve rows in one frame (an empty part is left out)."""
    return pd.concat([f for f in (current, reserves) if not f.empty] or [current])


def _negative_rows(rows: pd.DataFrame, unit: str) -> list[Problem]:
    """A problem for each negative quantity (a fact base built by hand may have them)."""
    negative = rows[rows["value"] < 0]
    return [Problem(*_locate(origin), "value",
                    f"{metric} of {_qty(value, unit)} is negative; expected a quantity >= 0")
            for origin, metric, value in zip(negative["origin"], negative["metric"],
                                             negative["value"], strict=True)]


def _world_total_problems(current: pd.DataFrame, what: str, unit: str) -> list[Problem]:
    """Check the published world total against the countries' rows (``ROW`` included).

    Shares, HHI and the top-3 share divide by the world total, so the listed rows may sum
    above it only by :data:`ROUNDING_SLACK`; a world total of 0 leaves no share defined.
    """
    world_rows = current[(current["country"] == WORLD) & current["value"].notna()]
    listed = current[(current["country"] != WORLD) & current["value"].notna()]
    if world_rows.empty:
        return []  # the world total is then the countries' sum
    total = float(world_rows["value"].iloc[0])
    listed_sum = float(listed["value"].sum())
    if listed_sum <= total * (1 + ROUNDING_SLACK):
        return []
    largest = listed.sort_values("value", ascending=False).head(3)
    named = "; ".join(f"{c} {_qty(v, unit)} at {o}" for c, v, o in
                      zip(largest["country"], largest["value"], largest["origin"], strict=True))
    return [Problem(*_locate(str(world_rows["origin"].iloc[0])), "value",
                    f"the world {what} is {_qty(total, unit)} but its {len(listed)} country "
                    f"rows ({OTHERS} included) sum to {_qty(listed_sum, unit)} (largest: "
                    f"{named}); expected the country rows to sum to at most the world total "
                    f"plus {ROUNDING_SLACK:.0%} (rounding), so that no share exceeds 1")]


def _located(compute: Callable[[], T], rows: pd.DataFrame, what: str) -> T:
    """Run ``compute``; a :class:`ValueError` of a metric becomes a located error.

    The metrics reject impossible figures (shares above 1, negative or NaN quantities);
    the figures come from ``rows``, which are then named by file and lines.
    """
    try:
        return compute()
    except ReeplanError:
        raise
    except ValueError as err:
        raise DataValidationError(_rows_problems(rows["origin"], f"the figures of {what} "
                                                 f"cannot be combined ({err})")) from err


def _rows_problems(origins: Iterable[str], message: str) -> list[Problem]:
    """One problem per file, listing the lines of ``origins`` in it."""
    lines: dict[str, list[int]] = defaultdict(list)
    for origin in origins:
        file, line = _locate(str(origin))
        lines[file].append(line if line is not None else 0)
    return [Problem(file, None, None,
                    f"{message}; rows {', '.join(str(n) for n in sorted(set(ns)))}")
            for file, ns in lines.items()]


def _locate(origin: str) -> tuple[str, int | None]:
    """Split an ``origin`` (``file:line``) into file and line."""
    file, sep, line = str(origin).rpartition(":")
    if sep and line.isdigit():
        return file, int(line)
    return str(origin), None


def _qty(value: float, unit: str) -> str:
    """A quantity as messages show it, e.g. '390,000 t REO'."""
    shown = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.6g}"
    return f"{shown} {unit}".strip()


def _main_metric(rows: pd.DataFrame) -> str:
    counts = rows["metric"].value_counts()
    return str(counts.index[0])


def _latest_reserves(prod: pd.DataFrame, series: str) -> pd.DataFrame:
    res = prod[(prod["metric"] == "reserves") & (prod["series"] == series)]
    if res.empty:
        return res
    latest: pd.DataFrame = res[res["year"] == res["year"].max()]
    return latest


def _country_table(current: pd.DataFrame, reserves: pd.DataFrame) -> pd.DataFrame:
    p = current.set_index("country")
    r = reserves.set_index("country")
    iso = sorted((set(p.index) | set(r.index)) - {WORLD})
    world_total = _world_value(current)
    df = pd.DataFrame(index=pd.Index(iso, name="country"))
    df["production"] = p["value"].reindex(iso)
    df["production_qualifier"] = p["qualifier"].reindex(iso)
    df["production_source"] = p["source_id"].reindex(iso)
    df["share"] = df["production"] / world_total if world_total else math.nan
    df["reserves"] = r["value"].reindex(iso)
    df["reserves_qualifier"] = r["qualifier"].reindex(iso)
    df["reserves_source"] = r["source_id"].reindex(iso)
    df["reserve_life"] = [
        reserve_life(res, pr) if pd.notna(res) and pd.notna(pr) else math.nan
        for res, pr in zip(df["reserves"], df["production"], strict=True)
    ]
    return df.sort_values(["production", "reserves"], ascending=False, na_position="last")


def _world_value(rows: pd.DataFrame) -> float:
    w = rows.loc[rows["country"] == WORLD, "value"]
    if len(w) and pd.notna(w.iloc[0]):
        return float(w.iloc[0])
    listed = rows.loc[rows["country"] != WORLD, "value"].dropna()
    return float(listed.sum())


def _summary(countries: pd.DataFrame, current: pd.DataFrame,
             reserves: pd.DataFrame) -> pd.Series:
    world_prod = _world_value(current)
    world_res = _world_value(reserves) if not reserves.empty else math.nan
    listed = countries.drop(index=OTHERS, errors="ignore")["production"].dropna()
    listed = listed[listed > 0]
    top = listed.sort_values(ascending=False).head(3)
    china = float(countries["production"].get("CHN", 0.0) or 0.0)
    res_q = reserves.loc[reserves["country"] == WORLD, "qualifier"]
    has_world_res = bool((reserves["country"] == WORLD).any())
    # without a published world total, the listed countries' sum is only a lower bound
    qualifier = (res_q.iloc[0] if len(res_q) else None) if has_world_res else \
        (">" if not reserves.empty else None)
    return pd.Series({
        "world_production": world_prod,
        "world_reserves": world_res,
        "world_reserves_qualifier": qualifier,
        "world_reserve_life": reserve_life(world_res, world_prod)
        if world_prod and not math.isnan(world_res) else math.nan,
        "china_share": china / world_prod if world_prod else math.nan,
        "hhi": hhi(listed, total=world_prod, slack=ROUNDING_SLACK) if len(listed) else math.nan,
        "top3_share": top_n_share(listed, 3, total=world_prod, slack=ROUNDING_SLACK)
        if len(listed) else math.nan,
        "top3_countries": ", ".join(top.index),
        "listed_countries": len(listed),
    }, dtype=object)


def _stage_table(stage_shares: pd.DataFrame, commodity: str, year: int) -> pd.DataFrame:
    df = stage_shares[(stage_shares["commodity"] == commodity)
                      & (~stage_shares["projection"].astype(bool))
                      & (stage_shares["year"] <= year)]
    rows = []
    for (stage, basis, source), g in df.groupby(["stage", "basis", "source_id"], sort=True):
        latest = g[g["year"] == g["year"].max()]
        values = latest.set_index("country")["value"].sort_values(ascending=False)
        top = values.head(3)
        rows.append({
            "stage": stage, "year": int(latest["year"].iloc[0]), "basis": basis,
            "china_share": float(values.get("CHN", math.nan)),
            "top3": ", ".join(top.index), "top3_share": float(top.sum()),
            "hhi": _located(partial(hhi, values, total=100.0, slack=STAGE_SLACK), latest,
                            f"{stage} shares of '{commodity}' ({basis}, {source})")
            if values.sum() > 0 else math.nan,
            "countries_listed": len(values), "source_id": source,
            "confidence": ", ".join(sorted(set(latest["confidence"]))),
        })
    cols = ["stage", "year", "basis", "china_share", "top3", "top3_share", "hhi",
            "countries_listed", "source_id", "confidence"]
    order = {s: i for i, s in enumerate(["mining", "concentrate", "cracking", "separation",
                                         "refining", "metal", "alloy", "magnet", "recycling"])}
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["stage", "year"], key=lambda c: c.map(order) if c.name == "stage"
                           else c).reset_index(drop=True)


def _alternatives(prod: pd.DataFrame, chosen: str, year: int) -> pd.DataFrame:
    reserves_year = prod.loc[(prod["series"] == chosen) & (prod["metric"] == "reserves"),
                             "year"]
    ryear = int(reserves_year.max()) if len(reserves_year) else year
    is_reserve = prod["metric"] == "reserves"
    near = prod["year"].between(ryear - 1, ryear + 1)
    other = prod[(prod["series"] != chosen)
                 & ((~is_reserve & (prod["year"] == year)) | (is_reserve & near))]
    chosen_rows = prod[prod["series"] == chosen]
    same = other.merge(chosen_rows[["country", "metric", "year", "value", "qualifier"]],
                       on=["country", "metric"], how="left", suffixes=("", "_chosen"))
    agrees = (same["value"] == same["value_chosen"]) & (
        same["qualifier"].fillna("") == same["qualifier_chosen"].fillna(""))
    both_missing = same["value"].isna() & same["value_chosen"].isna()
    differs = same[~(agrees | both_missing)].drop_duplicates(
        subset=["country", "metric", "year", "series"])
    cols = ["country", "metric", "year", "value", "qualifier", "unit", "basis", "series",
            "source_id", "confidence"]
    return differs[cols].sort_values(["metric", "country", "series"]).reset_index(drop=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [_jsonable(r) for r in df.astype(object).to_dict(orient="records")]
