"""Dependence and depletion: net import reliance, self-sufficiency, reserve life."""

from __future__ import annotations

import math

__all__ = ["apparent_consumption", "net_import_reliance", "reserve_life"]


def apparent_consumption(
    production: float, imports: float, exports: float, stock_change: float = 0.0
) -> float:
    r"""Apparent consumption [same unit as the inputs, e.g. t/yr].

    .. math:: C = P + I - E - \Delta S

    where :math:`\Delta S` is the increase in government and industry stocks (a stock draw
    is negative and adds to consumption). Definition of the USGS Mineral Commodity
    Summaries (Appendix A).

    Examples
    --------
    >>> apparent_consumption(100, 50, 30)
    120.0
    """
    for name, v in (("production", production), ("imports", imports), ("exports", exports)):
        if v < 0:
            raise ValueError(f"{name} must be non-negative, got {v}")
    return float(production + imports - exports - stock_change)


def net_import_reliance(
    production: float, imports: float, exports: float, stock_change: float = 0.0
) -> float:
    r"""Net import reliance as a share of apparent consumption [fraction].

    .. math:: NIR = \frac{I - E - \Delta S}{P + I - E - \Delta S}

    following the USGS Mineral Commodity Summaries (imports minus exports, adjusted for
    stock changes, over apparent consumption). A negative value means a net exporter
    (USGS prints "E"); 1 means all consumption is imported.

    Parameters
    ----------
    production
        Domestic primary production [t/yr].
    imports, exports
        Trade of the same material [t/yr].
    stock_change
        Increase in stocks over the year [t/yr]; negative for a draw.

    Returns
    -------
    float
        The reliance, a fraction; ``nan`` when apparent consumption is zero.

    References
    ----------
    U.S. Geological Survey (2025). Mineral Commodity Summaries 2025, Appendix A.

    Examples
    --------
    Russia's REM baseline in the 2026 press: about 50 t extracted, about 1,500 t imported,
    nothing exported.

    >>> round(net_import_reliance(50, 1_500, 0), 4)
    0.9677
    """
    consumption = apparent_consumption(production, imports, exports, stock_change)
    if consumption == 0:
        return math.nan
    return float((imports - exports - stock_change) / consumption)


def reserve_life(reserves: float, production: float) -> float:
    """Static reserve life [years]: reserves over current annual production.

    .. math:: R/P = R / P

    The static lifetime ignores demand growth and reserve additions; it is an indicator,
    not a forecast. Infinite when nothing is produced.

    Parameters
    ----------
    reserves
        Reserves [t].
    production
        Annual production in the same unit [t/yr].

    Examples
    --------
    USGS MCS 2025: Russia, 3,800,000 t REO of reserves and 2,500 t REO mined in 2024.

    >>> reserve_life(3_800_000, 2_500)
    1520.0
    """
    if reserves < 0 or production < 0:
        raise ValueError("reserves and production must be non-negative")
    if production == 0:
        return math.inf
    return reserves / production
