"""Solve a :class:`~reeplan.optimize.problem.Problem` with HiGHS and explain the result.

A :class:`Plan` is its solution as one labelled dataset (builds, capacity, production,
trade, shortfalls, unmet demand, duals) with its :class:`Provenance`; the tables people
read (builds with reasons, targets met or missed, binding constraints) are computed from
that dataset. Every plan passes the mass-balance check; a status other than optimal is
never a plan. :class:`Evaluator` re-optimises operations with the builds fixed for new
parameters (a risk draw) in the same HiGHS model, warm-started.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from reeplan.errors import ReeplanError
from reeplan.optimize.balance import check_plan_balance
from reeplan.optimize.expressions import MUSD, recipe_arrays, solved_tolled_oxide, tolled_ids
from reeplan.optimize.highs import HighsModel, Solution, SolveStatus
from reeplan.optimize.lp import LinearProgram
from reeplan.optimize.model import build_model, buildable, steady_operation_cost
from reeplan.optimize.params import build_parameters
from reeplan.optimize.problem import (
    Candidate,
    Problem,
    ProductGroup,
    Target,
    environment_stage_of,
)
from reeplan.optimize.targets import achieved, penalty_cost, penalty_parts, rule
from reeplan.types import RARE_METAL_STAGES, PlanStage

__all__ = ["Evaluation", "Evaluator", "Plan", "Provenance", "solve", "solve_myopic"]

TOL = 1e-6
"""Values below this [t or USD] are read as zero."""


@dataclass(frozen=True)
class Provenance:
    """Where a plan comes from.

    Attributes
    ----------
    sources
        Source and assumption ids of the figures the plan used.
    data_fingerprint
        sha256 of the fact base's tables, when the plan came from one.
    data_layers
        The fact base's layers (``embedded`` and any ``--data`` directories).
    scenario
        The scenario as resolved (after ``extends:``), when the plan came from a file.
    versions
        Versions of reeplan and the libraries that computed it.
    status, termination
        The solver's status, and its own words for it (e.g. ``Optimal``).
    mip_gap
        Relative gap of the integer solve, when there was one.
    """

    sources: tuple[str, ...] = ()
    data_fingerprint: str | None = None
    data_layers: tuple[str, ...] = ()
    scenario: dict[str, Any] | None = None
    versions: dict[str, str] = field(default_factory=dict)
    status: str = ""
    termination: str = ""
    mip_gap: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"sources": list(self.sources), "data": {"sha256": self.data_fingerprint,
                                                        "layers": list(self.data_layers)},
                "scenario": self.scenario, "versions": dict(self.versions),
                "solver": {"status": self.status, "termination": self.termination,
                           "mip_gap": self.mip_gap}}


def _versions() -> dict[str, str]:
    out = {}
    for p in ("reeplan", "highspy", "numpy", "pandas", "xarray"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:  # pragma: no cover - an uninstalled checkout
            out[p] = "unknown"
    return out


@dataclass(frozen=True)
class Plan:
    """A solved roadmap: the solution dataset, the problem it solves, and its provenance.

    Attributes
    ----------
    name
        The scenario's name.
    status
        Always :attr:`SolveStatus.OPTIMAL` (anything else raises before a plan exists).
    solution
        Every variable family by its labels [t/yr, or M USD/yr for value shortfalls],
        ``capacity`` online [t/yr], ``dual_<family>`` for every constraint family [M USD
        of discounted cost per unit], and the objective in ``attrs``.
    problem, params
        What was solved.
    provenance
        :class:`Provenance`.
    """

    name: str
    status: SolveStatus
    solution: xr.Dataset
    problem: Problem
    params: xr.Dataset
    provenance: Provenance
    model: LinearProgram | None = field(default=None, repr=False, compare=False)
    """The programme it solved (its structure reads "achieved" values of targets)."""

    @property
    def cost(self) -> float:
        """Discounted total cost, penalties included [USD].

        The objective less the steady-operation tie-break
        (:data:`reeplan.optimize.model.STEADY_OPERATION_USD_PER_T`), no cost of the plan.
        """
        return (float(self.solution.attrs["objective_musd"])
                - steady_operation_cost(self.solution, self.params)) * MUSD

    @property
    def penalties(self) -> float:
        """Discounted cost of target shortfalls and unmet demand [USD]."""
        return float((penalty_cost(self.solution, self.params)
                      * self.params["discount"]).sum())

    @property
    def penalties_by_part(self) -> dict[str, float]:
        """Discounted penalties [USD] by what they are for (:data:`PENALTY_PARTS`)."""
        return {k: float((v * self.params["discount"]).sum())
                for k, v in penalty_parts(self.solution, self.params).items()}

    @cached_property
    def builds(self) -> pd.DataFrame:
        """One row per build, with the reason it pays.

        Candidate, stage, decision and online year, capacity [t/yr], capex [USD,
        undiscounted], peak use share [fraction], reason, and the words saying a plant is
        oversized ("" if not).
        """
        return _builds(self)

    @cached_property
    def production(self) -> pd.DataFrame:
        """Output per candidate and year [t/yr]."""
        return self.solution["prod"].to_series().rename("output").reset_index()

    @cached_property
    def trade(self) -> pd.DataFrame:
        """Imports and exports per product, partner, element and year [t] (non-zero)."""
        return _trade(self.solution, self.params)

    @cached_property
    def targets(self) -> pd.DataFrame:
        """Per target and year: required, achieved, shortfall (the rule's unit), met."""
        return _targets(self)

    @cached_property
    def missed(self) -> tuple[str, ...]:
        """Plain-language lines on what the plan falls short of.

        Each missed target, shortfall and first year, and why; demand and contracts left
        unmet; a group target met only on the members the plan tracks, with those it leaves
        out.
        """
        return tuple(_missed(self))

    @cached_property
    def round_trips(self) -> pd.DataFrame:
        """Each product, element and year that is both imported and exported [t].

        A diagnostic: with spreads and freight, a plan should have none.
        """
        t = self.trade
        cols = ["product", "element", "year", "imports", "exports"]
        if t.empty:
            return pd.DataFrame(columns=cols)
        both = t.pivot_table(index=["product", "element", "year"], columns="flow",
                             values="tonnes", aggfunc="sum", fill_value=0.0)
        for flow in ("import", "export"):
            if flow not in both:
                both[flow] = 0.0
        both = both[(both["import"] > TOL) & (both["export"] > TOL)]
        return both.rename(columns={"import": "imports", "export": "exports"}) \
            .reset_index()[cols]

    @cached_property
    def prices(self) -> pd.DataFrame:
        """The prices the plan trades at [USD/kg], with the rules that set them.

        One row per market, product (``oxide``, ``metal``) and element, and one for
        magnets; ``note`` says which rule priced it (an NdPr quote standing for Nd, an old
        quote, an ex-China premium, the metal-to-oxide ratio).
        """
        q, notes = self.params, self.problem.price_notes
        rows: list[tuple[str, str, str | None, float, str]] = []
        for market in q["market"].values:
            oxide = q["market_oxide_price"].sel(market=market).isel(year=0)
            metal = q["market_metal_price"].sel(market=market).isel(year=0)
            for e in q["element"].values:
                said = " ".join(notes.get((str(market), str(e)), ()))
                price = float(oxide.sel(element=e))
                rows.append((str(market), "oxide", str(e), price / 1000, said))
                ratio = float(metal.sel(element=e)) / price if price > 0 else math.nan
                rows.append((str(market), "metal", str(e), float(metal.sel(element=e)) / 1000,
                             f"oxide x {ratio:.3f} (NdPr metal over oxide, quoted the same "
                             f"day)" if price > 0 else ""))
        said = " ".join(notes.get(("all", "magnet"), ()))
        rows.append(("all", "magnet", None, float(q["magnet_price"].isel(year=0)) / 1000,
                     said))
        return pd.DataFrame(rows, columns=["market", "product", "element", "price_usd_per_kg",
                                           "note"])

    @cached_property
    def cross_trades(self) -> pd.DataFrame:
        """Each element and year sold as one product and bought as another [t of product].

        A diagnostic beside :attr:`round_trips`: selling oxide and buying the metal back
        is metal making done abroad in effect (tolling without a contract; ``steps`` the
        chain steps between the two products, ``done_abroad`` true); buying concentrate
        and selling oxide is separation at home for export; selling one concentrate and
        buying another swaps ores. Tolling contracts, magnets and rare metals are left out.
        """
        return _cross_trades(self.trade)

    @cached_property
    def idle_mines(self) -> tuple[str, ...]:
        """Why an existing domestic mine runs below its capacity, one line per mine.

        A mine that runs under :data:`IDLE_SHARE` of its capacity in some year: its share
        used, the years, and what leaves its concentrate without a buyer (home
        separation full or absent, partners closed, partners' caps on concentrate bound).
        """
        return tuple(_idle_mines(self))

    @cached_property
    def unmet(self) -> pd.DataFrame:
        """Demand left unmet per product and year [t/yr] (non-zero), at its penalty.

        An offtake contract the chain cannot feed is a row ``offtake of <candidate>
        (<stage>)``: the contracted output not made [t of the stage's product].
        """
        s = self.solution
        other = s["unmet_other"]
        totals = {"magnet": s["unmet_magnets"],
                  "oxide": other.sum("element") if "element" in other.dims else other}
        if "rm_unmet" in s:
            for k in s["commodity"].values:
                totals[f"{k} (refined)"] = s["rm_unmet"].sel(commodity=k)
        if "rm_down_unmet" in s:
            for k in s["commodity"].values:
                totals[f"{k} (second product)"] = s["rm_down_unmet"].sel(commodity=k).fillna(0.0)
        if "offtake_short" in s:
            stage = dict(zip(self.params["candidate"].values, self.params["stage"].values,
                             strict=True))
            for k in s["candidate"].values:
                totals[f"offtake of {k} ({stage[k]})"] = \
                    s["offtake_short"].sel(candidate=k).fillna(0.0)
        rows = [{"product": name, "year": int(y), "tonnes": float(v)}
                for name, var in totals.items()
                for y, v in zip(s["year"].values, var.values, strict=True) if v > TOL]
        return pd.DataFrame(rows, columns=["product", "year", "tonnes"])

    @cached_property
    def binding(self) -> pd.DataFrame:
        """Constraint families with non-zero duals, largest total first."""
        return _binding(self.solution)


# --------------------------------------------------------------------------- solving


def _solution_dataset(lp: LinearProgram, sol: Solution) -> xr.Dataset:
    data = {name: lp.values(var, sol.x) for name, var in lp.variables.items()}
    data.update({f"dual_{name}": lp.row_values(name, sol.row_dual)
                 for name in lp.constraints})
    ds = xr.Dataset(data)
    p = lp.params
    ds["capacity"] = p["existing"] + (p["online"] * ds["build"]).sum("decision")
    ds.attrs = {"objective_musd": sol.objective, "status": str(sol.status)}
    if "conc_export" not in ds:
        ds["conc_export"] = xr.DataArray(np.zeros((0, p.sizes["partner"], p.sizes["year"])),
                                         coords={"mine": [], "partner": p["partner"].values,
                                                 "year": p["year"].values})
    for name in ("conc_held", "conc_drawn"):  # concentrate stored at mines, drawn later
        ds[name] = ds[name].fillna(0.0) if name in ds else xr.DataArray(
            np.zeros((0, p.sizes["year"])), coords={"mine": [], "year": p["year"].values})
    return ds


def solve(problem: Problem, *, name: str = "plan", params: xr.Dataset | None = None,
          provenance: Provenance | None = None, time_limit: float | None = None) -> Plan:
    """Build the model of ``problem`` once, solve it with HiGHS, check and explain it.

    Perfect foresight: every year of the horizon is decided at once. With integer sizes
    (a MILP), the builds found are then fixed and the linear rest re-solved in the same
    HiGHS model, so the plan carries duals.

    Raises
    ------
    SolveError
        When HiGHS ends without an optimal solution.
    MassBalanceError
        When the solved flows do not balance (a defect, never a plan).
    """
    params = build_parameters(problem) if params is None else params
    lp = build_model(problem, params)
    model = HighsModel(lp, time_limit)
    sol = model.solve(name)
    if model.is_mip:
        cols = lp.variables["build"].cols.values
        created = cols >= 0
        x = sol.x
        model.fix(cols[created], np.maximum(x[cols[created]], 0.0))
        relaxed = model.solve(f"{name} (builds fixed)")
        sol = replace(relaxed, mip_gap=sol.mip_gap)
    return _plan(problem, params, lp, sol, name, provenance)


def _plan(problem: Problem, params: xr.Dataset, lp: LinearProgram, sol: Solution, name: str,
          provenance: Provenance | None) -> Plan:
    ds = _solution_dataset(lp, sol)
    check_plan_balance(ds, params, *recipe_arrays(problem.recipe, params))
    prov = provenance or Provenance(sources=tuple(sorted(problem.sources)))
    prov = replace(prov, versions=prov.versions or _versions(), status=str(sol.status),
                   termination=sol.termination, mip_gap=sol.mip_gap)
    return Plan(name, sol.status, ds, problem, params, prov, lp)


def solve_myopic(problem: Problem, window: int, step: int = 1, *, name: str = "plan",
                 provenance: Provenance | None = None) -> Plan:
    """Rolling horizon: decide ``step`` years at a time, seeing only ``window`` years ahead.

    The parameter dataset is built once and sliced for each window. At each start year the
    model covers the horizon's first year to ``window - 1`` years after the start, with the
    builds of earlier steps fixed; it fixes the builds decided in the ``step`` years from
    the start. A final solve of the whole horizon with every build fixed gives the plan,
    its costs and its duals. Myopia never lowers the cost.
    """
    if window < 1 or step < 1 or step > window:
        raise ReeplanError(f"myopic window {window} and step {step}: expected "
                           f"1 <= step <= window")
    full = build_parameters(problem)
    years = list(problem.years)
    for s in range(0, len(years), step):
        seen = years[: min(s + window, len(years))]
        sub = replace(problem, years=tuple(seen),
                      targets=tuple(t for t in problem.targets if t.from_year in seen),
                      partners=tuple(replace(q, import_caps_by_year={
                          y: c for y, c in q.import_caps_by_year.items() if y in seen})
                          for q in problem.partners))
        window_params = _window(full, sub, seen)
        plan = solve(sub, name=f"{name} (window to {seen[-1]})", params=window_params)
        decided = years[s: s + step]
        value = plan.solution["build"].sel(decision=decided).clip(min=0.0)
        can = buildable(full).sel(decision=decided)
        fixed = full["fixed_build"].copy()
        fixed.loc[{"decision": decided}] = value.where(can)
        full = full.assign(fixed_build=fixed)
    return solve(problem, name=name, params=full, provenance=provenance)


def _window(full: xr.Dataset, sub: Problem, seen: list[int]) -> xr.Dataset:
    """The parameters of a window: the years seen, and the targets inside them."""
    q = full.sel(year=seen, decision=seen)
    ids = [t.id for t in sub.targets]
    q = q.sel(target=ids)
    q["discount"] = full["discount"].sel(year=seen)
    return q


# --------------------------------------------------------------------------- evaluate


@dataclass(frozen=True)
class Evaluation:
    """Operations re-optimised with the builds fixed, for one set of parameters.

    Attributes
    ----------
    cost
        Discounted total cost, capex of the fixed builds and penalties included [USD]
        (the steady-operation tie-break left out, as in :attr:`Plan.cost`).
    status, termination
        The solver's status and words.
    x
        Column values (read them with :meth:`Evaluator.values`).
    """

    cost: float
    status: SolveStatus
    termination: str
    x: np.ndarray


class Evaluator:
    """Re-optimise operations with builds fixed, for new parameters, in one HiGHS model.

    The model is built once from ``problem``'s base parameters; each :meth:`evaluate`
    changes costs, bounds, right-hand sides and coefficients in place and warm-starts from
    the last basis. The structure (which columns exist) is the base's: a draw may close a
    route or deny a partner but not open one the base does not have.
    """

    def __init__(self, problem: Problem, params: xr.Dataset | None = None) -> None:
        self.problem = problem
        self.params = build_parameters(problem) if params is None else params
        self.lp = build_model(replace(problem, integer_sizes=False), self.params)
        self.model = HighsModel(self.lp)
        self._build_cols = self.lp.variables["build"].cols

    def evaluate(self, builds: xr.DataArray, params: xr.Dataset | None = None) -> Evaluation:
        """Cost and operations of ``builds`` under ``params``.

        ``builds`` [t/yr] over candidate and decision year; ``params`` the base parameters
        when omitted.
        """
        cols = self._build_cols.values
        values = builds.broadcast_like(self._build_cols).fillna(0.0).transpose(
            *self._build_cols.dims).values
        created = cols >= 0
        stray = (~created) & (np.abs(values) > TOL)
        if stray.any():
            raise ReeplanError("evaluate: builds given where the plan cannot build "
                               "(technology not granted or online after the horizon)")
        self.model.fix(cols[created], values[created])
        if params is not None:
            self.model.update(params)
        sol = self.model.solve("evaluate")
        tie_break = 0.0
        if "output_rise" in self.lp.variables and sol.x is not None:
            moved = xr.Dataset({n: self.lp.values(n, sol.x)
                                for n in ("output_rise", "output_fall")})
            tie_break = steady_operation_cost(moved, self.lp.params if params is None
                                              else params)
        return Evaluation((sol.objective - tie_break) * MUSD, sol.status, sol.termination,
                          sol.x)

    def values(self, evaluation: Evaluation, name: str) -> xr.DataArray:
        """A variable family's values in ``evaluation``, labelled."""
        return self.lp.values(name, evaluation.x)


# --------------------------------------------------------------------------- explanation


def _builds(plan: Plan) -> pd.DataFrame:
    by_id = {c.id: c for c in plan.problem.candidates}
    rows = []
    sol = plan.solution["build"].to_series()
    for (cid, year), cap in zip(sol.index.to_list(), sol.to_list(), strict=True):
        if cap <= TOL:
            continue
        c = by_id[str(cid)]
        online = int(year) + c.lead_time
        peak = _peak_use(plan, c.id)
        rows.append({"candidate": c.id, "stage": c.stage, "decision_year": int(year),
                     "online_year": online, "capacity": float(cap),
                     "capex": float(cap) * c.capex, "peak_use_share": peak,
                     "reason": _reason(c, online, plan), "oversized": _oversized_words(peak)})
    cols = ["candidate", "stage", "decision_year", "online_year", "capacity", "capex",
            "peak_use_share", "reason", "oversized"]
    return pd.DataFrame(rows, columns=cols)


OVERSIZED_BELOW = 0.6
"""A plant whose output never reaches this share of its capacity once all of it is fully
online is reported as oversized [fraction]."""


def _peak_use(plan: Plan, candidate: str) -> float:
    """Most of its capacity a candidate uses in a year once all of it is fully online.

    A fraction; NaN when that year is beyond the horizon. Ramp-up usable shares are of a
    plant's size, so a plant built larger than it will run makes more while it ramps up:
    a plan may oversize one to meet a target early. This says how far.
    """
    s, q = plan.solution, plan.params
    size = float(q["existing"].sel(candidate=candidate) + s["build"].sel(
        candidate=candidate).sum())
    usable = s["capacity"].sel(candidate=candidate)
    full = usable["year"].values[usable.values >= size - TOL]
    if size <= TOL or not len(full):
        return math.nan
    return float(s["prod"].sel(candidate=candidate, year=full).max()) / size


def _oversized_words(peak: float) -> str:
    """Words for a build whose plant never runs near its size once ramped up.

    :attr:`Plan.builds` holds them apart (``oversized``), and every place that shows a
    build's reason appends them (the CLI and the ``builds`` table): the reason itself says
    only what the build serves.
    """
    if math.isnan(peak) or peak >= OVERSIZED_BELOW:
        return ""
    return (f"; oversized: at most {100 * peak:.0f}% of its capacity used once fully "
            f"online (its size buys output while it ramps up)")


def _serves(c: Candidate, t: Target, problem: Problem) -> bool:
    """Whether ``c`` can help meet ``t``.

    Its stage explains the target, and a plant abroad (a mine supplying imported feed,
    a separator tolling the country's ore) never counts as that stage done at home; for
    a target on a product group, a rare-metal plant makes one of the group's metals and
    a rare-earth plant serves only a group with rare-earth members (or a mine whose
    co-products are in it).
    """
    if c.stage not in rule(t.kind).stages(t):
        return False
    at_home = t.kind in ("self_sufficiency", "output") and t.stage == c.stage
    if c.abroad and at_home:
        return False
    if t.commodity:  # a cap on one rare metal's imports: its own mines and refineries
        return c.commodity == t.commodity or t.commodity in c.coproducts
    group = problem.product_group(t.group)
    if group is None:
        return True
    if c.stage in RARE_METAL_STAGES:  # its group's metals only
        return c.commodity in group.commodities or bool(
            set(c.coproducts) & set(group.commodities))
    return bool(group.element_groups) or bool(set(c.coproducts) & set(group.commodities))


def _reason(c: Candidate, online: int, plan: Plan) -> str:
    """The target whose constraint binds while the build is online, else cost."""
    for t in plan.problem.targets:
        if not _serves(c, t, plan.problem):
            continue
        dual = plan.solution[f"dual_target_{t.id}"]
        later = dual.sel(year=dual["year"] >= online)
        if bool((abs(later) > TOL).any()):
            return f"target '{t.id}'"
    return "pays at the plan's prices"


_PRODUCTS = {"oxide": ("import_oxide", "export_oxide"), "metal": ("import_metal", "export_metal"),
             "magnet": ("import_magnet", "export_magnet")}


def _trade(sol: xr.Dataset, params: xr.Dataset) -> pd.DataFrame:
    """Every product traded [t], by flow, partner, element and year.

    Concentrate counts by the oxides it holds [t REO]: sold from domestic mines to a
    partner, bought from mines abroad (from their partner).
    """
    frames = []
    for product, names in _PRODUCTS.items():
        for name in names:
            s = sol[name].to_series()
            df = s[s > TOL].rename("tonnes").reset_index()
            df.insert(0, "product", product)
            df.insert(0, "flow", name.split("_")[0])
            if "element" not in df:
                df["element"] = ""
            frames.append(df[["flow", "product", "partner", "element", "year", "tonnes"]])
    mines = params["mine"].values
    if len(mines):
        dist = params["distribution"]
        prod = sol["prod"].sel(candidate=list(mines)).rename(candidate="mine")
        bought = prod.where(params["mine_abroad"], 0.0)
        partners = params["mine_partner"].to_series()
        for flow, amount, who in (("export", sol["conc_export"].fillna(0.0), None),
                                  ("import", bought, partners)):
            s = (amount * dist).to_series()
            df = s[s > TOL].rename("tonnes").reset_index()
            if who is not None:
                df["partner"] = df["mine"].map(who)
            df["product"] = df["mine"].map(_concentrate_products(params))
            df = df.groupby(["product", "partner", "element", "year"])["tonnes"].sum() \
                .reset_index()
            df.insert(0, "flow", flow)
            frames.append(df[["flow", "product", "partner", "element", "year", "tonnes"]])
    if "toll_feed" in sol:
        frames += _tolling(sol, params)
    for name, (flow, product) in RARE_METAL_TRADE.items():
        if name in sol:  # the element column holds the commodity
            s = sol[name].to_series()
            df = s[s > TOL].rename("tonnes").reset_index().rename(
                columns={"commodity": "element"})
            df.insert(0, "product", product)
            df.insert(0, "flow", flow)
            frames.append(df[["flow", "product", "partner", "element", "year", "tonnes"]])
    return pd.concat(frames, ignore_index=True)


def _concentrate_products(params: xr.Dataset) -> dict[str, str]:
    """Each mine's concentrate as traded.

    ``concentrate``, or, for ore only one plant may separate (``feed_from``),
    ``concentrate (feed of <plant>)``: another product, so buying it while selling
    ordinary concentrate is no round trip.
    """
    names = {str(m): "concentrate" for m in params["mine"].values}
    if "mine_in_group" in params:
        member = params["mine_in_group"].transpose("feed_group", "mine")
        for g, row in zip(member["feed_group"].values, member.values, strict=True):
            if g != "any":
                names.update({str(m): f"concentrate (feed of {g})"
                              for m, on in zip(member["mine"].values, row, strict=True)
                              if on > 0})
    return names


RARE_METAL_TRADE = {"rm_import": ("import", "rare metal (refined)"),
                    "rm_export": ("export", "rare metal (refined)"),
                    "rm_conc_import": ("import", "rare metal (concentrate)"),
                    "rm_conc_export": ("export", "rare metal (concentrate)"),
                    "rm_down_import": ("import", "rare metal (second product)"),
                    "rm_down_export": ("export", "rare metal (second product)")}
"""Rare-metal trade families and their (flow, product) in the trade table [t content]."""


_CHAIN_ORDER = {"concentrate": 0, "oxide": 1, "metal": 2}
"""Rare-earth products traded per element, in chain order (``concentrate (feed of X)`` is a
concentrate)."""
_MADE_BY = {1: "separation", 2: "metal making"}


IDLE_SHARE = 0.95
"""A mine running below this share of its capacity in a year is reported as idle in part."""


def _idle_mines(plan: Plan) -> list[str]:
    s, p = plan.solution, plan.problem
    lines = []
    for c in p.of_stage("mining"):
        if c.abroad or c.existing <= TOL:
            continue
        cap = s["capacity"].sel(candidate=c.id).values
        out = s["prod"].sel(candidate=c.id).values
        low = (cap > TOL) & (out < IDLE_SHARE * cap - TOL)
        if not low.any():
            continue
        years = s["year"].values[low]
        share = float(out[low].sum() / cap[low].sum())
        span = f"{years.min()}" if len(years) == 1 else f"{years.min()}-{years.max()}"
        why = "; ".join(_no_buyer(plan, c.id, years)) \
            or "its concentrate earns less than mining it costs"
        lines.append(f"{c.id} runs at {share:.0%} of its {float(cap[low].max()):,.0f} t/yr in "
                     f"{span}: {why}.")
    return lines


def _no_buyer(plan: Plan, mine: str, years: np.ndarray) -> list[str]:
    """What keeps more of ``mine``'s concentrate from being separated at home or sold."""
    s, q, p = plan.solution, plan.params, plan.problem
    why = []
    seps = [c.id for c in p.of_stage("separation") if not c.feed_from or mine in c.feed_from]
    if not seps:
        why.append("no separation at home")
    else:
        cap = s["capacity"].sel(candidate=seps, year=years).sum("candidate")
        out = s["prod"].sel(candidate=seps, year=years).sum("candidate")
        if _full(out.values, cap.values):
            why.append(f"home separation runs full ({float(cap.max()):,.0f} t/yr)")
    sold = s["conc_export"].sum("mine") if s["conc_export"].sizes["mine"] else None
    for k, r in enumerate(p.partners):
        banned = bool(q["banned"].isel(partner=k).sel(year=years).all())
        if r.blocked or r.buys_nothing or banned:
            why.append(f"{r.id} buys nothing from us" + (" (banned years)" if banned and not
                                                          (r.blocked or r.buys_nothing) else ""))
        elif r.concentrate_buy_cap is not None and sold is not None:
            took = sold.isel(partner=k).sel(year=years).values
            if _full(took, np.full(took.shape, r.concentrate_buy_cap)):
                why.append(f"{r.id} buys at most {r.concentrate_buy_cap:,.0f} t/yr of "
                           f"concentrate" if r.concentrate_buy_cap else
                           f"{r.id} buys no concentrate")
                continue
        if r.route_capacity is not None and "dual_route_capacity" in s:
            dual = s["dual_route_capacity"].isel(partner=k).sel(year=years).fillna(0.0)
            if bool((abs(dual) > TOL * 1e-6).all()):
                why.append(f"the routes to {r.id} carry at most {r.route_capacity:,.0f} t/yr")
    return why


def _full(used: np.ndarray, cap: np.ndarray) -> bool:
    """Whether ``used`` reaches ``cap`` in every year (within rounding)."""
    return bool((used >= cap - 1e-6 * (1 + cap)).all())


def _cross_trades(trade: pd.DataFrame) -> pd.DataFrame:
    cols = ["element", "year", "exported", "exported_t", "imported", "imported_t", "steps",
            "done_abroad", "reading"]
    t = trade[~trade["product"].isin(TOLLED) & trade["element"].notna()]
    order = t["product"].str.split(" ").str[0].map(_CHAIN_ORDER)
    t = t.assign(order=order)[order.notna()]
    sums = t.groupby(["flow", "element", "year", "product", "order"], as_index=False)[
        "tonnes"].sum()
    sums = sums[sums["tonnes"] > TOL]
    keep = ["element", "year", "product", "order", "tonnes"]
    pairs = sums.loc[sums["flow"] == "export", keep].merge(
        sums.loc[sums["flow"] == "import", keep], on=["element", "year"],
        suffixes=("_out", "_in"))
    pairs = pairs[pairs["product_out"] != pairs["product_in"]]
    if pairs.empty:
        return pd.DataFrame(columns=cols)
    first, last = pairs["order_out"].astype(int), pairs["order_in"].astype(int)
    steps = [" and ".join(_MADE_BY[k] for k in range(min(a, b) + 1, max(a, b) + 1))
             for a, b in zip(first, last, strict=True)]
    readings = [f"{s} done abroad in effect" if a < b else f"{s} at home for export" if a > b
                else "ores swapped: one concentrate sold, another bought"
                for s, a, b in zip(steps, first, last, strict=True)]
    out = pd.DataFrame({"element": pairs["element"].to_numpy(),
                        "year": pairs["year"].astype(int).to_numpy(),
                        "exported": pairs["product_out"].to_numpy(),
                        "exported_t": pairs["tonnes_out"].astype(float).to_numpy(),
                        "imported": pairs["product_in"].to_numpy(),
                        "imported_t": pairs["tonnes_in"].astype(float).to_numpy(),
                        "steps": steps, "done_abroad": (first < last).to_numpy(),
                        "reading": readings}, columns=cols)
    return out.sort_values(["element", "year", "exported", "imported"],
                           ignore_index=True)


TOLLED = ("concentrate (tolling)", "oxide (tolled)")
"""Products of tolling: the ore sent out to be separated, the oxide that comes back."""


def _tolling(sol: xr.Dataset, params: xr.Dataset) -> list[pd.DataFrame]:
    """Ore sent abroad for separation and the oxide coming back [t REO], by partner."""
    partners = sorted({str(p) for p in params["candidate_partner"].sel(
        candidate=tolled_ids(params)).values})
    partner = partners[0] if len(partners) == 1 else "+".join(partners)
    sent = sol["toll_feed"] * params["distribution"]
    back = solved_tolled_oxide(sol, params)
    frames = []
    for flow, product, amount in (("export", TOLLED[0], sent), ("import", TOLLED[1], back)):
        s = amount.sum("mine").to_series()
        df = s[s > TOL].rename("tonnes").reset_index()
        df.insert(0, "partner", partner)
        df.insert(0, "product", product)
        df.insert(0, "flow", flow)
        frames.append(df[["flow", "product", "partner", "element", "year", "tonnes"]])
    return frames


def _targets(plan: Plan) -> pd.DataFrame:
    cols = ["target", "kind", "unit", "year", "required", "achieved", "shortfall",
            "shortfall_unit", "met"]
    p = plan.problem
    if not p.targets:
        return pd.DataFrame(columns=cols)
    lp = plan.model or build_model(p, plan.params)
    x = _x_of(lp, plan.solution)
    rows = []
    for t in p.targets:
        r = rule(t.kind)
        measured = achieved(lp, x, plan.params, t)
        short = plan.solution["shortfall"].sel(target=t.id) * r.scale
        for year in p.years:
            if year < t.from_year:
                continue
            s = float(short.sel(year=year))
            rows.append({"target": t.id, "kind": t.kind, "unit": r.value_unit, "year": year,
                         "required": t.value, "achieved": float(measured.sel(year=year)),
                         "shortfall": s, "shortfall_unit": r.unit,
                         "met": s <= TOL * max(1.0, r.scale)})
    return pd.DataFrame(rows, columns=cols)


def _x_of(lp: LinearProgram, sol: xr.Dataset) -> np.ndarray:
    """The column vector of a solution dataset, for a model of the same structure."""
    x = np.zeros(lp.n_cols)
    for name, var in lp.variables.items():
        cols = var.cols.values
        vals = sol[name].transpose(*var.cols.dims).values
        x[cols[cols >= 0]] = vals[cols >= 0]
    return x


def _missed(plan: Plan) -> list[str]:
    targets = plan.targets
    lines = []
    for t in plan.problem.targets:
        rows = targets[(targets["target"] == t.id) & ~targets["met"]]
        if rows.empty:
            untracked = _untracked(plan.problem.product_group(t.group)) if t.group else []
            if untracked:  # met on what the plan counts: say what it leaves out
                group = plan.problem.product_group(t.group)
                assert group is not None
                counted = list(group.commodities) + [f"{g} rare-earth oxides"
                                                     for g in group.element_groups]
                lines.append(f"Target '{t.id}' is met on {', '.join(counted)} alone; "
                             f"{untracked[0]}.")
            continue
        first = int(rows["year"].min())
        worst = float(rows["shortfall"].max())
        why = "; ".join(_why(t, first, plan)) or "meeting it costs more than its penalty"
        lines.append(f"Target '{t.id}' is missed from {first} by up to {worst:,.0f} "
                     f"{rule(t.kind).unit}: {why}.")
    if not plan.unmet.empty:
        for product, rows in plan.unmet.groupby("product", sort=False):
            first, worst = int(rows["year"].min()), float(rows["tonnes"].max())
            if str(product).startswith("offtake of "):
                capped = _capped(plan)
                held = f" ({', '.join(capped)}: partners' export caps bind)" if capped else ""
                what = str(product)[:1].upper() + str(product)[1:]
                lines.append(f"{what} under contract falls short from {first} by up to "
                             f"{worst:,.0f} t/yr: its inputs cannot be had{held}.")
                continue
            named = _unmet_elements(plan) if product == "oxide" else []
            which = f" ({', '.join(named)})" if named else ""
            lines.append(f"Demand for {product}{which} is left unmet from {first} "
                         f"by up to {worst:,.0f} t/yr: no supply can reach it "
                         f"(partners blocked or capped, no domestic capacity in time).")
    return lines


def _unmet_elements(plan: Plan) -> list[str]:
    """Elements of other uses left unmet in some year, most unmet first."""
    unmet = plan.solution["unmet_other"]
    if "element" not in unmet.dims:  # a pooled problem: no element to name
        return []
    total = unmet.fillna(0.0).sum("year").to_series()
    return [str(e) for e, t in total.sort_values(ascending=False).items() if t > TOL]


def _capped(plan: Plan) -> list[str]:
    """The elements whose partners' export caps bind in some year."""
    if "dual_export_control" not in plan.solution:
        return []
    dual = abs(plan.solution["dual_export_control"].fillna(0.0))
    return [str(e) for e in dual["element"].values if float(dual.sel(element=e).max()) > TOL]


def _ramping(c: Candidate, year: int, plan: Plan) -> str | None:
    """Why built capacity of ``c`` is not all usable in ``year``: its ramp-up, if so."""
    s, q = plan.solution, plan.params
    k = int(np.nonzero(q["candidate"].values == c.id)[0][0])
    builds = s["build"].transpose("candidate", "decision").values[k]
    built = float(builds.sum())
    if built <= TOL:
        return None
    y = int(np.nonzero(q["year"].values == year)[0][0])
    online = q["online"].transpose("candidate", "decision", "year").values[k, :, y]
    usable = float((online * builds).sum())
    if usable >= built - TOL:
        return None
    return f"{c.id} {usable:,.0f} of {built:,.0f} t/yr"


def _why(t: Target, year: int, plan: Plan) -> list[str]:
    p = plan.problem
    reasons = []
    ramps = [r for stage in rule(t.kind).stages(t) for c in p.of_stage(stage)
             if _serves(c, t, p) and (r := _ramping(c, year, plan))]
    if ramps:
        curve = ", ".join(f"{100 * x:.0f}%" for x in p.ramp_up)
        reasons.append(f"new plants ramp up ({curve} of their size in their first years "
                       f"online): usable in {year} {'; '.join(ramps)}")
    for stage in rule(t.kind).stages(t):
        reasons += _stage_reasons(t, stage, year, plan)
    if {str(x) for x in rule(t.kind).stages(t)} & {"metal", "alloy", "magnet"} \
            and (capped := _capped(plan)):
        reasons.append(f"the magnets need {', '.join(capped)}, held back by partners' "
                       f"export caps")
    if t.kind == "output_value":
        reasons += _value_reasons(t, p) + _against_baseline(t, plan)
    if t.kind == "group_output":
        reasons += _group_gaps(t, p)
    if "dual_reserves" in plan.solution:
        dual = plan.solution["dual_reserves"].to_series()
        reasons += [f"the reserve of {mine} is exhausted" for mine, d in dual.items()
                    if abs(d) > TOL]
    return reasons + _environment_reasons(t, plan)


def _environment_reasons(t: Target, plan: Plan) -> list[str]:
    """Environmental caps that bind in a year the target is missed, at a stage serving it."""
    p, s, q = plan.problem, plan.solution, plan.params
    if not p.environment_caps:
        return []
    rows = plan.targets[(plan.targets["target"] == t.id) & ~plan.targets["met"]]
    missed = [int(y) for y in rows["year"]]
    stages = set(rule(t.kind).stages(t))
    reasons = []
    for indicator, cap in sorted(p.environment_caps.items()):
        if not any(environment_stage_of(st) in stages for st, i in p.environment
                   if i == indicator):
            continue
        total = (s["prod"] * q["environment"].sel(indicator=indicator)).sum("candidate")
        binding = [y for y in missed if float(total.sel(year=y)) >= cap - max(TOL, 1e-6 * cap)]
        if binding:
            unit = p.environment_units.get(indicator, "")
            reasons.append(f"from {binding[0]} the cap on {indicator.replace('_', ' ')} "
                           f"({cap:,.0f} {unit}/yr, policy.environment_caps) binds: the "
                           f"plants at home may not emit or use more of it")
    return reasons


def _stage_reasons(t: Target, stage: PlanStage, year: int, plan: Plan) -> list[str]:
    """Why the plants of ``stage`` that serve ``t`` could not give more by ``year``."""
    p = plan.problem
    built = plan.solution["build"].sum("decision").to_series()
    reasons = []
    serving = [c for c in p.of_stage(stage) if _serves(c, t, p)]
    for c in serving:
        if c.technology not in p.allowed_technology and c.max_capacity > c.existing:
            reasons.append(f"{c.id} needs {c.technology} technology, which the "
                           f"scenario does not grant")
        elif p.years[0] + c.lead_time > year and c.max_capacity > c.existing:
            reasons.append(f"lead time of {c.id}: new capacity is online from "
                           f"{p.years[0] + c.lead_time} at the earliest")
        elif c.existing + float(built.get(c.id, 0.0)) >= c.max_capacity - TOL \
                and c.max_capacity > c.existing:
            reasons.append(f"{c.id} is built to its maximum of {c.max_capacity:,.0f} t/yr")
        elif c.max_capacity <= c.existing and c.max_capacity > 0 and t.commodity:
            reasons.append(f"{c.id} cannot grow: its {c.existing:,.0f} t/yr are its maximum")
    if not serving:  # none at all, or only plants abroad (others make other products)
        abroad = [c.id for c in p.of_stage(stage) if c.abroad]
        if abroad:
            reasons.append(f"no {stage} candidate exists at home ({', '.join(abroad)} "
                           f"is abroad: it does not count as {stage} at home)")
        elif not p.of_stage(stage) and not (t.group or t.commodity):
            reasons.append(f"no {stage} candidate exists")
    return reasons


def _against_baseline(t: Target, plan: Plan) -> list[str]:
    """The plan's own first-year value beside the target's stated base, when it has one."""
    if t.baseline is None or t.baseline <= 0:
        return []
    lp = plan.model or build_model(plan.problem, plan.params)
    first = float(achieved(lp, _x_of(lp, plan.solution), plan.params, t).isel(year=0))
    year = plan.problem.years[0]
    return [f"what the plan counts is worth {first / MUSD:,.0f} M USD in {year} against the "
            f"stated base of {t.baseline / MUSD:,.0f} M USD: "
            + ("the stated figure counts more products, or other prices, than the plan, so "
               "reaching the target here takes more growth than the roadmap states"
               if first < 0.8 * t.baseline else "the two agree within a fifth")]


def _value_reasons(t: Target, p: Problem) -> list[str]:
    """What a value target counts, and which of its group's metals count for nothing."""
    group = p.product_group(t.group)
    tracked = list(group.commodities) if group else [m.commodity for m in p.rare_metals]
    reasons = ["the value counts only the rare earths the plan models (oxide, metal and "
               "magnets made at home, at reference prices): a target for rare and "
               "rare-earth metals together also needs the rare metals" if not tracked else
               f"the value counts the rare earths made at home (at reference prices) and "
               f"the refined output of {', '.join(tracked)} (at world prices)"]
    return reasons + _untracked(group)


def _untracked(group: ProductGroup | None) -> list[str]:
    """A product group's members the plan does not track, which count for nothing."""
    if group is None or not group.not_modelled:
        return []
    made = {k: (t, y) for k, t, y in group.not_modelled_output}
    weighed = ", ".join(f"{k} {t:,.0f} t ({y})" if t >= 1 else f"{k} {t:.2g} t ({y})"
                        for k, (t, y) in made.items())
    none = [k for k in group.not_modelled if k not in made]
    return [f"{', '.join(group.not_modelled)} count for nothing: the plan does not track "
            f"them (no consumption or plant data)"
            + (f"; the country's latest published output of them: {weighed}" if made else "")
            + (f"; none published for {', '.join(none)}" if made and none else "")
            + _announced(group)]


def _announced(group: ProductGroup) -> str:
    """The announced plants of a group's untracked members, for the reader to weigh."""
    if not group.not_modelled_announced:
        return ""
    plants = "; ".join(f"{k} {t:,.0f} t/yr" + (f" from {y}" if y else "") + f" ({name})"
                       for k, t, y, name in group.not_modelled_announced)
    return f"; announced, not counted: {plants}"


def _group_gaps(t: Target, p: Problem) -> list[str]:
    """What a product group's output lacks: members with no plant to make them."""
    group = p.product_group(t.group)
    assert group is not None  # Problem checks every group_output names a group
    refined = {c.commodity for c in p.of_stage("rare_metal_refining")}
    direct = {m.commodity for m in p.rare_metals if m.used_as_concentrate}
    lacking = [k for k in group.commodities if k not in refined | direct]
    reasons = [f"no refinery of {', '.join(lacking)} is planned or possible"] if lacking \
        else []
    reasons += _untracked(group)
    if group.element_groups and not p.of_stage("separation"):
        reasons.append("no rare-earth separation at home")
    return reasons


def _binding(sol: xr.Dataset) -> pd.DataFrame:
    rows = []
    for name in sol.data_vars:
        if not str(name).startswith("dual_"):
            continue
        dual = np.abs(sol.variables[name].values)
        total = float(dual.sum())
        if total > TOL and math.isfinite(total):
            rows.append({"constraint": str(name).removeprefix("dual_"),
                         "total_abs_dual": total, "cells": int((dual > TOL).sum())})
    df = pd.DataFrame(rows, columns=["constraint", "total_abs_dual", "cells"])
    return df.sort_values("total_abs_dual", ascending=False).reset_index(drop=True)
