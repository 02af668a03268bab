"""Scenario files: YAML validated by pydantic, unknown keys rejected, variants as overrides.

A variant names its base with ``extends: other.yaml`` and overrides keys; mappings merge
key by key, except that an empty mapping (``{}``) clears the base's; everything else
replaces. Errors name the file, line and key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reeplan.errors import DataValidationError, Problem

__all__ = ["CandidateSpec", "PartnerSpec", "Scenario", "TargetSpec", "load_scenario",
           "read_scenario"]


Technology = Literal["domestic", "CHN", "WEST"]
_DOMESTIC: tuple[Technology, ...] = ("domestic",)


DEFAULT_PENALTY = {"output": 1e7, "output_multiple": 1e7, "import_share": 1e7,
                   "self_sufficiency": 1e7, "output_value": 10.0}
"""Stated penalties per unit short: 10 million USD a tonne (10,000 USD/kg, above every
price in the fact base, so a target is missed only when it cannot be met) and 10 USD per
USD of value."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetSpec(_Spec):
    """A soft target (see :class:`reeplan.optimize.Target`)."""

    id: str
    kind: Literal["output", "output_multiple", "import_share", "self_sufficiency",
                  "output_value"]
    value: float = Field(ge=0)
    """t/yr for ``output``; a multiple of ``baseline_t`` for ``output_multiple`` ("triple":
    3); a fraction of consumption for ``import_share`` (at most) and ``self_sufficiency``
    (at least); M USD/yr for ``output_value``."""
    baseline_t: float | None = Field(default=None, ge=0)
    """``output_multiple``: the output it multiplies [t/yr]; by default, for the mining
    stage, the country's mine output in the year before the horizon (production table)."""
    year: int
    """First year the target applies."""
    stage: Literal["mining", "separation", "metal", "magnet", "recycling"] = "separation"
    penalty: float | None = Field(default=None, gt=0)
    """Cost of each unit short [USD per t, or USD per USD of value]; by default
    :data:`DEFAULT_PENALTY` for the target's kind."""
    source: str | None = None
    """Claim id in the ``targets`` table, or a source or assumption id."""


class PartnerSpec(_Spec):
    """Trade rules with one partner."""

    blocked: bool = False
    sell_discount: float = Field(default=0.0, ge=0, lt=1)
    buy_premium: float = Field(default=0.0, ge=0)
    export_caps_t: dict[str, float] = Field(default_factory=dict)
    """Most the partner sells us per year, by element [t]; 0 is a ban."""
    magnet_cap_t: float | None = Field(default=None, ge=0)
    route_capacity_t: float | None = Field(default=None, ge=0)
    """Most tonnes of all products the routes to this partner carry a year, both ways."""
    transport_cost_usd_per_t: float = Field(default=0.0, ge=0)
    source: str | None = None
    """Source or assumption id(s) behind the terms, semicolon-separated."""


class CandidateSpec(_Spec):
    """A plant that exists or may be built; costs name their source or assumption."""

    stage: Literal["mining", "separation", "metal", "magnet", "recycling"]
    existing_t: float = Field(default=0.0, ge=0)
    max_capacity_t: float = Field(ge=0)
    capex_usd_per_tpa: float = Field(ge=0)
    opex_usd_per_t: float = Field(ge=0)
    lead_time_years: int = Field(ge=0)
    min_size_t: float = Field(default=0.0, ge=0)
    """Smallest economic build [t/yr]; applies when ``minimum_plant_sizes`` is on."""
    technology: Literal["domestic", "CHN", "WEST"] = "domestic"
    deposit: str | None = None
    """Mines: the fact-base deposit whose element distribution the ore follows."""
    source: str
    """Source or assumption id(s) behind the figures, semicolon-separated."""


class Policy(_Spec):
    """The policy world: who trades with us on what terms, which technology we may use."""

    technology: list[Technology] = Field(default_factory=lambda: list(_DOMESTIC))
    partners: dict[str, PartnerSpec] = Field(default_factory=dict)


class DemandSpec(_Spec):
    """Domestic demand: consumption from the fact base, grown each year."""

    consumption_t_reo: float | None = Field(default=None, ge=0)
    """Override of the fact base's consumption [t REO/yr]."""
    growth_per_year: float = Field(default=0.0, ge=-0.5, le=1.0)
    collection_rate: float | None = Field(default=None, ge=0, le=1)
    """Share of end-of-life magnets collected for recycling [fraction]; by default today's
    recycling rate from the fact base. End-of-life flows come from the stock model."""
    rare_earth_free_share: float = Field(default=0.0, ge=0, le=1)
    """Share of magnet demand met by magnets without rare earths [fraction]."""
    rare_earth_free_from: int | None = None
    """First year of that substitution (default: the first planning year)."""
    source: str | None = None
    """Source or assumption id(s) behind the figures, semicolon-separated."""


