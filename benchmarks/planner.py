"""Speed of the roadmap planner (matrix assembly + HiGHS): CLI start-up, re-solves, scaling.

Run: ``python benchmarks/planner.py`` (not part of the test suite; about 3-4 minutes and
under 1.5 GiB of memory on 2 cores), or ``python benchmarks/planner.py --quick`` for a
smoke run of about 10 s that writes nothing unless ``--out`` is given. One run
measures:

1. **Cold CLI.** CPU time (user + system of the child, from ``os.wait4``) of
   ``reeplan plan scenarios/russia-2030.yaml`` (standard output to ``/dev/null``), median
   of 5 runs, against ``python -c "import linopy"`` in a baseline venv
   (``benchmarks/.venv-linopy``, created once with ``python -m venv`` and ``pip install
   linopy highspy``, reused when present), median of 5 runs interleaved with the first.
   Target: plan CPU / linopy import CPU at most 1.5.
2. **Russia baseline in a fresh process.** Time of ``build_parameters``, ``build_model`` +
   ``lp.matrix()`` (build), ``HighsModel(lp)`` (hand-off) and ``model.solve()`` (solve),
   first call and median of 5; then 200 :meth:`Evaluator.evaluate` re-solves of the
   optimal builds under seeded price draws (oxide and metal prices by element and the
   magnet price, each times a lognormal factor, sigma 0.3), one core, with the time inside
   ``Highs.run`` measured separately. Target: at least 50 evaluations per second.
3. **Synthetic instances shaped like the real model** (trade-heavy: many partners,
   elements and years, 20 candidates) of about 1e5 and 1e6 columns, each in a fresh
   process: columns, rows, nonzeros, build, hand-off and solve time, HiGHS status, ratio
   (build + hand-off) / solve, and peak memory of build + hand-off per nonzero. Target at
   1e6: ratio at most 0.02 with the solve finished (a solve stopped by its time limit is
   "not solved": no ratio, target not met).

It prints a summary table and writes everything, with the targets met or missed, the
machine and the versions, to ``benchmarks/results/planner.json``.

Measurements that need a fresh process run this file again as ``python
benchmarks/planner.py --worker russia|synthetic ... --result FILE``; the worker writes its
result as JSON to ``FILE``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from reeplan.data import load_factbase
from reeplan.domain import Recipe, StageChain
from reeplan.optimize import (
    Candidate,
    Evaluator,
    Partner,
    Problem,
    SolveError,
    Target,
    build_model,
    build_parameters,
    solve,
)
from reeplan.optimize.highs import HighsModel
from reeplan.optimize.lp import LinearProgram
from reeplan.scenarios.assemble import assemble
from reeplan.scenarios.spec import read_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "scenarios/russia-2030.yaml"
RESULT = Path(__file__).resolve().parent / "results" / "planner.json"
LINOPY_VENV = Path(__file__).resolve().parent / ".venv-linopy"

CLI_REPEATS = 5
PHASE_REPEATS = 5
EVALUATIONS = 200
PRICE_SIGMA = 0.3
SOLVE_TIME_LIMIT_S = 600.0
TARGETS = {"cli_cpu_ratio_max": 1.5, "evaluations_per_s_min": 50.0,
           "synthetic_1e6_ratio_max": 0.02}

SYN_YEARS = 30
SYNTHETIC_SIZES = {"1e5": 38, "1e6": 126}
"""Partners (= elements) of each synthetic instance, at 30 years: 102,047 and 999,648
columns. Columns grow with partners x elements x years (trade in oxide by element, metal
for the recipe's four elements and magnets, both ways)."""
QUICK_SIZES = {"1e4": 12, "1e5": 38}

REAL_ELEMENTS = ("Ce", "Dy", "Eu", "Gd", "La", "Nd", "Pr", "Sm", "Tb", "Y")
REAL_OXIDE_PRICE = {"La": 1_000.0, "Ce": 1_000.0, "Pr": 60_000.0, "Nd": 60_000.0,
                    "Sm": 2_000.0, "Eu": 30_000.0, "Gd": 20_000.0, "Tb": 900_000.0,
                    "Dy": 250_000.0, "Y": 7_000.0}  # USD/t oxide
REAL_METAL_PER_OXIDE = {"La": 0.853, "Ce": 0.814, "Pr": 0.828, "Nd": 0.857, "Sm": 0.862,
                        "Eu": 0.864, "Gd": 0.868, "Tb": 0.851, "Dy": 0.871, "Y": 0.787}
STAGES: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    # stage: max capacity [t/yr at 40 partners], capex [USD per t/yr], opex [USD/t]
    "mining": ((2_000, 10_000), (15_000, 20_000), (2_000, 3_000)),
    "separation": ((1_000, 5_000), (25_000, 35_000), (2_500, 3_500)),
    "metal": ((500, 2_000), (15_000, 25_000), (4_000, 6_000)),
    "magnet": ((200, 1_000), (40_000, 60_000), (8_000, 12_000)),
    "recycling": ((100, 500), (20_000, 40_000), (3_000, 6_000)),
}
CANDIDATES_PER_STAGE = 4


