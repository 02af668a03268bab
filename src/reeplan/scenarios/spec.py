"""Scenario files: YAML validated by pydantic, unknown keys rejected, variants as overrides.

A variant names its base with ``extends: other.yaml`` and overrides keys; mappings merge
key by key, except that an empty mapping (``{}``) clears the base's (``candidates: {}``
drops every candidate of the base, ``policy: {partners: {}}`` every partner's terms);
everything else replaces. Errors name the file, line and key.

Reading is defensive, since a scenario file is user input: a file must be a regular UTF-8
file of at most :data:`MAX_BYTES`; anchors, aliases, tags and merge keys are refused (a
scenario never needs them, and aliases can expand without bound); nesting is limited to
:data:`MAX_DEPTH` levels and a file to :data:`MAX_VALUES` values; a key may appear once
in a mapping. Plain scalars are read as in the YAML 1.2 core schema: ``true``/``false`` are
booleans (``yes``, ``no``, ``on``, ``off`` and ``NO`` stay text), integers are decimal (no
octal ``010``, no base-60 ``1:30``), and ``1e7`` is a number. Numbers are strict: a boolean
or a quoted number where a number is expected is an error, a year is a whole number, and
every number is finite and at most :data:`MAX_MAGNITUDE` in size.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from reeplan.errors import DataValidationError, Problem
from reeplan.types import (
    RARE_METAL_STAGES,
    SELF_SUFFICIENCY_STAGES,
    SINGLE_COUNTRY_PARTNERS,
    Market,
    PartnerId,
    PlanStage,
    TargetKind,
    Technology,
)

__all__ = ["DEFAULT_PENALTY", "MAX_BYTES", "MAX_DEPTH", "MAX_EXTENDS", "MAX_MAGNITUDE",
           "MAX_VALUES", "CandidateSpec", "PartnerSpec", "Scenario", "TargetSpec",
           "load_scenario", "read_scenario"]

_DOMESTIC: tuple[Technology, ...] = ("domestic",)

MAX_BYTES = 1_000_000
"""Largest scenario file read [bytes]; the shipped ones are about 3 kB."""
MAX_DEPTH = 50
"""Deepest nesting of mappings and lists; a scenario needs five levels."""
MAX_VALUES = 20_000
"""Most keys, values and list items in one file; a scenario needs a few hundred."""
MAX_EXTENDS = 10
"""Most files in one ``extends`` chain (the scenario and its bases)."""
MAX_MAGNITUDE = 1e12
"""Largest size of any number in a scenario. Quantities are tonnes a year (world rare-earth
output is about 4e5 t), USD per tonne (the dearest oxides about 1e7), M USD a year and
fractions, so 1e12 in any of these units is beyond every real value, while keeping the
planner's coefficients in the range a double-precision LP solver handles."""

DEFAULT_PENALTY: dict[TargetKind, float] = {
    "output": 1e7, "output_multiple": 1e7, "import_share": 1e7, "self_sufficiency": 1e7,
    "output_value": 10.0, "supplier_share": 1e7, "group_output": 1e7,
    "rare_metal_import_share": 1e7}
"""Stated penalties per unit short: 10 million USD a tonne (10,000 USD/kg, above every
price in the fact base, so a target is missed only when it cannot be met) and 10 USD per
USD of value."""

_ELEMENT = re.compile(r"[A-Z][a-z]?")
_FRACTION_KINDS = ("import_share", "self_sufficiency", "supplier_share",
                   "rare_metal_import_share")


def _bounded(x: float) -> float:
    if abs(x) > MAX_MAGNITUDE:
        raise ValueError(f"{x:g} is too large; every number in a scenario is at most "
                         f"{MAX_MAGNITUDE:g} in size")
    return x


def _element(symbol: str) -> str:
    if not _ELEMENT.fullmatch(symbol):
        raise ValueError(f"'{symbol}' is not an element symbol; expected one capital letter "
                         f"and at most one small one, e.g. Dy or Tb")
    return symbol


Number = Annotated[float, Strict(), AllowInfNan(False), AfterValidator(_bounded)]
"""A finite number at most :data:`MAX_MAGNITUDE` in size; an integer is accepted, a boolean
or text is not. Its unit is the field's."""
NonNegative = Annotated[Number, Field(ge=0)]
Count = Annotated[int, Strict()]
"""A whole number; a boolean, a fraction or text is not accepted."""
Year = Annotated[int, Strict(), Field(ge=2000, le=2100)]
"""A calendar year, a whole number from 2000 to 2100."""
Element = Annotated[str, AfterValidator(_element)]
"""A chemical element symbol such as ``Dy`` (the fact base checks it is a known one)."""


def _keyed(key: str, message: str) -> PydanticCustomError:
    """An error of a model validator about ``key`` (relative to the model)."""
    return PydanticCustomError("scenario_rule", "{message}", {"key": key, "message": message})


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_ONLY_FOR: dict[str, tuple[str, ...]] = {
    "currency": ("output_value",), "partners": ("supplier_share",),
    "baseline": ("output_value",), "product": ("import_share",),
    "group": ("group_output", "output_value"), "commodity": ("rare_metal_import_share",)}
"""Target fields that only some kinds take: set on another kind, they are an error."""


