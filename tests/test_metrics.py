"""Metrics: hand-computed reference values and properties that must hold for any input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reeplan.metrics import (
    apparent_consumption,
    hhi,
    net_import_reliance,
    reserve_life,
    share,
    shares,
    top_n_share,
)

quantities = st.lists(st.floats(min_value=0.0, max_value=1e9, allow_nan=False), min_size=1,
                      max_size=30).filter(lambda xs: sum(xs) > 1e-6)


# ------------------------------------------------------------------ hand-computed references


def test_hhi_hand_computed() -> None:
    # shares 0.5, 0.3, 0.2 -> 0.25 + 0.09 + 0.04 = 0.38
    assert hhi([50, 30, 20]) == pytest.approx(0.38, abs=1e-12)


def test_hhi_against_published_world_total_is_a_lower_bound() -> None:
    # USGS MCS 2025, 2024: China 270,000 and USA 45,000 of a world 390,000 t REO
    # (270/390)^2 + (45/390)^2 = 0.479290 + 0.013314 = 0.492604
    assert hhi([270_000, 45_000], total=390_000) == pytest.approx(0.4926035503, rel=1e-9)


def test_top_n_share_hand_computed() -> None:
    # IEA dataset 2024, magnet-REE mining: China 61.0, Myanmar 16.1, USA 9.1 (%) of 100
    assert top_n_share([61.0, 16.1, 9.1], n=3, total=100) == pytest.approx(0.862)
    # the largest three, whatever the order: 50 + 20 + 15 of 100
    assert top_n_share([5, 15, 10, 50, 20], n=3) == pytest.approx(0.85)


def test_share_china_2024() -> None:
    assert share(270_000, 390_000) == pytest.approx(0.6923076923)


def test_net_import_reliance_hand_computed() -> None:
    # P=100, I=80, E=30, stocks +10: C = 100+80-30-10 = 140; NIR = (80-30-10)/140 = 40/140
    assert apparent_consumption(100, 80, 30, 10) == 140
    assert net_import_reliance(100, 80, 30, 10) == pytest.approx(40 / 140)


def test_net_import_reliance_net_exporter_is_negative() -> None:
    # P=100, I=10, E=60: C=50, NIR=(10-60)/50 = -1.0 (USGS prints "E")
    assert net_import_reliance(100, 10, 60) == pytest.approx(-1.0)


def test_net_import_reliance_no_consumption_is_nan() -> None:
    assert math.isnan(net_import_reliance(10, 0, 10))


def test_reserve_life_hand_computed() -> None:
    assert reserve_life(44_000_000, 270_000) == pytest.approx(162.96296, rel=1e-6)
    assert reserve_life(1, 0) == math.inf


@pytest.mark.parametrize(
    ("func", "args"),
    [
        (share, (5, 0)),
        (share, (-1, 10)),
        (share, (11, 10)),
        (shares, ([1, -1],)),
        (shares, ([1, float("nan")],)),
        (shares, ([5, 6], 10)),
        (top_n_share, ([1, 2], 0)),
        (reserve_life, (-1, 5)),
        (apparent_consumption, (-1, 0, 0)),
    ],
)
def test_invalid_inputs_raise(func, args) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        func(*args)


# ------------------------------------------------------------------ properties


@given(quantities)
def test_hhi_between_one_over_n_and_one(xs: list[float]) -> None:
    n = sum(1 for x in xs if x > 0)
    h = hhi(xs)
    assert 1 / n - 1e-12 <= h <= 1 + 1e-12


@given(quantities, st.randoms(use_true_random=False))
def test_hhi_invariant_to_order(xs: list[float], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = xs[:]
    rnd.shuffle(shuffled)
    assert hhi(shuffled) == pytest.approx(hhi(xs), rel=1e-12)


@given(quantities, st.floats(min_value=1e-3, max_value=1e6))
def test_hhi_invariant_to_units(xs: list[float], k: float) -> None:
    assert hhi([k * x for x in xs]) == pytest.approx(hhi(xs), rel=1e-9)


@given(st.integers(min_value=1, max_value=50))
def test_hhi_equal_suppliers_is_one_over_n(n: int) -> None:
    assert hhi([7.0] * n) == pytest.approx(1 / n)


@given(quantities)
def test_splitting_a_supplier_never_raises_hhi(xs: list[float]) -> None:
    biggest = int(np.argmax(xs))
    split = [*xs[:biggest], xs[biggest] / 2, xs[biggest] / 2, *xs[biggest + 1:]]
    assert hhi(split) <= hhi(xs) + 1e-12


@given(quantities)
def test_top_n_share_monotone_and_bounded(xs: list[float]) -> None:
    values = [top_n_share(xs, n) for n in range(1, len(xs) + 1)]
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(values))
    assert values[-1] == pytest.approx(1.0)
    assert values[0] >= 1 / len(xs) - 1e-12


@given(quantities)
def test_shares_sum_to_one(xs: list[float]) -> None:
    assert shares(xs).sum() == pytest.approx(1.0)


@given(st.floats(0, 1e6), st.floats(0, 1e6), st.floats(0, 1e6))
def test_net_import_reliance_at_most_one(p: float, i: float, e: float) -> None:
    nir = net_import_reliance(p, i, e)
    if apparent_consumption(p, i, e) > 0:
        assert nir <= 1 + 1e-12
        # production + reliance-weighted consumption closes the balance
        c = apparent_consumption(p, i, e)
        assert p + nir * c == pytest.approx(c, rel=1e-9, abs=1e-6)


# ------------------------------------------------------------------ the balance problem in value


def test_nd_pays_for_mountain_pass_at_usgs_2024_prices(facts) -> None:  # type: ignore[no-untyped-def]
    from reeplan.metrics import basket_value

    dist = facts.tables["element_distributions"].query(
        "distribution_id == 'mountain_pass_castor2006'").set_index("element")["value"] / 100
    p = facts.tables["prices"].query(
        "market == 'Argus (USGS annual average)' and year == 2024 and element.notna()")
    prices = p.set_index("element")["value"].to_dict()
    out = basket_value(dist.to_dict(), prices)
    # by hand, USD per t REO: La 0.338*1*1000 = 338; Ce 0.496*1*1000 = 496;
    # Nd 0.112*56*1000 = 6,272; Eu 0.001*27*1000 = 27; Pr, Sm, Gd, Y have no USGS price
    assert out.loc["Nd", "value"] == pytest.approx(6272.0)
    assert out.loc["Nd", "value_share"] == pytest.approx(6272 / (338 + 496 + 6272 + 27))
    # 11% of the mass, about 88% of the priced value; Ce is half the mass, 7% of the value
    assert out.loc["Ce", "mass_share"] == pytest.approx(0.496)
    assert out.loc["Ce", "value_share"] < 0.07
    assert np.isnan(out.loc["Pr", "value"])


def test_basket_value_rejects_negative_prices() -> None:
    from reeplan.metrics import basket_value

    with pytest.raises(ValueError):
        basket_value({"La": 1.0}, {"La": -1.0})
