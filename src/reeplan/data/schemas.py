"""Schemas of the fact-base tables: one pydantic row model and one :class:`TableSpec` each.

A row model checks each cell (type, unit, range, allowed values); a table spec adds what
only the whole table or the whole fact base can check: the primary key, cross-references to
other tables, and share sums. :mod:`reeplan.data.loader` applies both and collects every
problem before raising.

Conventions
-----------
- Quantities are in the unit named by the row's ``unit`` column; allowed units are listed
  per table, so a misspelled unit is an error rather than a silent mis-scaling.
- ``source_id`` names a row of ``sources`` or of ``assumptions``: no number ships without one.
- ``confidence`` says how sure we are of the row: ``high`` (read in a primary source),
  ``medium`` (reputable secondary report), ``low`` (weak source, or approximate), ``unverified``
  (claimed somewhere but not found in any primary source; never a validation target).
- Countries are ISO 3166-1 alpha-3 codes; ``WLD`` (world) and ``ROW`` (other countries, as a
  lump) are aggregates listed in ``countries`` with ``kind = aggregate``.
- Every number is a :data:`Finite`: ``inf``, ``nan`` and anything larger in magnitude than
  :data:`MAX_MAGNITUDE` (1e15) are rejected with the cell's file, row and column, so no
  overflow or NaN reaches a metric. 1e15 is far above any figure the tables hold (world
  reserves are about 1e8 t, a capex in roubles about 1e12).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from reeplan.types import Confidence, PriceBasis, PriceUnit, StageName

__all__ = [
    "MAX_MAGNITUDE",
    "SCHEMAS",
    "Confidence",
    "CrossRef",
    "Finite",
    "ShareRule",
    "TableRow",
    "TableSpec",
]

MAX_MAGNITUDE = 1e15
"""Largest magnitude any numeric cell may have; see :data:`Finite`."""

Finite = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
"""The one number type of every numeric column: finite (no ``inf`` or ``nan``, and so no
``1e400``, which reads as ``inf``) and at most :data:`MAX_MAGNITUDE` in magnitude, so that
sums and products of table figures stay finite."""
Iso3 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]+$", min_length=1)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
NonNeg = Annotated[Finite, Field(ge=0)]
Positive = Annotated[Finite, Field(gt=0)]
Percent = Annotated[Finite, Field(ge=0, le=100)]
Year = Annotated[int, Field(ge=1900, le=2100)]

ElementKind = Literal["rare_earth", "rare_metal"]
ElementGroup = Literal["light", "medium", "heavy", "none"]
ProductionMetric = Literal[
    "mine_production",
    "reserves",
    "refinery_production",
    "primary_production",
    "sponge_production",
    "metal_production",
    "magnet_production",
]


class TableRow(BaseModel):
    """Base of every row model: frozen, unknown columns rejected, blanks read as missing."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


# --------------------------------------------------------------------------- provenance


class SourceRow(TableRow):
    """A published source that numbers cite."""

    source_id: Ident
    title: Text
    publisher: Text
    year: Year | None = None
    url: Text | None = None
    accessed: Text
    """Date (ISO 8601) we read it, and through which copy if not the original."""
    licence: Text
    note: str | None = None


class AssumptionRow(TableRow):
    """A number with no published source: our assumption, with its reasoning."""

    assumption_id: Ident
    topic: Text
    value: Finite | None = None
    unit: Text | None = None
    reasoning: Text
    based_on: str | None = None
    """Source ids (semicolon-separated) the reasoning leans on, if any."""


# --------------------------------------------------------------------------- reference


class ElementRow(TableRow):
    """A chemical element of interest, with its oxide and the oxide-to-metal factor."""

    symbol: Annotated[str, StringConstraints(pattern=r"^[A-Z][a-z]?$")]
    name: Text
    kind: ElementKind
    group: ElementGroup
    """light (La-Nd), medium (Sm-Gd), heavy (Tb-Lu, Y); Sc and rare metals: none."""
    atomic_number: Annotated[int, Field(ge=1, le=118)]
    atomic_mass: Positive
    """Standard atomic weight [g/mol]."""
    oxide_formula: Annotated[str, StringConstraints(pattern=r"^([A-Z][a-z]?\d*)+$")]
    metal_per_oxide: Annotated[Finite, Field(gt=0, le=1)]
    """Mass of metal in one mass unit of its oxide [t metal / t oxide]."""
    source_id: Ident
    note: str | None = None


