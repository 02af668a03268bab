"""The stage engine: a deposit through separation, metal, alloy and magnet, by hand."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

from reeplan.domain import Recipe, Stage, StageChain
from reeplan.errors import ChainDefinitionError
from reeplan.flows.stages import STAGE_ORDER, StageSpec, run_chain

FACTORS = {"Nd": 0.857, "Pr": 0.828, "Dy": 0.871}
RECIPE = Recipe("test", {"Nd": 30.0, "Dy": 1.0})


def _mined(nd: float = 100.0, dy: float = 2.0, ce: float = 200.0) -> xr.DataArray:
    return xr.DataArray([nd, dy, ce], dims="element", coords={"element": ["Nd", "Dy", "Ce"]})


def _specs(caps: dict[Stage, float | None] | None = None,
           rec: dict[Stage, float] | None = None) -> tuple[StageChain, dict[Stage, float | None]]:
    recovery = {Stage.CONCENTRATE: 1.0, Stage.CRACKING: 0.9, Stage.SEPARATION: 0.9,
                Stage.METAL: 0.9, Stage.ALLOY: 1.0, Stage.MAGNET: 0.8} | (rec or {})
    return StageChain(recovery), dict(caps or {})


def run_stages(mined: xr.DataArray, specs: tuple[StageChain, dict[Stage, float | None]],
               factors: dict[str, float], recipe: Recipe) -> xr.Dataset:
    chain, caps = specs
    return run_chain(mined, chain, caps, factors, recipe)


def test_deposit_to_magnet_by_hand() -> None:
    ds = run_stages(_mined(), _specs(), FACTORS, RECIPE)
    out = ds["output"]
    # cracking 0.9 and separation 0.9: 100 -> 81 t Nd2O3, 2 -> 1.62 t Dy2O3, 200 -> 162 t CeO2
    assert float(out.sel(stage="separation", element="Nd")) == pytest.approx(81.0)
    assert float(out.sel(stage="separation", element="Ce")) == pytest.approx(162.0)
    # metal: oxide x factor x 0.9; Ce is not a magnet metal and stays unused as oxide
    nd_metal = 81.0 * 0.857 * 0.9
    dy_metal = 1.62 * 0.871 * 0.9
    assert float(out.sel(stage="metal", element="Nd")) == pytest.approx(nd_metal)
    assert float(ds["unused"].sel(stage="metal", element="Ce")) == pytest.approx(162.0)
    assert float(ds["oxygen_removed"].sel(stage="metal", element="Nd")) == pytest.approx(
        81.0 * (1 - 0.857))
    # alloy: Dy is scarce, 1 wt% of the alloy -> 126.99 t alloy; Nd left over
    alloy = min(nd_metal / 0.30, dy_metal / 0.01)
    assert alloy == pytest.approx(dy_metal / 0.01)
    assert float(ds["product"].sel(stage="alloy")) == pytest.approx(alloy)
    assert float(out.sel(stage="alloy", element="Nd")) == pytest.approx(0.30 * alloy)
    assert float(ds["unused"].sel(stage="alloy", element="Nd")) == pytest.approx(
        nd_metal - 0.30 * alloy)
    # magnet: 80% yield, the rest is process scrap, not lost
    assert float(ds["product"].sel(stage="magnet")) == pytest.approx(0.8 * alloy)
    assert float(ds["scrap"].sel(stage="magnet", element="Nd")) == pytest.approx(
        0.2 * 0.30 * alloy)
    assert float(ds["loss"].sel(stage="magnet").sum()) == 0.0


def test_capacity_binds_and_keeps_distribution_before_separation() -> None:
    ds = run_stages(_mined(), _specs({Stage.CRACKING: 151.2}), FACTORS, RECIPE)
    # cracking could make 0.9 x 302 = 271.8 t; capacity 151.2 is 5/9 of it, for every element
    out = ds["output"].sel(stage="cracking")
    assert float(out.sum()) == pytest.approx(151.2)
    assert float(out.sel(element="Nd") / out.sum()) == pytest.approx(100 / 302)
    assert float(ds["unused"].sel(stage="cracking", element="Ce")) == pytest.approx(
        200 * (1 - 151.2 / 271.8))


def test_substitute_elements_supply_a_component() -> None:
    mined = xr.DataArray([75.0, 25.0, 5.0], dims="element",
                         coords={"element": ["Nd", "Pr", "Dy"]})
    recipe = Recipe("didymium", {"Nd": 30.0, "Dy": 1.0}, {"Nd": ("Nd", "Pr")})
    ones = dict.fromkeys(STAGE_ORDER[1:], 1.0)
    ds = run_stages(mined, _specs(rec=ones), {"Nd": 1.0, "Pr": 1.0, "Dy": 1.0}, recipe)
    # 100 t NdPr at 30 wt% -> 333.3 t alloy; Dy 5 t would allow 500 t: NdPr limits
    assert float(ds["product"].sel(stage="alloy")) == pytest.approx(100 / 0.30)
    assert float(ds["output"].sel(stage="alloy", element="Pr")) == pytest.approx(25.0)


def test_bad_capacity_names_the_field() -> None:
    with pytest.raises(ChainDefinitionError, match="stage 'metal', field 'capacity'"):
        StageSpec(Stage.METAL, -1.0, 0.5)


@pytest.mark.parametrize("bad", [0.0, 1.2, -0.1])
def test_bad_recovery_names_the_stage(bad: float) -> None:
    chain, _ = _specs()
    with pytest.raises(ChainDefinitionError, match="stage 'metal', field 'recovery'"):
        StageChain({**chain.recovery, Stage.METAL: bad})


def test_each_plant_gets_its_share_of_its_stage() -> None:
    """Two separation plants of 100 and 300 t/yr share the stage's output 1:3."""
    chain, _ = _specs()
    plants = {Stage.SEPARATION: {"a": 100.0, "b": 300.0}}
    ds = run_chain(_mined(), chain, {Stage.SEPARATION: 400.0}, FACTORS, RECIPE, plants)
    out = ds["facility_output"]
    sep = ds["output"].sel(stage="separation")
    assert np.allclose(out.sel(facility="a"), sep * 0.25)
    assert np.allclose(out.sel(facility="b"), sep * 0.75)
    assert list(out["facility_stage"].values) == ["separation", "separation"]


