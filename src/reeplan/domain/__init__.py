"""Domain entities: stages, deposits, facilities and the chain they form.

Entities are frozen and validated; identities are typed; cross-references are checked once,
when a :class:`Chain` is assembled, and a bad reference names the item and the field.
"""

from reeplan.domain.chain import Chain
from reeplan.domain.entities import PRE_SEPARATION, Deposit, Facility, Stage
from reeplan.domain.recipe import DIDYMIUM, Recipe, recipe_from_facts

__all__ = ["DIDYMIUM", "PRE_SEPARATION", "Chain", "Deposit", "Facility", "Recipe", "Stage",
           "recipe_from_facts"]
