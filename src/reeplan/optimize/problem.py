"""The planning problem as plain, validated data: what the model is built from.

Everything here is in SI-like planning units: tonnes per year [t/yr], US dollars [USD],
USD per tonne [USD/t]. Scenario files and the fact base are turned into a
:class:`Problem` by :mod:`reeplan.scenarios.assemble`; tests build small ones by hand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from reeplan.domain import Recipe
from reeplan.errors import ChainDefinitionError

__all__ = ["Candidate", "Partner", "PlanStage", "Problem", "Target", "TargetKind"]

PlanStage = Literal["mining", "separation", "metal", "magnet", "recycling"]
"""Stages the planner builds. ``mining`` includes concentration and cracking;
``magnet`` includes alloy making; ``recycling`` turns end-of-life magnets into metal."""
TargetKind = Literal["output", "import_share", "self_sufficiency", "output_value"]


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
        Mines only: element shares of the ore's REO [fraction], summing to 1.
    reserve
        Mines only: REO that may be extracted over the horizon [t]; ``None`` unbounded.
    min_size
        Smallest economic build [t/yr]: each year's build is zero or at least this, when
        the problem asks for integer sizes (a MILP); 0 means any size.
    """

    id: str
    stage: PlanStage
    existing: float
    max_capacity: float
    capex: float
    opex: float
    lead_time: int
    technology: str = "domestic"
    distribution: Mapping[str, float] = field(default_factory=dict)
    reserve: float | None = None
    min_size: float = 0.0

    def __post_init__(self) -> None:
        """Reject negative numbers, existing above the maximum, and bad distributions."""
        where = f"candidate '{self.id}'"
        for name in ("existing", "max_capacity", "capex", "opex", "lead_time", "min_size"):
            if getattr(self, name) < 0:
                raise ChainDefinitionError(f"{where}, field '{name}': must be non-negative")
        if self.existing > self.max_capacity:
            raise ChainDefinitionError(f"{where}, field 'existing': above max_capacity")
        if self.stage == "mining":
            total = sum(self.distribution.values())
            if abs(total - 1.0) > 0.01:
                raise ChainDefinitionError(f"{where}, field 'distribution': sums to "
                                           f"{100 * total:.2f}%; expected 100% within 1 point")


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
        Most it will sell us per year [t] of each element (oxide plus metal), by its own
        export controls; an element not listed is not capped.
    magnet_cap
        Most magnets it will sell us per year [t]; ``None`` uncapped.
    route_capacity
        Most tonnes of all products that the routes to it carry per year, both ways
        (border crossings, hubs) [t/yr]; ``None`` unlimited.
    transport_cost
        Cost of moving a tonne of any product to or from it [USD/t].
    """

    id: str
    blocked: bool = False
    sell_discount: float = 0.0
    buy_premium: float = 0.0
    export_caps: Mapping[str, float] = field(default_factory=dict)
    magnet_cap: float | None = None
    route_capacity: float | None = None
    transport_cost: float = 0.0


@dataclass(frozen=True)
class Target:
    """A soft target: missing it costs ``penalty`` per tonne short, so a plan always exists.

    Attributes
    ----------
    id
        Name used in reports.
    kind
        ``"output"``: domestic output of ``stage`` of at least ``value`` [t/yr];
        ``"import_share"``: imports at most ``value`` [fraction] of consumption, both in
        tonnes of REO equivalent; ``"self_sufficiency"``: domestic separated oxide at
        least ``value`` [fraction] of consumption [t REO]; ``"output_value"``: domestic
        output worth at least
        ``value`` [USD/yr] at reference prices, each stage's value added counted once.
    stage
        For ``output``: which stage's product counts.
    value
        Tonnes per year, or a fraction.
    from_year
        First year it applies; it applies every year after too.
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
        Rare-earth oxides needed for uses other than magnets [t REO/yr], by year; any
        non-magnet element can meet it (the data do not break it down).
    scrap_available
        End-of-life magnets collectable each year [t/yr], by year.
    recycling_recovery
        Share of a recycled magnet's rare earths recovered as metal [fraction].
    separation_recovery, metal_recovery
        Recoveries [fraction]; 1 (no loss) unless given, the fact base's values come in
        through :func:`reeplan.scenarios.assemble.assemble`.
    magnet_yield
        Finished magnet per tonne of alloy [fraction]; the rest is process scrap.
    ramp_up
        Share of new capacity usable in its first year online [fraction]; 1 unless given.
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
    scrap_available: Mapping[int, float] = field(default_factory=dict)
    recycling_recovery: float = 1.0
    separation_recovery: float = 1.0
    metal_recovery: float = 1.0
    magnet_yield: float = 1.0
    ramp_up: float = 1.0
    targets: tuple[Target, ...] = ()
    allowed_technology: frozenset[str] = frozenset({"domestic"})
    discount_rate: float = 0.08
    budget: float | None = None
    national_reserve: float | None = None
    tradable: frozenset[str] | None = None
    fixed_builds: Mapping[tuple[str, int], float] = field(default_factory=dict)
    integer_sizes: bool = False

    # national_reserve: REO all mines together may extract over the horizon [t]
    # tradable: elements with a reference price, the only ones bought or sold; all if None
    # fixed_builds: (candidate, decision year) -> capacity [t/yr] already decided
    # integer_sizes: builds are zero or at least each candidate's min_size (a MILP)

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

    def of_stage(self, stage: PlanStage) -> list[Candidate]:
        """Candidates at ``stage``, in a canonical order (by id)."""
        return sorted((c for c in self.candidates if c.stage == stage), key=lambda c: c.id)
