"""Speed and memory of the roadmap planner: the Russia baseline and two synthetic chains.

Run: ``python benchmarks/planner.py`` (not part of the test suite; about 10 minutes and
under 1 GiB of memory on 2 cores). It measures, in one run:

1. the Russia baseline: median wall time of a cold ``reeplan plan
   scenarios/russia-2030.yaml`` run as a subprocess (target under 5 s), and, in a fresh
   process, the time of each phase: imports, ``load_factbase``, scenario load and
   assembly, ``build_model``, the hand-off to HiGHS (``model.to_highspy()``) and the
   HiGHS solve;
2. two synthetic global chains of about 1e5 and 1e6 variables, built with the real
   :class:`~reeplan.optimize.Problem` classes, each in a fresh process: build time,
   hand-off time, solve time, the ratio (build + hand-off) / solve (targets at most 0.5
   and 0.02) and the peak memory of build + hand-off per nonzero of the constraint
   matrix (target at most 150 bytes).

It prints a small table and writes everything, with the targets met or missed, the
machine and the versions, to ``benchmarks/results/planner.json``.

Each measurement that needs a fresh process runs this file again as
``python benchmarks/planner.py --worker russia|synthetic ... --out FILE``; the worker
writes its result as JSON to ``FILE`` (standard output carries the HiGHS banner).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import highspy
import numpy as np

import reeplan.optimize.model as model_module
from reeplan.data import load_factbase
from reeplan.domain import Recipe
from reeplan.optimize import Candidate, Partner, Problem, Target, build_model
from reeplan.optimize.problem import PlanStage
from reeplan.scenarios.assemble import assemble
from reeplan.scenarios.run import load_checked

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "russia-2030.yaml"
RESULT = Path(__file__).resolve().parent / "results" / "planner.json"

CLI_REPEATS = 3
CLI_TARGET_S = 5.0
RATIO_TARGETS = {100_000: 0.5, 1_000_000: 0.02}
"""Most (build + hand-off) / solve allowed, by the number of variables aimed at."""
BYTES_PER_NNZ_TARGET = 150.0
SOLVE_TIME_LIMIT_S = 420.0
"""HiGHS ``time_limit`` on each synthetic solve; when hit, the solve time is a lower bound."""
SEED = 20_250_601
REFERENCE_CANDIDATES = 1_000
"""Plant sizes in :data:`STAGE_RANGES` are for a chain of this many candidates; larger
chains have proportionally smaller plants, so the world's totals (capacity, demand, budget)
and with them the coefficient ranges HiGHS sees stay the same at every size."""
SHARE_FLOOR = 1e-4
"""Smallest element share of an ore; Dirichlet draws go down to 1e-160 otherwise, which
HiGHS drops as below its matrix tolerance (and a real assay does not report)."""

YEARS = tuple(range(2025, 2051))  # 26 planning years
ELEMENTS = ("Ce", "Dy", "Eu", "Gd", "La", "Nd", "Pr", "Sm", "Tb", "Y")
ORE_ALPHA = {"La": 2.6, "Ce": 4.0, "Pr": 0.5, "Nd": 1.5, "Sm": 0.2, "Eu": 0.05,
             "Gd": 0.15, "Tb": 0.03, "Dy": 0.1, "Y": 0.4}
"""Dirichlet weights of ore distributions: light rare earths dominate, as in bastnaesite."""
OXIDE_PRICE = {"La": 1_000.0, "Ce": 1_000.0, "Pr": 60_000.0, "Nd": 60_000.0,
               "Sm": 2_000.0, "Eu": 30_000.0, "Gd": 20_000.0, "Tb": 900_000.0,
               "Dy": 250_000.0, "Y": 7_000.0}  # USD/t oxide
METAL_PER_OXIDE = {"La": 0.853, "Ce": 0.814, "Pr": 0.828, "Nd": 0.857, "Sm": 0.862,
                   "Eu": 0.864, "Gd": 0.868, "Tb": 0.851, "Dy": 0.871, "Y": 0.787}
STAGE_SHARES: dict[PlanStage, float] = {"mining": 0.40, "separation": 0.20, "metal": 0.15,
                                        "magnet": 0.15, "recycling": 0.10}
STAGE_RANGES: dict[PlanStage, dict[str, tuple[float, float]]] = {
    # max capacity [t/yr], capex [USD per t/yr], opex [USD/t], lead time [yr]
    "mining": {"cap": (500, 20_000), "capex": (10_000, 20_000), "opex": (1_500, 3_000),
               "lead": (2, 7)},
    "separation": {"cap": (500, 10_000), "capex": (20_000, 40_000), "opex": (2_000, 4_000),
                   "lead": (2, 5)},
    "metal": {"cap": (200, 5_000), "capex": (15_000, 30_000), "opex": (4_000, 7_000),
              "lead": (2, 4)},
    "magnet": {"cap": (200, 5_000), "capex": (40_000, 60_000), "opex": (8_000, 12_000),
               "lead": (2, 4)},
    "recycling": {"cap": (100, 2_000), "capex": (20_000, 40_000), "opex": (3_000, 6_000),
                  "lead": (1, 3)},
}


# --------------------------------------------------------------------------- synthetic chain


def _rng(n_candidates: int) -> np.random.Generator:
    """Generator for one instance size, independent of any global random state."""
    return np.random.default_rng(np.random.SeedSequence([SEED, n_candidates]))


def _stage_counts(n_candidates: int) -> dict[PlanStage, int]:
    """Candidates per stage, at least one each, summing to ``n_candidates``."""
    counts = {s: max(1, int(share * n_candidates)) for s, share in STAGE_SHARES.items()}
    counts["mining"] += n_candidates - sum(counts.values())
    return counts


def _ore_shares(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` element distributions over :data:`ELEMENTS`, each summing to 1."""
    shares = np.maximum(rng.dirichlet([ORE_ALPHA[e] for e in ELEMENTS], n), SHARE_FLOOR)
    out: np.ndarray = shares / shares.sum(axis=1, keepdims=True)
    return out


