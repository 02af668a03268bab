"""Choosing among estimates: which series of figures a computation uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from reeplan.errors import ReeplanError, UnknownItemError

if TYPE_CHECKING:
    from reeplan.data.loader import FactBase

__all__ = ["assumption_value", "choose_series", "oxide_prices", "stage_parameter"]


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