class TargetSpec(_Spec):
    """A soft target (see :class:`reeplan.optimize.Target`)."""

    id: str = Field(min_length=1)
    """Name used in reports; unique in the scenario."""
    kind: TargetKind
    """What the target measures (see the rules in `reeplan.optimize.targets`)."""
    value: NonNegative
    """t/yr for ``output``; a multiple of ``baseline_t`` for ``output_multiple`` ("triple":
    3); a fraction of consumption for ``import_share`` and ``supplier_share`` (at most) and
    ``self_sufficiency`` (at least), so at most 1; M USD/yr for ``output_value`` (bn RUB/yr
    with ``currency: RUB``)."""
    currency: Literal["USD", "RUB"] = "USD"
    """For ``output_value``: the currency of ``value`` (``RUB``: bn RUB/yr, converted at
    the rate of the target's year on the ``exchange_rates`` path, the Ministry of Economic
    Development's forecast, held after 2028; the roadmap's "29 to 100 bn roubles")."""
    baseline_t: NonNegative | None = None
    """``output_multiple``: the output it multiplies [t/yr]; by default, for the mining
    stage, the country's mine output in the year before the horizon (production table)."""
    year: Year
    """First year the target applies."""
    stage: PlanStage = "separation"
    """For ``output``: which stage's product counts. For ``self_sufficiency``: ``mining``
    (ore mined, t REO), ``separation`` (oxide separated) or ``recycling`` (metal recovered
    from scrap, in t REO), e.g. the EU Critical Raw Materials Act's 10% extracted, 40%
    processed and 25% recycled."""
    penalty: Number | None = Field(default=None, gt=0)
    """Cost of each unit short [USD per t, or USD per USD of value]; by default
    :data:`DEFAULT_PENALTY` for the target's kind."""
    source: str | None = None
    """Claim id in the ``targets`` table, or a source or assumption id."""
    measure: Literal["gross", "net"] = "gross"
    """For ``import_share``: ``gross`` imports / consumption, or ``net``: max(imports -
    exports, 0) / consumption."""
    product: Literal["all", "oxide", "metal", "magnet"] = "all"
    """For ``import_share``: ``all`` products (oxide, metal, magnets and concentrate bought
    abroad) over all consumption, or one product's imports over its use at home: ``oxide``
    (used in other uses and fed to metal making), ``metal`` (used in alloy) or ``magnet``
    (magnets needed), as the stages of the ``dependence`` output; use left unmet counts as
    imports."""
    elements: Literal["all", "magnet", "light", "medium", "heavy"] = "all"
    """For ``import_share``, ``self_sufficiency`` and ``supplier_share``: all rare earths,
    the magnet elements (the magnet recipe's Nd, Pr, Dy, Tb), or the light (La-Nd), medium
    (Sm-Gd) or heavy (Tb-Lu, Y) group; magnets traded count by the group's content and
    consumption is the group's part of magnets and of other uses."""
    partners: list[PartnerId] = Field(default_factory=list)
    """For ``supplier_share``: the partners capped, each a single country (``CHN``); by
    default every single-country partner of the scenario. ``WEST`` and ``OTHER`` are groups
    of countries, not one third country, so they cannot be named."""
    commodity: str | None = None
    """For ``rare_metal_import_share``: the rare metal (one of ``rare_metals.commodities``)
    whose imports (refined and second product) are capped as a share of what it needs
    (its use and what conversion loses), e.g. the ministry's zero import share of Li, Zr,
    Nb and W by 2030."""
    baseline: NonNegative | None = None
    """For ``output_value``: the stated value today, in the target's units (29 for the
    roadmap's "29 to 100 bn roubles"), set beside the plan's own first-year value when the
    target is explained."""
    group: str | None = None
    """For ``group_output``: the ``product_groups`` id whose output counts (e.g.
    ``large_tonnage``): its rare metals' refined products in t of product and its
    rare-earth element groups' oxide separated at home in t REO; ``value`` in t/yr. For
    ``output_value``: the rare metals whose value counts (by default every one tracked);
    the rare earths always count."""

    @model_validator(mode="after")
    def _fraction_at_most_one(self) -> TargetSpec:
        if self.kind in _FRACTION_KINDS and self.value > 1:
            raise _keyed("value", f"{self.value:g} is above 1; {self.kind} is a fraction "
                                  f"of consumption (0.48 for 48%), at most 1")
        if self.kind == "self_sufficiency" and self.stage not in SELF_SUFFICIENCY_STAGES:
            raise _keyed("stage", f"self_sufficiency measures "
                                  f"{', '.join(SELF_SUFFICIENCY_STAGES)} (in t REO), not "
                                  f"stage '{self.stage}'")
        groups = [p for p in self.partners if p not in SINGLE_COUNTRY_PARTNERS]
        if groups:
            raise _keyed("partners", f"{', '.join(groups)} is a group of countries; a "
                                     f"supplier_share cap is on one third country (e.g. CHN)")
        for key, kinds in _ONLY_FOR.items():
            if getattr(self, key) != TargetSpec.model_fields[key].get_default(
                    call_default_factory=True) and \
                    self.kind not in kinds:
                raise _keyed(key, f"only {' and '.join(kinds)} targets take '{key}', not "
                                  f"{self.kind}")
        if self.kind == "group_output" and self.group is None:
            raise _keyed("group", "a group_output target names its product group (a "
                                  "product_groups id)")
        if self.kind == "rare_metal_import_share" and self.commodity is None:
            raise _keyed("commodity", "a rare_metal_import_share target names its commodity")
        return self


