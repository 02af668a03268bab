"""The domain: the declared chain of stages and the magnet recipe.

Both are frozen and validated; a bad value names the stage or recipe and the field.
"""

from reeplan.domain.chain import (
    PRE_SEPARATION,
    UNITS,
    StageChain,
    chain_from_facts,
)
from reeplan.domain.recipe import DIDYMIUM, Recipe, recipe_as_used, recipe_from_facts
from reeplan.types import Stage

__all__ = ["DIDYMIUM", "PRE_SEPARATION", "UNITS", "Recipe", "Stage",
           "StageChain", "chain_from_facts", "recipe_as_used", "recipe_from_facts"]
