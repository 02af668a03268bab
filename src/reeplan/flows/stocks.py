"""Magnet-containing products in use: cohorts with lifetimes, end of life, recycling.

Stocks are modelled per product (EV traction motors, wind generators, ...) with flodym's
inflow-driven dynamic stock model, then mapped to elements with the magnets' composition.
Quantities are tonnes of magnet [t] per year unless stated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import flodym as fd
import numpy as np
import xarray as xr

from reeplan.errors import ChainDefinitionError
from reeplan.flows.balance import check_mass_balance

__all__ = ["products_in_use", "recycling_supply", "to_elements"]

LifetimeKind = Literal["fixed", "normal"]


def products_in_use(
    inflow: xr.DataArray,
    mean_lifetime: Mapping[str, float],
    std_lifetime: Mapping[str, float] | None = None,
    *,
    kind: LifetimeKind = "normal",
) -> xr.Dataset:
    """Stock, inflow and end-of-life outflow of products in use, by year and product.

    Parameters
    ----------
    inflow
        Magnets entering use [t/yr] over dimensions ``("year", "product")``; years must be
        consecutive.
    mean_lifetime
        Mean service life per product [years].
    std_lifetime
        Standard deviation per product [years]; required for ``kind="normal"``.
    kind
        ``"fixed"`` (every cohort leaves after exactly its mean life) or ``"normal"``.

    Returns
    -------
    xarray.Dataset
        ``stock`` [t], ``inflow`` and ``outflow`` [t/yr], over (year, product). Mass balance
        (stock change = inflow - outflow, per year and product) is checked.

    Notes
    -----
    flodym (pik-piam/flodym) computes the cohort survival; inflow arrives mid-year.
    """
    if inflow.dims != ("year", "product"):
        raise ChainDefinitionError(f"inflow must have dims ('year', 'product'), got {inflow.dims}")
    years = [int(y) for y in inflow["year"].values]
    if years != list(range(years[0], years[0] + len(years))):
        raise ChainDefinitionError("inflow years must be consecutive")
    products = [str(p) for p in inflow["product"].values]
    missing = [p for p in products if p not in mean_lifetime]
    if missing:
        raise ChainDefinitionError(f"no mean lifetime for product(s) {', '.join(missing)}")
    if (inflow < 0).any():
        raise ChainDefinitionError("inflow must be non-negative")
    dims = fd.DimensionSet(dim_list=[
        fd.Dimension(name="Time", letter="t", items=years),
        fd.Dimension(name="Product", letter="p", items=products),
    ])
    mean = np.array([mean_lifetime[p] for p in products], dtype=float)
    model: fd.LifetimeModel
    if kind == "fixed":
        model = fd.FixedLifetime(dims=dims, mean=mean)
    else:
        if std_lifetime is None:
            raise ChainDefinitionError("a normal lifetime needs std_lifetime per product")
        std = np.array([std_lifetime[p] for p in products], dtype=float)
        model = fd.NormalLifetime(dims=dims, mean=mean, std=std)
    dsm = fd.InflowDrivenDSM(dims=dims, inflow=fd.StockArray(dims=dims,
                                                             values=inflow.values.astype(float)),
                             lifetime_model=model)
    dsm.compute()
    if dsm.stock is None or dsm.outflow is None:  # flodym fills both in compute()
        raise RuntimeError("flodym returned no stock or outflow")
    coords = {"year": years, "product": products}
    ds = xr.Dataset({
        "stock": (("year", "product"), dsm.stock.values.copy()),
        "inflow": (("year", "product"), inflow.values.astype(float)),
        "outflow": (("year", "product"), dsm.outflow.values.copy()),
    }, coords=coords)
    ds["stock"].attrs["units"] = "t"
    change = ds["stock"].diff("year", label="upper")
    check_mass_balance(ds["inflow"].isel(year=slice(1, None)),
                       ds["outflow"].isel(year=slice(1, None)), stock_change=change,
                       rtol=1e-9, atol=1e-6, what="products in use")
    return ds


def recycling_supply(
    outflow: xr.DataArray, collection_rate: float | xr.DataArray,
    recovery_rate: float | xr.DataArray,
) -> xr.DataArray:
    r"""Magnet material recovered from end-of-life products [t/yr].

    .. math:: R = O \cdot c \cdot r

    Parameters
    ----------
    outflow
        End-of-life magnets [t/yr].
    collection_rate
        Share of end-of-life products collected for magnet recovery [fraction].
    recovery_rate
        Share of collected magnet material recovered [fraction].
    """
    for name, rate in (("collection_rate", collection_rate), ("recovery_rate", recovery_rate)):
        values = np.asarray(rate)
        if (values < 0).any() or (values > 1).any():
            raise ChainDefinitionError(f"{name} must be within [0, 1]")
    return (outflow * collection_rate * recovery_rate).rename("recycled")


def to_elements(magnets: xr.DataArray, composition_wt_pct: Mapping[str, float]) -> xr.DataArray:
    """Element content of a magnet flow or stock [t], from its composition [wt%].

    Adds an ``element`` dimension; e.g. 100 t of magnet at 30 wt% Nd holds 30 t of Nd.
    """
    elements = list(composition_wt_pct)
    share = xr.DataArray([composition_wt_pct[e] / 100 for e in elements], dims="element",
                         coords={"element": elements})
    return magnets * share
