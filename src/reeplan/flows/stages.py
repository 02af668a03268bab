"""The chain engine: one year's flows through the declared stages, per element and plant.

Mine, concentrate, crack, separate, metal, alloy, magnet, with the recoveries of the
declared chain (:class:`reeplan.domain.StageChain`, the same the planner uses) and each
stage limited by its capacity, always measured on the stage's output. Mass balance is
checked per stage and element on every run.

Units: up to separation, tonnes of oxide [t REO]; from the metal stage on, tonnes of
rare-earth metal content [t]. The metal stage removes oxygen with each element's
oxide-to-metal factor; the alloy stage follows a magnet recipe; the magnet stage's losses
are process scrap, reported as a flow available for recycling rather than lost. A stage's
processed flow is split between its plants in proportion to their capacities (equally when
a capacity is unknown), which gives the facility dimension.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from reeplan.domain import PRE_SEPARATION, Recipe, StageChain
from reeplan.errors import ChainDefinitionError
from reeplan.flows.balance import check_mass_balance
from reeplan.types import CHAIN_STAGES, Stage

__all__ = ["STAGE_ORDER", "run_chain"]

STAGE_ORDER = CHAIN_STAGES
"""The stages :func:`run_chain` walks, in flow order."""

_FLOWS = ("input", "output", "loss", "unused", "oxygen_removed", "scrap")


@dataclass(frozen=True)
class StageSpec:
    """What one stage can do in the year: its capacity and recovery.

    ``capacity`` is on output [t/yr of the stage's product]; ``None`` when no capacity is
    published (then it does not bind); 0 when no plant is online.
    """

    stage: Stage
    capacity: float | None
    recovery: float

    def __post_init__(self) -> None:
        """Reject a negative or non-finite capacity, naming the field."""
        if self.capacity is not None and not (np.isfinite(self.capacity)
                                              and self.capacity >= 0):
            raise ChainDefinitionError(f"stage '{self.stage}', field 'capacity': "
                                       f"{self.capacity}; expected a non-negative number")


def run_chain(
    mined: xr.DataArray,
    chain: StageChain,
    capacity: Mapping[Stage, float | None],
    metal_per_oxide: Mapping[str, float],
    recipe: Recipe,
    plants: Mapping[Stage, Mapping[str, float | None]] | None = None,
    unassigned: float = 0.0,
) -> xr.Dataset:
    """Push one year's mine output through the declared chain.

    Parameters
    ----------
    mined
        Mine output by element [t REO], dimension ``element``.
    chain
        Recoveries of the steps (:class:`~reeplan.domain.StageChain`).
    capacity
        Output capacity of each stage after mining [t/yr of its product]; a stage not
        listed, or ``None``, is not limited.
    metal_per_oxide
        Oxide-to-metal mass factor of each recipe element [t metal / t oxide].
    recipe
        The alloy the alloy stage makes.
    plants
        Plants of each stage and their capacities [t/yr]; gives ``facility_output``.
    unassigned
        Mine output a partial distribution does not break down by element [t REO]: it
        follows the stages before separation like every element and leaves separation as
        residue (``unassigned`` over stage), never as an element.

    Returns
    -------
    xarray.Dataset
        Over (stage, element): ``input``, ``output``, ``loss``, ``unused`` (input not
        processed here: sold, stocked or exported as the previous stage's product),
        ``oxygen_removed`` and ``scrap`` [t]; over stage: ``capacity`` and ``product``
        [t of the stage's product]; over (facility, element): ``facility_output`` [t],
        with coordinate ``facility_stage``; ``unassigned`` over (stage, flow) [t REO].
        Mass balance
        (input = output + loss + unused + oxygen removed + scrap) is checked per stage and
        element.
    """
    specs = [StageSpec(s, capacity.get(s), chain.recovery[s]) for s in STAGE_ORDER[1:]]
    return _run(mined, specs, metal_per_oxide, recipe, plants or {}, unassigned)


def _run(mined: xr.DataArray, specs: list[StageSpec], metal_per_oxide: Mapping[str, float],
         recipe: Recipe, plants: Mapping[Stage, Mapping[str, float | None]],
         unassigned: float) -> xr.Dataset:
    values = np.append(mined.to_numpy().astype(float), unassigned)
    if (values < 0).any() or not np.isfinite(values).all():
        raise ChainDefinitionError("mine output must be finite and non-negative")
    elements = [str(e) for e in mined["element"].values]
    missing = sorted(e for e in recipe.elements & set(elements) if e not in metal_per_oxide)
    if missing:
        raise ChainDefinitionError(f"no oxide-to-metal factor for {', '.join(missing)}")
    n_st, n_el = len(STAGE_ORDER), len(elements) + 1  # the last column: unassigned REO
    data = {k: np.zeros((n_st, n_el)) for k in _FLOWS}
    product = np.zeros(n_st)
    data["input"][0] = data["output"][0] = values
    product[0] = values.sum()
    ctx = _Context(elements, np.array([e in recipe.elements for e in elements] + [False]),
                   np.array([metal_per_oxide.get(e, 1.0) for e in elements] + [1.0]), recipe)
    for i, spec in enumerate(specs, start=1):
        feed = data["output"][i - 1].copy()
        flows, product[i] = _STEP[_kind(spec.stage)](feed, spec, ctx, product[i - 1])
        data["input"][i] = feed
        for k, v in flows.items():
            data[k][i] = v
    stages = [str(s) for s in STAGE_ORDER]
    caps = [np.nan] + [np.nan if s.capacity is None else s.capacity for s in specs]
    ds = xr.Dataset({k: (("stage", "element"), v[:, :-1]) for k, v in data.items()},
                    coords={"stage": stages, "element": elements})
    ds["unassigned"] = (("stage", "flow"), np.stack([data[k][:, -1] for k in _FLOWS], axis=1))
    ds = ds.assign_coords(flow=list(_FLOWS))
    rest = ds["unassigned"]
    check_mass_balance(rest.sel(flow="input"), rest.sel(flow="output"),
                       rest.sel(flow="loss"), rest.sel(flow="unused"),
                       what="stage chain (unassigned REO)")
    ds["capacity"] = ("stage", np.array(caps, dtype=float))
    ds["product"] = ("stage", product)
    ds["facility_output"] = _by_facility(ds["output"], plants)
    check_mass_balance(ds["input"], ds["output"],
                       ds["loss"] + ds["oxygen_removed"] + ds["scrap"], ds["unused"],
                       what="stage chain")
    return ds


def _by_facility(output: xr.DataArray,
                 plants: Mapping[Stage, Mapping[str, float | None]]) -> xr.DataArray:
    """Each stage's output split between its plants by capacity [t], over facility."""
    ids, stages, rows = [], [], []
    for stage, members in plants.items():
        caps = list(members.values())
        known = all(c is not None for c in caps) and sum(c or 0.0 for c in caps) > 0
        weights = np.array([c or 0.0 for c in caps]) if known else np.ones(len(caps))
        weights = weights / weights.sum() if weights.sum() > 0 else weights
        for fid, w in zip(members, weights, strict=True):
            ids.append(fid)
            stages.append(str(stage))
            rows.append(output.sel(stage=str(stage)).to_numpy() * w)
    values = np.array(rows) if rows else np.zeros((0, output.sizes["element"]))
    return xr.DataArray(values, dims=("facility", "element"),
                        coords={"facility": ids, "element": output["element"].values,
                                "facility_stage": ("facility", stages)})


def _kind(stage: Stage) -> str:
    if stage in PRE_SEPARATION or stage is Stage.SEPARATION:
        return "oxide"
    return str(stage)


def _scale(potential: float, capacity: float | None) -> float:
    """Share of the feed a stage processes: all of it, or what its capacity allows."""
    if potential <= 0.0:
        return 0.0
    if capacity is None:
        return 1.0
    return min(1.0, capacity / potential)


Flows = dict[str, np.ndarray]


@dataclass(frozen=True)
class _Context:
    elements: list[str]
    in_recipe: np.ndarray
    factors: np.ndarray
    recipe: Recipe


def _oxide_step(feed: np.ndarray, spec: StageSpec, ctx: _Context,
                upstream: float) -> tuple[Flows, float]:
    # every element is scaled alike, so the ore's distribution is kept; separation makes
    # no product of REO not broken down by element (the last column): it is residue
    separating = spec.stage is Stage.SEPARATION
    counted = feed[:-1] if separating else feed
    processed = feed * _scale(float(counted.sum()) * spec.recovery, spec.capacity)
    out = processed * spec.recovery
    if separating:
        out[-1] = 0.0
    return {"output": out, "loss": processed - out, "unused": feed - processed}, float(out.sum())


def _metal_step(feed: np.ndarray, spec: StageSpec, ctx: _Context,
                upstream: float) -> tuple[Flows, float]:
    factors = ctx.factors
    eligible = np.where(ctx.in_recipe, feed, 0.0)
    potential = float((eligible * factors).sum()) * spec.recovery
    processed = eligible * _scale(potential, spec.capacity)
    content = processed * factors
    out = content * spec.recovery
    return ({"output": out, "loss": content - out, "oxygen_removed": processed - content,
             "unused": feed - processed}, float(out.sum()))


def _alloy_step(feed: np.ndarray, spec: StageSpec, ctx: _Context,
                upstream: float) -> tuple[Flows, float]:
    recipe = ctx.recipe
    index = {e: i for i, e in enumerate(ctx.elements)}
    # the scarcest component, after recovery, limits the tonnes of alloy [t]
    limits = []
    for component, wt in recipe.wt_pct.items():
        avail = sum(feed[index[e]] for e in recipe.members(component) if e in index)
        limits.append(avail * spec.recovery / (wt / 100.0))
    alloy = min(limits) if limits else 0.0
    if spec.capacity is not None:
        alloy = min(alloy, spec.capacity)
    processed = np.zeros_like(feed)
    for component, wt in recipe.wt_pct.items():
        members = [index[e] for e in recipe.members(component) if e in index]
        avail = feed[members].sum()
        if avail > 0 and spec.recovery > 0:
            need = alloy * wt / 100.0 / spec.recovery
            processed[members] = feed[members] * (need / avail)
    processed = np.minimum(processed, feed)
    out = processed * spec.recovery
    return {"output": out, "loss": processed - out, "unused": feed - processed}, float(alloy)


def _magnet_step(feed: np.ndarray, spec: StageSpec, ctx: _Context,
                 alloy: float) -> tuple[Flows, float]:
    magnets = alloy * spec.recovery
    if spec.capacity is not None:
        magnets = min(magnets, spec.capacity)
    share = magnets / (alloy * spec.recovery) if alloy * spec.recovery > 0 else 0.0
    processed = feed * share
    out = processed * spec.recovery
    return ({"output": out, "scrap": processed - out, "unused": feed - processed},
            float(magnets))


_STEP = {"oxide": _oxide_step, "metal": _metal_step, "alloy": _alloy_step,
         "magnet": _magnet_step}