class CommodityRow(TableRow):
    """A commodity as production statistics report it (rare earths as one, metals singly)."""

    commodity: Ident
    name: Text
    elements: Text
    """Element symbols the commodity covers, semicolon-separated."""
    default_unit: Text
    source_id: Ident
    """The statistics that define the commodity as reported (a USGS MCS chapter)."""


class CountryRow(TableRow):
    """A country (ISO 3166-1 alpha-3) or a statistical aggregate."""

    iso3: Iso3
    name: Text
    kind: Literal["country", "aggregate"]
    usgs_name: str | None = None
    source_id: Ident


class CountryGroupRow(TableRow):
    """Membership of a country in a policy grouping (EU, sanctioning states, ...)."""

    group: Ident
    iso3: Iso3
    source_id: Ident
    note: str | None = None


# --------------------------------------------------------------------------- supply


class ProductionRow(TableRow):
    """Mine or refinery production, or reserves, of a commodity in a country and year."""

    commodity: Ident
    country: Iso3
    metric: ProductionMetric
    year: Year
    value: NonNeg | None = None
    """Quantity in ``unit``; blank where the source gives NA or withholds it."""
    qualifier: Literal[">", "<", "~"] | None = None
    """Set when the source gives a bound or an approximation rather than a figure."""
    unit: Literal["t REO", "t", "t content", "t oxide content", "t gross weight", "kg", "t TiO2",
                  "t ZrO2"]
    basis: str | None = None
    series: Text
    """Which estimate this row belongs to, e.g. 'USGS MCS2025' or 'MinPrirody 2025'."""
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class StageShareRow(TableRow):
    """A country's share of world output at one stage of the chain."""

    commodity: Ident
    stage: StageName
    country: Iso3
    year: Year
    value: Percent
    """Share of world output at this stage [%]."""
    unit: Literal["%"]
    basis: Text
    """What is counted, e.g. 'magnet REE (Nd, Pr, Dy, Tb)' or 'total REO'."""
    projection: bool = False
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class DepositRow(TableRow):
    """An ore deposit or a by-product source (apatite, phosphogypsum, tailings)."""

    deposit_id: Ident
    name: Text
    country: Iso3
    region: str | None = None
    deposit_type: Text
    commodities: Text
    status: Literal[
        "producing", "development", "exploration", "care_and_maintenance", "by_product",
        "undeveloped",
    ]
    operator: str | None = None
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class DepositEstimateRow(TableRow):
    """One estimate of a deposit's resources or reserves, by one source under one code."""

    deposit_id: Ident
    estimate: Literal["reserve", "resource", "state_balance", "contained"]
    category: Text
    """Reporting code and category, e.g. 'JORC Ore Reserve', 'A+B+C1', 'C2'."""
    year: Year
    ore: NonNeg | None = None
    """Ore tonnage [Mt ore]."""
    grade: NonNeg | None = None
    """Grade in ``grade_basis`` [% by mass]."""
    grade_basis: str | None = None
    contained: NonNeg | None = None
    """Contained quantity [kt of ``contained_basis``]."""
    contained_basis: str | None = None
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class ElementDistributionRow(TableRow):
    """Share of one element in a deposit's (or ore type's) total rare-earth oxide."""

    distribution_id: Ident
    deposit_id: Ident
    element: Annotated[str, StringConstraints(pattern=r"^[A-Z][a-z]?$")]
    value: Percent
    """Share of the element's oxide in total REO [% of TREO]."""
    complete: bool
    """True when the distribution lists every element it contains (sums to ~100%)."""
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class DepositMixRow(TableRow):
    """Share of a country's mine output in a year that comes from one deposit."""

    country: Iso3
    year: Year
    deposit_id: Ident
    value: Percent
    """Share of the country's rare-earth mine output [% of t REO]."""
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class EnvironmentalIntensityRow(TableRow):
    """An environmental intensity of one stage: what a tonne of its product takes or leaves."""

    stage: Literal["mining", "separation", "metal", "magnet", "recycling",
                   "rare_metal_refining"]
    """The planner's stage (``mining`` includes concentration, ``separation`` cracking)."""
    commodity: Ident | None = None
    """A rare-metal stage's commodity (``W``, ``Mo`` ...); blank for the rare earths."""
    technology: Ident
    """The process it describes (e.g. ``solvent_extraction``, ``in_situ_leaching``;
    ``cradle_to_gate`` for a rare metal's whole chain counted at its refinery)."""
    indicator: Literal["energy", "co2", "water", "wastewater", "ammonia", "acid",
                       "radioactive_residue"]
    value: NonNeg
    unit: Text
    """Unit of the indicator per tonne of the stage's product, e.g. ``GJ/t``, ``t CO2e/t``."""
    per: Literal["t REO", "t metal", "t magnet", "t scrap", "t content"]
    """The stage's product the value is per."""
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class TechnologyRow(TableRow):
    """A process option for one stage, what it replaces, who owns it and what it changes."""

    technology_id: Ident
    name: Text
    stage: Literal["mining", "separation", "metal", "magnet", "recycling"]
    kind: Literal["process", "substitute"]
    """``process``: a plant of the stage may run it (the plan chooses); ``substitute``: it
    replaces the stage's product in use (rare-earth-free magnets: a demand lever)."""
    replaces: Ident | None = None
    owner: Text
    """Who owns it (``CHN``, ``WEST``, ``domestic``, a company or ``research``)."""
    readiness: Text
    """Technology readiness as published (TRL, pilot, commercial)."""
    commercial_from: Year | None = None
    """First year it is in commercial use; blank: not commercial yet (cannot be granted)."""
    deposit_type: Text | None = None
    """Mining: the deposit type it applies to (``deposits.type``); blank: any."""
    opex_factor: NonNeg = 1.0
    """Its operating cost per tonne relative to the incumbent's [factor]."""
    capex_factor: NonNeg = 1.0
    lead_time_change: int = 0
    """Years added to (or, negative, taken off) the incumbent's lead time."""
    energy_factor: NonNeg = 1.0
    ammonia_factor: NonNeg = 1.0
    """Each environmental indicator relative to the incumbent's [factor]."""
    wastewater_factor: NonNeg = 1.0
    co2_factor: NonNeg = 1.0
    recovery: Annotated[Finite, Field(gt=0, le=1)] | None = None
    """Recovery as published [fraction] (electrokinetic mining: 95%); blank: not published.
    Shown, not applied: no recovery of the incumbent is published to set it against."""
    time_factor: NonNeg = 1.0
    """Duration of the stage's process relative to the incumbent's [factor] (electrokinetic
    mining: 70% less mining time, 0.3). Shown, not applied: the plan has no mining cycle."""
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class ConcentrateCompositionRow(TableRow):
    """One component of a deposit's concentrate as published (a grade specification)."""

    deposit_id: Ident
    product: Text
    """The concentrate it describes, e.g. ``loparite concentrate KL-1``."""
    component: Annotated[str, StringConstraints(pattern=r"^(REO|[A-Z][A-Za-z0-9]*)$")]
    """``REO`` (total rare-earth oxides) or an oxide formula (``Nb2O5``, ``TiO2`` ...): a
    rare metal's oxide as in the ``elements`` table counts as that metal's co-product."""
    value: Percent
    """Mass fraction in the concentrate [wt%]; the midpoint when the source gives a range."""
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class RareMetalProductRow(TableRow):
    """The refined product a rare metal trades as, its price and its chain's yields."""

    commodity: Ident
    product: Text
    """E.g. ``ammonium paratungstate``, ``lithium carbonate``, ``titanium sponge``."""
    content_pct: Annotated[Finite, Field(gt=0, le=100)]
    """The commodity's content of the product [wt%] (stoichiometry or the grade traded)."""
    price_usd_per_kg_content: Positive
    """World price of the product per kg of the commodity's content [USD/kg], converted
    from ``price_quote``."""
    price_year: Year
    price_quote: Text
    """The price as quoted and how it was converted (e.g. ``APT 340 USD/mtu WO3``)."""
    source_id: Ident
    """The price's source."""
    concentrate_share: Annotated[Finite, Field(gt=0, le=1)]
    """What concentrate fetches over the product's price, per t of content [fraction]."""
    concentrate_source: Ident
    refining_recovery: Annotated[Finite, Field(gt=0, le=1)]
    """Content refined per tonne of content fed in concentrate [fraction]."""
    recovery_source: Ident
    world_output_t: Positive
    """World output of the commodity in the latest year [t content] (USGS), the market a
    country's exports are bounded by."""
    world_output_source: Ident
    used_as_concentrate: bool = False
    """The concentrate is the product (zircon and baddeleyite): no refinery is needed."""
    concentrate_market: bool = True
    """Concentrate trades in a merchant market; false where producers are integrated and
    none is sold (niobium), so it can be neither bought nor sold."""
    confidence: Confidence
    note: str | None = None