def _candidates(stage: PlanStage, n: int, size: float,
                rng: np.random.Generator) -> list[Candidate]:
    """``n`` candidates of ``stage`` with random sizes, costs, lead times and owners.

    Parameters
    ----------
    stage
        Stage of every candidate.
    n
        How many.
    size
        Factor on the plant sizes of :data:`STAGE_RANGES`.
    rng
        Random source.

    Returns
    -------
    list of Candidate
        A third of them with existing capacity; mines with an ore distribution over
        :data:`ELEMENTS` and half of them with a finite reserve.
    """
    r = STAGE_RANGES[stage]
    cap = size * rng.uniform(*r["cap"], n)
    existing = np.where(rng.random(n) < 1 / 3, cap * rng.uniform(0.2, 0.8, n), 0.0)
    capex, opex = rng.uniform(*r["capex"], n), rng.uniform(*r["opex"], n)
    lead = rng.integers(int(r["lead"][0]), int(r["lead"][1]) + 1, n)
    tech = rng.choice(["domestic", "CHN", "WEST"], n, p=[0.6, 0.25, 0.15])
    shares = _ore_shares(n, rng)
    reserve = np.where(rng.random(n) < 0.5, cap * rng.uniform(5, 20, n), np.nan)
    out = []
    for i in range(n):
        mine = stage == "mining"
        out.append(Candidate(
            f"{stage[:3]}{i:06d}", stage, existing=float(existing[i]),
            max_capacity=float(cap[i]), capex=float(capex[i]), opex=float(opex[i]),
            lead_time=int(lead[i]), technology=str(tech[i]),
            distribution=dict(zip(ELEMENTS, map(float, shares[i]), strict=True)) if mine
            else {},
            reserve=float(reserve[i]) if mine and not np.isnan(reserve[i]) else None))
    return out


def _partners(magnet_scale: float) -> tuple[Partner, ...]:
    """Five partners: one dominant seller with export controls, one under sanctions."""
    return (
        Partner("CHN", sell_discount=0.2,
                export_caps={"Dy": 0.002 * magnet_scale, "Tb": 0.0005 * magnet_scale},
                magnet_cap=0.3 * magnet_scale),
        Partner("IND", sell_discount=0.05, buy_premium=0.10),
        Partner("OTHER", buy_premium=0.15),
        Partner("SANCTIONED", blocked=True),
        Partner("WEST", buy_premium=0.05),
    )


def _capacity(cands: list[Candidate], stage: PlanStage) -> float:
    return sum(c.max_capacity for c in cands if c.stage == stage)


def _targets(cands: list[Candidate]) -> tuple[Target, ...]:
    """Soft output targets on three stages and an import-share cap."""
    return (
        Target("separation_out", "output", 0.5 * _capacity(cands, "separation"), 2030,
               "separation", 2e5),
        Target("metal_out", "output", 0.4 * _capacity(cands, "metal"), 2031, "metal", 3e5),
        Target("magnet_out", "output", 0.4 * _capacity(cands, "magnet"), 2032, "magnet", 5e5),
        Target("imports_40", "import_share", 0.4, 2030, penalty=1e5),
    )