class PartnerSpec(_Spec):
    """Trade rules with one partner."""

    blocked: bool = False
    """No trade at all with this partner (sanctions, either side)."""
    sell_discount: Number = Field(default=0.0, ge=0, lt=1)
    """Discount on the partner's market price when we sell to it [fraction], e.g. to a
    dominant buyer."""
    buy_premium: NonNegative = 0.0
    """Premium over the partner's market price when we buy from it [fraction]."""
    export_caps_t: dict[Element, NonNegative] = Field(default_factory=dict)
    """Most the partner sells us per year, by element, oxide plus metal in oxide equivalent
    [t]; 0 is a ban. A capped element (a licence) is bought at the dearest market's price:
    the licence's rent goes to the seller."""
    magnet_cap_t: NonNegative | None = None
    """Most magnets it sells us a year [t]; none: not capped."""
    buys_nothing: bool = False
    """It buys nothing from us: no oxide, metal, magnets, concentrate or rare metals (a
    tariff wall, e.g. China's 125% on US goods from April 2025, after which MP Materials
    stopped shipping concentrate to China); it may still sell to us."""
    buys_magnets_at_most_t: NonNegative | None = None
    """Most magnets it buys from us a year [t] (what its market absorbs); none: not
    capped."""
    buys_at_most_t: dict[Element, NonNegative] = Field(default_factory=dict)
    """Most it buys from us per year, by element, oxide plus metal in oxide equivalent
    [t]; over what ``buys_what_it_uses`` derives."""
    buys_what_it_uses: list[str] = Field(default_factory=list)
    """Countries (or country groups) whose own use of rare earths bounds what this
    partner buys from us: per element, the sum of their consumption as the planner reads
    a country's (compounds and metals split like the world's non-magnet use, and the
    magnet share by the recipe where magnets are not published apart), held at its
    latest published level; an element they do not use is not bought. A listed country
    without a consumption figure is an error. Resale onward is not absorption: resale to
    China is trade with China, and resale to a blocked partner is what its sanctions
    forbid."""
    use_growth_per_year: Number = Field(default=0.0, ge=-0.5, le=1.0)
    """Growth a year of the ``buys_what_it_uses`` countries' use from the consumption year
    [fraction]; 0 holds it at its latest level (a labelled choice). Caps stated in
    ``buys_at_most_t`` do not grow."""
    magnets_made_t: dict[Year, NonNegative] = Field(default_factory=dict)
    """Magnets the ``buys_what_it_uses`` countries make from oxide and metal they buy
    [t NdFeB/yr], from each year listed to the next (a step path; before the first, none):
    plants beyond the published consumption, e.g. India's 6,000 t/yr scheme of November
    2025. Each tonne adds the recipe's rare earths, by their oxide content per tonne of
    magnet, to what it buys from us."""
    buys_concentrate_at_most_t: NonNegative | None = None
    """Most concentrate it buys from us a year [t REO] (what its separators take from
    others); none: not capped."""
    route_capacity_t: NonNegative | None = None
    """Most tonnes of rare-earth products (oxide, metal, magnets, concentrate) the routes to
    this partner carry a year, both ways; rare metals trade on their own routes, uncapped."""
    transport_cost_usd_per_t: NonNegative = 0.0
    """Cost of moving a tonne of any product to or from it [USD/t], paid both ways."""
    banned_years: list[Year] = Field(default_factory=list)
    """Years with no trade with this partner at all: an export ban the plan expects (it
    may fill a strategic reserve before)."""
    market: Market | None = None
    """Market whose prices trade with this partner follows: ``china`` (domestic and fob
    China quotes) or ``ex_china`` (delivered Europe); by default ``china`` for CHN and
    ``ex_china`` for the others."""
    sells_rare_metal_concentrate: list[str] | None = None
    """Rare metals whose concentrate this partner sells us; by default, for one country,
    those it mines (the production table), and any for a group. China, a net importer
    of rare-metal concentrates, sells none: ``[]``."""
    source: str | None = None
    """Source or assumption id(s) behind the terms, semicolon-separated."""

    @model_validator(mode="after")
    def _use_needs_its_countries(self) -> PartnerSpec:
        for key, value in (("use_growth_per_year", self.use_growth_per_year),
                           ("magnets_made_t", self.magnets_made_t)):
            if value and not self.buys_what_it_uses:
                raise _keyed(key, "it grows or adds to the use of the buys_what_it_uses "
                                  "countries; expected that list too")
        return self


