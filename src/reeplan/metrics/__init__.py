"""Indicators as pure functions: concentration, dependence, depletion.

Every function documents its unit, formula and reference, and has a hand-computed doctest.
"""

from reeplan.metrics.basket import basket_value
from reeplan.metrics.concentration import hhi, share, shares, top_n_share
from reeplan.metrics.dependence import (
    apparent_consumption,
    net_import_reliance,
    reserve_life,
)

__all__ = [
    "apparent_consumption",
    "basket_value",
    "hhi",
    "net_import_reliance",
    "reserve_life",
    "share",
    "shares",
    "top_n_share",
]