def synthetic_problem(n_candidates: int) -> Problem:
    """A global mine-to-magnet chain with ``n_candidates`` plants and projects.

    Parameters
    ----------
    n_candidates
        Number of candidates over all five stages (:data:`STAGE_SHARES`).

    Returns
    -------
    Problem
        26 years, 10 elements, 5 partners, 4 soft targets, a capex budget; demand scales
        with the candidates' capacity, so the instance stays equally tight at every size,
        and plant sizes scale with :data:`REFERENCE_CANDIDATES` / ``n_candidates``.
    """
    rng = _rng(n_candidates)
    cands = [c for stage, n in _stage_counts(n_candidates).items()
             for c in _candidates(stage, n, REFERENCE_CANDIDATES / n_candidates, rng)]
    growth = {y: 1.04 ** (y - YEARS[0]) for y in YEARS}
    magnets = _capacity(cands, "magnet")
    room = sum(c.capex * (c.max_capacity - c.existing) for c in cands)
    return Problem(
        years=YEARS, elements=ELEMENTS, candidates=tuple(cands),
        partners=_partners(magnets),
        recipe=Recipe("NdFeB_synthetic", {"Nd": 29.0, "Dy": 1.5, "Tb": 0.5},
                      {"Nd": ("Nd", "Pr")}),
        metal_per_oxide=METAL_PER_OXIDE, oxide_price=OXIDE_PRICE,
        metal_price={e: p / METAL_PER_OXIDE[e] * 1.3 for e, p in OXIDE_PRICE.items()},
        magnet_price=50_000.0,
        magnet_demand={y: 0.6 * magnets * g for y, g in growth.items()},
        other_demand={y: 0.3 * _capacity(cands, "mining") * g for y, g in growth.items()},
        scrap_available={y: 0.5 * _capacity(cands, "recycling") * g
                         for y, g in growth.items()},
        recycling_recovery=0.9, separation_recovery=0.95, metal_recovery=0.97,
        magnet_yield=0.9, targets=_targets(cands),
        allowed_technology=frozenset({"domestic", "WEST"}), budget=room / 15)


def candidates_for(nvars: int, calibration: Mapping[int, int]) -> int:
    """Number of candidates expected to give ``nvars`` variables.

    Parameters
    ----------
    nvars
        Variables wanted.
    calibration
        ``model.nvars`` of two built instances, by their number of candidates; the count
        is linear in the number of candidates at fixed years, elements and partners.
    """
    (n0, v0), (n1, v1) = sorted(calibration.items())
    per_candidate = (v1 - v0) / (n1 - n0)
    return round(n0 + (nvars - v0) / per_candidate)


