"""The programme in HiGHS: one model per plan, solved, re-solved and changed in place.

:class:`HighsModel` passes the assembled matrix to HiGHS once. A MILP is solved, then its
builds fixed and the linear rest re-solved in the same model for duals; :meth:`update`
changes costs, bounds, right-hand sides and coefficients for new parameters (a risk draw)
without a rebuild, and the next solve starts from the last basis (warm start). A status
other than optimal is never a plan: :class:`SolveError` says what happened.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import highspy
import numpy as np

from reeplan.errors import ReeplanError
from reeplan.optimize.lp import LinearProgram, Matrix, Param

__all__ = ["HighsModel", "Solution", "SolveError", "SolveStatus"]


class SolveStatus(StrEnum):
    """HiGHS's model status, by name; only ``OPTIMAL`` is a plan."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    UNBOUNDED_OR_INFEASIBLE = "unbounded or infeasible"
    TIME_LIMIT = "time limit reached"
    ITERATION_LIMIT = "iteration limit reached"
    INTERRUPTED = "interrupted"
    NUMERICAL_TROUBLE = "numerical trouble or other solver error"
    NOT_SOLVED = "not solved"


_STATUS = {
    "kOptimal": SolveStatus.OPTIMAL, "kInfeasible": SolveStatus.INFEASIBLE,
    "kUnbounded": SolveStatus.UNBOUNDED,
    "kUnboundedOrInfeasible": SolveStatus.UNBOUNDED_OR_INFEASIBLE,
    "kTimeLimit": SolveStatus.TIME_LIMIT, "kIterationLimit": SolveStatus.ITERATION_LIMIT,
    "kInterrupt": SolveStatus.INTERRUPTED, "kNotset": SolveStatus.NOT_SOLVED,
}

_SUSPECTS = {
    SolveStatus.INFEASIBLE: "fixed builds above what may be built, a reserve below existing "
                            "output, or a bound set below zero",
    SolveStatus.UNBOUNDED: "an export price above the import price of the same product "
                           "(a discount below zero or a premium below zero), or a negative "
                           "cost",
    SolveStatus.UNBOUNDED_OR_INFEASIBLE: "the same as for infeasible or unbounded plans",
    SolveStatus.TIME_LIMIT: "the model's size (minimum plant sizes make it a MILP)",
    SolveStatus.NUMERICAL_TROUBLE: "numbers of very different sizes (penalties, prices, "
                                   "capacities)",
}


class SolveError(ReeplanError):
    """HiGHS ended without an optimal solution: there is no plan.

    Parameters
    ----------
    status
        What HiGHS reported.
    what
        Which solve (e.g. the scenario's name).
    """

    def __init__(self, status: SolveStatus, what: str = "the model") -> None:
        self.status = status
        self.what = what
        super().__init__(status, what)

    def __reduce__(self) -> tuple[type[SolveError], tuple[SolveStatus, str]]:
        return (type(self), (self.status, self.what))

    def __str__(self) -> str:
        suspect = _SUSPECTS.get(self.status, "the inputs named in the scenario")
        return (f"the solver found no plan for {self.what} (status: {self.status}); targets "
                f"and demand are soft, so this points to the inputs; suspect: {suspect}")


@dataclass(frozen=True)
class Solution:
    """A solve's result: status, objective [M USD], columns, row duals, HiGHS's words."""

    status: SolveStatus
    objective: float
    x: np.ndarray
    row_dual: np.ndarray
    termination: str
    mip_gap: float | None