class CandidateSpec(_Spec):
    """A plant that exists or may be built; costs name their source or assumption."""

    stage: PlanStage
    """What the plant does (``mining`` covers concentration and cracking; ``magnet`` alloy
    and magnet making)."""
    existing_t: NonNegative = 0.0
    """Capacity online from the first year [t/yr of the stage's product, on output]."""
    max_capacity_t: NonNegative
    """Most capacity it can reach, existing included [t/yr]."""
    capex_usd_per_tpa: NonNegative
    """Capital cost of new capacity [USD per t/yr], paid in the year of the decision."""
    opex_usd_per_t: NonNegative
    """Operating cost [USD per t of product]."""
    lead_time_years: Count = Field(ge=0, le=100)
    """Years from the decision to build until the capacity is online (then it ramps up)."""
    min_size_t: NonNegative = 0.0
    """Smallest economic build [t/yr]; applies when ``minimum_plant_sizes`` is on."""
    technology: Technology = "domestic"
    """Who owns the process: the country itself (``domestic``), China (``CHN``) or the West
    (``WEST``); built only if ``policy.technology`` grants it."""
    deposit: str | None = None
    """Mines: the fact-base deposit whose element distribution the ore follows."""
    region: str = ""
    """Where in the country it is (e.g. Murmansk, Yakutia, Perm), for reports."""
    decided_t: dict[Year, NonNegative] = Field(default_factory=dict)
    """Capacity already decided, by decision year [t/yr]: built whatever it costs (a state
    decision, a signed contract); the plan decides only the rest."""
    project: str | None = None
    """The real project it is (a ``project_costs`` row): its stated capex must lie in the
    project's published range (low to high), which the risk engine draws from."""
    ownership: str | None = None
    """Mines of a deposit outside the planning country (or group): the equity or offtake
    that puts their concentrate at the country's disposal (e.g. "Lynas offtake agreement,
    2024"), with ``supplied_by``; without it such a mine is an error. Separation plants:
    a tolling contract abroad (the country's ore separated there, the oxide sent back; the
    fee is ``opex_usd_per_t``, freight both ways is the partner's)."""
    supplied_by: PartnerId | None = None
    """Mines abroad: the partner the concentrate comes from (its terms, blocks and freight
    apply, and it counts as imported feed in dependence and supplier shares). Tolling: the
    partner that separates; its oxide counts as imports, never as separation at home."""
    offtake_share: Number = Field(default=0.0, ge=0, le=1)
    """An offtake contract: the plant makes at least this share of its online capacity
    [fraction] from ``offtake_from`` (e.g. GM's agreement for MP's Fort Worth magnets),
    whatever imports cost; output its inputs cannot reach falls short at the unmet-demand
    penalty and is reported (the unmet table, the explanation)."""
    offtake_from: Year | None = None
    """First year of the offtake (default: the first planning year)."""
    offtake_until: Year | None = None
    """Last year of the offtake (default: the end of the horizon)."""
    feed_from: list[str] = Field(default_factory=list)
    """Separation plants: the mine candidates whose ore only this plant separates (e.g.
    monazite, whose thorium and uranium need White Mesa's licence); that ore goes to no
    other plant and this plant takes no other. Empty: any ore no plant reserves."""
    capacity_excludes: list[Element] = Field(default_factory=list)
    """Separation plants with ``feed_from``: elements rejected at the front end that the
    stated capacity and costs do not count (Mountain Pass's cerium, left in the leach
    residue: 20,000 t/yr of TREO without it takes the mine's whole output). The plan's
    basis is every oxide out, so capacities are divided, and costs per tonne multiplied,
    by the share of the other elements in the fed mines' separated oxide."""
    commodity: str | None = None
    """Rare-metal stages: the commodity mined or refined (``W``, ``Mo``, ``Nb``, ``Ta``,
    ``Li``, ``Ti``, ``Zr``); capacities and costs are then per t of its content. It must be
    one of ``rare_metals.commodities``."""
    source: str
    """Source or assumption id(s) behind the figures, semicolon-separated."""

    @model_validator(mode="after")
    def _commodity_for_rare_metals(self) -> CandidateSpec:
        if (self.commodity is not None) != (self.stage in RARE_METAL_STAGES):
            raise _keyed("commodity", f"a {' or '.join(RARE_METAL_STAGES)} plant names its "
                                      f"commodity, and only such a plant does")
        if self.feed_from and self.stage != "separation":
            raise _keyed("feed_from", "only a separation plant takes its feed from named "
                                      "mines")
        if self.capacity_excludes and not (self.stage == "separation" and self.feed_from):
            raise _keyed("capacity_excludes", "only a separation plant with feed_from (its "
                                              "ore known) states its capacity without some "
                                              "elements")
        if self.offtake_until is not None and self.offtake_from is not None \
                and self.offtake_until < self.offtake_from:
            raise _keyed("offtake_until", f"{self.offtake_until} is before offtake_from "
                                          f"({self.offtake_from}); expected a later year")
        return self


class RareMetalsSpec(_Spec):
    """The rare-metal chains the plan tracks beside the rare earths (none by default)."""

    commodities: list[str] = Field(default_factory=list)
    """Commodities tracked (``W``, ``Mo``, ``Nb``, ``Ta``, ``Li``, ``Ti``, ``Zr``), each with
    a ``rare_metal_products`` row (its product, price and yields) and a consumption row for
    the country (``rare_metal_balances``). Mines with a concentrate composition then make
    their co-products of these: a loparite mine its Nb, Ta and Ti."""
    consumption_year: Year | None = None
    """Which consumption row to plan from: the one nearest this year (by default the first
    planning year)."""
    consumption_t: dict[str, NonNegative] = Field(default_factory=dict)
    """Override of the fact base's consumption by commodity [t content/yr]."""
    growth_per_year: Number = Field(default=0.0, ge=-0.5, le=1.0)
    """Growth of rare-metal consumption a year [fraction] from the first planning year."""
    growth_by_commodity: dict[str, Annotated[Number, Field(ge=-0.5, le=1.0)]] = Field(
        default_factory=dict)
    """Growth a year of one commodity's consumption [fraction], instead of
    ``growth_per_year`` (Russia's lithium use: 1.5 kt LCE in 2025 to 6.5 kt in 2030)."""
    growth_until: Year | None = None
    """Last year consumption grows (a forecast's horizon); flat after it. By default it
    grows to the end of the horizon."""
    downstream_share: dict[str, Annotated[Number, Field(ge=0, le=1)]] = Field(
        default_factory=dict)
    """Share of a commodity's use taken as its second product [fraction] (its
    ``rare_metal_downstream`` row: tungsten carbide from APT, lithium hydroxide from
    carbonate), made at home by ``rare_metal_conversion`` plants from the refined product,
    or imported; the rest is used as the refined product."""
    source: str | None = None
    """Source or assumption id(s) behind the figures, semicolon-separated."""


class ReserveSpec(_Spec):
    """A strategic reserve of oxides, filled and drawn by the plan, carried between years."""

    max_t: dict[Element, NonNegative] = Field(default_factory=dict)
    """Most the reserve may hold, by element [t REO]."""
    initial_t: dict[Element, NonNegative] = Field(default_factory=dict)
    """What it holds before the first planning year [t REO]."""
    holding_cost_usd_per_t_yr: NonNegative = 0.0
    """Cost of holding a tonne for a year (storage, capital) [USD/t/yr]."""
    source: str | None = None
    """Source or assumption id(s) behind the figures, semicolon-separated."""

    @model_validator(mode="after")
    def _initial_within(self) -> ReserveSpec:
        for e, t in self.initial_t.items():
            if t > self.max_t.get(e, 0.0):
                raise _keyed(f"initial_t.{e}", f"{t:g} t is above max_t ({self.max_t.get(e, 0)})")
        return self