class RareMetalDownstreamRow(TableRow):
    """A second product of a rare metal where it matters: what its refined product becomes."""

    commodity: Ident
    product: Text
    """E.g. ``tungsten carbide powder``, ``lithium hydroxide monohydrate``."""
    content_pct: Annotated[Finite, Field(gt=0, le=100)]
    """The commodity's content of the product [wt%]."""
    price_ratio: Positive
    """Its price over the refined product's, per kg of content, from quotes of one market
    and date [ratio]."""
    price_quote: Text
    """The two quotes and how the ratio was read from them."""
    source_id: Ident
    conversion_recovery: Annotated[Finite, Field(gt=0, le=1)]
    """Content of the product per t of content of the refined product fed [fraction]."""
    recovery_source: Ident
    confidence: Confidence
    note: str | None = None


class RareMetalBalanceRow(TableRow):
    """One flow of a rare metal in a country and year: what it makes, trades and uses."""

    country: Iso3
    commodity: Ident
    year: Year
    stage: Literal["concentrate", "refined"]
    """``concentrate``: the commodity's content in ores and concentrates (feedstock);
    ``refined``: in the products made from them (APT, ferro-alloys, compounds, sponge)."""
    flow: Literal["production", "imports", "exports", "consumption"]
    form: Text
    """What is counted (e.g. ``W in concentrates``, ``lithium carbonate``, ``Mo in
    ferromolybdenum``)."""
    value: NonNeg
    unit: Literal["t content"]
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class ExchangeRateRow(TableRow):
    """How many units of a currency buy one US dollar in a year: a published path."""

    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    year: Year
    value: Positive
    """Units of ``currency`` per USD."""
    kind: Literal["forecast", "annual_average", "on_date"]
    """A government forecast of the annual average, an annual average, or one day's rate."""
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class ProductGroupRow(TableRow):
    """A member of a product group a roadmap target counts (large- or small-tonnage)."""

    group_id: Ident
    member: Ident
    """A commodity (``Li``, ``W`` ...) or a rare-earth element group (``light``,
    ``medium``, ``heavy``)."""
    member_kind: Literal["commodity", "element_group"]
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class ProjectCostRow(TableRow):
    """Capital cost, size and lead time of a real project, with a range for risk draws."""

    project_id: Ident
    name: Text
    country: Iso3
    stage: StageName
    capacity: NonNeg
    """Design capacity as published, in ``capacity_unit`` (capacity, not a year's output)."""
    capacity_unit: Text
    capex_low_usd_per_tpa: NonNeg
    """Lowest published (or implied) capital cost per unit of annual capacity [USD per
    t/yr]; with central and high, the range a risk draw samples."""
    capex_central_usd_per_tpa: NonNeg
    capex_high_usd_per_tpa: NonNeg
    lead_time_years: NonNeg
    """Years from the decision (or groundbreaking) to first output."""
    status: Literal["operating", "construction", "commissioning", "planned", "idle"]
    first_output_year: Year | None = None
    source_id: Ident
    confidence: Confidence
    note: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ProjectCostRow:
        if not (self.capex_low_usd_per_tpa <= self.capex_central_usd_per_tpa
                <= self.capex_high_usd_per_tpa):
            raise ValueError("capex_low_usd_per_tpa <= capex_central_usd_per_tpa <= "
                             "capex_high_usd_per_tpa expected")
        return self


