"""Co-production (the balance problem) and the mass-balance check, by hand and by property."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

from reeplan.data import FactBase
from reeplan.errors import ChainDefinitionError, MassBalanceError
from reeplan.flows import (
    check_mass_balance,
    coproduce,
    distribution_from_table,
    feed_for_element,
    magnet_oxide_demand,
)


def _dist(**shares: float) -> xr.DataArray:
    return xr.DataArray(list(shares.values()), dims="element",
                        coords={"element": list(shares)})


def test_coproduce_hand_computed() -> None:
    out = coproduce(200.0, _dist(La=0.25, Ce=0.5, Nd=0.25))
    assert out.sel(element="Ce").item() == pytest.approx(100.0)
    assert out.sel(element="Nd").item() == pytest.approx(50.0)


def test_balance_problem_on_lovozero(facts: FactBase) -> None:
    """Ce and La that come with the Nd for 1,000 t of NdFeB magnets, from Lovozero ore."""
    table = facts.tables["element_distributions"]
    lov = table[table["distribution_id"] == "lovozero_loparite_approx"].set_index("element")
    nd_share, ce_share, la_share = (lov.loc[e, "value"] / 100 for e in ("Nd", "Ce", "La"))
    comp = facts.tables["magnet_composition"].query("material == 'NdFeB_stoichiometric'")
    nd_wt = comp.set_index("component").loc["Nd", "value"]
    el = facts.tables["elements"].set_index("symbol")
    nd_factor = el.loc["Nd", "metal_per_oxide"]
    # by hand: 1,000 t magnet x 26.68% Nd = 266.8 t Nd metal; / 0.85736 = Nd2O3 needed
    nd_oxide = 1_000 * nd_wt / 100 / nd_factor
    assert nd_oxide == pytest.approx(311.19, abs=0.01)
    treo = nd_oxide / nd_share                      # 311.19 / 0.15 = 2,074.6 t REO
    ce_by_hand, la_by_hand = treo * ce_share, treo * la_share  # 1,037.3 and 518.6 t

    need = magnet_oxide_demand(1_000, {"Nd": nd_wt}, el["metal_per_oxide"].to_dict())
    dist = distribution_from_table(table, "lovozero_loparite_approx")
    feed = feed_for_element(dist, "Nd", need.sel(element="Nd").item())
    out = coproduce(feed, dist)
    assert feed == pytest.approx(treo, rel=1e-12)
    assert out.sel(element="Ce").item() == pytest.approx(ce_by_hand, rel=1e-12)
    assert out.sel(element="La").item() == pytest.approx(la_by_hand, rel=1e-12)
    assert ce_by_hand == pytest.approx(1037.3, abs=0.1)
    # the partial distribution keeps its remainder beside the elements: mass is conserved
    assert "unlisted" not in out["element"] and "unassigned" not in out["element"]
    assert out.attrs["unassigned"] == pytest.approx(feed * 0.036, rel=1e-9)
    assert out.sum().item() + out.attrs["unassigned"] == pytest.approx(feed, rel=1e-12)


def test_magnet_yields_raise_oxide_need() -> None:
    base = magnet_oxide_demand(100, {"Nd": 30}, {"Nd": 0.8})
    lossy = magnet_oxide_demand(100, {"Nd": 30}, {"Nd": 0.8}, magnet_yield=0.8, metal_yield=0.8)
    # 100 x 0.30 / 0.8 = 37.5 t oxide; with two 80% yields: 37.5 / 0.64 = 58.59375
    assert base.item() == pytest.approx(37.5)
    assert lossy.item() == pytest.approx(58.59375)


@pytest.mark.parametrize("bad", [_dist(La=0.5, Ce=0.3), _dist(La=0.7, Ce=0.5),
                                 _dist(La=-0.1, Ce=1.1)])
def test_bad_distributions_raise(bad: xr.DataArray) -> None:
    with pytest.raises(ChainDefinitionError):
        coproduce(10.0, bad)


def test_bad_yield_raises() -> None:
    with pytest.raises(ChainDefinitionError, match="magnet_yield"):
        magnet_oxide_demand(1, {"Nd": 30}, {"Nd": 0.8}, magnet_yield=1.2)


def test_mass_balance_names_worst_offender() -> None:
    idx = {"element": ["La", "Ce", "Nd"]}
    inputs = xr.DataArray([10.0, 20.0, 30.0], dims="element", coords=idx)
    outputs = xr.DataArray([10.0, 19.0, 30.0], dims="element", coords=idx)
    with pytest.raises(MassBalanceError, match=r"Ce: \+1 t"):
        check_mass_balance(inputs, outputs, what="test")
    check_mass_balance(inputs, outputs, losses=xr.DataArray([0.0, 1.0, 0.0], dims="element",
                                                            coords=idx))


def test_mass_balance_mismatched_labels_raise() -> None:
    a = xr.DataArray([1.0], dims="element", coords={"element": ["La"]})
    b = xr.DataArray([1.0], dims="element", coords={"element": ["Ce"]})
    with pytest.raises(MassBalanceError, match="labels"):
        check_mass_balance(a, b)


shares_strategy = st.lists(st.floats(0.01, 10), min_size=1, max_size=17)


@given(shares_strategy, st.floats(0, 1e6), st.floats(0.01, 100))
def test_coproduce_conserves_mass_and_is_linear(raw: list[float], feed: float,
                                                k: float) -> None:
    w = np.array(raw) / sum(raw)
    d = xr.DataArray(w, dims="element", coords={"element": [f"E{i}" for i in range(len(w))]})
    out = coproduce(feed, d)
    assert out.sum().item() == pytest.approx(feed, rel=1e-9, abs=1e-9)
    scaled = coproduce(feed * k, d)
    np.testing.assert_allclose(scaled.values, k * out.values, rtol=1e-9, atol=1e-9)
