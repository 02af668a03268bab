"""Every string choice of reeplan, defined once.

Stage names, plan stages, products, technologies, partners, target kinds and confidence
levels are each a ``Literal`` (for pydantic and mypy) with a tuple of its values (for code
that iterates or checks membership), so a misspelt choice raises instead of vanishing.
Nothing here imports anything heavy: the data layer, the domain, the planner and the
scenario schema all read their choices from this module.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

__all__ = [
    "CHAIN_STAGES",
    "CONFIDENCE_LEVELS",
    "MARKETS",
    "PARTNER_IDS",
    "POOLED_ELEMENTS",
    "PRICE_UNITS",
    "RARE_METAL_STAGES",
    "SELF_SUFFICIENCY_STAGES",
    "SINGLE_COUNTRY_PARTNERS",
    "TARGET_KINDS",
    "Confidence",
    "Market",
    "OutputFormat",
    "PartnerId",
    "PlanStage",
    "PriceBasis",
    "PriceUnit",
    "Stage",
    "StageName",
    "TargetKind",
    "Technology",
]


class Stage(StrEnum):
    """Stages of the mine-to-magnet chain, in flow order."""

    MINING = "mining"
    CONCENTRATE = "concentrate"
    CRACKING = "cracking"
    SEPARATION = "separation"
    METAL = "metal"
    ALLOY = "alloy"
    MAGNET = "magnet"


CHAIN_STAGES: tuple[Stage, ...] = tuple(Stage)
"""The chain's stages in flow order."""

StageName = Literal["mining", "concentrate", "cracking", "separation", "refining", "metal",
                    "alloy", "magnet", "recycling"]
"""Stage names the fact base may use (``refining`` for rare metals, ``recycling`` for the
loop back from end of life)."""

PlanStage = Literal["mining", "separation", "metal", "magnet", "recycling",
                    "rare_metal_mining", "rare_metal_refining", "rare_metal_conversion"]
"""Stages the planner builds. ``mining`` covers mine, concentrator and cracking (its output
is cracked concentrate in t REO); ``magnet`` covers alloy and magnet making; ``recycling``
turns end-of-life magnets into metal. The rare metals (W, Mo, Nb, Ta, Li, Ti, Zr, ...)
have two: ``rare_metal_mining`` (mine and concentrator, t of the commodity's content in
concentrate) and ``rare_metal_refining`` (the refined product the commodity trades as:
APT, molybdic oxide, ferro-niobium, lithium carbonate, titanium sponge ..., t content),
and where a second product matters ``rare_metal_conversion`` (the refined product turned
into it: APT into tungsten carbide, lithium carbonate into hydroxide, t content)."""
RARE_METAL_STAGES: tuple[PlanStage, ...] = ("rare_metal_mining", "rare_metal_refining",
                                            "rare_metal_conversion")
"""The plan stages of the rare-metal chains."""

Technology = Literal["domestic", "CHN", "WEST"]
"""Who owns a process: the planning country itself, China, or Western companies."""

PartnerId = Literal["CHN", "WEST", "OTHER"]
"""Trading partners: China; the West (the countries sanctioning Russia, order 430-r, and
their allies); every other country (third countries such as Kazakhstan, the UAE, Turkey)."""
PARTNER_IDS: tuple[PartnerId, ...] = get_args(PartnerId)
SELF_SUFFICIENCY_STAGES: tuple[PlanStage, ...] = ("mining", "separation", "recycling")
"""Stages a ``self_sufficiency`` target can measure, each in t REO (see
:func:`reeplan.optimize.expressions.domestic_reo`)."""
SINGLE_COUNTRY_PARTNERS: tuple[PartnerId, ...] = ("CHN",)
"""Partners that are one country (the others are groups of countries)."""

TargetKind = Literal["output", "output_multiple", "import_share", "self_sufficiency",
                     "output_value", "supplier_share", "group_output",
                     "rare_metal_import_share"]
"""Kinds of roadmap target; :mod:`reeplan.optimize.targets` holds the rule of each."""
TARGET_KINDS: tuple[TargetKind, ...] = get_args(TargetKind)

OutputFormat = Literal["table", "csv", "json"]
"""How a command prints its result."""

PriceBasis = Literal["china", "ex_china", "realised", "policy"]
"""Which market a price quote belongs to; only ``china`` and ``ex_china`` are markets a
plan trades in (a producer's realised price or a policy floor is not one)."""
Market = Literal["china", "ex_china"]
"""The markets a plan trades in."""
MARKETS: tuple[Market, ...] = get_args(Market)

PriceUnit = Literal["USD/kg", "CNY/t"]
"""Units a price quote may be in; yuan quotes convert at the year's average rate."""
PRICE_UNITS: tuple[PriceUnit, ...] = get_args(PriceUnit)

Confidence = Literal["high", "medium", "low", "unverified"]
"""How sure we are of a fact-base row: ``high`` read in a primary source, ``medium`` from a
reputable secondary source, ``low`` recalled or derived, ``unverified`` a press claim."""
CONFIDENCE_LEVELS: tuple[Confidence, ...] = get_args(Confidence)

POOLED_ELEMENTS = "other"
"""Element label of a balance row pooling every element whose demand is not broken down."""