class FacilityRow(TableRow):
    """An existing or announced processing plant at one stage of the chain."""

    facility_id: Ident
    name: Text
    operator: Text
    country: Iso3
    region: str | None = None
    stage: StageName
    feed: Ident | None = None
    """Deposit whose ore or concentrate the plant processes, when it is known."""
    product: Text
    capacity: NonNeg | None = None
    """The published figure, in ``capacity_unit``; what it is says ``capacity_basis``."""
    capacity_unit: str | None = None
    capacity_basis: Literal["nameplate", "aim", "output"] | None = None
    """What ``capacity`` is: ``nameplate`` (what the plant is built or being built to make a
    year), ``aim`` (a size its owner targets for a later year, not built) or ``output`` (a
    year's production standing in where no capacity is published); blank with no
    ``capacity``."""
    stage_capacity: NonNeg | None = None
    """Capacity in the stage's own unit [t REO/yr up to separation, t product/yr from metal
    on], filled only where the published unit is that unit and the figure is a nameplate;
    blank means not published."""
    status: Literal["operating", "construction", "commissioning", "planned", "idle"]
    start_year: Year | None = None
    capex: NonNeg | None = None
    capex_unit: str | None = None
    source_id: Ident
    confidence: Confidence
    note: str | None = None
    commodity: Ident | None = None
    """Rare metal the capacity is of (``Zr``, ``Be`` ...): ``capacity_unit`` is then
    ``t <commodity>/yr``, tonnes of content a year; blank for rare-earth plants."""

    @model_validator(mode="after")
    def _capacity_is_capacity(self) -> FacilityRow:
        if self.commodity is not None and self.capacity_unit != f"t {self.commodity}/yr":
            raise ValueError(f"a capacity of {self.commodity} is in tonnes of content a year: "
                             f"expected capacity_unit 't {self.commodity}/yr', got "
                             f"'{self.capacity_unit}'")
        if (self.capacity is None) != (self.capacity_basis is None):
            raise ValueError("capacity and capacity_basis go together: a figure says what "
                             "it is (nameplate, aim or output), and a basis needs a figure")
        if self.stage_capacity is not None and self.capacity_basis != "nameplate":
            raise ValueError(f"stage_capacity is a limit the chain applies; a capacity_basis "
                             f"of '{self.capacity_basis}' is not a plant's capacity: leave "
                             f"stage_capacity blank")
        return self


