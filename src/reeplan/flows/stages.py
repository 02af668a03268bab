"""A country's chain as a sequence of stages, each limited by its capacity and recovery.

Mine, concentrate, crack, separate, metal, alloy, magnet; mass balance checked per stage.

Units: up to separation, tonnes of oxide [t REO]; from the metal stage on, tonnes of
rare-earth metal content [t]. The metal stage removes oxygen with each element's
oxide-to-metal factor; the alloy stage follows a magnet recipe; the magnet stage's losses
are process scrap, reported as a flow available for recycling rather than lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from reeplan.domain import PRE_SEPARATION, Recipe, Stage
from reeplan.errors import ChainDefinitionError
from reeplan.flows.balance import check_mass_balance

__all__ = ["STAGE_ORDER", "StageSpec", "run_stages"]

STAGE_ORDER = (Stage.MINING, Stage.CONCENTRATE, Stage.CRACKING, Stage.SEPARATION,
               Stage.METAL, Stage.ALLOY, Stage.MAGNET)
"""The stages :func:`run_stages` walks, in flow order."""

_FLOWS = ("input", "output", "loss", "unused", "oxygen_removed", "scrap")


@dataclass(frozen=True)
class StageSpec:
    """What one stage can do in the year.

    Attributes
    ----------
    stage
        The stage.
    capacity
        Output capacity [t/yr of the stage's product: t REO up to separation, t metal, t
        alloy, t magnet]; ``None`` when no capacity is published (then it does not bind);
        0 when no plant is online.
    recovery
        Share of each element's processed input reaching the product [fraction].
    """

    stage: Stage
    capacity: float | None
    recovery: float

    def __post_init__(self) -> None:
        """Reject a negative capacity or a recovery outside [0, 1], naming the field."""
        if self.capacity is not None and not self.capacity >= 0:
            raise ChainDefinitionError(f"stage '{self.stage}', field 'capacity': "
                                       f"{self.capacity}; expected a non-negative number")
        if not 0.0 <= self.recovery <= 1.0:
            raise ChainDefinitionError(f"stage '{self.stage}', field 'recovery': "
                                       f"{self.recovery}; expected a fraction in [0, 1]")


def run_stages(
    mined: xr.DataArray,
    specs: Sequence[StageSpec],
    metal_per_oxide: Mapping[str, float],
    recipe: Recipe,
) -> xr.Dataset:
    """Push one year's mine output through the stages in ``specs``.

    Parameters
    ----------
    mined
        Mine output by element [t REO], dimension ``element``.
    specs
        One :class:`StageSpec` per stage after mining, in :data:`STAGE_ORDER`.
    metal_per_oxide
        Oxide-to-metal mass factor of each recipe element [t metal / t oxide].
    recipe
        The alloy the alloy stage makes.

    Returns
    -------
    xarray.Dataset
        Over (stage, element): ``input``, ``output``, ``loss``, ``unused`` (input not
        processed here: sold, stocked or exported as the previous stage's product),
        ``oxygen_removed`` and ``scrap`` [t]; over stage: ``capacity`` and
        ``product`` [t of the stage's product]. Mass balance
        (input = output + loss + unused + oxygen removed + scrap) is checked per stage and
        element.
    """
    _check_specs(specs)
    values = mined.to_numpy().astype(float)
    if (values < 0).any() or not np.isfinite(values).all():
        raise ChainDefinitionError("mine output must be finite and non-negative")
    elements = [str(e) for e in mined["element"].values]
    missing = sorted(e for e in recipe.elements & set(elements) if e not in metal_per_oxide)
    if missing:
        raise ChainDefinitionError(f"no oxide-to-metal factor for {', '.join(missing)}")
    n_st, n_el = len(STAGE_ORDER), len(elements)
    data = {k: np.zeros((n_st, n_el)) for k in _FLOWS}
    product = np.zeros(n_st)
    data["input"][0] = data["output"][0] = values
    product[0] = values.sum()
    ctx = _Context(elements, np.array([e in recipe.elements for e in elements]),
                   np.array([metal_per_oxide.get(e, 1.0) for e in elements]), recipe)
    for i, spec in enumerate(specs, start=1):
        feed = data["output"][i - 1].copy()
        flows, product[i] = _STEP[_kind(spec.stage)](feed, spec, ctx, product[i - 1])
        data["input"][i] = feed
        for k, v in flows.items():
            data[k][i] = v
    stages = [str(s) for s in STAGE_ORDER]
    capacity = [np.nan] + [np.nan if s.capacity is None else s.capacity for s in specs]
    ds = xr.Dataset({k: (("stage", "element"), v) for k, v in data.items()},
                    coords={"stage": stages, "element": elements})
    ds["capacity"] = ("stage", np.array(capacity, dtype=float))
    ds["product"] = ("stage", product)
    check_mass_balance(ds["input"], ds["output"],
                       ds["loss"] + ds["oxygen_removed"] + ds["scrap"], ds["unused"],
                       what="stage chain")
    return ds


def _check_specs(specs: Sequence[StageSpec]) -> None:
    got = [s.stage for s in specs]
    if got != list(STAGE_ORDER[1:]):
        raise ChainDefinitionError(
            f"stages {', '.join(map(str, got))}; expected one spec per stage in the order "
            f"{', '.join(map(str, STAGE_ORDER[1:]))}")


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
    # before separation every element is scaled alike, so the ore's distribution is kept
    processed = feed * _scale(float(feed.sum()) * spec.recovery, spec.capacity)
    out = processed * spec.recovery
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