# --------------------------------------------------------------------------- helpers


def _timed(f: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = f()
    return value, time.perf_counter() - start


def _built(problem: Problem, params: xr.Dataset) -> LinearProgram:
    """``build_model`` and the assembly of its matrix (``lp.matrix()`` is cached)."""
    lp = build_model(problem, params)
    lp.matrix()
    return lp


def _status_kib(key: str) -> int:
    """A ``/proc/self/status`` entry such as ``VmRSS`` [KiB]."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); ``False`` if not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss_kib() -> int:
    """Peak resident set size of this process [KiB] (``VmHWM``, reset by clear_refs)."""
    return _status_kib("VmHWM")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


# --------------------------------------------------------------------------- synthetic


def synthetic_problem(n_partners: int, n_elements: int, n_years: int = SYN_YEARS,
                      seed: int = 0) -> Problem:
    """A trade-heavy chain: ``n_partners`` open partners, ``n_elements`` priced elements.

    Twenty candidates (four per stage) with capacities that grow with the number of
    partners; every partner open, with premiums, discounts, freight, a route capacity and
    export caps on about 30% of its elements; demand grows 3% a year and is large enough
    that imports, routes and caps bind. The ten real rare earths keep their prices; the
    others (``X000``, ...) are priced lognormally around 10,000 USD/t. Feasible (demand
    may go unmet at the penalty) and bounded (buying costs more than selling earns with
    every partner, freight positive, plants capped).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, n_partners, n_elements,
                                                        n_years]))
    years = tuple(range(2025, 2025 + n_years))
    extra = tuple(f"X{i:03d}" for i in range(n_elements - len(REAL_ELEMENTS)))
    elements = REAL_ELEMENTS + extra
    oxide = {**REAL_OXIDE_PRICE,
             **{e: float(np.exp(rng.normal(np.log(10_000.0), 1.0))) for e in extra}}
    factor = {**REAL_METAL_PER_OXIDE, **{e: float(rng.uniform(0.78, 0.88)) for e in extra}}
    metal = {e: oxide[e] / factor[e] * float(rng.uniform(1.2, 1.5)) for e in elements}
    scale = n_partners / 40
    magnets, other = 20.0 * n_partners, 100.0 * n_partners
    growth = {y: 1.03 ** (y - years[0]) for y in years}
    return Problem(
        years=years, elements=elements,
        candidates=tuple(_synthetic_candidates(elements, scale, rng)),
        partners=tuple(_synthetic_partner(j, n_partners, elements, magnets, other, rng)
                       for j in range(n_partners)),
        recipe=Recipe("NdFeB_synthetic", {"Nd": 29.0, "Dy": 1.5, "Tb": 0.5},
                      {"Nd": ("Nd", "Pr")}),
        metal_per_oxide=factor, oxide_price=oxide, metal_price=metal, magnet_price=80_000.0,
        magnet_demand={y: magnets * g for y, g in growth.items()},
        other_demand={y: other * g for y, g in growth.items()},
        scrap_available={y: 50.0 * scale * g for y, g in growth.items()},
        chain=StageChain.ideal(), ramp_up=(0.5,),
        targets=(Target("separation_out", "output", 2_000.0 * scale, years[5], "separation",
                        2e5),
                 Target("imports_50", "import_share", 0.5, years[5], penalty=1e5)))