class ProductLifetimeRow(TableRow):
    """A parameter of the service-life distribution of a magnet-containing product."""

    product: Ident
    end_use: Text
    """The demand end use (``demand`` table) whose magnets go into this product."""
    kind: Literal["weibull", "normal", "fixed"]
    parameter: Literal["scale", "shape", "mean", "std"]
    value: NonNeg
    unit: Literal["years", "-"]
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class StageParameterRow(TableRow):
    """A process parameter of one chain stage, e.g. its recovery."""

    stage: StageName
    parameter: Literal["recovery", "eol_recycling_rate"]
    """``recovery``: share of each element's input that reaches the stage's product
    [fraction]; at the magnet stage the rest is process scrap, not lost.
    ``eol_recycling_rate`` (recycling stage): share of end-of-life magnets' rare earths
    that is recycled today [fraction]."""
    value: Finite
    """A ``recovery`` is in (0, 1]: above 0, since a stage that keeps nothing of its input
    is no stage and its output is divided by it; a rate (``eol_recycling_rate``) is in
    [0, 1]."""
    unit: Literal["fraction"]
    source_id: Ident
    confidence: Confidence
    note: str | None = None

    @field_validator("value")
    @classmethod
    def _fraction_range(cls, value: float, info: ValidationInfo) -> float:
        """Check ``value`` against its parameter's range: (0, 1] or [0, 1]."""
        if info.data.get("parameter") == "recovery":
            if not 0 < value <= 1:
                raise PydanticCustomError(
                    "recovery_range",
                    "expected a recovery above 0 and at most 1 (the fraction of the stage's "
                    "input that reaches its product)",
                )
        elif not 0 <= value <= 1:
            raise PydanticCustomError("rate_range", "expected a rate from 0 to 1 (a fraction)")
        return value


