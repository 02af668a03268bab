"""Choosing among estimates: which series of figures a computation uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from reeplan.errors import UnknownItemError

if TYPE_CHECKING:
    from reeplan.data.loader import FactBase

__all__ = ["choose_series", "oxide_prices"]


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