def _synthetic_candidates(elements: tuple[str, ...], scale: float,
                          rng: np.random.Generator) -> list[Candidate]:
    out = []
    for stage, (cap, capex, opex) in STAGES.items():
        for i in range(CANDIDATES_PER_STAGE):
            most = float(rng.uniform(*cap)) * scale
            distribution: dict[str, float] = {}
            if stage == "mining":
                shares = np.maximum(rng.dirichlet(np.full(len(elements), 0.5)), 1e-4)
                distribution = dict(zip(elements, map(float, shares / shares.sum()),
                                        strict=True))
            out.append(Candidate(
                f"{stage[:3]}{i:02d}", stage, existing=0.3 * most if i == 0 else 0.0,
                max_capacity=most, capex=float(rng.uniform(*capex)),
                opex=float(rng.uniform(*opex)), lead_time=int(rng.integers(2, 5)),
                distribution=distribution))
    return out


def _synthetic_partner(j: int, n: int, elements: tuple[str, ...], magnets: float,
                       other: float, rng: np.random.Generator) -> Partner:
    """Partner ``j`` of ``n``: export caps on about 30% of elements, a route capacity
    of about 1.5 times its share of demand, magnets capped for about half of them."""
    capped = rng.random(len(elements)) < 0.3
    caps = {e: float(rng.uniform(0.0, 3.0)) * 5 * other / len(elements) / n
            for e, c in zip(elements, capped, strict=True) if c}
    magnet_cap = float(rng.uniform(0.5, 2.0)) * magnets / n if rng.random() < 0.5 else None
    route = float(rng.uniform(0.5, 2.0)) * 1.5 * (other + 0.4 * magnets) / n
    return Partner(f"P{j:04d}", sell_discount=float(rng.uniform(0.0, 0.3)),
                   buy_premium=float(rng.uniform(0.0, 0.3)), export_caps=caps,
                   magnet_cap=magnet_cap, route_capacity=route,
                   transport_cost=float(rng.uniform(100.0, 2_000.0)))


# --------------------------------------------------------------------------- workers


def _phases(problem: Problem) -> dict[str, Any]:
    """Parameters, build, hand-off and solve of ``problem`` [s], and the model's size."""
    params, t_params = _timed(lambda: build_parameters(problem))
    lp, t_build = _timed(lambda: _built(problem, params))
    model, t_handoff = _timed(lambda: HighsModel(lp))
    sol, t_solve = _timed(model.solve)
    return {"params_s": t_params, "build_s": t_build, "handoff_s": t_handoff,
            "solve_s": t_solve, "n_cols": lp.n_cols, "n_rows": lp.n_rows,
            "nonzeros": lp.matrix().n_nonzeros, "status": str(sol.status),
            "objective_musd": sol.objective}


def price_draws(params: xr.Dataset, n: int, sigma: float) -> list[xr.Dataset]:
    """``n`` parameter sets with prices times lognormal factors (median 1, ``sigma``).

    One factor per element for oxide prices, another per element for metal prices (the
    same in every market and year), one for the magnet price; from ``SeedSequence(0)``.
    """
    rng = np.random.default_rng(np.random.SeedSequence(0))
    by_element = {"element": params["element"].values}
    out = []
    for _ in range(n):
        q = params.copy()
        q["market_oxide_price"] = params["market_oxide_price"] * xr.DataArray(
            rng.lognormal(0.0, sigma, params.sizes["element"]), coords=by_element)
        q["market_metal_price"] = params["market_metal_price"] * xr.DataArray(
            rng.lognormal(0.0, sigma, params.sizes["element"]), coords=by_element)
        q["magnet_price"] = params["magnet_price"] * rng.lognormal(0.0, sigma)
        out.append(q)
    return out


