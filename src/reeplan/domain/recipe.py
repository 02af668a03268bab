"""Magnet recipes: the rare-earth content of an alloy, read from the fact base."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reeplan.data import FactBase
from reeplan.errors import ChainDefinitionError, ReeplanError

__all__ = ["DIDYMIUM", "Recipe", "recipe_from_facts"]

DIDYMIUM: Mapping[str, tuple[str, ...]] = {"Nd": ("Nd", "Pr")}
"""Magnet makers use didymium (NdPr) where a composition names Nd alone; the shipped
sintered-NdFeB composition gives Nd 'incl. Pr substitution'."""


@dataclass(frozen=True)
class Recipe:
    """Rare-earth content of a magnet alloy.

    Attributes
    ----------
    material
        Name, e.g. ``"NdFeB_sintered_standard"``.
    wt_pct
        Mass fraction of each rare-earth component in the alloy [wt%].
    groups
        Elements that may stand in for a component, e.g. :data:`DIDYMIUM`. A component
        not listed stands for itself.
    source_ids
        Fact-base sources of the composition.
    """

    material: str
    wt_pct: Mapping[str, float]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        """Reject empty recipes and contents outside (0, 100] wt%."""
        if not self.wt_pct:
            raise ChainDefinitionError(f"recipe '{self.material}': no rare-earth component")
        total = sum(self.wt_pct.values())
        if any(v <= 0 for v in self.wt_pct.values()) or total > 100:
            raise ChainDefinitionError(f"recipe '{self.material}', field 'wt_pct': each "
                                       f"component must be above 0 and all at most 100 wt%")

    def members(self, component: str) -> tuple[str, ...]:
        """Elements that supply ``component``."""
        return tuple(self.groups.get(component, (component,)))

    @property
    def elements(self) -> set[str]:
        """Every element the recipe can use."""
        return {e for c in self.wt_pct for e in self.members(c)}

    def oxide_content(self, metal_per_oxide: Mapping[str, float]) -> float:
        """Rare-earth oxide equivalent of one tonne of the alloy or magnet [t REO / t].

        Each component's metal content divided by its oxide-to-metal factor [t metal per
        t oxide] (the first member's, e.g. Nd for didymium).

        Examples
        --------
        >>> Recipe("x", {"Nd": 30.0}).oxide_content({"Nd": 0.857})  # doctest: +ELLIPSIS
        0.3500...
        """
        missing = sorted(self.members(c)[0] for c in self.wt_pct
                         if self.members(c)[0] not in metal_per_oxide)
        if missing:
            raise ChainDefinitionError(f"recipe '{self.material}': no oxide-to-metal factor "
                                       f"for {', '.join(missing)}")
        return sum(w / 100 / metal_per_oxide[self.members(c)[0]]
                   for c, w in self.wt_pct.items())


def recipe_from_facts(facts: FactBase, material: str) -> Recipe:
    """The rare-earth part of ``material`` in the ``magnet_composition`` table.

    Non-rare-earth components (Fe, B, ...) are left out; :data:`DIDYMIUM` applies when the
    composition lists Nd but not Pr.
    """
    comp = facts["magnet_composition"]
    rows = comp[comp["material"] == material]
    if rows.empty:
        raise ReeplanError(f"unknown magnet material '{material}'; expected one of "
                           f"{', '.join(sorted(set(comp['material'])))}")
    rare = set(facts["elements"].query("kind == 'rare_earth'")["symbol"])
    wt = {str(c): float(v) for c, v in zip(rows["component"], rows["value"], strict=True)
          if c in rare}
    groups = {k: v for k, v in DIDYMIUM.items() if k in wt and v[1] not in wt}
    return Recipe(material, wt, groups, frozenset(str(s) for s in rows["source_id"]))
