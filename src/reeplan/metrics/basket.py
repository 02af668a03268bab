"""Which element pays for a mine: the value of an ore's rare-earth basket by element."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

__all__ = ["basket_value"]


def basket_value(distribution: Mapping[str, float], prices: Mapping[str, float]) -> pd.DataFrame:
    r"""Value of one tonne of an ore's mixed oxide, split by element.

    .. math:: v_e = 1000 \, d_e \, p_e, \qquad s_e = v_e / \sum_k v_k

    with :math:`d_e` the element's share of total REO [fraction] and :math:`p_e` its
    separated-oxide price [USD/kg]; :math:`v_e` is in USD per tonne of REO.

    Parameters
    ----------
    distribution
        Element shares of total REO [fraction].
    prices
        Oxide prices [USD/kg]; elements without a price are reported with a blank value and
        left out of the value shares (their mass share is shown, so the gap is visible).

    Returns
    -------
    pandas.DataFrame
        Indexed by element: ``mass_share`` [fraction], ``price`` [USD/kg],
        ``value`` [USD/t REO], ``value_share`` [fraction of the priced basket].

    Examples
    --------
    Half La at 1 USD/kg, half Nd at 9 USD/kg: Nd is half the mass but 90% of the value.

    >>> basket_value({"La": 0.5, "Nd": 0.5}, {"La": 1.0, "Nd": 9.0})["value_share"].tolist()
    [0.1, 0.9]
    """
    if any(v < 0 for v in distribution.values()) or any(p < 0 for p in prices.values()):
        raise ValueError("shares and prices must be non-negative")
    df = pd.DataFrame({"mass_share": pd.Series(distribution, dtype=float)})
    df.index.name = "element"
    df["price"] = pd.Series(prices, dtype=float).reindex(df.index)
    df["value"] = 1000.0 * df["mass_share"] * df["price"]
    total = df["value"].sum(skipna=True)
    df["value_share"] = df["value"] / total if total > 0 else float("nan")
    return df