class _TimedHighs:
    """A ``highspy.Highs`` whose ``run`` is timed; everything else is passed through."""

    def __init__(self, inner: Any, into: list[float]) -> None:
        self._inner = inner
        self._into = into

    def run(self) -> Any:
        start = time.perf_counter()
        status = self._inner.run()
        self._into.append(time.perf_counter() - start)
        return status

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _timing(f: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        value = f(*args, **kwargs)
        into.append(time.perf_counter() - start)
        return value
    return timed


def evaluations(problem: Problem, n: int) -> dict[str, Any]:
    """Re-solve rate of :meth:`Evaluator.evaluate` over ``n`` price draws, broken down."""
    builds = solve(problem).solution["build"]
    ev, t_evaluator = _timed(lambda: Evaluator(problem))
    draws, t_draws = _timed(lambda: price_draws(ev.params, n, PRICE_SIGMA))
    parts: dict[str, list[float]] = {"fix": [], "update": [], "solve": [], "highs_run": []}
    ev.model.fix = _timing(ev.model.fix, parts["fix"])
    ev.model.update = _timing(ev.model.update, parts["update"])
    ev.model.solve = _timing(ev.model.solve, parts["solve"])
    ev.model.highs = _TimedHighs(ev.model.highs, parts["highs_run"])
    first, t_first = _timed(lambda: ev.evaluate(builds))
    for times in parts.values():
        times.clear()
    costs, failed = [], []
    start = time.perf_counter()
    for q in draws:
        try:
            costs.append(ev.evaluate(builds, q).cost)
        except SolveError as e:
            failed.append(str(e.status))
    elapsed = time.perf_counter() - start
    totals = {k: sum(v) for k, v in parts.items()}
    return {
        "evaluations": n, "price_sigma": PRICE_SIGMA, "seed": "SeedSequence(0)",
        "evaluator_init_s": t_evaluator, "draws_prepared_s": t_draws,
        "first_evaluate_base_params_s": t_first, "base_cost_usd": first.cost,
        "elapsed_s": elapsed, "evaluations_per_s": n / elapsed,
        "per_evaluation_ms": {"total": 1e3 * elapsed / n,
                              **{k: 1e3 * v / n for k, v in totals.items()},
                              "other": 1e3 * (elapsed - totals["fix"] - totals["update"]
                                              - totals["solve"]) / n},
        "highs_run_s_total": totals["highs_run"],
        "highs_run_ms_median": 1e3 * statistics.median(parts["highs_run"]),
        "highs_only_solves_per_s": n / totals["highs_run"],
        "failed": failed,
        "cost_usd": {"min": min(costs), "median": statistics.median(costs),
                     "max": max(costs)} if costs else None,
    }


def russia_worker(n_evaluations: int) -> dict[str, Any]:
    """Phases of the Russia baseline, first call and median of :data:`PHASE_REPEATS`."""
    def load() -> Problem:
        facts = load_factbase()
        scenario, _ = read_scenario(ROOT / SCENARIO)
        return assemble(scenario, facts)

    problem, t_load = _timed(load)
    first = _phases(problem)
    repeats = [_phases(problem) for _ in range(PHASE_REPEATS)]
    median = {k: statistics.median(r[k] for r in repeats)
              for k in ("params_s", "build_s", "handoff_s", "solve_s")}
    return {"load_and_assemble_s": t_load, "first_call": first,
            f"median_of_{PHASE_REPEATS}": median,
            "evaluate": evaluations(problem, n_evaluations)}


def synthetic_worker(n_partners: int, time_limit: float) -> dict[str, Any]:
    """Build, hand off and solve one synthetic instance in this (fresh) process.

    Memory: the kernel's peak-RSS mark (``VmHWM``) is reset just before
    ``build_parameters``; peak after the hand-off minus ``VmRSS`` before is what build and
    hand-off add at their peak.
    """
    problem, t_problem = _timed(lambda: synthetic_problem(n_partners, n_partners))
    gc.collect()
    reset = _reset_peak_rss()
    rss_before = _status_kib("VmRSS")
    params, t_params = _timed(lambda: build_parameters(problem))
    lp, t_build = _timed(lambda: _built(problem, params))
    model, t_handoff = _timed(lambda: HighsModel(lp, time_limit=time_limit))
    peak_build = _peak_rss_kib()
    start = time.perf_counter()
    try:
        sol = model.solve("synthetic")
        status, objective = str(sol.status), sol.objective
    except SolveError as e:
        status, objective = str(e.status), None
    t_solve = time.perf_counter() - start
    info = model.highs.getInfo()
    nnz = lp.matrix().n_nonzeros
    return {"partners": n_partners, "elements": n_partners, "years": SYN_YEARS,
            "candidates": len(problem.candidates), "n_cols": lp.n_cols,
            "n_rows": lp.n_rows, "nonzeros": nnz, "problem_s": t_problem,
            "params_s": t_params, "build_s": t_build, "handoff_s": t_handoff,
            "solve_s": t_solve, "highs_run_time_s": float(model.highs.getRunTime()),
            "status": status, "objective_musd": objective,
            "simplex_iterations": int(info.simplex_iteration_count),
            "time_limit_s": time_limit, "peak_mark_reset": reset,
            "rss_before_kib": rss_before, "peak_rss_build_handoff_kib": peak_build,
            "peak_rss_with_solve_kib": _peak_rss_kib(),
            "bytes_per_nonzero": (peak_build - rss_before) * 1024 / nnz}


def _run_worker(argv: Sequence[str]) -> dict[str, Any]:
    """Run this file as a worker in a fresh process and read back its JSON result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run([sys.executable, __file__, "--worker", *argv, "--result", str(out)],
                       check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        result: dict[str, Any] = json.loads(out.read_text())
    return result


# --------------------------------------------------------------------------- cold CLI


def child_cpu(cmd: Sequence[str]) -> tuple[float, float]:
    """CPU time (user + system) and wall time of ``cmd`` as a child process [s]."""
    # bytecode caches as any install has them (pip compiles on install; a run writes them):
    # a PYTHONDONTWRITEBYTECODE environment would otherwise recompile reeplan every run
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
                                env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                               f"{err.read().decode(errors='replace')[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall


def linopy_python() -> tuple[Path, bool]:
    """The baseline venv's interpreter, created with linopy and highspy when missing."""
    python = LINOPY_VENV / "bin" / "python"
    probe = [str(python), "-c", "import linopy, highspy"]
    if python.exists() and subprocess.run(probe, check=False,
                                          capture_output=True).returncode == 0:
        return python, False
    subprocess.run([sys.executable, "-m", "venv", str(LINOPY_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "linopy", "highspy"], check=True)
    subprocess.run(probe, check=True)
    return python, True


def _baseline_facts(python: Path) -> dict[str, Any]:
    code = ("import json, sys; from importlib.metadata import version; import linopy; "
            "print(json.dumps({'versions': {p: version(p) for p in ('linopy', 'highspy', "
            "'dask', 'xarray', 'numpy', 'pandas')}, 'python': sys.version.split()[0], "
            "'dask_imported_by_linopy': 'dask' in sys.modules}))")
    out = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True)
    facts: dict[str, Any] = json.loads(out.stdout)
    return facts


def cold_cli(repeats: int, warm_up: bool) -> dict[str, Any]:
    """CPU of a cold ``reeplan plan`` against ``import linopy``, runs interleaved."""
    python, created = linopy_python()
    plan = [str(Path(sys.executable).with_name("reeplan")), "plan", SCENARIO]
    linopy = [str(python), "-c", "import linopy"]
    bare = [sys.executable, "-c", "pass"]
    if warm_up:  # page cache and bytecode caches, not counted
        for cmd in (plan, linopy):
            child_cpu(cmd)
    runs: dict[str, list[tuple[float, float]]] = {"plan": [], "import_linopy": [],
                                                  "bare_python": []}
    for _ in range(repeats):
        runs["plan"].append(child_cpu(plan))
        runs["import_linopy"].append(child_cpu(linopy))
        runs["bare_python"].append(child_cpu(bare))
    med = {k: statistics.median(c for c, _ in v) for k, v in runs.items()}
    ratio = med["plan"] / med["import_linopy"]
    return {
        "command": f"reeplan plan {SCENARIO} > /dev/null",
        "baseline": 'python -c "import linopy" (benchmarks/.venv-linopy)',
        "baseline_venv_created_now": created, "baseline_venv": _baseline_facts(python),
        "repeats": repeats, "warm_up_run_discarded": warm_up,
        "cpu_s": {k: [c for c, _ in v] for k, v in runs.items()},
        "wall_s": {k: [w for _, w in v] for k, v in runs.items()},
        "plan_cpu_median_s": med["plan"], "import_linopy_cpu_median_s": med["import_linopy"],
        "bare_python_cpu_median_s": med["bare_python"],
        "ratio_plan_over_import_linopy": ratio,
        "target_max": TARGETS["cli_cpu_ratio_max"],
        "target_met": ratio <= TARGETS["cli_cpu_ratio_max"],
    }


# --------------------------------------------------------------------------- report


def synthetic_instance(label: str, n_partners: int) -> dict[str, Any]:
    """One synthetic instance (fresh process), its ratio and, at 1e6, its target."""
    r = _run_worker(["synthetic", str(n_partners), str(SOLVE_TIME_LIMIT_S)])
    solved = r["status"] == "optimal"
    setup = r["params_s"] + r["build_s"] + r["handoff_s"]
    r = {"label": label, **r, "solved": solved,
         "ratio_setup_over_solve": setup / r["solve_s"] if solved else None,
         "ratio_note": "(params + build + hand-off) / solve; build_parameters included"
         if solved else f"not solved ({r['status']}): no ratio"}
    if label == "1e6":
        r["target_max"] = TARGETS["synthetic_1e6_ratio_max"]
        r["target_met"] = bool(solved and r["ratio_setup_over_solve"] <= r["target_max"])
    return r


def machine() -> dict[str, Any]:
    """Platform, cores, memory, load and the versions that matter."""
    mem = next(int(line.split()[1]) for line in
               Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:"))
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
            "mem_total_gib": round(mem / 2**20, 1), "load_avg_at_start": os.getloadavg(),
            "versions": {p: _version(p) for p in ("reeplan", "highspy", "numpy", "xarray",
                                                  "pandas", "linopy")},
            "highs_options": {"threads": 1, "output_flag": False, "random_seed": 0,
                              "synthetic_time_limit_s": SOLVE_TIME_LIMIT_S}}


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def table(result: dict[str, Any]) -> str:
    """The headline numbers and targets as a small text table."""
    c, rus = result["cold_cli"], result["russia"]
    med, ev = rus[f"median_of_{PHASE_REPEATS}"], rus["evaluate"]
    lines = [
        f"cold CLI   plan {c['plan_cpu_median_s']:.3f} s CPU / import linopy "
        f"{c['import_linopy_cpu_median_s']:.3f} s = {c['ratio_plan_over_import_linopy']:.2f}"
        f"  (target <= {c['target_max']}: {'met' if c['target_met'] else 'MISSED'})",
        f"russia     params {1e3 * med['params_s']:.1f} ms, build {1e3 * med['build_s']:.1f} "
        f"ms, hand-off {1e3 * med['handoff_s']:.2f} ms, solve {1e3 * med['solve_s']:.2f} ms "
        f"(median of {PHASE_REPEATS})",
        f"evaluate   {ev['evaluations_per_s']:.1f}/s ({ev['per_evaluation_ms']['total']:.1f} ms"
        f" each; update {ev['per_evaluation_ms']['update']:.1f} ms, HiGHS run "
        f"{ev['per_evaluation_ms']['highs_run']:.2f} ms)  (target >= "
        f"{TARGETS['evaluations_per_s_min']:.0f}/s: "
        f"{'met' if result['targets']['evaluations_per_s']['met'] else 'MISSED'})",
        f"{'size':>5} {'cols':>9} {'rows':>8} {'nnz':>9} {'params':>7} {'build':>7} "
        f"{'handoff':>7} {'solve':>8} {'status':>8} {'ratio':>7} {'B/nnz':>6} target"]
    for s in result["synthetic"]:
        target = "-" if "target_met" not in s else ("met" if s["target_met"] else "MISSED")
        lines.append(
            f"{s['label']:>5} {s['n_cols']:>9} {s['n_rows']:>8} {s['nonzeros']:>9} "
            f"{s['params_s']:>7.3f} {s['build_s']:>7.3f} {s['handoff_s']:>7.3f} "
            f"{s['solve_s']:>8.2f} {s['status'][:8]:>8} "
            f"{_fmt(s['ratio_setup_over_solve'], '.4f'):>7} {s['bytes_per_nonzero']:>6.0f} "
            f"{target}")
    return "\n".join(lines)


def _targets(cli: dict[str, Any], russia: dict[str, Any],
             synthetic: list[dict[str, Any]]) -> dict[str, Any]:
    rate = russia["evaluate"]["evaluations_per_s"]
    big = next((s for s in synthetic if s["label"] == "1e6"), None)
    return {
        "cli_cpu_ratio": {"value": cli["ratio_plan_over_import_linopy"],
                          "max": TARGETS["cli_cpu_ratio_max"], "met": cli["target_met"]},
        "evaluations_per_s": {"value": rate, "min": TARGETS["evaluations_per_s_min"],
                              "met": rate >= TARGETS["evaluations_per_s_min"]},
        "synthetic_1e6_ratio": {"value": None if big is None else big["ratio_setup_over_solve"],
                                "max": TARGETS["synthetic_1e6_ratio_max"],
                                "met": None if big is None else big["target_met"],
                                "note": "not measured (--quick)" if big is None else
                                ("solve finished" if big["solved"] else
                                 f"not solved: {big['status']}")},
    }


def main(quick: bool, out: Path | None) -> None:
    """Run every measurement, print the table, write the JSON result."""
    started = time.perf_counter()
    info = machine()
    cli = cold_cli(1 if quick else CLI_REPEATS, warm_up=not quick)
    russia = _run_worker(["russia", str(20 if quick else EVALUATIONS)])
    sizes = QUICK_SIZES if quick else SYNTHETIC_SIZES
    synthetic = [synthetic_instance(label, n) for label, n in sizes.items()]
    info["load_avg_at_end"] = os.getloadavg()
    result = {"quick": quick, "machine": info,
              "targets": _targets(cli, russia, synthetic), "cold_cli": cli,
              "russia": russia, "synthetic": synthetic,
              "synthetic_shape": {"years": SYN_YEARS, "candidates": 5 * CANDIDATES_PER_STAGE,
                                  "partners_equal_elements": True,
                                  "generator": "synthetic_problem(n, n), seed 0"},
              "memory_method": "fresh process per instance; VmHWM reset via "
                               "/proc/self/clear_refs just before build_parameters; bytes "
                               "per nonzero = (VmHWM after HighsModel(lp) - VmRSS before "
                               "build_parameters) / nonzeros",
              "benchmark_wall_s": time.perf_counter() - started}
    if out is not None:
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    if out is not None:
        print(f"written: {out}")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 CLI run, 20 evaluations, 1e4 and 1e5 instances; "
                             "writes only to --out")
    parser.add_argument("--out", type=Path, help=f"result file (default {RESULT}, none "
                                                 f"with --quick)")
    parser.add_argument("--worker", choices=["russia", "synthetic"], help=argparse.SUPPRESS)
    parser.add_argument("params", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _parse()
    if arguments.worker == "russia":
        worker_result = russia_worker(int(arguments.params[0]))
    elif arguments.worker == "synthetic":
        worker_result = synthetic_worker(int(arguments.params[0]), float(arguments.params[1]))
    else:
        main(arguments.quick, arguments.out or (None if arguments.quick else RESULT))
        sys.exit()
    Path(arguments.result).write_text(json.dumps(worker_result) + "\n")