class Policy(_Spec):
    """The policy world: who trades with us on what terms, which technology we may use."""

    technology: list[Technology] = Field(default_factory=lambda: list(_DOMESTIC))
    """Technology owners whose processes may be built."""
    allow_reexport: bool = False
    """Exports may exceed what the country separates, recycles and makes (transit trade);
    off by default, so that a plan cannot live off price gaps between markets."""
    partners: dict[PartnerId, PartnerSpec] = Field(default_factory=dict)
    """Terms by partner; an empty mapping in a variant clears the base's."""
    local_content: dict[Literal["metal", "magnet"], Annotated[Number, Field(ge=0, le=1)]] = \
        Field(default_factory=dict)
    """Offtake contracts as shares [fraction]: ``metal``, of the oxide fed to metal making
    that comes from separation at home; ``magnet``, of the metal used in magnets that is
    made (or recycled) at home. E.g. SMZ's oxides earmarked for the Glazov magnet plant:
    ``{metal: 1, magnet: 1}``."""
    local_content_source: str | None = None
    """Source or assumption id(s) behind the offtake contracts, semicolon-separated."""
    magnet_inputs_from: dict[PartnerId, Annotated[Number, Field(ge=0, le=1)]] = \
        Field(default_factory=dict)
    """Most of the metal in magnets made at home that may come from a partner [fraction
    of the alloy's metal]: its metal, and the oxide of the recipe's elements bought from
    it (all counted as magnet feed, a conservative reading). E.g. ``{CHN: 0.1}``: the
    magnets bound for the US Department of Defense may hold no material mined, separated
    or made in China from 2027 (DFARS 252.225-7052)."""
    magnet_inputs_from_year: Year | None = None
    """First year of ``magnet_inputs_from`` (default: the first planning year)."""
    magnet_inputs_source: str | None = None
    """Source or assumption id(s) behind ``magnet_inputs_from``, semicolon-separated."""
    reserve: ReserveSpec = Field(default_factory=ReserveSpec)
    """A strategic reserve (none by default)."""
    technology_access: dict[str, Year] = Field(default_factory=dict)
    """Process technologies granted, by ``technologies`` id, with the first year they may be
    used: every plant of the technology's stage (a mine of its deposit type) may then be
    built with it instead of the incumbent, and the plan chooses."""
    technology_access_source: str | None = None
    """Source or assumption id(s) behind the grants, semicolon-separated."""
    environment_caps: dict[Literal["energy", "co2", "water", "wastewater", "ammonia", "acid",
                                   "radioactive_residue"], NonNegative] = Field(
        default_factory=dict)
    """Most the plants at home may emit or use of an indicator a year, in the unit of its
    total in ``environment.csv`` (e.g. ``co2: 50000`` t CO2e)."""
    environment_caps_source: str | None = None
    """Source or assumption id(s) behind the caps, semicolon-separated."""


class DemandSpec(_Spec):
    """Domestic demand: consumption from the fact base, grown each year."""

    consumption_t_reo: NonNegative | None = None
    """Override of the fact base's consumption [t REO/yr]."""
    consumption_year: Year | None = None
    """Which consumption row of the fact base to plan from: the one nearest this year (by
    default the first planning year). For Russia, 2025 gives the 3,000 t REO implied by
    the roadmap's 3,000 t/yr target (a 2030 target read as today's need), 2018 the 1,200 t
    of a 2018 estimate: two labelled readings of one unknown."""
    growth_per_year: Number = Field(default=0.0, ge=-0.5, le=1.0)
    """Growth of consumption a year [fraction] from the first planning year."""
    collection_rate: Number | None = Field(default=None, ge=0, le=1)
    """Share of end-of-life magnets collected for recycling [fraction]; by default today's
    recycling rate from the fact base. End-of-life flows come from the stock model."""
    rare_earth_free_share: Number = Field(default=0.0, ge=0, le=1)
    """Share of magnet demand met by magnets without rare earths [fraction]."""
    rare_earth_free_from: Year | None = None
    """First year of that substitution (default: the first planning year)."""
    unmet_penalty_usd_per_t: Number = Field(default=1e7, gt=0)
    """Cost of each tonne of magnet or oxide demand no supply reaches [USD/t]; the default,
    10,000 USD/kg, is above every price in the fact base, so demand goes unmet only when
    nothing can reach it. Reported apart from the plan's cost."""
    source: str | None = None
    """Source or assumption id(s) behind the figures, semicolon-separated."""


class PriceSpec(_Spec):
    """Which prices value domestic output and which year's quotes apply."""

    market: Market = "china"
    """Market of the reference prices (output value): ``china`` or ``ex_china``; a policy
    floor or a producer's realised price is not a market."""
    year: Year | None = None
    """Year of the quotes (the newest at or before it); by default the first planning year.
    A past year replays its prices over the horizon (e.g. 2011, the spike)."""
    source: str | None = None
    """Source or assumption id(s) behind the figures, semicolon-separated."""


class RampUpSpec(_Spec):
    """How much of a new plant's capacity is usable in its first years online."""

    first_year_share: Number | None = Field(default=None, gt=0, le=1)
    """Share usable in the first year online, full capacity from the second [fraction]."""
    shares: list[Annotated[Number, Field(gt=0, le=1)]] = Field(default_factory=list,
                                                               max_length=10)
    """Shares usable in the first, second, ... year online, full capacity after them
    [fraction] (a ramp-up curve); replaces ``first_year_share``."""
    source: str | None = None
    """Source or assumption id(s) behind the figures, semicolon-separated."""

    @model_validator(mode="after")
    def _one_curve(self) -> RampUpSpec:
        if self.shares and self.first_year_share is not None:
            raise ValueError("shares: give either first_year_share or shares, not both")
        return self

    @property
    def curve(self) -> tuple[float, ...]:
        """The usable shares by year online [fraction]; empty: full from the start."""
        if self.shares:
            return tuple(float(s) for s in self.shares)
        if self.first_year_share is not None and self.first_year_share < 1:
            return (float(self.first_year_share),)
        return ()


