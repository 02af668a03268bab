"""Frozen, validated entities of the chain with typed identities."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, NewType

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = ["PRE_SEPARATION", "Deposit", "DepositId", "Facility", "FacilityId", "Stage"]

DepositId = NewType("DepositId", str)
FacilityId = NewType("FacilityId", str)
Element = Annotated[str, StringConstraints(pattern=r"^[A-Z][a-z]?$")]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class Stage(StrEnum):
    """Stages of the mine-to-magnet chain, in flow order."""

    MINING = "mining"
    CONCENTRATE = "concentrate"
    CRACKING = "cracking"
    SEPARATION = "separation"
    METAL = "metal"
    ALLOY = "alloy"
    MAGNET = "magnet"


PRE_SEPARATION = frozenset({Stage.MINING, Stage.CONCENTRATE, Stage.CRACKING})
"""Stages whose output keeps the feed's element distribution (the balance problem)."""


class _Entity(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Deposit(_Entity):
    """An ore body with its element distribution.

    Attributes
    ----------
    id
        Unique id, e.g. ``"lovozero"``.
    country
        ISO 3166-1 alpha-3 code.
    distribution
        Share of each element's oxide in total REO [fraction]; must sum to 1 within 0.01.
    """

    id: DepositId
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    distribution: dict[Element, Fraction]

    @model_validator(mode="after")
    def _sums_to_one(self) -> Deposit:
        total = sum(self.distribution.values())
        if abs(total - 1.0) > 0.01:
            raise ValueError(f"distribution sums to {100 * total:.2f}%; expected 100% within "
                             f"1 point")
        return self


class Facility(_Entity):
    """An existing or candidate plant at one stage.

    Attributes
    ----------
    id
        Unique id.
    stage
        The stage it performs.
    country
        ISO 3166-1 alpha-3 code.
    capacity
        Output capacity [t/yr of the stage's product]; non-negative.
    feed
        For a mine, the deposit it works; otherwise the upstream facility it takes from.
    recovery
        Fraction of input that reaches the output [fraction]. Before separation a single
        value for all elements (key ``"*"``); from separation on, per element.
    """

    id: FacilityId
    stage: Stage
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    capacity: Annotated[float, Field(ge=0.0)]
    feed: str
    recovery: dict[str, Fraction] = Field(default_factory=lambda: {"*": 1.0})

    @model_validator(mode="after")
    def _locked_before_separation(self) -> Facility:
        if self.stage in PRE_SEPARATION and set(self.recovery) != {"*"}:
            raise ValueError("before separation the output keeps the feed's distribution: "
                             "give one recovery for all elements (key '*')")
        return self

    def recovery_of(self, element: str) -> float:
        """Recovery of ``element`` [fraction]; the ``"*"`` entry applies to unlisted ones."""
        if element in self.recovery:
            return self.recovery[element]
        if "*" in self.recovery:
            return self.recovery["*"]
        raise KeyError(f"facility '{self.id}' has no recovery for '{element}' and no '*'")