# --------------------------------------------------------------------------- markets


class PriceRow(TableRow):
    """A price of an oxide, metal or alloy in one market and period."""

    product: Text
    element: str | None = None
    """Element symbol for single-element products; blank for mixtures (NdPr, mischmetal)."""
    form: Literal["oxide", "metal", "alloy", "carbonate", "mixed", "concentrate", "magnet"]
    purity: str | None = None
    market: Text
    basis: PriceBasis
    """Which market the quote belongs to (:data:`reeplan.types.PriceBasis`): ``china``
    (domestic, ex-VAT or free on board China, the USGS/Argus averages included),
    ``ex_china`` (delivered Europe, cif Rotterdam), ``realised`` (one producer's sales) or
    ``policy`` (a price floor or offtake guarantee, never a market price)."""
    year: Year
    period: Text
    """'annual average' or the month/quarter the price refers to."""
    value: NonNeg
    value_high: NonNeg | None = None
    """Upper end when the source gives a range; ``value`` is then the lower end."""
    unit: PriceUnit
    """``USD/kg``, or ``CNY/t`` as Chinese price services quote: converted at the yuan's
    annual average of the quote's year (``exchange_rates``)."""
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class DemandRow(TableRow):
    """Demand for a set of elements by end use, scenario and year."""

    scope: Ident
    """A country (ISO 3166-1 alpha-3, or WLD) or a country group (e.g. EU27)."""
    elements: Text
    """Element symbols covered (semicolon-separated) or a named basket."""
    end_use: Text
    scenario: Text
    year: Year
    value: NonNeg
    unit: Literal["kt", "t", "%"]
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class MagnetCompositionRow(TableRow):
    """Mass fraction of one component in a magnet material."""

    material: Ident
    component: Annotated[str, StringConstraints(pattern=r"^[A-Z][a-z]?$")]
    value: Percent
    """Mass fraction [wt%]; the midpoint when the source gives a range."""
    value_low: Percent | None = None
    value_high: Percent | None = None
    source_id: Ident
    confidence: Confidence
    note: str | None = None


# --------------------------------------------------------------------------- policy


class TargetRow(TableRow):
    """A stated national target or baseline figure, as said, by whom and when."""

    claim_id: Ident
    country: Iso3
    topic: Text
    metric: Literal[
        "output_value", "output_volume", "output_multiple", "import_share", "consumption",
        "imports", "plants", "funding", "reserves_share_in_production",
    ]
    baseline: Finite | None = None
    baseline_year: Year | None = None
    target: Finite | None = None
    target_year: Year | None = None
    unit: Text
    scope: Text
    stated_by: Text
    stated_on: Text
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class ImportRelianceRow(TableRow):
    """A country's stated import share of consumption for a commodity."""

    country: Iso3
    commodity: Ident
    period: Text
    value: Percent
    """Imports as share of consumption [%]."""
    basis: Text
    source_id: Ident
    confidence: Confidence
    note: str | None = None


class ConflictRow(TableRow):
    """Two estimates of the same quantity that disagree, kept side by side."""

    conflict_id: Ident
    topic: Text
    claim_a: Text
    source_a: Ident
    claim_b: Text
    source_b: Ident
    explanation: Text
    handling: Text
    """Which estimate reeplan uses by default and how to choose the other."""


