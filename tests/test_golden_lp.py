"""Golden formulation tests: every constraint family of a two-country, two-year toy chain,
written as an LP file and compared with a committed baseline (tests/golden/lp).

A change in the maths shows as a readable diff of the baseline. After a deliberate change,
regenerate with ``REEPLAN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_lp.py`` and
review the diff before committing it.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from reeplan.domain import Recipe, StageChain
from reeplan.optimize import Candidate, Partner, Problem, Target, build_model
from reeplan.types import Stage

GOLDEN = Path(__file__).parent / "golden" / "lp"
UPDATE = os.environ.get("REEPLAN_UPDATE_GOLDEN") == "1"


def toy_problem() -> Problem:
    """Focus country and two partners (one open with controls, market depth and a route,
    one sanctioned), two years, every stage, every kind of target, a budget, reserves and
    concentrate stored at the mine."""
    return Problem(
        years=(2025, 2026), elements=("Ce", "Dy", "Nd", "Pr"),
        candidates=(
            Candidate("mine", "mining", existing=100, max_capacity=200, capex=1000, opex=5,
                      lead_time=0, distribution={"Ce": 0.5, "Nd": 0.3, "Pr": 0.2},
                      reserve=1000),
            Candidate("sep", "separation", existing=0, max_capacity=150, capex=3000, opex=10,
                      lead_time=1),
            Candidate("metal", "metal", existing=10, max_capacity=50, capex=2000, opex=20,
                      lead_time=1),
            Candidate("magnet", "magnet", existing=0, max_capacity=40, capex=5000, opex=30,
                      lead_time=0, technology="CHN"),
            Candidate("recycler", "recycling", existing=0, max_capacity=5, capex=3000,
                      opex=40, lead_time=0),
        ),
        partners=(Partner("CHN", sell_discount=0.2, export_caps={"Dy": 1.0}, magnet_cap=5.0,
                          route_capacity=500.0, transport_cost=100.0,
                          import_caps={"Nd": 40.0}, concentrate_buy_cap=60.0),
                  Partner("WEST", blocked=True)),
        recipe=Recipe("toy", {"Nd": 30.0, "Dy": 2.0}, {"Nd": ("Nd", "Pr")}),
        metal_per_oxide={"Ce": 0.814, "Dy": 0.871, "Nd": 0.857, "Pr": 0.828},
        oxide_price={"Ce": 1000, "Dy": 300000, "Nd": 60000, "Pr": 60000},
        metal_price={"Ce": 1500, "Dy": 400000, "Nd": 80000, "Pr": 80000},
        magnet_price=50000, magnet_demand={2025: 20, 2026: 30},
        other_demand={2025: 50, 2026: 60}, scrap_available={2025: 2, 2026: 3},
        chain=StageChain({Stage.CONCENTRATE: 1.0, Stage.CRACKING: 0.95,
                          Stage.SEPARATION: 0.95, Stage.METAL: 0.93, Stage.ALLOY: 1.0,
                          Stage.MAGNET: 0.8}, recycling_recovery=0.9),
        ramp_up=(0.5,),
        targets=(Target("out", "output", 100, 2026, "separation", 1e7),
                 Target("imports", "import_share", 0.5, 2025, "separation", 1e7),
                 Target("value", "output_value", 1e6, 2026, "separation", 10.0),
                 Target("self", "self_sufficiency", 0.3, 2026, "separation", 1e7)),
        allowed_technology=frozenset({"domestic"}), discount_rate=0.08, budget=2e5,
        national_reserve=5000, tradable=frozenset({"Ce", "Dy", "Nd", "Pr"}),
        concentrate_holding_cost=50.0,
    )


@pytest.fixture(scope="module")
def sections() -> dict[str, str]:
    return lp_sections()


def lp_sections() -> dict[str, str]:
    """The toy model as text: the objective, one part per constraint family and one per
    variable family's bounds (see :meth:`reeplan.optimize.lp.LinearProgram.to_text`)."""
    lp = build_model(toy_problem())
    parts = {f"constraints/{name}": lp.to_text(name) for name in lp.constraints}
    parts |= {f"bounds/{name}": lp.to_text(name) for name in lp.variables}
    parts["objective"] = lp.objective_text()
    return parts


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]inf")


def _same(got: str, expected: str) -> bool:
    """Equal up to float formatting: the same text between numbers, numbers within 1e-9."""
    if _NUMBER.sub("#", got) != _NUMBER.sub("#", expected):
        return False
    a = [float(x) for x in _NUMBER.findall(got)]
    b = [float(x) for x in _NUMBER.findall(expected)]
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
                                    for x, y in zip(a, b, strict=True))


def test_float_formatting_does_not_matter() -> None:
    assert _same("c[a]: +0.1 x[1] <= 5", "c[a]: +1.0000000000001e-1 x[1] <= 5.0")
    assert not _same("c[a]: +0.1 x[1] <= 5", "c[a]: +0.2 x[1] <= 5")
    assert not _same("c[a]: +0.1 x[1] <= 5", "c[a]: +0.1 y[1] <= 5")


def test_every_family_has_a_baseline(sections: dict[str, str]) -> None:
    produced = set(sections)
    if UPDATE:
        for old in GOLDEN.rglob("*.lp"):
            old.unlink()
    committed = {str(p.relative_to(GOLDEN).with_suffix("")) for p in GOLDEN.rglob("*.lp")}
    assert UPDATE or produced == committed, (
        f"new families: {sorted(produced - committed)}; gone: {sorted(committed - produced)}")


def _families() -> list[str]:
    return sorted(str(p.relative_to(GOLDEN).with_suffix("")) for p in GOLDEN.rglob("*.lp"))


@pytest.mark.parametrize("family", _families() or ["(none committed)"])
def test_family_matches_its_baseline(family: str, sections: dict[str, str]) -> None:
    if UPDATE:
        for name, text in sections.items():
            target = GOLDEN / f"{name}.lp"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return
    assert family in sections, f"family {family} is no longer built"
    expected = (GOLDEN / f"{family}.lp").read_text(encoding="utf-8")
    assert _same(sections[family], expected), f"{family} differs from its baseline"
