"""End-of-life magnets and what recycling recovers from them, for a country.

Magnets enter products (EV motors, wind generators, other uses) in the split of the IEA's
magnet rare-earth demand by end use; past inflows are extrapolated back from today's use
at the historical growth rate; flodym's dynamic stock model with each product's Weibull
lifetime gives the stock in use and the end-of-life outflow; today's recycling rate gives
the recycled part. Every parameter is a fact-base row (``product_lifetimes``,
``stage_parameters``, ``demand``, ``assumptions``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from reeplan.data import FactBase
from reeplan.data.selection import assumption_value, stage_parameter
from reeplan.domain import Recipe
from reeplan.errors import ReeplanError
from reeplan.flows.stocks import Lifetime, products_in_use, recycling_supply, to_elements

__all__ = ["HISTORY_YEARS", "MagnetEndOfLife", "end_of_life_magnets", "magnet_flows",
           "recycling_rate"]

HISTORY_YEARS = 60
"""How far back inflows are extrapolated [years]: longer than any product's lifetime tail."""
_GROWTH_ID = "magnet_history_growth"


@dataclass(frozen=True)
class MagnetEndOfLife:
    """Magnets in use, leaving use and recycled, by product, in one year.

    Attributes
    ----------
    year
        The year shown.
    products
        Per product: share of magnet use, inflow, stock in use and end-of-life outflow
        [t magnet], and the recycled part [t magnet].
    elements
        Rare-earth content of the recycled magnets by element [t metal].
    sources
        Fact-base ids behind the numbers.
    """

    year: int
    products: pd.DataFrame
    elements: pd.Series
    sources: frozenset[str]




def end_of_life_magnets(facts: FactBase, magnets_in_use_now: float, year: int,
                        recipe: Recipe) -> MagnetEndOfLife:
    """End-of-life magnets and recycling in ``year`` for a country using magnets today.

    Parameters
    ----------
    facts
        The fact base.
    magnets_in_use_now
        Magnets entering products in ``year`` [t/yr].
    year
        The year shown; inflows before it grow back at the historical rate.
    recipe
        Magnet composition, for the element content of recycled magnets.
    """
    ds, products, flow_sources = magnet_flows(facts, {year: magnets_in_use_now})
    ds = ds.sel(year=year)
    rate, rate_source = recycling_rate(facts)
    recycled = recycling_supply(ds["outflow"], rate, 1.0)
    lifetimes = [str(p) for p in ds["product"].values]
    table = pd.DataFrame({
        "end_use": [products[p] for p in lifetimes], "share": ds["share"].values,
        "inflow": ds["inflow"].values, "stock": ds["stock"].values,
        "end_of_life": ds["outflow"].values, "recycled": recycled.values,
    }, index=pd.Index(list(lifetimes), name="product")).reset_index()
    content = to_elements(recycled.sum("product"), recipe.wt_pct).to_series()
    return MagnetEndOfLife(year, table, content, frozenset({*flow_sources, rate_source}))


def magnet_flows(facts: FactBase, inflow: Mapping[int, float]
                 ) -> tuple[xr.Dataset, dict[str, str], set[str]]:
    """Magnets in use and leaving use by product, for given yearly inflows [t/yr].

    Years before the first given one get the first year's inflow shrunk at the historical
    growth rate (``magnet_history_growth``), over :data:`HISTORY_YEARS` years; the inflow
    of each year is split between products like the world's magnet demand by end use.

    Returns
    -------
    tuple
        The :func:`~reeplan.flows.stocks.products_in_use` dataset for the given years, with
        ``share`` (of inflow, by product); each product's end use; the fact-base ids used.
    """
    given = sorted(inflow)
    if given != list(range(given[0], given[-1] + 1)):
        raise ReeplanError("magnet inflow years must be consecutive")
    split, split_sources = _end_use_split(facts, given[0])
    lifetimes, products = _lifetimes(facts)
    growth = assumption_value(facts, _GROWTH_ID)
    past = list(range(given[0] - HISTORY_YEARS, given[0]))
    totals = np.array([inflow[given[0]] * (1 + growth) ** (y - given[0]) for y in past]
                      + [inflow[y] for y in given])
    shares = np.array([split.get(products[p], 0.0) for p in lifetimes])
    array = xr.DataArray(totals[:, None] * shares[None, :], dims=("year", "product"),
                         coords={"year": past + given, "product": list(lifetimes)})
    ds = products_in_use(array, lifetimes).sel(year=given)
    ds["share"] = ("product", shares)
    return ds, products, {*split_sources, _GROWTH_ID, *_lifetime_sources(facts)}


def _end_use_split(facts: FactBase, year: int) -> tuple[dict[str, float], set[str]]:
    """World shares of magnet rare-earth demand by end use, nearest observed year."""
    demand = facts["demand"]
    rows = demand[(demand["scope"] == "WLD") & (demand["scenario"] == "observed")
                  & (demand["elements"] == "Nd;Pr;Dy;Tb") & (demand["unit"] == "kt")
                  & demand["end_use"].isin(["Electric vehicles", "Wind", "other uses"])]
    if rows.empty:
        raise ReeplanError("the demand table has no observed magnet demand by end use")
    nearest = rows.loc[(rows["year"] - year).abs() == (rows["year"] - year).abs().min()]
    total = float(nearest["value"].sum())
    split = {str(e): float(v) / total for e, v in zip(nearest["end_use"], nearest["value"],
                                                      strict=True)}
    return split, {str(s) for s in nearest["source_id"]}


def _lifetimes(facts: FactBase) -> tuple[dict[str, Lifetime], dict[str, str]]:
    table = facts["product_lifetimes"]
    lifetimes, end_use = {}, {}
    for product, rows in table.groupby("product", sort=True):
        prm = dict(zip(rows["parameter"], rows["value"].astype(float), strict=True))
        kinds = set(rows["kind"])
        if len(kinds) != 1:
            raise ReeplanError(f"product_lifetimes: product '{product}' mixes kinds {kinds}")
        lifetimes[str(product)] = Lifetime(kinds.pop(), **prm)
        end_use[str(product)] = str(rows["end_use"].iloc[0])
    return lifetimes, end_use


def _lifetime_sources(facts: FactBase) -> set[str]:
    return {str(s) for s in facts["product_lifetimes"]["source_id"]}


def recycling_rate(facts: FactBase) -> tuple[float, str]:
    """Share of end-of-life magnets' rare earths recycled today [fraction], and its source."""
    return stage_parameter(facts, "recycling", "eol_recycling_rate")