class Horizon(_Spec):
    """First and last planning year."""

    start: Year
    """First planning year (decisions start then)."""
    end: Year
    """Last planning year."""

    @model_validator(mode="after")
    def _ordered(self) -> Horizon:
        if self.end < self.start:
            raise _keyed("end", f"{self.end} is before start ({self.start}); end must not "
                                f"be before start")
        return self


class Scenario(_Spec):
    """One scenario, as resolved after its base's overrides."""

    name: str
    """The scenario's name, used in reports and output files."""
    description: str = ""
    """What question the scenario asks, for people."""
    extends: str | None = None
    """Base scenario file this one overrides (path relative to this file)."""
    country: str = "RUS"
    """Planning country, ISO 3166-1 alpha-3."""
    horizon: Horizon
    """Planning years."""
    discount_rate: Number = Field(default=0.08, ge=0, le=0.5)
    """Discount rate a year [fraction]; costs are discounted to the first year."""
    budget_musd_per_year: NonNegative | None = None
    """Most capital spent in any year [M USD]; none: unlimited."""
    reserve_estimate: Literal["usgs", "ministry"] = "usgs"
    """Which national reserve bounds all mines' extraction over the horizon: USGS's or the
    Russian ministry's."""
    minimum_plant_sizes: bool = False
    """Builds are zero or at least each candidate's ``min_size_t`` (solved as a MILP)."""
    foresight: Literal["perfect", "myopic"] = "perfect"
    """``perfect``: every year decided at once; ``myopic``: a rolling horizon."""
    myopic_window_years: Count = Field(default=5, ge=1, le=50)
    """Years the myopic planner sees ahead of each decision year."""
    ramp_up: RampUpSpec = Field(default_factory=RampUpSpec)
    """How new capacity ramps up in its first years online."""
    prices: PriceSpec = Field(default_factory=PriceSpec)
    """Which market's prices, of which year."""
    demand: DemandSpec = Field(default_factory=DemandSpec)
    """Domestic demand."""
    targets: list[TargetSpec] = Field(default_factory=list)
    """Soft targets, each missed at its stated penalty rather than making the plan
    infeasible."""
    policy: Policy = Field(default_factory=Policy)
    """Who trades with us on what terms; which technology we may use."""
    candidates: dict[str, CandidateSpec] = Field(default_factory=dict)
    """Plants by id; an empty mapping in a variant clears the base's."""
    remove_candidates: list[str] = Field(default_factory=list)
    """Candidates of the base to leave out of this variant."""
    rare_metals: RareMetalsSpec = Field(default_factory=RareMetalsSpec)
    """The rare-metal chains tracked beside the rare earths (none by default)."""

    @model_validator(mode="after")
    def _targets_in_horizon(self) -> Scenario:
        for i, t in enumerate(self.targets):
            if not self.horizon.start <= t.year <= self.horizon.end:
                raise _keyed(f"targets.{i}.year", f"{t.year} is outside the horizon "
                                                  f"{self.horizon.start}-{self.horizon.end}")
        return self

    @model_validator(mode="after")
    def _unique_target_ids(self) -> Scenario:
        first: dict[str, int] = {}
        for i, t in enumerate(self.targets):
            if t.id in first:
                raise _keyed(f"targets.{i}.id", f"duplicate target id '{t.id}' (already "
                                                f"used by targets.{first[t.id]})")
            first[t.id] = i
        return self


def load_scenario(path: str | Path) -> Scenario:
    """Read, merge with its base and validate a scenario file.

    Parameters
    ----------
    path
        The scenario's YAML file.

    Returns
    -------
    Scenario
        The scenario as resolved after its bases' overrides.

    Raises
    ------
    DataValidationError
        Naming the file, line and key of each problem (exit code 2 in the CLI).
    """
    return read_scenario(path)[0]


def read_scenario(path: str | Path) -> tuple[Scenario, dict[str, int]]:
    """Like :func:`load_scenario`, also returning the line of each key path in the file.

    Parameters
    ----------
    path
        The scenario's YAML file.

    Returns
    -------
    scenario, lines
        The resolved scenario, and the 1-based line in ``path`` of each key path
        (``policy.partners.CHN``, ``targets.0.year``) that ``path`` itself holds.

    Raises
    ------
    DataValidationError
        Naming the file, line and key of each problem.
    """
    merged, chain = _resolve(Path(path), [])
    return _validate(merged, chain), chain[0][1]


_Chain = list[tuple[str, dict[str, int]]]
"""Each file of an ``extends`` chain with its line map, the variant first."""


def _resolve(path: Path, trail: list[Path]) -> tuple[dict[str, Any], _Chain]:
    """Read ``path`` and merge it over its bases; ``trail`` holds the files extending it."""
    raw, lines = _read(path)
    chain: _Chain = [(str(path), lines)]
    if "extends" not in raw:
        return raw, chain
    base_path = _base_path(path, raw["extends"], lines.get("extends"), trail)
    base, base_chain = _resolve(base_path, [*trail, path])
    _validate(base, base_chain)
    return _merge(base, raw), chain + base_chain


