"""Market concentration: shares, top-n shares and the Herfindahl-Hirschman index.

All functions are pure and accept any 1-D array-like of non-negative quantities (a
:class:`pandas.Series` keeps its labels where the result has them).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["hhi", "share", "shares", "top_n_share"]

ArrayLike = npt.ArrayLike | pd.Series | Iterable[float]


def _as_quantities(values: ArrayLike, name: str = "values") -> npt.NDArray[np.float64]:
    arr = np.asarray(values, dtype=float).ravel()
    if np.isnan(arr).any():
        raise ValueError(f"{name} contain NaN; drop or fill missing figures first")
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative quantities")
    return arr


def share(part: float, total: float) -> float:
    """Share of ``part`` in ``total`` [fraction, 0 to 1].

    .. math:: s = q / Q

    Parameters
    ----------
    part
        Quantity of one supplier [any unit].
    total
        Total quantity, in the same unit; must be positive and at least ``part``.

    Returns
    -------
    float
        The share, a fraction.

    Examples
    --------
    USGS MCS 2025: China mined 270,000 t REO of a world total of 390,000 t in 2024.

    >>> round(share(270_000, 390_000), 4)
    0.6923
    """
    if total <= 0:
        raise ValueError(f"total must be positive, got {total}")
    if part < 0 or part > total * (1 + 1e-12):
        raise ValueError(f"part must be between 0 and total ({total}), got {part}")
    return part / total


def shares(
    values: ArrayLike, total: float | None = None, *, slack: float = 1e-9
) -> npt.NDArray[np.float64]:
    """Shares of each supplier [fraction].

    Parameters
    ----------
    values
        Quantities per supplier [any unit].
    total
        Denominator; the sum of ``values`` when omitted. Give the published world total
        when the listed suppliers do not cover the whole market.
    slack
        Relative amount by which the listed quantities may exceed ``total`` [fraction]:
        published totals are often rounded (USGS rounds world production).

    Returns
    -------
    numpy.ndarray
        ``values / total``.

    Examples
    --------
    >>> shares([3, 1]).tolist()
    [0.75, 0.25]
    """
    arr = _as_quantities(values)
    denom = float(arr.sum()) if total is None else float(total)
    if denom <= 0:
        raise ValueError("the total must be positive")
    if arr.sum() > denom * (1 + slack):
        raise ValueError(f"the listed quantities sum to {arr.sum():g}, above the total {denom:g}")
    return arr / denom


def top_n_share(
    values: ArrayLike, n: int = 3, total: float | None = None, *, slack: float = 1e-9
) -> float:
    r"""Combined share of the ``n`` largest suppliers [fraction, 0 to 1].

    .. math:: CR_n = \sum_{i=1}^{n} s_{(i)}, \quad s_{(1)} \ge s_{(2)} \ge \dots

    the concentration ratio of industrial economics (e.g. OECD Glossary, "concentration
    ratio").

    Parameters
    ----------
    values
        Quantities per supplier [any unit].
    n
        How many of the largest suppliers to add up; at least 1.
    total
        Denominator; the sum of ``values`` when omitted.
    slack
        See :func:`shares`.

    Examples
    --------
    >>> round(top_n_share([50, 30, 15, 5], n=3), 12)
    0.95
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    s = np.sort(shares(values, total, slack=slack))[::-1]
    return float(s[:n].sum())


def hhi(values: ArrayLike, total: float | None = None, *, slack: float = 1e-9) -> float:
    r"""Herfindahl-Hirschman index on the 0-1 scale [dimensionless].

    .. math:: HHI = \sum_i s_i^2, \quad s_i = q_i / Q

    It ranges from 1/N (N equal suppliers) to 1 (a monopoly). Multiply by 10,000 for the
    scale antitrust agencies use (U.S. DOJ/FTC Merger Guidelines 2023: above 1,800, i.e.
    0.18, is "highly concentrated").

    Parameters
    ----------
    values
        Quantities per supplier [any unit].
    total
        Denominator; the sum of ``values`` when omitted. With a published world total and
        an incomplete list, the result is a lower bound (unlisted suppliers add at least 0).
    slack
        See :func:`shares`.

    References
    ----------
    Hirschman, A. O. (1964). The paternity of an index. American Economic Review 54(5), 761.

    Examples
    --------
    >>> hhi([1, 1, 1, 1])
    0.25
    >>> hhi([100])
    1.0
    """
    s = shares(values, total, slack=slack)
    return float(np.sum(s * s))