@contextmanager
def native_stdout_silenced() -> Iterator[None]:
    """Keep HiGHS's banner off standard output, where it would corrupt CSV or JSON.

    HiGHS prints it from its C++ constructor, before any option applies, so only the file
    descriptor can be redirected.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class HighsModel:
    """One linear programme held by HiGHS.

    Parameters
    ----------
    lp
        The assembled programme.
    time_limit
        Seconds HiGHS may take per solve; reaching it is a :class:`SolveError`.
    """

    def __init__(self, lp: LinearProgram, time_limit: float | None = None) -> None:
        self.lp = lp
        self.matrix = lp.matrix()
        with native_stdout_silenced():
            self.highs: Any = highspy.Highs()
        for name, value in (("output_flag", False), ("threads", 1), ("random_seed", 0),
                            ("mip_rel_gap", 1e-6)):
            self.highs.setOptionValue(name, value)
        if time_limit is not None:
            self.highs.setOptionValue("time_limit", float(time_limit))
        self._pass(self.matrix)
        self._state = {"cost": self.matrix.col_cost.copy(),
                       "lower": self.matrix.col_lower.copy(),
                       "upper": self.matrix.col_upper.copy()}
        self._parts = list(lp.parametric())
        self._values = [part.value for part in self._parts]
        self._params = lp.params
        self._matrix_now: dict[tuple[int, int], float] = {}

    def _pass(self, m: Matrix) -> None:
        n_col, n_row = m.col_cost.size, m.row_lower.size
        status = self.highs.passModel(
            n_col, n_row, m.n_nonzeros, 1, 1, 0.0, m.col_cost, m.col_lower, m.col_upper,
            m.row_lower, m.row_upper, m.start[:-1].astype(np.int32),
            m.index.astype(np.int32), m.value, m.integrality.astype(np.int32))
        if status == highspy.HighsStatus.kError:
            raise ReeplanError("HiGHS refused the model (inconsistent bounds or matrix)")

    @property
    def is_mip(self) -> bool:
        """Whether any column is integer."""
        return bool(self.matrix.integrality.any())

    def solve(self, what: str = "the model") -> Solution:
        """Run HiGHS; raise :class:`SolveError` unless the status is optimal."""
        self.highs.run()
        raw = self.highs.getModelStatus()
        status = _STATUS.get(raw.name, SolveStatus.NUMERICAL_TROUBLE)
        if status is not SolveStatus.OPTIMAL:
            raise SolveError(status, what)
        sol = self.highs.getSolution()
        info = self.highs.getInfo()
        gap = float(info.mip_gap) if self.is_mip else None
        duals = np.asarray(sol.row_dual, dtype=float) if sol.dual_valid \
            else np.zeros(self.matrix.row_lower.size)
        return Solution(status, float(info.objective_function_value),
                        np.asarray(sol.col_value, dtype=float), duals,
                        self.highs.modelStatusToString(raw), gap)

    def fix(self, cols: np.ndarray, values: np.ndarray) -> None:
        """Fix columns at values and make every column continuous (a linear re-solve)."""
        cols = cols.astype(np.int32)
        if cols.size:
            self.highs.changeColsBounds(cols.size, cols, values, values)
        if self.is_mip:
            all_cols = np.arange(self.matrix.col_cost.size, dtype=np.int32)
            self.highs.changeColsIntegrality(all_cols.size, all_cols,
                                             np.zeros(all_cols.size, dtype=np.uint8))
            self.matrix = Matrix(**{**self.matrix.__dict__,
                                    "integrality": np.zeros_like(self.matrix.integrality)})

    def update(self, params: Param) -> None:
        """Change HiGHS's model in place for ``params``.

        Costs, column bounds, right-hand sides and coefficients that depend on parameters
        that changed are recomputed and passed on; nothing else is touched.

        Each parametric part knows which parameters it reads, so a new price vector
        recomputes the trade costs and nothing more. Columns fixed by :meth:`fix` keep
        their bounds.
        """
        changed = self._changed(params)
        if not changed:
            return
        cost_cols: list[np.ndarray] = []
        for i, part in enumerate(self._parts):
            if not part.reads & changed:
                continue
            new = part.compute(params)
            old = self._values[i]
            self._values[i] = new
            if part.kind == "cost":
                np.add.at(self._state["cost"], part.index, new - (0.0 if old is None else old))
                cost_cols.append(part.index)
            elif part.kind in ("lower", "upper"):
                self._bounds(part.kind, part.index, new)
            elif part.kind == "rhs":
                self._rhs(part.index, new)
            else:
                self._coefficients(part.index, new, old)
        if cost_cols:
            cols = np.unique(np.concatenate(cost_cols)).astype(np.int32)
            self.highs.changeColsCost(cols.size, cols, self._state["cost"][cols])
        self._params = params

    def _changed(self, params: Param) -> set[str]:
        """Names of the parameters that differ from the ones the model holds.

        A parameter that changed but that no parametric part reads only shapes the model's
        structure (e.g. ``lead_time``, which decides which builds exist): changing it in
        place would be silently ignored, so it raises.
        """
        reads = set().union(*(part.reads for part in self._parts)) if self._parts else set()
        out = {n for n in reads if n.startswith("@")
               and (n != "@attrs" or params.attrs != self._params.attrs)}
        new, old = params.variables, self._params.variables
        names = set(map(str, params.data_vars)) | set(map(str, self._params.data_vars))
        for name in names:
            missing = name not in new or name not in old
            if missing or not _same(new[name].values, old[name].values):
                out.add(name)
        fixed = sorted(n for n in out - reads if not n.startswith("@"))
        if fixed:
            raise ReeplanError(f"parameters {', '.join(fixed)} changed, but they shape the "
                               f"model's structure, which an in-place update keeps; build a "
                               f"new model (or vary 'online', 'capex', prices, demand, caps)")
        return out

    def _coefficients(self, index: np.ndarray, new: np.ndarray, old: np.ndarray | None) -> None:
        """Change matrix entries by a part's change.

        An entry several terms share keeps the other terms' contributions.
        """
        rows, cols = index
        before = np.zeros(new.size) if old is None else old
        moved = new != before
        for r, c, d in zip(rows[moved].tolist(), cols[moved].tolist(),
                           (new - before)[moved].tolist(), strict=True):
            total = self._entry(r, c) + d
            self._matrix_now[(r, c)] = total
            self.highs.changeCoeff(r, c, total)

    def _entry(self, row: int, col: int) -> float:
        """The current matrix entry at (row, col) [model units]; 0 where there is none."""
        if (row, col) not in self._matrix_now:
            m = self.matrix
            lo, hi = int(m.start[col]), int(m.start[col + 1])
            hit = np.nonzero(m.index[lo:hi] == row)[0]
            self._matrix_now[(row, col)] = float(m.value[lo + hit[0]]) if hit.size else 0.0
        return self._matrix_now[(row, col)]

    def _bounds(self, kind: str, cols: np.ndarray, new: np.ndarray) -> None:
        lower, upper = self._state["lower"], self._state["upper"]
        (lower if kind == "lower" else upper)[cols] = new
        self.highs.changeColsBounds(cols.size, cols.astype(np.int32), lower[cols], upper[cols])

    def _rhs(self, rows: np.ndarray, new: np.ndarray) -> None:
        lo = self.matrix.row_lower[rows].copy()
        up = self.matrix.row_upper[rows].copy()
        lo = np.where(np.isfinite(lo), new, lo)
        up = np.where(np.isfinite(up), new, up)
        self.highs.changeRowsBounds(rows.size, rows.astype(np.int32), lo, up)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal arrays, NaN equal to NaN (NaN means 'none' in the parameters)."""
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))
