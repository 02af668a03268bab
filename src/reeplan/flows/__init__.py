"""Element-resolved flows along the chain, as labelled arrays, mass balance always checked.

Needs the ``chain`` extra (xarray).
"""

from reeplan.flows.balance import check_mass_balance
from reeplan.flows.coproduction import (
    coproduce,
    distribution_from_table,
    feed_for_element,
    magnet_oxide_demand,
)
from reeplan.flows.stages import run_chain
from reeplan.flows.stocks import Lifetime, products_in_use, recycling_supply, to_elements

__all__ = [
    "Lifetime",
    "check_mass_balance",
    "coproduce",
    "distribution_from_table",
    "feed_for_element",
    "magnet_oxide_demand",
    "products_in_use",
    "recycling_supply",
    "run_chain",
    "to_elements",
]
