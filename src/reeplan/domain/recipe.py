"""Magnet recipes: the rare-earth content of an alloy, read from the fact base."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reeplan.data import FactBase
from reeplan.errors import ChainDefinitionError, ReeplanError

__all__ = ["APPLICATION_MATERIALS", "DIDYMIUM", "Recipe", "recipe_as_used", "recipe_from_facts"]

APPLICATION_MATERIALS: Mapping[str, str] = {
    "Electric vehicles": "NdFeB_ev_traction", "Wind": "NdFeB_wind",
    "Other automotive": "NdFeB_other_uses", "Air conditioners": "NdFeB_other_uses",
    "Electronics": "NdFeB_electronics", "Industrial motors and other": "NdFeB_other_uses"}
"""The magnet material of each application: the IEA's EV traction and wind, and its other
uses split as JSNM splits China's magnet output (other automotive, air conditioners,
electronics, industrial motors and the rest). Electronics carries the Dy measured in
hard-disk-drive magnets; the grades of the others are the generic sintered magnet's."""

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
    return facts.derived(("recipe_from_facts", material),
                         lambda: _recipe_from_facts(facts, material), Recipe)


def _recipe_from_facts(facts: FactBase, material: str) -> Recipe:
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


def recipe_as_used(facts: FactBase, year: int) -> Recipe:
    """The magnet as the world uses it: each application's recipe weighted by its share.

    The magnet rare-earth demand by application (the IEA's EV traction and wind, its other
    uses split by JSNM's shares) of the newest observed year at or before ``year`` (else
    the oldest) weighs the ``magnet_composition`` of each application's material
    (:data:`APPLICATION_MATERIALS`): Dy and Tb as the grades carry them, Pr:Nd as used,
    no substitution between them.

    Raises
    ------
    ReeplanError
        When the demand table has no such split.
    """
    return facts.derived(("recipe_as_used", year), lambda: _recipe_as_used(facts, year),
                         Recipe)


def _recipe_as_used(facts: FactBase, year: int) -> Recipe:
    demand = facts["demand"]
    rows = demand[(demand["scope"] == "WLD") & (demand["scenario"] == "observed")
                  & demand["end_use"].isin(list(APPLICATION_MATERIALS))]
    if rows.empty:
        raise ReeplanError(f"the demand table has no observed magnet demand by application "
                           f"({', '.join(APPLICATION_MATERIALS)})")
    before = rows[rows["year"] <= year]
    pick = before["year"].max() if not before.empty else rows["year"].min()
    rows = rows[rows["year"] == pick]
    weights = {str(r.end_use): float(r.value) for r in rows.itertuples()}
    total = sum(weights.values())
    blended: dict[str, float] = {}
    sources = {str(s) for s in rows["source_id"]}
    for use, weight in weights.items():
        recipe = recipe_from_facts(facts, APPLICATION_MATERIALS[use])
        sources |= recipe.source_ids
        for component, wt in recipe.wt_pct.items():
            blended[component] = blended.get(component, 0.0) + wt * weight / total
    groups = {k: v for k, v in DIDYMIUM.items() if k in blended and v[1] not in blended}
    return Recipe(f"NdFeB_as_used_{int(rows['year'].iloc[0])}", blended, groups,
                  frozenset(sources))
