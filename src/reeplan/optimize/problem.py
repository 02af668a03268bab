"""The planning problem as plain, validated data: what the model is built from.

Everything here is in SI-like planning units: tonnes per year [t/yr], US dollars [USD],
USD per tonne [USD/t]. Scenario files and the fact base are turned into a
:class:`Problem` by :mod:`reeplan.scenarios.assemble`; tests build small ones by hand.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reeplan.domain import Recipe, StageChain
from reeplan.errors import ChainDefinitionError
from reeplan.types import RARE_METAL_STAGES, PlanStage, Technology

__all__ = ["DEFAULT_UNMET_PENALTY", "Candidate", "Partner", "Problem", "ProductGroup",
           "RareMetal", "Target", "TargetKind"]

TargetKind = Literal["output", "import_share", "self_sufficiency", "output_value",
                     "supplier_share", "group_output", "rare_metal_import_share"]
"""Target kinds the model knows (``output_multiple`` becomes ``output`` when assembled)."""

DEFAULT_UNMET_PENALTY = 1e7
"""Cost of each tonne of demand left unmet [USD/t]: 10,000 USD/kg, above every price in
the fact base, so demand goes unmet only when no supply can reach it."""

def environment_key(stage: str, commodity: str | None = None) -> str:
    """The stage key of environmental intensities (``rare_metal_refining:W``).

    The stage, and for a rare-metal stage its commodity too; :func:`environment_stage_of`
    reads it back.
    """
    return f"{stage}:{commodity}" if commodity else stage


def environment_stage_of(key: str) -> str:
    """The stage of an :func:`environment_key`."""
    return key.split(":", maxsplit=1)[0]


@dataclass(frozen=True)
class Candidate:
    """An existing plant that may expand, or a project that may be built.

    Attributes
    ----------
    id
        Unique id.
    stage
        What it does (:data:`PlanStage`).
    existing
        Capacity online from the first year [t/yr of product; mining and separation in
        t REO, metal in t metal, magnet in t magnet, recycling in t magnet scrap].
    max_capacity
        Most capacity it can reach, existing included [same unit].
    capex
        Capital cost of new capacity [USD per t/yr].
    opex
        Operating cost [USD/t of product].
    lead_time
        Years from the decision to build until the capacity is online.
    technology
        Who owns the process: ``"domestic"``, ``"CHN"``, ``"WEST"``.
    distribution
        Mines only: element shares of the ore's REO [fraction]; with ``unassigned``,
        they sum to 1.
    reserve
        Mines only: REO that may be extracted over the horizon [t]; ``None`` unbounded.
    min_size
        Smallest economic build [t/yr]: each year's build is zero or at least this, when
        the problem asks for integer sizes (a MILP); 0 means any size.
    unassigned
        Mines only: share of the ore's REO the distribution does not break down by element
        [fraction]; it leaves separation as residue.
    region
        Where it is, for reports.
    abroad
        Mines only: the partner whose deposit it is (an equity or offtake mine abroad);
        empty for a domestic mine. Its concentrate is imported feed: bought at the
        concentrate price with the partner's premium and freight, never re-exported,
        counted as imports and not as domestic extraction.
    variant_of, process, online_from, environment_factor
        A technology variant: the candidate it is an alternative to (they share its
        maximum capacity), the process it runs, the first year its capacity may be online
        (the technology's access or commercial year), and its environmental intensities
        relative to the stage's [factor by indicator].
    commodity
        Rare-metal stages only: the commodity it mines or refines (``"W"``, ``"Nb"`` ...);
        its product is in t of that commodity's content.
    offtake_share, offtake_from, offtake_until
        An offtake contract: from ``offtake_from`` to ``offtake_until`` (0: to the end) the
        plant makes at least this share of its online capacity [fraction] (GM takes MP's
        Fort Worth magnets), whatever imports cost; 0: none.
    feed_from
        Separation only: the mines whose ore only this plant separates (White Mesa's
        monazite, whose thorium and uranium need its licence); their ore goes to no other
        plant, and the plant takes no other ore. Empty: any ore not reserved so.
    coproducts
        Mines (rare-earth or rare-metal): rare-metal content its concentrate carries per
        tonne of its product [t content / t REO, or / t of the main commodity's content],
        by commodity; a rare-metal mine lists its own commodity at 1. Loparite carries Nb,
        Ta and Ti with its rare earths; Tyrnyauz Mo with its W.
    """

    id: str
    stage: PlanStage
    existing: float
    max_capacity: float
    capex: float
    opex: float
    lead_time: int
    technology: Technology = "domestic"
    distribution: Mapping[str, float] = field(default_factory=dict)
    reserve: float | None = None
    min_size: float = 0.0
    unassigned: float = 0.0
    region: str = ""
    abroad: str = ""
    variant_of: str = ""
    process: str = ""
    online_from: int = 0
    environment_factor: Mapping[str, float] = field(default_factory=dict)
    commodity: str = ""
    coproducts: Mapping[str, float] = field(default_factory=dict)
    offtake_share: float = 0.0
    offtake_from: int = 0
    offtake_until: int = 0
    feed_from: tuple[str, ...] = ()

    @property
    def environment_stage(self) -> str:
        """The key its environmental intensities go by (:func:`environment_key`)."""
        return environment_key(self.stage, self.commodity)

    def __post_init__(self) -> None:
        """Reject bad numbers, existing above the maximum, and bad distributions."""
        where = f"candidate '{self.id}'"
        for name in ("existing", "max_capacity", "capex", "opex", "lead_time", "min_size",
                     "unassigned"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ChainDefinitionError(f"{where}, field '{name}': {value}; expected a "
                                           f"finite, non-negative number")
        if self.existing > self.max_capacity:
            raise ChainDefinitionError(f"{where}, field 'existing': above max_capacity")
        if not 0.0 <= self.offtake_share <= 1.0:
            raise ChainDefinitionError(f"{where}, field 'offtake_share': "
                                       f"{self.offtake_share}; expected a fraction")
        if self.stage == "mining":
            total = sum(self.distribution.values()) + self.unassigned
            if abs(total - 1.0) > 0.01:
                raise ChainDefinitionError(f"{where}, field 'distribution': sums to "
                                           f"{100 * total:.2f}%; expected 100% within 1 point")
        rare_metal = self.stage in RARE_METAL_STAGES
        if rare_metal != bool(self.commodity):
            raise ChainDefinitionError(f"{where}, field 'commodity': a rare-metal stage "
                                       f"needs its commodity, and only a rare-metal stage "
                                       f"takes one")
        bad = {k: v for k, v in self.coproducts.items() if not (math.isfinite(v) and v >= 0)}
        if bad or (self.coproducts and self.stage not in ("mining", "rare_metal_mining")):
            raise ChainDefinitionError(f"{where}, field 'coproducts': {dict(self.coproducts)}; "
                                       f"expected finite, non-negative t/t, on mines only")


@dataclass(frozen=True)
class Partner:
    """A trading partner (a country or group) and the rules for trading with it.

    Attributes
    ----------
    id
        E.g. ``"CHN"``, ``"WEST"``, ``"OTHER"``.
    blocked
        No trade at all (sanctions, either side).
    sell_discount
        Discount on prices when selling to it [fraction], e.g. to a dominant buyer.
    buy_premium
        Premium over reference prices when buying from it [fraction].
    export_caps
        Most it will sell us per year of each element, oxide plus metal in oxide
        equivalent [t REO], by its own export controls; an element not listed is not
        capped; an element the plan does not model raises.
    magnet_cap
        Most magnets it will sell us per year [t]; ``None`` uncapped.
    magnet_buy_cap
        Most magnets it will buy from us per year [t] (what its market absorbs: China, the
        world's magnet maker, buys almost none); ``None`` uncapped.
    import_caps
        Most it will buy from us per year of each element, oxide plus metal in oxide
        equivalent [t REO] (what its industry uses); an element not listed is not capped.
    import_caps_by_year
        The same caps year by year where they change over the horizon (use that grows,
        magnet plants coming online): by year, by element [t REO]; a year listed replaces
        ``import_caps`` that year.
    concentrate_buy_cap
        Most concentrate it will buy from us per year [t REO] (what its separators take
        from others); ``None`` uncapped.
    banned_years
        Years with no trade with it at all (an export ban expected in those years).
    route_capacity
        Most tonnes of rare-earth products that the routes to it carry per year, both
        ways (border crossings, hubs) [t/yr]; ``None`` unlimited. Rare metals are not on
        these routes (assumption ``third_country_routes``).
    transport_cost
        Cost of moving a tonne of any product to or from it [USD/t].
    market
        The market whose prices trade with it follows (a key of
        :attr:`Problem.market_prices`); empty: the problem's reference prices.
    sells_concentrate, sells_refined
        Rare metals it can sell us as concentrate, and as the refined product (what it
        mines, and what it makes at all); ``None``: any (a group of countries).
    buys_nothing
        It buys nothing from us (a tariff wall); it may still sell to us.
    """

    id: str
    blocked: bool = False
    sell_discount: float = 0.0
    buy_premium: float = 0.0
    export_caps: Mapping[str, float] = field(default_factory=dict)
    magnet_cap: float | None = None
    magnet_buy_cap: float | None = None
    import_caps: Mapping[str, float] = field(default_factory=dict)
    import_caps_by_year: Mapping[int, Mapping[str, float]] = field(default_factory=dict)
    concentrate_buy_cap: float | None = None
    route_capacity: float | None = None
    banned_years: frozenset[int] = frozenset()
    transport_cost: float = 0.0
    market: str = ""
    sells_concentrate: frozenset[str] | None = None
    sells_refined: frozenset[str] | None = None
    buys_nothing: bool = False


@dataclass(frozen=True)
class Target:
    """A soft target: missing it costs ``penalty`` per tonne short, so a plan always exists.

    Attributes
    ----------
    id
        Name used in reports.
    kind
        One of :data:`TargetKind`; :data:`reeplan.optimize.targets.RULES` holds what each
        means, its unit and how a miss is explained.
    stage
        For ``output``: which stage's product counts.
    value
        Tonnes per year, or a fraction.
    from_year
        First year it applies; it applies every year after too.
    measure, elements
        For ``import_share``: gross imports or imports net of exports; of all rare earths
        or of the magnet elements only (the recipe's, magnets by their content).
        ``elements`` also for ``self_sufficiency`` and ``supplier_share``.
    partner
        For ``supplier_share``: the partner (one country) whose share of consumption is
        capped.
    penalty
        Cost of each unit short [USD per t, or USD per USD for ``output_value``]; stated
        in the scenario.
    """

    id: str
    kind: TargetKind
    value: float
    from_year: int
    stage: PlanStage = "separation"
    penalty: float = 1e6
    measure: Literal["gross", "net"] = "gross"
    elements: Literal["all", "magnet", "light", "medium", "heavy"] = "all"
    partner: str = ""
    group: str = ""
    commodity: str = ""
    """For ``rare_metal_import_share``: the rare metal whose imports are capped."""
    baseline: float | None = None
    """For ``output_value``: the stated value today [USD/yr], compared with the plan's."""
    product: Literal["all", "oxide", "metal", "magnet"] = "all"
    """For ``import_share``: all products over all consumption, or one product's trade over
    its use at home (oxide used in other uses and metal making, metal in alloy, magnets
    needed), as the dependence table's stages."""


@dataclass(frozen=True)
class RareMetal:
    """One rare-metal commodity the plan tracks: its use at home and its market.

    Attributes
    ----------
    commodity
        Its symbol (``"W"``, ``"Mo"``, ``"Li"`` ...); flows are in t of its content.
    consumption
        Use at home by year [t content/yr]; met by refined output at home, imports, or
        left unmet at the problem's penalty.
    price
        Price of the refined product [USD per t content], in the world market (one market:
        the rare metals trade in one world price, less a buyer's discount).
    concentrate_share
        What concentrate fetches over the refined product's price [fraction] (payables
        less treatment charges).
    refining_recovery
        Content of the refined product per tonne of content fed in concentrate [t/t].
    product
        The refined product the commodity trades and is counted as (``ammonium
        paratungstate``, ``lithium carbonate`` ...).
    product_per_content
        Tonnes of that product per tonne of content [t/t]: group targets in t/yr of
        products count with it.
    used_as_concentrate
        The concentrate is the product (zircon, baddeleyite): what is fed counts as
        refined at the recovery, with no refinery to build; it trades as the product.
    concentrate_market
        Concentrate is bought and sold in a merchant market (not for niobium, whose
        producers are integrated): without one it is refined at home or left.
    export_cap
        Most the country may sell abroad a year, concentrate and refined together
        [t content/yr]: the share of the world market it can add at the quoted price;
        ``None`` unbounded.
    downstream, downstream_share, downstream_ratio, conversion_recovery
        A second product where it matters (tungsten carbide from APT, lithium hydroxide
        from carbonate): its name, the share of the use taken as it [fraction], its price
        over the refined product's per t of content (quoted the same day) [ratio], and
        the content it keeps of the refined product fed [t/t]. Without one (share 0) all
        use is of the refined product.
    """

    commodity: str
    consumption: Mapping[int, float]
    price: float
    concentrate_share: float
    refining_recovery: float
    product: str = ""
    product_per_content: float = 1.0
    used_as_concentrate: bool = False
    concentrate_market: bool = True
    export_cap: float | None = None
    downstream: str = ""
    downstream_share: float = 0.0
    downstream_ratio: float = 1.0
    conversion_recovery: float = 1.0

    def __post_init__(self) -> None:
        """Reject prices, shares and recoveries out of range."""
        where = f"rare metal '{self.commodity}'"
        if not 0.0 <= self.downstream_share <= 1.0 or (self.downstream_share > 0) != bool(
                self.downstream):
            raise ChainDefinitionError(f"{where}, field 'downstream_share': "
                                       f"{self.downstream_share}; expected a fraction, above 0 "
                                       f"only with a downstream product")
        if not (math.isfinite(self.downstream_ratio) and self.downstream_ratio > 0
                and 0 < self.conversion_recovery <= 1):
            raise ChainDefinitionError(f"{where}: downstream ratio {self.downstream_ratio} "
                                       f"and recovery {self.conversion_recovery}; expected a "
                                       f"positive ratio and a fraction in (0, 1]")
        for name in ("price", "product_per_content"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ChainDefinitionError(f"{where}, field '{name}': {value}; expected a "
                                           f"finite, positive number")
        for name in ("concentrate_share", "refining_recovery"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= 1):
                raise ChainDefinitionError(f"{where}, field '{name}': {value}; expected a "
                                           f"fraction in (0, 1]")
        bad = {y: v for y, v in self.consumption.items() if not (math.isfinite(v) and v >= 0)}
        if bad:
            raise ChainDefinitionError(f"{where}, field 'consumption': {bad}; expected "
                                       f"finite, non-negative t/yr")
        if self.export_cap is not None and not (math.isfinite(self.export_cap)
                                                and self.export_cap >= 0):
            raise ChainDefinitionError(f"{where}, field 'export_cap': {self.export_cap}; "
                                       f"expected a finite, non-negative t/yr")


@dataclass(frozen=True)
class ProductGroup:
    """Products counted together by a roadmap target (large- or small-tonnage metals).

    Attributes
    ----------
    id
        E.g. ``"large_tonnage"``.
    commodities
        Rare metals whose refined output counts, in t of product
        (:attr:`RareMetal.product_per_content`).
    element_groups
        Rare-earth element groups (``light``, ``medium``, ``heavy``) whose oxide separated
        at home counts [t REO].
    not_modelled
        Members the plan does not track (no data, or not asked for): they count for
        nothing, and a miss names them.
    not_modelled_output
        The planning country's latest published output of those members: (commodity,
        t content, year), for what the plan leaves out to be weighed.
    not_modelled_announced
        Announced plants of those members in the planning country: (commodity, t content
        a year, start year or 0 when not stated, plant name).
    """

    id: str
    commodities: tuple[str, ...] = ()
    element_groups: tuple[str, ...] = ()
    not_modelled: tuple[str, ...] = ()
    not_modelled_output: tuple[tuple[str, float, int], ...] = ()
    not_modelled_announced: tuple[tuple[str, float, int, str], ...] = ()


@dataclass(frozen=True)
class Problem:
    """Everything :func:`reeplan.optimize.build_model` needs.

    Attributes
    ----------
    years
        Planning years, consecutive.
    elements
        Rare-earth elements tracked as separated products.
    candidates
        Plants and projects.
    partners
        Trading partners.
    recipe
        The magnet made at home and bought abroad (:class:`reeplan.domain.Recipe`).
    metal_per_oxide
        Oxide-to-metal factors [t/t] for recipe elements.
    oxide_price, metal_price
        Reference prices [USD/t] by element.
    magnet_price
        Reference magnet price [USD/t].
    magnet_demand
        Magnets needed each year [t/yr], by year.
    other_demand
        Rare-earth oxides needed for uses other than magnets [t REO/yr], by year.
    other_split
        Share of each element in ``other_demand`` [fraction, summing to 1]: each element's
        part must be met by that element. Empty: any oxide meets it (a pool, as in
        small test problems).
    element_groups
        ``light``, ``medium`` or ``heavy`` by element, for dependence by group.
    scrap_available
        End-of-life magnets collectable each year [t/yr], by year.
    chain
        Recoveries of the declared chain (:class:`reeplan.domain.StageChain`), the same
        ``reeplan chain`` uses; no losses unless given.
    ramp_up
        Share of new capacity usable in its first, second, ... year online [fraction];
        full capacity after the listed years.
    targets
        Soft targets.
    allowed_technology
        Technology owners whose processes may be built.
    discount_rate
        Per year [fraction]; costs are discounted to the first year.
    budget
        Most capex per year [USD]; ``None`` unlimited.
    """

    years: tuple[int, ...]
    elements: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    partners: tuple[Partner, ...]
    recipe: Recipe
    metal_per_oxide: Mapping[str, float]
    oxide_price: Mapping[str, float]
    metal_price: Mapping[str, float]
    magnet_price: float
    magnet_demand: Mapping[int, float]
    other_demand: Mapping[int, float]
    other_split: Mapping[str, float] = field(default_factory=dict)
    element_groups: Mapping[str, str] = field(default_factory=dict)
    scrap_available: Mapping[int, float] = field(default_factory=dict)
    chain: StageChain = field(default_factory=StageChain.ideal)
    ramp_up: tuple[float, ...] = ()
    targets: tuple[Target, ...] = ()
    allowed_technology: frozenset[str] = frozenset({"domestic"})
    discount_rate: float = 0.08
    budget: float | None = None
    national_reserve: float | None = None
    tradable: frozenset[str] | None = None
    fixed_builds: Mapping[tuple[str, int], float] = field(default_factory=dict)
    integer_sizes: bool = False
    unmet_penalty: float = DEFAULT_UNMET_PENALTY
    sources: frozenset[str] = frozenset()
    market_prices: Mapping[Any, tuple[Mapping[str, float], Mapping[str, float]]] = field(
        default_factory=dict)
    allow_reexport: bool = False
    country: str = ""
    concentrate_share: float = 0.0
    reference_market: str = ""
    local_content: Mapping[str, float] = field(default_factory=dict)
    magnet_inputs_from: Mapping[str, float] = field(default_factory=dict)
    magnet_inputs_from_year: int = 0
    environment: Mapping[tuple[str, str], float] = field(default_factory=dict)
    environment_units: Mapping[str, str] = field(default_factory=dict)
    environment_technology: Mapping[str, str] = field(default_factory=dict)
    environment_caps: Mapping[str, float] = field(default_factory=dict)
    reserve_caps: Mapping[str, float] = field(default_factory=dict)
    reserve_initial: Mapping[str, float] = field(default_factory=dict)
    reserve_holding_cost: float = 0.0
    concentrate_holding_cost: float | None = None
    rare_metals: tuple[RareMetal, ...] = ()
    product_groups: tuple[ProductGroup, ...] = ()
    price_notes: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    # price_notes: (market, element) -> which rules priced it, in words (an NdPr quote
    #   for Nd, an old quote, a premium); ("all", "magnet") for the magnet price
    # rare_metals: the rare-metal commodities tracked (none: rare earths only); mines'
    #   coproducts of other commodities are ignored
    # product_groups: groups a ``group_output`` target counts
    # environment: (stage, indicator) -> intensity per tonne of the stage's product (a
    # rare-metal stage with its commodity, Candidate.environment_stage), for
    #   the plants at home (mines abroad and tolling leave their toll abroad)
    # environment_units: indicator -> unit of its total (e.g. "t CO2e")
    # environment_technology: stage -> the process its intensities describe
    # environment_caps: indicator -> most the plants at home may emit or use a year
    # reserve_caps: most oxide a strategic reserve may hold, by element [t REO]; it is
    #   filled and drawn in the oxide balance and carried from year to year
    # reserve_initial: what the reserve holds before the first year [t REO]
    # reserve_holding_cost: cost of holding a tonne for a year [USD/t/yr]
    # concentrate_holding_cost: cost of holding a tonne of REO in concentrate at a
    #   domestic mine for a year [USD/t/yr]: a mine without a buyer stores its
    #   concentrate (an export ban, separation not yet built) and sells or feeds it
    #   later; None: mines store nothing

    # magnet_inputs_from: partner -> most share of the metal in magnets made at home that
    #   may come from it (its metal and its oxide of recipe elements), from
    #   magnet_inputs_from_year (DFARS 252.225-7052 for US defence magnets)
    # local_content: stage -> share of its input that must come from the stage before it
    #   at home: "metal" (oxide from home separation), "magnet" (metal made or recycled at
    #   home); an offtake contract such as SMZ's oxides for the Glazov magnet plant
    # national_reserve: REO all mines together may extract over the horizon [t]
    # tradable: elements with a reference price, the only ones bought or sold; all if None
    # fixed_builds: (candidate, decision year) -> capacity [t/yr] already decided
    # integer_sizes: builds are zero or at least each candidate's min_size (a MILP)
    # unmet_penalty: cost of each tonne of magnet or oxide demand left unmet [USD/t]
    # sources: source and assumption ids behind the figures (the plan's provenance)
    # market_prices: market -> (oxide, metal) prices [USD/t] by element, for partners
    # allow_reexport: exports may exceed what is separated, recycled and made at home
    # reference_market: the market (a key of market_prices) whose prices are oxide_price
    # concentrate_share: concentrate trades at this share of its oxides' value [fraction]:
    #   sold at what each open partner pays for the oxides, bought from a mine abroad at
    #   the problem's reference prices

    def __post_init__(self) -> None:
        """Check ids are unique, years consecutive and targets inside the horizon."""
        ids = [c.id for c in self.candidates]
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
        if dupes:
            raise ChainDefinitionError(f"candidate ids repeat: {', '.join(dupes)}")
        if list(self.years) != list(range(self.years[0], self.years[0] + len(self.years))):
            raise ChainDefinitionError("years must be consecutive")
        for t in self.targets:
            if t.from_year not in self.years:
                raise ChainDefinitionError(f"target '{t.id}', field 'year': {t.from_year} is "
                                           f"outside the horizon {self.years[0]}-"
                                           f"{self.years[-1]}")
        for e in self.elements:
            if e not in self.oxide_price:
                raise ChainDefinitionError(f"no oxide price for element '{e}'")
        self._check_partners()
        self._check_rare_metals()
        if any(not 0.0 < r <= 1.0 for r in self.ramp_up):
            raise ChainDefinitionError(f"ramp_up {self.ramp_up}: expected fractions in (0, 1]")

    def _check_partners(self) -> None:
        ids = [q.id for q in self.partners]
        if len(set(ids)) != len(ids):
            raise ChainDefinitionError(f"partner ids repeat: {', '.join(sorted(ids))}")
        for q in self.partners:
            if q.market and q.market not in self.market_prices:
                raise ChainDefinitionError(f"partner '{q.id}', field 'market': no prices for "
                                           f"market '{q.market}'")
            outside = sorted(set(q.import_caps_by_year) - set(self.years))
            if outside:
                raise ChainDefinitionError(
                    f"partner '{q.id}', field 'import_caps_by_year': years "
                    f"{', '.join(map(str, outside))} outside the horizon "
                    f"{self.years[0]}-{self.years[-1]}")
            named = [("export_caps", q.export_caps), ("import_caps", q.import_caps)] + [
                (f"import_caps_by_year[{y}]", c) for y, c in sorted(
                    q.import_caps_by_year.items())]
            for name, caps in named:
                unknown = sorted(set(caps) - set(self.elements))
                if unknown:
                    raise ChainDefinitionError(
                        f"partner '{q.id}', field '{name}': {', '.join(unknown)} not "
                        f"modelled by the plan (it tracks {', '.join(self.elements)}); a cap "
                        f"on it would have no effect")
                bad = {e: v for e, v in caps.items() if not (math.isfinite(v) and v >= 0)}
                if bad:
                    raise ChainDefinitionError(f"partner '{q.id}', field '{name}': {bad}; "
                                               f"expected finite, non-negative tonnes")
            cap = q.concentrate_buy_cap
            if cap is not None and not (math.isfinite(cap) and cap >= 0):
                raise ChainDefinitionError(f"partner '{q.id}', field 'concentrate_buy_cap': "
                                           f"{cap}; expected finite, non-negative tonnes")

    def _check_rare_metals(self) -> None:
        tracked = [m.commodity for m in self.rare_metals]
        if len(set(tracked)) != len(tracked):
            raise ChainDefinitionError(f"rare metals repeat: {', '.join(sorted(tracked))}")
        for c in self.candidates:
            unknown = sorted((({c.commodity} - {""}) | set(c.coproducts)) - set(tracked))
            if unknown:
                raise ChainDefinitionError(
                    f"candidate '{c.id}': {', '.join(unknown)} not among the rare metals the "
                    f"plan tracks ({', '.join(tracked) or 'none'})")
        groups = {g.id: g for g in self.product_groups}
        for g in self.product_groups:
            unknown = sorted(set(g.commodities) - set(tracked))
            if unknown:
                raise ChainDefinitionError(f"product group '{g.id}': {', '.join(unknown)} "
                                           f"not among the rare metals the plan tracks")
            bad = sorted(set(g.element_groups) - {"light", "medium", "heavy"})
            if bad:
                raise ChainDefinitionError(f"product group '{g.id}': element groups "
                                           f"{', '.join(bad)}; expected light, medium, heavy")
        for t in self.targets:
            if t.kind == "rare_metal_import_share" and t.commodity not in tracked:
                raise ChainDefinitionError(f"target '{t.id}', field 'commodity': "
                                           f"'{t.commodity}' is not a rare metal the plan "
                                           f"tracks ({', '.join(tracked) or 'none'})")
            if t.kind == "group_output" and t.group not in groups:
                raise ChainDefinitionError(f"target '{t.id}', field 'group': '{t.group}' is "
                                           f"not a product group of the problem "
                                           f"({', '.join(groups) or 'none'})")

    def product_group(self, group_id: str) -> ProductGroup | None:
        """The product group ``group_id``; None for an empty id or none of that name."""
        return next((g for g in self.product_groups if g.id == group_id), None) \
            if group_id else None

    def of_stage(self, stage: PlanStage) -> list[Candidate]:
        """Candidates at ``stage``, in a canonical order (by id)."""
        return sorted((c for c in self.candidates if c.stage == stage), key=lambda c: c.id)
