"""Magnet-containing products in use: cohorts with lifetimes, end of life, recycling.

Stocks are modelled per product (EV traction motors, wind generators, ...) with flodym's
inflow-driven dynamic stock model, then mapped to elements with the magnets' composition.
Quantities are tonnes of magnet [t] per year unless stated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import xarray as xr

from reeplan.errors import ChainDefinitionError
from reeplan.flows.balance import check_mass_balance

if TYPE_CHECKING:
    import flodym as fd

__all__ = ["Lifetime", "products_in_use", "recycling_supply", "to_elements"]

LifetimeKind = Literal["fixed", "normal", "weibull"]


@dataclass(frozen=True)
class Lifetime:
    """Service life of one product class.

    Attributes
    ----------
    kind
        ``"fixed"`` (every cohort leaves after exactly ``mean`` years), ``"normal"``
        (``mean``, ``std``) or ``"weibull"`` (``scale``, ``shape``).
    mean, std
        Mean and standard deviation [years].
    scale, shape
        Weibull scale [years] and shape [-].
    """

    kind: LifetimeKind
    mean: float | None = None
    std: float | None = None
    scale: float | None = None
    shape: float | None = None

    def __post_init__(self) -> None:
        """Require the parameters of ``kind``, all positive."""
        needed = {"fixed": ("mean",), "normal": ("mean", "std"),
                  "weibull": ("scale", "shape")}[self.kind]
        for name in needed:
            value = getattr(self, name)
            if value is None or not value > 0:
                raise ChainDefinitionError(f"a {self.kind} lifetime needs a positive "
                                           f"'{name}' [years], got {value}")

    def model(self, dims: fd.DimensionSet) -> fd.LifetimeModel:
        """The flodym lifetime model over ``dims``."""
        import flodym as fd  # heavy (scipy.stats): imported only when stocks are computed

        def arr(v: float | None) -> np.ndarray:
            return np.array([float(v or 0.0)])

        if self.kind == "fixed":
            return fd.FixedLifetime(dims=dims, mean=arr(self.mean))
        if self.kind == "normal":
            return fd.NormalLifetime(dims=dims, mean=arr(self.mean), std=arr(self.std))
        return fd.WeibullLifetime(dims=dims, weibull_scale=arr(self.scale),
                                  weibull_shape=arr(self.shape))


def products_in_use(inflow: xr.DataArray, lifetimes: Mapping[str, Lifetime]) -> xr.Dataset:
    """Stock, inflow and end-of-life outflow of products in use, by year and product.

    Parameters
    ----------
    inflow
        Magnets entering use [t/yr] over dimensions ``("year", "product")``; years must be
        consecutive.
    lifetimes
        Service life of each product (:class:`Lifetime`).

    Returns
    -------
    xarray.Dataset
        ``stock`` [t], ``inflow`` and ``outflow`` [t/yr], over (year, product). Mass balance
        (stock change = inflow - outflow, per year and product) is checked.

    Notes
    -----
    flodym (pik-piam/flodym) computes the cohort survival, one product at a time; inflow
    arrives mid-year.
    """
    if inflow.dims != ("year", "product"):
        raise ChainDefinitionError(f"inflow must have dims ('year', 'product'), got {inflow.dims}")
    years = [int(y) for y in inflow["year"].values]
    if years != list(range(years[0], years[0] + len(years))):
        raise ChainDefinitionError("inflow years must be consecutive")
    products = [str(p) for p in inflow["product"].values]
    missing = [p for p in products if p not in lifetimes]
    if missing:
        raise ChainDefinitionError(f"no lifetime for product(s) {', '.join(missing)}")
    if (inflow < 0).any():
        raise ChainDefinitionError("inflow must be non-negative")
    stock = np.zeros((len(years), len(products)))
    outflow = np.zeros_like(stock)
    for j, product in enumerate(products):
        stock[:, j], outflow[:, j] = _one_product(
            years, product, inflow.sel(product=product).values.astype(float), lifetimes[product])
    ds = xr.Dataset({"stock": (("year", "product"), stock),
                     "inflow": (("year", "product"), inflow.values.astype(float)),
                     "outflow": (("year", "product"), outflow)},
                    coords={"year": years, "product": products})
    ds["stock"].attrs["units"] = "t"
    change = ds["stock"].diff("year", label="upper")
    check_mass_balance(ds["inflow"].isel(year=slice(1, None)),
                       ds["outflow"].isel(year=slice(1, None)), stock_change=change,
                       rtol=1e-9, atol=1e-6, what="products in use")
    return ds


def _one_product(years: list[int], product: str, inflow: np.ndarray,
                 lifetime: Lifetime) -> tuple[np.ndarray, np.ndarray]:
    import flodym as fd

    dims = fd.DimensionSet(dim_list=[
        fd.Dimension(name="Time", letter="t", items=years),
        fd.Dimension(name="Product", letter="p", items=[product]),
    ])
    dsm = fd.InflowDrivenDSM(dims=dims, inflow=fd.StockArray(dims=dims, values=inflow[:, None]),
                             lifetime_model=lifetime.model(dims))
    dsm.compute()
    if dsm.stock is None or dsm.outflow is None:  # flodym fills both in compute()
        raise RuntimeError("flodym returned no stock or outflow")
    return dsm.stock.values[:, 0].copy(), dsm.outflow.values[:, 0].copy()


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
