"""reeplan: plan national rare-earth and rare-metal supply chains, mine to magnet.

The public API is reached from here and loaded lazily, so that ``import reeplan`` (and the
CLI's ``--help``) stay fast:

>>> import reeplan
>>> facts = reeplan.load_factbase()          # doctest: +SKIP
>>> overview = reeplan.world("rare_earths", year=2024)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "CountryChain",
    "FactBase",
    "Plan",
    "WorldOverview",
    "__version__",
    "country_chain",
    "load_factbase",
    "plan",
    "run_plan",
    "world",
]

_LAZY = {
    "FactBase": "reeplan.data",
    "load_factbase": "reeplan.data",
    "WorldOverview": "reeplan.metrics.world",
    "world": "reeplan.metrics.world",
    "CountryChain": "reeplan.flows.country",
    "country_chain": "reeplan.flows.country",
    "Plan": "reeplan.optimize",
    "plan": "reeplan.scenarios.run",
    "run_plan": "reeplan.scenarios.run",
}

if TYPE_CHECKING:  # pragma: no cover
    from reeplan.data import FactBase, load_factbase
    from reeplan.flows.country import CountryChain, country_chain
    from reeplan.metrics.world import WorldOverview, world
    from reeplan.optimize import Plan
    from reeplan.scenarios.run import plan, run_plan


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'reeplan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