def _base_path(path: Path, extends: object, line: int | None, trail: list[Path]) -> Path:
    def fail(message: str) -> DataValidationError:
        return DataValidationError([Problem(str(path), line, "extends", message, unit="line")])

    if not isinstance(extends, str) or not extends.strip():
        raise fail("expected the file name of the base scenario, e.g. russia-2030.yaml")
    base = path.parent / extends
    if not base.is_file():
        raise fail(f"base scenario '{extends}' not found (or not a regular file)")
    files = [*trail, path]
    seen = [os.path.realpath(p) for p in files]
    if os.path.realpath(base) in seen:
        start = seen.index(os.path.realpath(base))
        if start == len(files) - 1:
            raise fail(f"the scenario extends itself ({path.name})")
        loop = " -> ".join(str(p) for p in [*files[start:], base])
        raise fail(f"extends cycle: {loop}; a base must not extend its variant")
    if len(files) >= MAX_EXTENDS:
        raise fail(f"more than {MAX_EXTENDS} files in the extends chain")
    return base


def _validate(raw: dict[str, Any], chain: _Chain) -> Scenario:
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        raise DataValidationError([_problem(e, chain) for e in err.errors()]) from None


def _problem(e: ErrorDetails, chain: _Chain) -> Problem:
    parts = [str(x) for x in e["loc"]]
    if parts and parts[-1] == "[key]":  # the key itself is wrong (e.g. 'chn:')
        parts.pop()
    ctx = e.get("ctx") or {}
    if e["type"] == "scenario_rule":
        parts += str(ctx["key"]).split(".")
    key = ".".join(parts)
    file, line = _locate(parts, chain, missing=e["type"] == "missing")
    return Problem(file, line, key or None, _message(e), unit="line")


def _locate(parts: list[str], chain: _Chain, *, missing: bool) -> tuple[str, int | None]:
    """File and line of a key path: the most derived file holding it, else its parent.

    A value in the merged scenario comes from the first file of ``chain`` holding its key
    path (a variant replacing a base's list or mapping holds the whole of it); a missing key
    is located at its parent.
    """
    for n in range(len(parts) - int(missing), 0, -1):
        key = ".".join(parts[:n])
        for file, lines in chain:
            if key in lines:
                return file, lines[key]
    return chain[0][0], None


_EXPECTED = {
    "float_type": "expected a number",
    "int_type": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected text",
    "dict_type": "expected a mapping of keys",
    "list_type": "expected a list",
    "finite_number": "expected a finite number",
    "model_type": "expected a mapping of keys",
}


def _message(e: ErrorDetails) -> str:
    kind = e["type"]
    if kind == "extra_forbidden":
        return ("unknown key; check the spelling against the scenario reference "
                "(docs/scenarios.md)")
    if kind == "missing":
        return "required key is missing"
    got = _shown(e["input"])
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {got}{_quoted_number_hint(e['input'])}"
    if kind == "literal_error":
        return f"expected one of {(e.get('ctx') or {}).get('expected')}, got {got}"
    msg = str(e["msg"]).removeprefix("Value error, ")
    if kind.startswith(("greater_than", "less_than", "string_")):
        return f"{msg}, got {got}"
    return msg


def _quoted_number_hint(value: object) -> str:
    if not isinstance(value, str):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    return " (write numbers without quotes)"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    text = f"'{value}'" if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and v and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


# --- reading the file -------------------------------------------------------------------

class _Rejected(Exception):  # noqa: N818 - internal signal, turned into a Problem
    """Raised while parsing; ``line`` is 1-based."""

    def __init__(self, line: int | None, key: str | None, message: str) -> None:
        super().__init__(line, key, message)
        self.line, self.key, self.message = line, key, message


def _fail(path: Path, message: str, line: int | None = None) -> DataValidationError:
    return DataValidationError([Problem(str(path), line, None, message, unit="line")])


def _read(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Read and parse ``path``; record the line of every key path (``a.b.0.c``)."""
    text = _decode(path, _read_bytes(path))
    data, lines = _parse(path, text)
    if not isinstance(data, dict):
        raise _fail(path, "expected a mapping of keys (name: ..., horizon: ...)", 1)
    return data, lines


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def _check_regular(path: Path, mode: int, size: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise _fail(path, f"is {kind}; expected a scenario file (YAML text)")
    _check_size(path, size)


def _check_size(path: Path, size: int) -> None:
    if size > MAX_BYTES:
        raise _fail(path, f"is larger than {MAX_BYTES:,} bytes; a scenario file is a few kB")


def _read_bytes(path: Path) -> bytes:
    """At most ``MAX_BYTES + 1`` bytes of the regular file ``path``, never blocking."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataValidationError([Problem(str(path), None, None,
                                           "scenario file not found")]) from None
    except OSError as err:
        raise _fail(path, f"cannot be read ({err.strerror})") from None
    _check_regular(path, info.st_mode, info.st_size)
    try:  # non-blocking, and checked again once open, in case the file was swapped
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            opened = os.fstat(f.fileno())
            _check_regular(path, opened.st_mode, opened.st_size)
            raw = f.read(MAX_BYTES + 1)
    except OSError as err:
        raise _fail(path, f"cannot be read ({err.strerror})") from None
    _check_size(path, len(raw))  # the file grew after the check
    return raw


_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"),
         (b"\xfe\xff", "UTF-16"), (b"\xff\xfe", "UTF-16"))


def _decode(path: Path, raw: bytes) -> str:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            raise _fail(path, f"is {encoding} text (byte-order mark at offset 0); expected "
                              f"UTF-8: re-save the file as UTF-8", 1)
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise _fail(path, f"has a NUL byte at offset {nul} (is it UTF-16?); expected UTF-8 "
                          f"text", raw.count(b"\n", 0, nul) + 1)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _fail(path, f"byte 0x{raw[err.start]:02x} at offset {err.start} is not valid "
                          f"UTF-8; expected the file in UTF-8 (re-save it as UTF-8)",
                    raw.count(b"\n", 0, err.start) + 1) from None


