"""Products in use: the textbook steady state, flodym's own normal-lifetime result, recycling."""

from __future__ import annotations

from collections.abc import Callable

import flodym as fd
import numpy as np
import pytest
import xarray as xr

from reeplan.errors import ChainDefinitionError
from reeplan.flows import Lifetime, products_in_use, recycling_supply, to_elements

YEARS = list(range(2000, 2041))


def _inflow(values: list[float]) -> xr.DataArray:
    return xr.DataArray(np.tile(values, (len(YEARS), 1)), dims=("year", "product"),
                        coords={"year": YEARS, "product": ["ev", "wind"][: len(values)]})


def _flodym(inflow: xr.DataArray,
            lifetime: Callable[[fd.DimensionSet], fd.LifetimeModel]) -> fd.InflowDrivenDSM:
    """flodym's own result for one product, as the reference."""
    dims = fd.DimensionSet(dim_list=[fd.Dimension(name="Time", letter="t", items=YEARS),
                                     fd.Dimension(name="Product", letter="p", items=["ev"])])
    ref = fd.InflowDrivenDSM(dims=dims, inflow=fd.StockArray(dims=dims, values=inflow.values),
                             lifetime_model=lifetime(dims))
    ref.compute()
    return ref


def test_textbook_steady_state_stock_is_inflow_times_lifetime() -> None:
    ds = products_in_use(_inflow([10.0, 4.0]), {"ev": Lifetime("fixed", mean=5),
                                                "wind": Lifetime("fixed", mean=20)})
    last = ds.sel(year=2040)
    # constant inflow I, fixed lifetime L: stock -> I x L, outflow -> I
    assert last["stock"].sel(product="ev").item() == pytest.approx(10 * 5)
    assert last["stock"].sel(product="wind").item() == pytest.approx(4 * 20)
    assert last["outflow"].sel(product="ev").item() == pytest.approx(10)
    # before the first cohort retires, nothing leaves
    assert ds["outflow"].sel(product="wind", year=2010).item() == 0.0


def test_normal_lifetime_matches_flodym_directly() -> None:
    inflow = xr.DataArray(np.linspace(1, 41, len(YEARS))[:, None], dims=("year", "product"),
                          coords={"year": YEARS, "product": ["ev"]})
    ours = products_in_use(inflow, {"ev": Lifetime("normal", mean=12.0, std=3.0)})
    ref = _flodym(inflow, lambda dims: fd.NormalLifetime(dims=dims, mean=np.array([12.0]),
                                                         std=np.array([3.0])))
    np.testing.assert_allclose(ours["stock"].values, ref.stock.values, rtol=1e-12)
    np.testing.assert_allclose(ours["outflow"].values, ref.outflow.values, rtol=1e-12)
    # and the normal case tends to the same steady state as the textbook one
    flat = products_in_use(_inflow([10.0]), {"ev": Lifetime("normal", mean=5.0, std=1.5)})
    assert flat["stock"].sel(year=2040).item() == pytest.approx(50.0, rel=1e-3)


def test_recycling_and_element_content_hand_computed() -> None:
    out = xr.DataArray([100.0], dims="year", coords={"year": [2030]})
    rec = recycling_supply(out, collection_rate=0.5, recovery_rate=0.9)
    assert rec.item() == pytest.approx(45.0)  # 100 x 0.5 x 0.9
    nd = to_elements(rec, {"Nd": 26.68, "Dy": 1.0}).sel(element="Nd")
    assert nd.item() == pytest.approx(45.0 * 0.2668)


def test_weibull_lifetime_matches_flodym_directly() -> None:
    """EV traction motors, Weibull scale 15.5 years and shape 3.6 (product_lifetimes)."""
    inflow = xr.DataArray(np.linspace(1, 41, len(YEARS))[:, None], dims=("year", "product"),
                          coords={"year": YEARS, "product": ["ev"]})
    ours = products_in_use(inflow, {"ev": Lifetime("weibull", scale=15.5, shape=3.6)})
    ref = _flodym(inflow, lambda dims: fd.WeibullLifetime(
        dims=dims, weibull_scale=np.array([15.5]), weibull_shape=np.array([3.6])))
    np.testing.assert_allclose(ours["outflow"].values, ref.outflow.values, rtol=1e-12)


def test_bad_stock_inputs() -> None:
    with pytest.raises(ChainDefinitionError, match="no lifetime for product"):
        products_in_use(_inflow([1.0, 1.0]), {"ev": Lifetime("fixed", mean=5)})
    with pytest.raises(ChainDefinitionError, match="needs a positive 'std'"):
        Lifetime("normal", mean=5.0)
    with pytest.raises(ChainDefinitionError, match="needs a positive 'shape'"):
        Lifetime("weibull", scale=10.0, shape=0.0)


def test_bad_rates() -> None:
    with pytest.raises(ChainDefinitionError, match="collection_rate"):
        recycling_supply(xr.DataArray([1.0]), 1.5, 0.9)
