"""A separation capacity stated without the elements rejected at its front end.

Mountain Pass's separation line is set up for 20,000 t/yr of TREO with cerium rejected
at the front end, which takes all of the mine's throughput (Adamas 2022). The plan's
capacity basis is every oxide out, so the stated figure is divided by the share of the
other elements in the ore (and costs per tonne multiplied by it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reeplan.data import FactBase
from reeplan.interfaces.cli import app
from reeplan.reporting.tables import flows_table
from reeplan.scenarios.assemble import assemble
from reeplan.scenarios.spec import load_scenario

ROOT = Path(__file__).parent.parent
CE_SHARE = 0.496
"""Ce in Mountain Pass's REO by the distribution the plan uses (Castor and Hedrick 2006;
MP's 10-K gives 50.2%)."""

_TOY = """\
name: t
country: USA
horizon: {{start: 2025, end: 2026}}
demand: {{consumption_t_reo: 100, source: demand_growth_ru}}
policy:
  partners:
    CHN: {{}}
candidates:
  mine: {{stage: mining, deposit: mountain_pass, existing_t: 1000, max_capacity_t: 1000,
         capex_usd_per_tpa: 0, opex_usd_per_t: 100, lead_time_years: 1,
         source: generic_costs_world}}
  sep: {{stage: separation, existing_t: 300, max_capacity_t: 300, capex_usd_per_tpa: 31000,
        opex_usd_per_t: 3000, lead_time_years: 1, {extra} source: generic_costs_world}}
"""


def _toy(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(_TOY.format(extra=extra), encoding="utf-8")
    return path


def test_the_stated_capacity_is_converted_to_every_oxide_out(facts: FactBase) -> None:
    """20,000 t/yr without Ce is 20,000 / (1 - 0.496) = 39,683 t REO with it; 3,000 USD/t
    of non-Ce oxide is 3,000 x 0.504 = 1,512 USD per t of every oxide, and so capex."""
    problem = assemble(load_scenario(ROOT / "scenarios" / "usa-mine-to-magnet.yaml"), facts)
    mp = next(c for c in problem.candidates if c.id == "mp_separation")
    assert mp.existing == pytest.approx(39_682.54, abs=0.01)
    assert mp.max_capacity == pytest.approx(39_682.54, abs=0.01)
    assert mp.opex == pytest.approx(1_512.0)
    assert mp.capex == pytest.approx(15_624.0)


def test_rejecting_cerium_lets_the_line_take_twice_the_ore(tmp_path: Path,
                                                         facts: FactBase) -> None:
    """Metamorphic: the same 300 t/yr line separates 300 t of oxide with its Ce, or
    300 / 0.504 = 595.2 t of every oxide when its 300 t are stated without Ce; its opex is
    the same per tonne of the oxides it counts."""
    from reeplan import run_plan

    counted = run_plan(_toy(tmp_path, "feed_from: [mine],"))
    without = run_plan(_toy(tmp_path, "feed_from: [mine], capacity_excludes: [Ce],"))
    a = counted.production.set_index(["candidate", "year"])["output"].xs("sep",
                                                                          level="candidate")
    b = without.production.set_index(["candidate", "year"])["output"].xs("sep",
                                                                          level="candidate")
    assert a.values.tolist() == pytest.approx([300, 300])
    assert b.values.tolist() == pytest.approx([300 / (1 - CE_SHARE)] * 2)
    ce = flows_table(without).set_index(["stage", "element", "year"])
    # the line's output carries its cerium, in the ore's ratio
    assert float(ce.loc[("separation", "Ce", 2025), "production"]) == pytest.approx(
        300 / (1 - CE_SHARE) * CE_SHARE)


@pytest.mark.parametrize(("extra", "says"), [
    ("capacity_excludes: [Ce],", "only a separation plant with feed_from"),
    ("feed_from: [mine], capacity_excludes: [Dy],",
     "Dy not in the feed's element distribution"),
    ("feed_from: [mine], capacity_excludes: [La, Ce, Pr, Nd],",
     "the excluded elements are nearly all of the ore"),
])
def test_a_capacity_stated_without_elements_needs_its_ore(tmp_path: Path, extra: str,
                                                          says: str) -> None:
    res = CliRunner().invoke(app, ["plan", str(_toy(tmp_path, extra))],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    assert says in res.output and "Traceback" not in res.output
    assert "capacity_excludes" in res.output
