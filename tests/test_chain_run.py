"""A small chain computed by hand: deposit -> mine -> concentrate -> crack -> separate ->
metal -> alloy -> magnet, plus capacity limits, bad definitions and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reeplan.domain import Chain, Deposit, Facility, Stage
from reeplan.errors import ChainDefinitionError
from reeplan.flows import run_chain

FACTORS = {"La": 0.85268, "Ce": 0.81409, "Nd": 0.85736}


def _chain(mine_cap: float = 1_000.0, conc_cap: float = 5_000.0, cap: float = 5_000.0) -> Chain:
    dep = Deposit(id="d", country="RUS", distribution={"La": 0.3, "Ce": 0.5, "Nd": 0.2})
    fac = [
        Facility(id="mine", stage=Stage.MINING, country="RUS", capacity=mine_cap, feed="d"),
        Facility(id="conc", stage=Stage.CONCENTRATE, country="RUS", capacity=conc_cap,
                 feed="mine", recovery={"*": 0.8}),
        Facility(id="crack", stage=Stage.CRACKING, country="RUS", capacity=cap,
                 feed="conc", recovery={"*": 0.9}),
        Facility(id="sep", stage=Stage.SEPARATION, country="RUS", capacity=cap, feed="crack",
                 recovery={"La": 0.9, "Ce": 0.9, "Nd": 0.95}),
        Facility(id="metal", stage=Stage.METAL, country="RUS", capacity=cap, feed="sep",
                 recovery={"Nd": 0.8, "*": 0.0}),
        Facility(id="alloy", stage=Stage.ALLOY, country="RUS", capacity=cap, feed="metal",
                 recovery={"*": 0.95}),
        Facility(id="magnet", stage=Stage.MAGNET, country="RUS", capacity=cap, feed="alloy",
                 recovery={"*": 0.9}),
    ]
    return Chain.assemble([dep], reversed(fac))  # order of listing must not matter


def test_hand_computed_chain() -> None:
    ds = run_chain(_chain(), FACTORS)
    out = ds["output"]
    # mine: 1,000 t REO split 30/50/20
    assert out.sel(facility="mine").values.tolist() == pytest.approx([500, 300, 200])  # Ce La Nd
    # concentrate x0.8, cracking x0.9: Nd 200 * 0.8 * 0.9 = 144
    assert out.sel(facility="crack", element="Nd").item() == pytest.approx(144.0)
    # separation: Nd 144 * 0.95 = 136.8 t Nd2O3; Ce 360 * 0.9 = 324
    assert out.sel(facility="sep", element="Nd").item() == pytest.approx(136.8)
    assert out.sel(facility="sep", element="Ce").item() == pytest.approx(324.0)
    # metal: 136.8 t oxide * 0.85736 t Nd/t oxide * 0.8 yield
    nd_metal = 136.8 * 0.85736 * 0.8
    assert out.sel(facility="metal", element="Nd").item() == pytest.approx(nd_metal)
    assert ds["oxygen_removed"].sel(facility="metal", element="Nd").item() == pytest.approx(
        136.8 * (1 - 0.85736))
    # alloy x0.95 then magnet x0.9 (process scrap counted as loss)
    assert out.sel(facility="magnet", element="Nd").item() == pytest.approx(
        nd_metal * 0.95 * 0.9)
    assert out.sel(facility="magnet", element="Ce").item() == 0.0


def test_capacity_keeps_the_distribution_locked_before_separation() -> None:
    ds = run_chain(_chain(conc_cap=500.0), FACTORS)
    stock = ds["stock_change"].sel(facility="conc")
    # half the 1,000 t REO is processed, half stockpiled, both in the ore's 30/50/20 split
    assert stock.sel(element="Nd").item() == pytest.approx(100.0)
    processed = ds["input"].sel(facility="conc") - stock
    assert (processed / processed.sum()).sel(element="La").item() == pytest.approx(0.3)


def test_unknown_reference_names_facility_and_field() -> None:
    dep = Deposit(id="d", country="RUS", distribution={"La": 1.0})
    fac = [Facility(id="m", stage=Stage.MINING, country="RUS", capacity=1, feed="nowhere"),
           Facility(id="s", stage=Stage.SEPARATION, country="RUS", capacity=1, feed="ghost",
                    recovery={"*": 1.0})]
    with pytest.raises(ChainDefinitionError) as info:
        Chain.assemble([dep], fac)
    msg = str(info.value)
    assert "facility 'm', field 'feed': unknown deposit 'nowhere'" in msg
    assert "facility 's', field 'feed': unknown facility 'ghost'" in msg


def test_skipped_stage_is_rejected() -> None:
    dep = Deposit(id="d", country="RUS", distribution={"La": 1.0})
    fac = [Facility(id="m", stage=Stage.MINING, country="RUS", capacity=1, feed="d"),
           Facility(id="s", stage=Stage.SEPARATION, country="RUS", capacity=1, feed="m")]
    with pytest.raises(ChainDefinitionError, match="takes from a cracking plant"):
        Chain.assemble([dep], fac)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"recovery": {"*": 1.2}}, "recovery"), ({"capacity": -5.0}, "capacity")],
)
def test_bad_facility_fields(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = {"id": "x", "stage": Stage.CRACKING, "country": "RUS",
                               "capacity": 1.0, "feed": "m"}
    with pytest.raises(ValidationError) as info:
        Facility.model_validate({**base, **kwargs})
    assert field in str(info.value)


def test_per_element_recovery_before_separation_is_rejected() -> None:
    with pytest.raises(ValidationError, match="keeps the feed's distribution"):
        Facility(id="x", stage=Stage.CRACKING, country="RUS", capacity=1, feed="m",
                 recovery={"Nd": 0.9})


def test_distribution_must_sum_to_one() -> None:
    with pytest.raises(ValidationError, match=r"sums to 80\.00%"):
        Deposit(id="d", country="RUS", distribution={"La": 0.5, "Ce": 0.3})


@settings(max_examples=40)
@given(st.floats(0, 1e6), st.floats(0.01, 100))
def test_mass_conserved_and_linear_in_feed(cap: float, k: float) -> None:
    # capacities downstream are never binding here, so outputs scale with the mine
    a = run_chain(_chain(mine_cap=cap, conc_cap=1e12, cap=1e12), FACTORS)
    b = run_chain(_chain(mine_cap=cap * k, conc_cap=1e12, cap=1e12), FACTORS)
    total_in = float(a["input"].sel(facility="mine").sum())
    assert total_in == pytest.approx(cap, rel=1e-9, abs=1e-9)
    assert b["output"].values == pytest.approx(k * a["output"].values, rel=1e-9, abs=1e-6)