class RampUpSpec(_Spec):
    """How much of a new plant's capacity is usable in its first year online."""

    first_year_share: float = Field(default=1.0, gt=0, le=1)
    source: str | None = None


class Horizon(_Spec):
    """First and last planning year."""

    start: int = Field(ge=2000, le=2100)
    end: int = Field(ge=2000, le=2100)

    @model_validator(mode="after")
    def _ordered(self) -> Horizon:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class Scenario(_Spec):
    """One scenario, as resolved after its base's overrides."""

    name: str
    description: str = ""
    extends: str | None = None
    country: str = "RUS"
    horizon: Horizon
    discount_rate: float = Field(default=0.08, ge=0, le=0.5)
    budget_musd_per_year: float | None = Field(default=None, ge=0)
    reserve_estimate: Literal["usgs", "ministry"] = "usgs"
    minimum_plant_sizes: bool = False
    """Builds are zero or at least each candidate's ``min_size_t`` (solved as a MILP)."""
    foresight: Literal["perfect", "myopic"] = "perfect"
    """``perfect``: every year decided at once; ``myopic``: a rolling horizon."""
    myopic_window_years: int = Field(default=5, ge=1, le=50)
    """Years the myopic planner sees ahead of each decision year."""
    ramp_up: RampUpSpec = Field(default_factory=RampUpSpec)
    demand: DemandSpec = Field(default_factory=DemandSpec)
    targets: list[TargetSpec] = Field(default_factory=list)
    policy: Policy = Field(default_factory=Policy)
    candidates: dict[str, CandidateSpec] = Field(default_factory=dict)
    remove_candidates: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _targets_in_horizon(self) -> Scenario:
        for i, t in enumerate(self.targets):
            if not self.horizon.start <= t.year <= self.horizon.end:
                raise ValueError(f"targets.{i}.year: {t.year} is outside the horizon "
                                 f"{self.horizon.start}-{self.horizon.end}")
        return self


def load_scenario(path: str | Path) -> Scenario:
    """Read, merge with its base and validate a scenario file.

    Raises
    ------
    DataValidationError
        Naming the file, line and key of each problem (exit code 2 in the CLI).
    """
    return read_scenario(path)[0]


def read_scenario(path: str | Path) -> tuple[Scenario, dict[str, int]]:
    """Like :func:`load_scenario`, also returning the line of each key path in the file."""
    path = Path(path)
    raw, lines = _read(path)
    merged = dict(raw)
    if "extends" in raw:
        base_path = path.parent / str(raw["extends"])
        if not base_path.is_file():
            raise DataValidationError([Problem(str(path), lines.get("extends"), "extends",
                                               f"base scenario '{raw['extends']}' not found",
                                               unit="line")])
        base = load_scenario(base_path).model_dump(exclude_none=False)
        merged = _merge(base, raw)
    try:
        return Scenario.model_validate(merged), lines
    except ValidationError as err:
        problems = []
        for e in err.errors():
            key = ".".join(str(x) for x in e["loc"]) or _key_from_message(e["msg"])
            top = key.split(".")[0]
            problems.append(Problem(str(path), lines.get(key, lines.get(top)), key,
                                    _message(e), unit="line"))
        raise DataValidationError(problems) from None


def _key_from_message(msg: str) -> str:
    return msg.split(":", 1)[0].removeprefix("Value error, ") if ":" in msg else ""


def _message(e: Any) -> str:
    if e["type"] == "extra_forbidden":
        return "unknown key; check the spelling against the scenario reference"
    return str(e["msg"]).removeprefix("Value error, ")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and v and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _read(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse YAML and record the line of every key path (``a.b.0.c``)."""
    if not path.is_file():
        raise DataValidationError([Problem(str(path), None, None, "scenario file not found")])
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise DataValidationError([Problem(str(path), line, None,
                                           f"not valid YAML ({getattr(err, 'problem', err)})",
                                           unit="line")]) from None
    if not isinstance(data, dict):
        raise DataValidationError([Problem(str(path), 1, None, "expected a mapping of keys")])
    lines: dict[str, int] = {}
    _lines(node, "", lines)
    return data, lines


def _lines(node: Any, prefix: str, out: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = f"{prefix}{k.value}"
            out[key] = k.start_mark.line + 1
            _lines(v, key + ".", out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            key = f"{prefix}{i}"
            out[key] = v.start_mark.line + 1
            _lines(v, key + ".", out)
