"""Choosing among estimates: which series of figures a computation uses."""

from __future__ import annotations

import pandas as pd

from reeplan.errors import UnknownItemError

__all__ = ["choose_series"]


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