# --------------------------------------------------------------------------- measuring


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
    """Peak resident set size of this process [KiB] (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@contextlib.contextmanager
def _timed_families(into: dict[str, float]) -> Iterator[None]:
    """Time every ``define_*`` function of the model module while ``build_model`` runs.

    ``build_model`` looks its families up as module globals, so wrapping them on the
    module (in this process only, restored afterwards) times each without copying the
    table of contents. The wrappers cost microseconds.
    """
    originals = {n: f for n, f in vars(model_module).items()
                 if n.startswith("define_") and callable(f)}

    def wrap(name: str, f: Callable[..., None]) -> Callable[..., None]:
        def timed(*args: Any) -> None:
            start = time.perf_counter()
            f(*args)
            into[name] = into.get(name, 0.0) + time.perf_counter() - start
        return timed

    for name, f in originals.items():
        setattr(model_module, name, wrap(name, f))
    try:
        yield
    finally:
        for name, f in originals.items():
            setattr(model_module, name, f)


def _run_highs(h: highspy.Highs, time_limit: float | None) -> dict[str, Any]:
    """Solve with HiGHS quietly on one thread; time, status and iterations."""
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    if time_limit is not None:
        h.setOptionValue("time_limit", time_limit)
    start = time.perf_counter()
    run_status = h.run()
    elapsed = time.perf_counter() - start
    status = h.getModelStatus()
    info = h.getInfo()
    return {"t_solve_s": elapsed, "run_status": run_status.name,
            "status": h.modelStatusToString(status),
            "solved": status in (highspy.HighsModelStatus.kOptimal,
                                 highspy.HighsModelStatus.kTimeLimit),
            "time_limit_hit": status == highspy.HighsModelStatus.kTimeLimit,
            "simplex_iterations": int(info.simplex_iteration_count),
            "ipm_iterations": int(info.ipm_iteration_count),
            "objective": float(info.objective_function_value)}


def _seconds(f: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = f()
    return value, time.perf_counter() - start


def russia_phases() -> dict[str, Any]:
    """Time of each phase of the baseline plan in this (fresh) process [s]."""
    facts, t_facts = _seconds(load_factbase)
    problem, t_assemble = _seconds(lambda: assemble(load_checked(SCENARIO, facts), facts))
    families: dict[str, float] = {}
    with _timed_families(families):
        model, t_build = _seconds(lambda: build_model(problem))
    h, t_handoff = _seconds(model.to_highspy)
    solved = _run_highs(h, None)
    return {"load_factbase_s": t_facts, "load_and_assemble_s": t_assemble,
            "build_model_s": t_build, "handoff_s": t_handoff,
            "highs_solve_s": solved["t_solve_s"], "status": solved["status"],
            "nvars": int(model.nvars), "ncons": int(model.ncons), "nnz": int(h.getNumNz()),
            "build_families_s": families}


def synthetic_measure(n_candidates: int, time_limit: float) -> dict[str, Any]:
    """Build, hand off and solve one synthetic instance in this (fresh) process.

    Memory: the kernel's peak-RSS mark is reset just before building (if allowed), so
    ``ru_maxrss`` after the hand-off minus ``VmRSS`` before building is the peak that
    build + hand-off add. Without the reset it is an upper bound (the mark then also
    covers generating the problem).
    """
    problem, t_problem = _seconds(lambda: synthetic_problem(n_candidates))
    gc.collect()
    reset = _reset_peak_rss()
    rss_before = _status_kib("VmRSS")
    families: dict[str, float] = {}
    with _timed_families(families):
        model, t_build = _seconds(lambda: build_model(problem))
    h, t_handoff = _seconds(model.to_highspy)
    peak = _peak_rss_kib()
    nnz = int(h.getNumNz())
    solved = _run_highs(h, time_limit)
    return {"n_candidates": n_candidates, "nvars": int(model.nvars),
            "ncons": int(model.ncons), "nnz": nnz, "t_problem_s": t_problem,
            "t_build_s": t_build, "t_handoff_s": t_handoff, "solve": solved,
            "rss_before_kib": rss_before, "peak_rss_kib": peak,
            "peak_mark_reset": reset, "build_families_s": families}


def _worker(argv: list[str], measure: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run this file as a worker in a fresh process and read back its JSON result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run([sys.executable, __file__, "--worker", *argv, "--out", str(out)],
                       check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        result: dict[str, Any] = json.loads(out.read_text())
    return {**(measure or {}), **result}


def _median_wall_s(cmd: list[str], repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


# --------------------------------------------------------------------------- report


def russia_baseline() -> dict[str, Any]:
    """Cold CLI wall time (median of :data:`CLI_REPEATS`) and in-process phases."""
    cli = [str(Path(sys.executable).with_name("reeplan")), "plan", str(SCENARIO)]
    median, runs = _median_wall_s(cli, CLI_REPEATS)
    imports, _ = _median_wall_s([sys.executable, "-c", "import reeplan.optimize, "
                                 "reeplan.scenarios.run, reeplan.data"], CLI_REPEATS)
    phases = _worker(["russia"])
    phases["import_s"] = imports
    return {"command": "reeplan plan scenarios/russia-2030.yaml", "cli_runs_s": runs,
            "cli_median_s": median, "target_s": CLI_TARGET_S,
            "target_met": median < CLI_TARGET_S,
            "phases_note": "phases in a fresh process; import_s is the wall time of a "
                           "subprocess importing reeplan.optimize, reeplan.scenarios.run "
                           "and reeplan.data (interpreter start included)",
            "phases": phases}


def synthetic_instance(target_nvars: int, n_candidates: int) -> dict[str, Any]:
    """Measure one synthetic instance in a fresh process and judge it against targets."""
    r = _worker(["synthetic", str(n_candidates), str(SOLVE_TIME_LIMIT_S)],
                {"target_nvars": target_nvars})
    solve = r["solve"]
    ratio = (r["t_build_s"] + r["t_handoff_s"]) / solve["t_solve_s"]
    capped = bool(solve["time_limit_hit"])
    bytes_per_nnz = (r["peak_rss_kib"] - r["rss_before_kib"]) * 1024 / r["nnz"]
    ratio_target = RATIO_TARGETS[target_nvars]
    return {**r, "ratio_build_handoff_over_solve": ratio,
            "ratio_is_upper_bound": capped, "solve_time_is_lower_bound": capped,
            "ratio_target": ratio_target,
            "ratio_target_met": solve["solved"] and ratio <= ratio_target,
            "ratio_target_note": _ratio_note(solve, ratio <= ratio_target),
            "peak_bytes": (r["peak_rss_kib"] - r["rss_before_kib"]) * 1024,
            "bytes_per_nnz": bytes_per_nnz, "bytes_per_nnz_target": BYTES_PER_NNZ_TARGET,
            "bytes_per_nnz_target_met": bytes_per_nnz <= BYTES_PER_NNZ_TARGET}


def _ratio_note(solve: Mapping[str, Any], met: bool) -> str:
    """How to read the ratio: exact, an upper bound, or void when HiGHS failed."""
    if not solve["solved"]:
        return f"HiGHS failed ({solve['run_status']}, {solve['status']}): no ratio"
    if not solve["time_limit_hit"]:
        return "solve finished: the ratio is exact"
    if met:
        return "solve stopped at the time limit: the ratio is an upper bound that already " \
               "meets the target"
    return "solve stopped at the time limit: the ratio is an upper bound, so 'false' " \
           "means not shown rather than missed"


def calibrate() -> dict[int, int]:
    """``model.nvars`` of two small instances, by their number of candidates."""
    return {n: int(build_model(synthetic_problem(n)).nvars) for n in (100, 200)}


def machine() -> dict[str, Any]:
    """Platform, cores, memory and the versions that matter."""
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "mem_total_gib": round(_meminfo_kib("MemTotal") / 2**20, 1),
            "versions": {p: version(p) for p in ("reeplan", "linopy", "highspy", "numpy",
                                                 "xarray", "pandas")}}


def _meminfo_kib(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


MEMORY_METHOD = (
    "each synthetic instance runs in a fresh subprocess; the peak-RSS mark is reset "
    "(write '5' to /proc/self/clear_refs) right before build_model; peak = "
    "resource.getrusage(RUSAGE_SELF).ru_maxrss after model.to_highspy() minus VmRSS from "
    "/proc/self/status read before build_model; bytes_per_nnz = peak / nnz, with nnz = "
    "Highs.getNumNz() (the constraint matrix linopy hands over, explicit zeros dropped, "
    "objective excluded)")


def _table(result: dict[str, Any]) -> str:
    """The headline numbers as a small text table."""
    b = result["russia_baseline"]
    lines = [f"russia-2030 CLI median {b['cli_median_s']:.2f} s "
             f"(target < {CLI_TARGET_S} s: {b['target_met']})",
             "  phases [s]: " + ", ".join(f"{k[:-2]} {v:.3f}" for k, v in
                                          b["phases"].items() if isinstance(v, float)),
             f"{'instance':>9} {'nvars':>9} {'nnz':>10} {'build':>7} {'handoff':>7} "
             f"{'solve':>8} {'ratio':>7} {'ok':>5} {'B/nnz':>6} {'ok':>5}"]
    for s in result["synthetic"]:
        solve = f"{s['solve']['t_solve_s']:.1f}{'+' if s['solve_time_is_lower_bound'] else ''}"
        lines.append(f"{s['target_nvars']:>9.0e} {s['nvars']:>9} {s['nnz']:>10} "
                     f"{s['t_build_s']:>7.2f} {s['t_handoff_s']:>7.2f} {solve:>8} "
                     f"{s['ratio_build_handoff_over_solve']:>7.3f} "
                     f"{s['ratio_target_met']!s:>5} {s['bytes_per_nnz']:>6.0f} "
                     f"{s['bytes_per_nnz_target_met']!s:>5}")
    return "\n".join(lines)


def main() -> None:
    """Run every measurement, print the table, write the JSON result."""
    baseline = russia_baseline()
    calibration = calibrate()
    synthetic = [synthetic_instance(t, candidates_for(t, calibration))
                 for t in sorted(RATIO_TARGETS)]
    result = {"machine": machine(), "seed": SEED,
              "solve_options": {"output_flag": False, "threads": 1,
                                "time_limit_s": SOLVE_TIME_LIMIT_S},
              "memory_method": MEMORY_METHOD,
              "nvars_calibration": {str(k): v for k, v in calibration.items()},
              "russia_baseline": baseline, "synthetic": synthetic}
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(_table(result))


def _worker_main(args: argparse.Namespace) -> None:
    """Entry of a worker process: one measurement, written as JSON to ``args.out``."""
    if args.worker == "russia":
        result = russia_phases()
    else:
        result = synthetic_measure(int(args.params[0]), float(args.params[1]))
    Path(args.out).write_text(json.dumps(result) + "\n")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=["russia", "synthetic"])
    parser.add_argument("params", nargs="*", help="synthetic: N_CANDIDATES TIME_LIMIT_S")
    parser.add_argument("--out", help="worker result file")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _parse()
    if arguments.worker:
        _worker_main(arguments)
    else:
        main()