# --------------------------------------------------------------------------- table specs


@dataclass(frozen=True)
class CrossRef:
    """Values of ``column`` must exist in ``target_table.target_column``.

    ``split`` names a separator when the cell holds a list of references.
    """

    column: str
    target_table: str
    target_column: str
    split: str | None = None


@dataclass(frozen=True)
class ShareRule:
    """Rows grouped by ``group_by`` must have ``value`` summing to at most ``limit``."""

    group_by: tuple[str, ...]
    limit: float = 100.0
    tolerance: float = 0.5
    """Rounding slack [percentage points] before a sum counts as above the limit."""


@dataclass(frozen=True)
class TableSpec:
    """How one table is checked and keyed."""

    name: str
    row: type[TableRow]
    key: tuple[str, ...]
    refs: tuple[CrossRef, ...] = ()
    shares: tuple[ShareRule, ...] = ()
    description: str = ""
    provenance: Literal["source_id", "self", "conflict"] = "source_id"
    """How rows prove their numbers: a ``source_id`` column; being a source or assumption
    (``self``); or naming two sources (``conflict``)."""
    columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.row.model_fields))


def _src(column: str = "source_id") -> CrossRef:
    return CrossRef(column, "provenance", "id")


def _country(column: str = "country") -> CrossRef:
    return CrossRef(column, "countries", "iso3")


def _commodity() -> CrossRef:
    return CrossRef("commodity", "commodities", "commodity")


