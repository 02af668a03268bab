"""Run an assembled chain for one year: element-resolved flows through every facility.

Units: mining to separation carry tonnes of oxide [t REO]; from the metal stage on, tonnes
of rare-earth metal content [t]. The metal stage converts with each element's
oxide-to-metal factor (``elements.metal_per_oxide``), so oxygen leaves the balance there
explicitly rather than as a "loss".

Each facility takes its feed facility's output (split between the plants that share a feed
in proportion to their capacity), processes up to its capacity, keeps the rest as stock,
and passes on ``input x recovery``. Mass balance (input = output + loss + stock change, per
facility and element) is checked on every run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np
import xarray as xr

from reeplan.domain import Chain, Facility, Stage
from reeplan.errors import ChainDefinitionError
from reeplan.flows.balance import check_mass_balance

__all__ = ["run_chain"]


def run_chain(
    chain: Chain,
    metal_per_oxide: Mapping[str, float],
    mine_utilisation: Mapping[str, float] | None = None,
) -> xr.Dataset:
    """Compute one year's flows through ``chain``.

    Parameters
    ----------
    chain
        An assembled :class:`~reeplan.domain.Chain`.
    metal_per_oxide
        Oxide-to-metal mass factor per element [t metal / t oxide].
    mine_utilisation
        Share of each mine's capacity used [fraction]; 1 when omitted.

    Returns
    -------
    xarray.Dataset
        Variables ``input``, ``output``, ``loss``, ``stock_change`` and, at the metal stage,
        ``oxygen_removed`` [t], each over (facility, element), with coordinate ``stage``
        on ``facility``.
    """
    elements = sorted({e for d in chain.deposits.values() for e in d.distribution})
    facilities = chain.downstream_order()
    ids = [f.id for f in facilities]
    shape = (len(ids), len(elements))
    data = {k: np.zeros(shape) for k in ("input", "output", "loss", "stock_change",
                                          "oxygen_removed")}
    out_by_id: dict[str, np.ndarray] = {}
    takers = _takers(facilities)
    factors = np.array([_factor(metal_per_oxide, e) for e in elements])
    for i, f in enumerate(facilities):
        feed = _feed(f, chain, elements, out_by_id, takers, mine_utilisation)
        processed = _within_capacity(f, feed)
        recovery = np.array([f.recovery_of(e) for e in elements])
        if f.stage is Stage.METAL:
            content = processed * factors
            data["oxygen_removed"][i] = processed - content
            out = content * recovery
            data["loss"][i] = content - out
        else:
            out = processed * recovery
            data["loss"][i] = processed - out
        data["input"][i] = feed
        data["output"][i] = out
        data["stock_change"][i] = feed - processed
        out_by_id[f.id] = out
    coords = {"facility": ids, "element": elements,
              "stage": ("facility", [str(f.stage) for f in facilities])}
    ds = xr.Dataset({k: (("facility", "element"), v) for k, v in data.items()}, coords=coords)
    check_mass_balance(ds["input"], ds["output"], ds["loss"] + ds["oxygen_removed"],
                       ds["stock_change"], what="chain run")
    return ds


def _factor(metal_per_oxide: Mapping[str, float], element: str) -> float:
    if element not in metal_per_oxide:
        raise ChainDefinitionError(f"no oxide-to-metal factor for element '{element}'")
    return float(metal_per_oxide[element])


def _takers(facilities: list[Facility]) -> dict[str, float]:
    """Total capacity of the plants that share each feed [t/yr]."""
    total: dict[str, float] = defaultdict(float)
    for f in facilities:
        if f.stage is not Stage.MINING:
            total[f.feed] += f.capacity
    return total


def _feed(
    f: Facility, chain: Chain, elements: list[str], out_by_id: Mapping[str, np.ndarray],
    takers: Mapping[str, float], utilisation: Mapping[str, float] | None,
) -> np.ndarray:
    if f.stage is Stage.MINING:
        u = 1.0 if utilisation is None else utilisation.get(f.id, 1.0)
        if not 0.0 <= u <= 1.0:
            raise ChainDefinitionError(f"facility '{f.id}': utilisation {u} outside [0, 1]")
        dist = chain.deposits[f.feed].distribution
        return np.array([f.capacity * u * dist.get(e, 0.0) for e in elements])
    share = f.capacity / takers[f.feed] if takers[f.feed] > 0 else 0.0
    return out_by_id[f.feed] * share


def _within_capacity(f: Facility, feed: np.ndarray) -> np.ndarray:
    """Feed actually processed: capacity binds on total input (or total output, for mines)."""
    if f.stage is Stage.MINING:
        return feed
    total = float(feed.sum())
    if total <= f.capacity or total == 0.0:
        return feed
    # the same fraction of every element is processed, so a feed's distribution is kept
    return feed * (f.capacity / total)