def test_unassigned_ore_leaves_separation_as_residue() -> None:
    """10 t REO without an element breakdown follow the ore to separation, then leave it."""
    chain, _ = _specs()
    ds = run_chain(_mined(), chain, {}, FACTORS, RECIPE, unassigned=10.0)
    rest = ds["unassigned"]
    assert float(rest.sel(stage="cracking", flow="output")) == pytest.approx(10 * 0.9)
    assert float(rest.sel(stage="separation", flow="output")) == 0.0
    assert float(rest.sel(stage="separation", flow="loss")) == pytest.approx(9.0)
    assert "unassigned" not in ds["element"]


positive = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)


@given(st.lists(positive, min_size=3, max_size=3), st.floats(0.01, 100.0),
       st.lists(st.floats(0.01, 1.0), min_size=6, max_size=6))
def test_conserves_mass_and_scales_linearly(mined: list[float], k: float,
                                            rec: list[float]) -> None:
    specs = _specs(rec=dict(zip(STAGE_ORDER[1:], rec, strict=True)))
    base = run_stages(_mined(*mined), specs, FACTORS, RECIPE)  # raises on imbalance
    scaled = run_stages(_mined(*(k * m for m in mined)), specs, FACTORS, RECIPE)
    for var in ("output", "loss", "unused", "scrap", "oxygen_removed"):
        np.testing.assert_allclose(scaled[var].values, k * base[var].values, rtol=1e-9,
                                   atol=1e-9)
    total_in = base["input"].sel(stage="separation").sum()
    total_out = sum(base[v].sel(stage="separation").sum() for v in
                    ("output", "loss", "unused", "scrap", "oxygen_removed"))
    assert float(abs(total_in - total_out)) <= 1e-9 * max(float(total_in), 1.0)