_SPECS = (
    TableSpec("sources", SourceRow, ("source_id",), provenance="self",
              description="Published sources cited by the numbers."),
    TableSpec("assumptions", AssumptionRow, ("assumption_id",), provenance="self",
              refs=(CrossRef("based_on", "sources", "source_id", split=";"),),
              description="Numbers without a published source, with their reasoning."),
    TableSpec("elements", ElementRow, ("symbol",), refs=(_src(),),
              description="17 rare earths and the rare metals, with oxide factors."),
    TableSpec("commodities", CommodityRow, ("commodity",),
              refs=(CrossRef("elements", "elements", "symbol", split=";"), _src()),
              description="Commodities as statistics report them."),
    TableSpec("countries", CountryRow, ("iso3",), refs=(_src(),),
              description="ISO 3166-1 alpha-3 codes."),
    TableSpec("country_groups", CountryGroupRow, ("group", "iso3"),
              refs=(_country("iso3"), _src()), description="Policy groupings of countries."),
    TableSpec("production", ProductionRow, ("commodity", "country", "metric", "year", "series"),
              refs=(_commodity(), _country(), _src()),
              description="Mine and refinery production and reserves by country."),
    TableSpec("stage_shares", StageShareRow,
              ("commodity", "stage", "country", "year", "basis", "source_id"),
              refs=(_commodity(), _country(), _src()),
              shares=(ShareRule(("commodity", "stage", "year", "basis", "source_id")),),
              description="Country shares of world output per chain stage."),
    TableSpec("deposits", DepositRow, ("deposit_id",), refs=(_country(), _src()),
              description="Deposits and by-product sources."),
    TableSpec("deposit_estimates", DepositEstimateRow,
              ("deposit_id", "estimate", "category", "year", "grade_basis", "source_id"),
              refs=(CrossRef("deposit_id", "deposits", "deposit_id"), _src()),
              description="Resource and reserve estimates per deposit, side by side."),
    TableSpec("element_distributions", ElementDistributionRow, ("distribution_id", "element"),
              refs=(CrossRef("deposit_id", "deposits", "deposit_id"),
                    CrossRef("element", "elements", "symbol"), _src()),
              shares=(ShareRule(("distribution_id",), tolerance=1.0),),
              description="Element shares of total REO per deposit."),
    TableSpec("deposit_mixes", DepositMixRow, ("country", "year", "deposit_id"),
              refs=(_country(), CrossRef("deposit_id", "deposits", "deposit_id"), _src()),
              shares=(ShareRule(("country", "year"), tolerance=0.5),),
              description="How a country's mine output splits between its deposits."),
    TableSpec("environmental_intensities", EnvironmentalIntensityRow,
              ("stage", "commodity", "technology", "indicator"), refs=(_src(), _commodity()),
              description="Energy, emissions, reagents and residues per tonne, by stage."),
    TableSpec("technologies", TechnologyRow, ("technology_id",), refs=(_src(),),
              description="Process options by stage: owner, readiness, effects, sources."),
    TableSpec("concentrate_compositions", ConcentrateCompositionRow,
              ("deposit_id", "component"),
              refs=(CrossRef("deposit_id", "deposits", "deposit_id"), _src()),
              shares=(ShareRule(("deposit_id",), tolerance=1.0),),
              description="What a deposit's concentrate holds: REO, Nb2O5, Ta2O5, TiO2 ..."),
    TableSpec("rare_metal_products", RareMetalProductRow, ("commodity",),
              refs=(_commodity(), _src(), _src("concentrate_source"),
                    _src("recovery_source"), _src("world_output_source")),
              description="Rare metals' refined products: content, world price, yields."),
    TableSpec("rare_metal_downstream", RareMetalDownstreamRow, ("commodity",),
              refs=(_commodity(), _src(), _src("recovery_source")),
              description="Second products where they matter (carbide, hydroxide): price "
                          "over the refined product's, recovery."),
    TableSpec("rare_metal_balances", RareMetalBalanceRow,
              ("country", "commodity", "year", "stage", "flow", "form", "source_id"),
              refs=(_country(), _commodity(), _src()),
              description="Rare metals by country: production, imports, exports, use."),
    TableSpec("exchange_rates", ExchangeRateRow, ("currency", "year", "kind", "source_id"),
              refs=(_src(),), description="Exchange-rate paths (RUB per USD) as published."),
    TableSpec("product_groups", ProductGroupRow, ("group_id", "member"), refs=(_src(),),
              description="Products a roadmap's group targets count together."),
    TableSpec("project_costs", ProjectCostRow, ("project_id",), refs=(_country(), _src()),
              description="Capex ranges, capacities and lead times of real projects."),
    TableSpec("facilities", FacilityRow, ("facility_id",),
              refs=(_country(), CrossRef("feed", "deposits", "deposit_id"), _src()),
              description="Existing and announced plants, by stage."),
    TableSpec("product_lifetimes", ProductLifetimeRow, ("product", "parameter"),
              refs=(_src(),), description="Service lives of magnet-containing products."),
    TableSpec("stage_parameters", StageParameterRow, ("stage", "parameter"), refs=(_src(),),
              description="Process parameters per chain stage (recoveries)."),
    TableSpec("prices", PriceRow, ("product", "form", "market", "year", "period", "source_id"),
              refs=(CrossRef("element", "elements", "symbol"), _src()),
              description="Oxide, metal and alloy prices."),
    TableSpec("demand", DemandRow, ("scope", "elements", "end_use", "scenario", "year",
                                    "source_id"),
              refs=(CrossRef("scope", "places", "id"), _src()),
              description="Demand by end use."),
    TableSpec("magnet_composition", MagnetCompositionRow, ("material", "component", "source_id"),
              refs=(_src(),), shares=(ShareRule(("material", "source_id"), tolerance=1.0),),
              description="Composition of NdFeB and SmCo magnets."),
    TableSpec("targets", TargetRow, ("claim_id",), refs=(_country(), _src()),
              description="National roadmap targets and baselines as stated."),
    TableSpec("import_reliance", ImportRelianceRow,
              ("country", "commodity", "period", "source_id"),
              refs=(_country(), _commodity(), _src()),
              description="Stated import shares of consumption."),
    TableSpec("conflicts", ConflictRow, ("conflict_id",), provenance="conflict",
              refs=(_src("source_a"), _src("source_b")),
              description="Estimates that disagree, and which one reeplan uses."),
)

SCHEMAS: dict[str, TableSpec] = {spec.name: spec for spec in _SPECS}
"""Every fact-base table, by name, in load order."""