def _parse(path: Path, text: str) -> tuple[Any, dict[str, int]]:
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # checks the characters are printable
        data = loader.get_single_data()
    except _Rejected as err:
        raise DataValidationError([Problem(str(path), err.line, err.key, err.message,
                                           unit="line")]) from None
    except yaml.YAMLError as err:
        raise _yaml_error(path, text, err) from None
    finally:
        if loader is not None:
            loader.dispose()
    if loader.screen.duplicates:
        raise DataValidationError(loader.screen.duplicates_in(str(path)))
    return data, loader.screen.lines


def _yaml_error(path: Path, text: str, err: yaml.YAMLError) -> DataValidationError:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(err, "problem", None) or err
    if isinstance(err, yaml.reader.ReaderError):
        line = text.count("\n", 0, err.position) + 1
        problem = f"character #x{err.character:04x} is not allowed: {err.reason}"
    return _fail(path, f"not valid YAML ({problem})", line)


@dataclass
class _Frame:
    """An open mapping or list: its key path, and where the next child goes."""

    path: str
    is_map: bool
    index: int = 0
    key: str | None = None
    """In a mapping: the key just read, whose value comes next (``None``: a key comes)."""
    seen: dict[str, int] = field(default_factory=dict)
    """In a mapping: the line of each key read so far."""


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class _Screen:
    """Checks each parser event before it becomes a node, and records key lines.

    Refuses anchors, aliases, tags, merge keys, keys that are not plain scalars, nesting
    beyond :data:`MAX_DEPTH` and files beyond :data:`MAX_VALUES` values, as soon as the
    event arrives, so nothing is ever expanded or recursed into. Duplicate keys are
    collected in :attr:`duplicates`.
    """

    def __init__(self) -> None:
        self.stack: list[_Frame] = []
        self.lines: dict[str, int] = {}
        self.duplicates: list[tuple[int, str, str]] = []
        self.count = 0

    def see(self, event: yaml.Event) -> None:
        """Check one event; raise :class:`_Rejected` at the first thing refused."""
        if not isinstance(event, yaml.NodeEvent | yaml.CollectionEndEvent):
            return
        if isinstance(event, yaml.NodeEvent):
            self._check_node(event)
        if isinstance(event, yaml.ScalarEvent):
            self._scalar(event)
        elif isinstance(event, yaml.CollectionStartEvent):
            self._start(event)
        else:
            self.stack.pop()
            self._done()

    def duplicates_in(self, file: str) -> list[Problem]:
        """The duplicate keys as problems of ``file``."""
        return [Problem(file, line, key, message, unit="line")
                for line, key, message in self.duplicates]

    def _reject(self, event: yaml.Event, message: str) -> _Rejected:
        return _Rejected(_line(event), self._where() or None, message)

    def _check_node(self, event: yaml.NodeEvent) -> None:
        if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
            raise self._reject(event, "anchors and aliases (&, *) are not supported in "
                                      "scenario files; write the value out")
        if getattr(event, "tag", None) is not None:
            raise self._reject(event, "tags (!...) are not supported in scenario files; "
                                      "write plain values")
        self.count += 1
        if self.count > MAX_VALUES:
            raise self._reject(event, f"more than {MAX_VALUES:,} values; a scenario file "
                                      f"needs a few hundred")

    def _expects_key(self) -> _Frame | None:
        top = self.stack[-1] if self.stack else None
        return top if top is not None and top.is_map and top.key is None else None

    def _where(self) -> str:
        """Key path of the node about to be read (its mapping's path for a key)."""
        if not self.stack:
            return ""
        top = self.stack[-1]
        if top.is_map:
            return top.path if top.key is None else _join(top.path, top.key)
        return _join(top.path, str(top.index))

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        frame = self._expects_key()
        if frame is None:
            self._item_line(event)
            self._done()
            return
        if event.value == "<<" and event.style is None:
            raise self._reject(event, "merge keys (<<) are not supported in scenario files")
        path, line = _join(frame.path, event.value), _line(event)
        if event.value in frame.seen:
            first = frame.seen[event.value]
            where = f"twice on line {line}" if first == line else f"lines {first} and {line}"
            self.duplicates.append((line, path, f"duplicate key '{event.value}' ({where}); "
                                                f"each key may appear once in a mapping"))
        else:
            frame.seen[event.value] = line
            self.lines[path] = line
        frame.key = event.value

    def _start(self, event: yaml.CollectionStartEvent) -> None:
        if self._expects_key() is not None:
            raise self._reject(event, "a key must be a plain name, not a list or mapping")
        if len(self.stack) >= MAX_DEPTH:
            raise self._reject(event, f"nested more than {MAX_DEPTH} levels deep; a "
                                      f"scenario needs a few levels")
        self._item_line(event)
        self.stack.append(_Frame(self._where(), isinstance(event, yaml.MappingStartEvent)))

    def _item_line(self, event: yaml.Event) -> None:
        if self.stack and not self.stack[-1].is_map:
            self.lines[self._where()] = _line(event)

    def _done(self) -> None:
        """A child of the innermost collection is complete."""
        if self.stack:
            top = self.stack[-1]
            if top.is_map:
                top.key = None
            else:
                top.index += 1


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 0


class _Loader(yaml.SafeLoader):
    """The safe loader, with every event screened and YAML 1.2 core scalars."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.screen = _Screen()

    def get_event(self) -> Any:
        """Next event, screened before the composer turns it into a node."""
        event = super().get_event()  # type: ignore[no-untyped-call]
        self.screen.see(event)
        return event


_IMPLICIT = (  # YAML 1.2 core schema; int before float, since "3000" matches both
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9]{1,18}$", "-+0123456789"),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
)
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag.rsplit(":", 1)[-1] not in ("bool", "int", "float", "timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _tag, _pattern, _first in _IMPLICIT:
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """A decimal integer, as in YAML 1.2 (``010`` is ten, not eight)."""
    return int(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
