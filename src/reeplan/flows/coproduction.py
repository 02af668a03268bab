"""Co-production before separation: every tonne carries its deposit's element distribution.

This is the *balance problem*: making more Nd means making more Ce and La, in the fixed
ratios of the ore. Quantities are tonnes of rare-earth oxide [t REO] unless stated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from reeplan.data.selection import best_distribution
from reeplan.errors import ChainDefinitionError
from reeplan.flows.balance import check_mass_balance

__all__ = ["UNASSIGNED", "best_distribution", "coproduce", "distribution_from_table",
           "feed_for_element", "magnet_oxide_demand", "unassigned_share"]

DISTRIBUTION_TOL = 0.01
"""How far a distribution may sum from 1 [fraction] before it is rejected."""
UNASSIGNED = "unassigned"
"""Attribute of a partial distribution: the share of TREO it does not break down by
element [fraction]. It is not an element: it is carried beside the element flows."""


def distribution_from_table(table: pd.DataFrame, distribution_id: str) -> xr.DataArray:
    """Read one element distribution from the ``element_distributions`` table.

    Parameters
    ----------
    table
        The fact-base table (columns distribution_id, element, value [% of TREO]).
    distribution_id
        Which distribution.

    Returns
    -------
    xarray.DataArray
        Mass fractions of total REO [fraction] along dimension ``element``. A complete
        distribution (every element listed) is scaled to sum to 1, as its shares are
        rounded (Bayan Obo's sum to 99.6%). A partial one (``complete`` false) keeps the
        share it does not break down in the attribute ``unassigned`` [fraction of TREO],
        never as an element, so shares stay shares of TREO and mass is conserved.
    """
    rows = table[table["distribution_id"] == distribution_id]
    if rows.empty:
        known = sorted(set(table["distribution_id"]))
        raise ChainDefinitionError(f"unknown distribution '{distribution_id}'; expected one "
                                   f"of {', '.join(known)}")
    elements = rows["element"].to_list()
    values = list(rows["value"].to_numpy(float) / 100.0)
    rest = 0.0
    if bool(rows["complete"].iloc[0]):  # every element listed: rounding spread pro rata
        total = sum(values)
        values = [v / total for v in values]
    else:
        rest = 1.0 - sum(values)
        if rest < -DISTRIBUTION_TOL:
            raise ChainDefinitionError(f"distribution '{distribution_id}' sums to "
                                       f"{100 * sum(values):.2f}%; expected at most 100%")
    return xr.DataArray(values, dims="element", coords={"element": elements},
                        name="share_of_treo", attrs={"units": "fraction of TREO",
                                                     "source_id": rows["source_id"].iloc[0],
                                                     UNASSIGNED: max(rest, 0.0)})


def unassigned_share(distribution: xr.DataArray) -> float:
    """Share of TREO a distribution leaves without an element [fraction]; 0 if complete."""
    return float(distribution.attrs.get(UNASSIGNED, 0.0))


def _validated(distribution: xr.DataArray, what: str) -> xr.DataArray:
    values = distribution.to_numpy()
    if distribution.dims != ("element",):
        raise ChainDefinitionError(f"{what}: expected a 1-D array along 'element'")
    if (values < 0).any() or not np.isfinite(values).all():
        raise ChainDefinitionError(f"{what}: element shares must be finite and non-negative")
    total = float(values.sum()) + unassigned_share(distribution)
    if abs(total - 1.0) > DISTRIBUTION_TOL:
        raise ChainDefinitionError(
            f"{what}: element distribution sums to {100 * total:.2f}%; expected 100% within "
            f"{100 * DISTRIBUTION_TOL:g} points"
        )
    out = distribution / total
    out.attrs = {**distribution.attrs, UNASSIGNED: unassigned_share(distribution) / total}
    return out


def coproduce(feed: float | xr.DataArray, distribution: xr.DataArray) -> xr.DataArray:
    r"""Split a mixed feed [t REO] into its elements, locked to the ore's distribution.

    .. math:: q_e = F \cdot d_e / \sum_k d_k

    Parameters
    ----------
    feed
        Total REO entering separation [t REO]; may carry other dimensions (year, facility).
    distribution
        Element shares of the ore [fraction], summing to 1 within 1 point (renormalised).

    Returns
    -------
    xarray.DataArray
        Oxide by element [t REO], with the feed's other dimensions; the part a partial
        distribution does not break down is in the attribute ``unassigned`` [t REO].

    Examples
    --------
    >>> d = xr.DataArray([0.5, 0.5], dims="element", coords={"element": ["La", "Ce"]})
    >>> coproduce(10.0, d).values.tolist()
    [5.0, 5.0]
    """
    if np.any(np.asarray(feed) < 0):
        raise ChainDefinitionError("feed must be non-negative")
    d = _validated(distribution, "coproduce")
    out = (feed * d).rename("oxide")
    rest = feed * unassigned_share(d)
    check_mass_balance(xr.DataArray(feed), out.sum("element") + rest, what="co-production")
    out.attrs = {UNASSIGNED: rest}
    return out


def feed_for_element(distribution: xr.DataArray, element: str, tonnes: float) -> float:
    """Total REO to mine and crack [t REO] to obtain ``tonnes`` of one element's oxide.

    .. math:: F = q_e / d_e

    Raises
    ------
    ChainDefinitionError
        When the ore holds none of ``element``.
    """
    d = _validated(distribution, "feed_for_element")
    if element not in d["element"]:
        raise ChainDefinitionError(f"the distribution has no '{element}'")
    share = float(d.sel(element=element))
    if share <= 0:
        raise ChainDefinitionError(f"the distribution holds no '{element}'")
    return tonnes / share


def magnet_oxide_demand(
    magnet_tonnes: float,
    composition_wt_pct: dict[str, float],
    metal_per_oxide: dict[str, float],
    *,
    magnet_yield: float = 1.0,
    metal_yield: float = 1.0,
) -> xr.DataArray:
    r"""Oxide needed [t REO] per element to make ``magnet_tonnes`` of magnets.

    .. math:: O_e = \frac{M \cdot w_e / 100}{y_{magnet} \cdot y_{metal} \cdot f_e}

    with :math:`w_e` the element's mass fraction in the magnet [wt%], :math:`f_e` the metal
    mass per oxide mass, and the yields of metal making and of alloy-to-magnet (process
    scrap that is not returned is lost).

    Parameters
    ----------
    magnet_tonnes
        Finished magnets [t].
    composition_wt_pct
        Rare-earth elements of the magnet and their mass fractions [wt%].
    metal_per_oxide
        Oxide-to-metal mass factors [t metal / t oxide] (``elements`` table).
    magnet_yield, metal_yield
        Fractions (0, 1] of input that ends in the product at each step.
    """
    for name, y in (("magnet_yield", magnet_yield), ("metal_yield", metal_yield)):
        if not 0 < y <= 1:
            raise ChainDefinitionError(f"{name} must be in (0, 1], got {y}")
    elements = list(composition_wt_pct)
    metal = np.array([magnet_tonnes * composition_wt_pct[e] / 100 for e in elements])
    factors = np.array([metal_per_oxide[e] for e in elements])
    oxide = metal / (magnet_yield * metal_yield * factors)
    return xr.DataArray(oxide, dims="element", coords={"element": elements}, name="oxide",
                        attrs={"units": "t REO"})
