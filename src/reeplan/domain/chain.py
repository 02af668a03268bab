"""The declared chain: one stage graph used by ``reeplan chain`` and by the planner.

Mine output (t REO, as published) becomes concentrate, cracked concentrate and separated
oxide (t REO, each element locked to the ore's distribution until separation), then metal
(t metal: oxygen removed with each element's factor), alloy (t alloy, by the magnet recipe)
and magnet (t magnet; the rest is process scrap). Each step has a recovery from the
fact base's ``stage_parameters`` table, and every capacity is measured on the step's
output. The planner groups the steps into the stages it builds
(:data:`reeplan.types.PlanStage`): ``mining`` is mine, concentrator and cracking;
``magnet`` is alloy and magnet making.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reeplan.data.selection import stage_parameter
from reeplan.errors import ChainDefinitionError
from reeplan.types import CHAIN_STAGES, Stage

if TYPE_CHECKING:
    from reeplan.data import FactBase
    from reeplan.domain.recipe import Recipe

__all__ = ["PRE_SEPARATION", "UNITS", "StageChain", "chain_from_facts"]

PRE_SEPARATION = frozenset({Stage.MINING, Stage.CONCENTRATE, Stage.CRACKING})
"""Stages whose output keeps the feed's element distribution (the balance problem)."""

UNITS: Mapping[Stage, str] = {
    Stage.MINING: "t REO", Stage.CONCENTRATE: "t REO", Stage.CRACKING: "t REO",
    Stage.SEPARATION: "t REO", Stage.METAL: "t metal", Stage.ALLOY: "t alloy",
    Stage.MAGNET: "t magnet"}
"""Unit of each stage's product (and of its capacity)."""

@dataclass(frozen=True)
class StageChain:
    """Recoveries of the chain's steps after mining, and of recycling.

    Attributes
    ----------
    recovery
        Share of each element's input reaching the step's product [fraction], by stage
        (concentrate to magnet). For the magnet stage, the yield of magnet from alloy.
    recycling_recovery
        Share of a recycled magnet's rare earths recovered as metal [fraction].
    sources
        Source or assumption id of each value.
    """

    recovery: Mapping[Stage, float]
    recycling_recovery: float = 1.0
    sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Every step after mining needs a recovery in (0, 1]."""
        for stage in CHAIN_STAGES[1:]:
            r = self.recovery.get(stage)
            if r is None or not 0.0 < r <= 1.0:
                raise ChainDefinitionError(f"stage '{stage}', field 'recovery': {r}; expected "
                                           f"a fraction in (0, 1]")
        if not 0.0 < self.recycling_recovery <= 1.0:
            raise ChainDefinitionError(f"stage 'recycling', field 'recovery': "
                                       f"{self.recycling_recovery}; expected a fraction in "
                                       f"(0, 1]")

    @classmethod
    def ideal(cls) -> StageChain:
        """A chain without losses (every recovery 1), for hand-solvable cases."""
        return cls(dict.fromkeys(CHAIN_STAGES[1:], 1.0))

    def through(self, *stages: Stage) -> float:
        """Product of the recoveries of ``stages`` [fraction]."""
        out = 1.0
        for s in stages:
            out *= self.recovery[s]
        return out

    @property
    def cracked_per_mined(self) -> float:
        """Cracked concentrate per tonne of REO mined [t REO / t REO]."""
        return self.through(Stage.CONCENTRATE, Stage.CRACKING)

    @property
    def oxide_per_mined(self) -> float:
        """Separated oxide per tonne of REO mined [t REO / t REO], every element alike."""
        return self.through(Stage.CONCENTRATE, Stage.CRACKING, Stage.SEPARATION)

    @property
    def metal_recovery(self) -> float:
        """Metal recovered per tonne of metal contained in the oxide fed [fraction]."""
        return self.recovery[Stage.METAL]

    def oxide_per_magnet(self, recipe: Recipe, metal_per_oxide: Mapping[str, float]) -> float:
        """Oxide needed per tonne of finished magnet [t REO / t].

        The recipe's oxide content over the alloy and magnet yields.
        """
        return recipe.oxide_content(metal_per_oxide) / self.magnet_per_alloy_metal

    @property
    def magnet_per_alloy_metal(self) -> float:
        """Magnet made per tonne of alloy's metal fed [t / t]: alloy x magnet recoveries."""
        return self.through(Stage.ALLOY, Stage.MAGNET)


def chain_from_facts(facts: FactBase) -> StageChain:
    """The chain's recoveries as the fact base's ``stage_parameters`` table gives them."""
    recovery: dict[Stage, float] = {}
    sources: dict[str, str] = {}
    for stage in CHAIN_STAGES[1:]:
        recovery[stage], sources[str(stage)] = stage_parameter(facts, str(stage))
    recycling, sources["recycling"] = stage_parameter(facts, "recycling")
    return StageChain(recovery, recycling, sources)
