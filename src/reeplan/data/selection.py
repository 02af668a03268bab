"""Choosing among estimates: which series of figures a computation uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from reeplan.errors import ReeplanError, UnknownItemError

if TYPE_CHECKING:
    from reeplan.data.loader import FactBase

__all__ = ["Consumption", "MineOutput", "assumption_value", "choose_series", "consumption",
           "mine_output", "oxide_prices", "stage_parameter"]


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


def oxide_prices(facts: FactBase, year: int) -> tuple[dict[str, float], set[str]]:
    """Latest single-element oxide price at or before ``year`` [USD/kg], and its sources.

    Praseodymium, when the fact base has no Pr oxide price, takes the NdPr oxide price
    (Pr is sold inside NdPr); that choice is ours and the NdPr row is cited.
    """
    prices = facts["prices"]
    ok = prices[(prices["form"] == "oxide") & (prices["unit"] == "USD/kg")
                & (prices["year"] <= year)]
    single = ok[ok["element"].notna()].sort_values("year", kind="stable")
    latest = single.groupby("element").tail(1)
    out = {str(e): float(v) for e, v in zip(latest["element"], latest["value"], strict=True)}
    used = {str(s) for s in latest["source_id"]}
    ndpr = ok[ok["product"] == "NdPr oxide"].sort_values("year", kind="stable")
    if "Pr" not in out and not ndpr.empty:
        out["Pr"] = float(ndpr["value"].iloc[-1])
        used.add(str(ndpr["source_id"].iloc[-1]))
    return out, used


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
        Share of rare-earth volume used in magnets [fraction] (the world's: no country
        breakdown is published).
    source_ids
        Sources and assumptions behind both figures.
    """

    total: float
    year: int
    magnet_share: float
    source_ids: frozenset[str]


def consumption(facts: FactBase, country: str, year: int) -> Consumption | None:
    """Consumption of ``country`` nearest to ``year`` (the later one on a tie), or ``None``.

    The one rule by which ``reeplan chain`` and the planner read consumption.
    """
    demand = facts["demand"]
    total = _nearest(demand[(demand["scope"] == country) & (demand["end_use"] == "consumption")
                            & (demand["unit"] == "t")], year)
    share = _nearest(demand[(demand["scope"] == "WLD")
                            & (demand["end_use"] == "magnets share of volume")], year)
    if total is None or share is None:
        return None
    sources = {str(total["source_id"]), str(share["source_id"])}
    if country != "WLD":
        sources.add("magnet_share_as_russian_split")
    return Consumption(float(total["value"]), int(total["year"]),
                       float(share["value"]) / 100.0, frozenset(sources))


def _nearest(rows: pd.DataFrame, year: int) -> pd.Series | None:
    if rows.empty:
        return None
    order = rows.assign(gap=(rows["year"] - year).abs()).sort_values(["gap", "year"],
                                                                   ascending=[True, False])
    return order.iloc[0]
