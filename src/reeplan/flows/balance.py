"""Mass balance: inputs = outputs + losses + stock change, checked on every result."""

from __future__ import annotations

import xarray as xr

from reeplan.errors import MassBalanceError

__all__ = ["DEFAULT_RTOL", "check_mass_balance"]

DEFAULT_RTOL = 1e-9
"""Relative tolerance of the balance check [fraction of the inputs]."""


def check_mass_balance(
    inputs: xr.DataArray,
    outputs: xr.DataArray,
    losses: xr.DataArray | float = 0.0,
    stock_change: xr.DataArray | float = 0.0,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = 1e-9,
    what: str = "flow",
) -> None:
    """Raise :class:`MassBalanceError` unless inputs = outputs + losses + stock change.

    The check runs element-wise over every label (element, facility, year, ...); arrays are
    aligned with ``join="exact"``, so mismatched labels raise rather than being dropped.

    Parameters
    ----------
    inputs, outputs, losses, stock_change
        Quantities [t] with the same dimensions and labels.
    rtol, atol
        Tolerances: a cell passes when ``|imbalance| <= atol + rtol * |inputs|``.
    what
        Name of the computation, used in the message.

    Raises
    ------
    MassBalanceError
        Naming the worst offending cells (up to five) and their imbalance [t].
    """
    with xr.set_options(arithmetic_join="exact"):
        try:
            imbalance = inputs - (outputs + losses + stock_change)
        except ValueError as err:
            raise MassBalanceError(f"{what}: labels of inputs and outputs differ ({err})") from err
    limit = atol + rtol * abs(inputs)
    bad = abs(imbalance) > limit
    if not bool(bad.any()):
        return
    flat = abs(imbalance).where(bad).to_series().dropna().sort_values(ascending=False)
    worst = "; ".join(f"{idx}: {imbalance.to_series()[idx]:+.6g} t" for idx in flat.index[:5])
    raise MassBalanceError(
        f"{what}: mass is not conserved in {int(bad.sum())} cell(s) "
        f"(tolerance {rtol:g} relative); worst: {worst}"
    )
