"""A linear programme assembled from labelled arrays and handed to HiGHS as a matrix.

Why not linopy: the roadmap model has a few dozen families, each a handful of array
operations; linopy's per-operation overhead (about 10 ms) made the build a hundred times
slower than the HiGHS solve, and the risk engine re-solves the same model thousands of
times. Here a family is built with xarray broadcasting on integer column ids and float
coefficients, all families become one column-wise sparse matrix, and HiGHS gets it in one
call. Labels must match exactly (``join="exact"``): a mismatch raises, never aligns
silently.

Parts of the model that depend on parameters a Monte Carlo draw may vary (costs, bounds,
right-hand sides, coefficients) are given as functions of the parameter dataset; they are
recorded, so :meth:`LinearProgram.update` recomputes them for new parameters and changes
the existing HiGHS model in place.

Conventions: a *term* is a variable's columns times a coefficient, possibly summed over
some dimensions (summed when assembled); a constraint is ``sum of terms  sense  rhs`` over
its own dimensions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import xarray as xr

from reeplan.errors import ChainDefinitionError

__all__ = ["LinearProgram", "Sense", "Term", "Var"]

Sense = Literal["<=", ">=", "=="]
Param = xr.Dataset
Coef = float | xr.DataArray | Callable[[Param], xr.DataArray | float]


def _bcast(*arrays: xr.DataArray) -> tuple[list[str], list[np.ndarray]]:
    """Broadcast labelled arrays by dimension name; shared labels must match exactly.

    Returns the union of dimensions (in order of first appearance) and each array's values
    broadcast to it (read-only views). Faster than :func:`xarray.align` and
    :func:`xarray.broadcast`, which copy; a mismatch of labels raises.
    """
    dims: list[str] = []
    sizes: dict[str, int] = {}
    labels: dict[str, Any] = {}
    for a in arrays:
        indexes = a.indexes
        for d, n in zip(map(str, a.dims), a.shape, strict=True):
            index = indexes.get(d)
            if d not in sizes:
                dims.append(d)
                sizes[d], labels[d] = n, index
            elif n != sizes[d] or _differ(index, labels[d]):
                raise ChainDefinitionError(f"labels of dimension '{d}' do not match between "
                                           f"model terms")
    full = [sizes[d] for d in dims]
    out = []
    for a in arrays:
        own = [str(d) for d in a.dims]
        order = sorted(range(len(own)), key=lambda i: dims.index(own[i]))
        data = np.transpose(np.asarray(a.values), order) if a.ndim > 1 else np.asarray(a.values)
        shape = [sizes[d] if d in own else 1 for d in dims]
        out.append(np.broadcast_to(data.reshape(shape), full))
    return dims, out


def _differ(a: Any, b: Any) -> bool:
    """Whether two dimension indexes (pandas, or None) hold different labels."""
    return a is not None and b is not None and a is not b and not a.equals(b)


@dataclass(frozen=True)
class Var:
    """A family of columns over labelled dimensions; ``-1`` marks a column not created."""

    name: str
    cols: xr.DataArray

    def term(self, coef: Coef = 1.0) -> Term:
        """The variable times ``coef``.

        ``coef`` is a number, a labelled array, or a function of the parameters returning one.
        """
        return Term(self.cols, coef)

    def __neg__(self) -> Term:
        return self.term(-1.0)

    def sel(self, **indexers: Any) -> Var:
        """Columns at the given labels."""
        return Var(self.name, self.cols.sel(indexers))

    def rename(self, **names: str) -> Var:
        """The same columns with dimensions renamed."""
        return Var(self.name, self.cols.rename(names))

    def sum(self, *dims: str) -> Term:
        """The sum over ``dims`` of the columns."""
        return self.term().sum(*dims)


@dataclass(frozen=True)
class Term:
    """Columns times a coefficient, summed over the dimensions in ``summed``.

    The sum is taken when the programme is assembled, after the columns and the
    coefficient are broadcast against each other, so a coefficient may bring dimensions
    the columns do not have (e.g. a mine's element distribution).
    """

    cols: xr.DataArray
    coef: Coef = 1.0
    summed: frozenset[str] = frozenset()

    def __mul__(self, other: Coef) -> Term:
        if isinstance(other, xr.DataArray) and self.summed & set(map(str, other.dims)):
            raise ChainDefinitionError(f"a coefficient over {sorted(self.summed)} multiplies "
                                       f"a term already summed over them")
        if callable(self.coef) or callable(other):
            a, b = self.coef, other

            def product(p: Param) -> xr.DataArray | float:
                return _value(a, p) * _value(b, p)  # type: ignore[operator,unused-ignore]

            return Term(self.cols, product, self.summed)
        return Term(self.cols, self.coef * other, self.summed)  # type: ignore[operator,unused-ignore]

    __rmul__ = __mul__

    def __neg__(self) -> Term:
        return self * -1.0

    def sum(self, *dims: str) -> Term:
        """Sum over ``dims`` (of the columns or of the coefficient)."""
        return Term(self.cols, self.coef, self.summed | set(dims))

    def sel(self, **indexers: Any) -> Term:
        """The term at the given labels of its (unsummed) dimensions."""
        coef = self.coef
        if isinstance(coef, xr.DataArray):
            coef = coef.sel({k: v for k, v in indexers.items() if k in coef.dims})
        elif callable(coef):
            inner = coef

            def selected(p: Param) -> xr.DataArray | float:
                v = _value(inner, p)
                if isinstance(v, xr.DataArray):
                    return v.sel({k: x for k, x in indexers.items() if k in v.dims})
                return v

            coef = selected
        return Term(self.cols.sel(indexers), coef, self.summed)


def _value(coef: Coef, params: Param) -> xr.DataArray | float:
    return coef(params) if callable(coef) else coef


@dataclass
class _Block:
    """One constraint family: rows over labelled dimensions."""

    name: str
    rows: xr.DataArray
    sense: Sense
    rhs: Coef
    terms: list[Term]


class _Recorder:
    """The parameter dataset, noting which of its variables a computation reads."""

    def __init__(self, params: Param) -> None:
        self._params = params
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> xr.DataArray:
        self.read.add(key)
        return self._params[key]

    @property
    def attrs(self) -> dict[Any, Any]:
        self.read.add("@attrs")
        return self._params.attrs

    @property
    def variables(self) -> Mapping[str, xr.Variable]:
        """The variables, unlabelled (fast), each read noted as by ``[]``."""
        return _ReadVariables(self._params.variables, self.read)

    def __getattr__(self, name: str) -> Any:
        self.read.add("@" + name)  # anything else: treat as depending on everything
        return getattr(self._params, name)


class _ReadVariables(Mapping[str, xr.Variable]):
    """A dataset's variables, noting the names read."""

    def __init__(self, variables: Mapping[Any, xr.Variable], read: set[str]) -> None:
        self._variables = variables
        self._read = read

    def __getitem__(self, key: str) -> xr.Variable:
        self._read.add(key)
        return self._variables[key]

    def __iter__(self) -> Iterator[str]:
        return iter(map(str, self._variables))

    def __len__(self) -> int:
        return len(self._variables)


def _recorded(compute: Callable[[Param], np.ndarray],
              params: Param) -> tuple[np.ndarray, frozenset[str]]:
    """``compute(params)`` and the names of the parameters it read."""
    rec = _Recorder(params)
    value = compute(rec)  # type: ignore[arg-type]
    return value, frozenset(rec.read)


@dataclass
class _Parametric:
    """A part of the model recomputed from the parameters by :meth:`LinearProgram.update`.

    ``reads`` names the parameters it depends on, so an update recomputes only the parts
    whose inputs changed; ``value`` is its current value (costs are sums of parts).
    """

    kind: Literal["cost", "lower", "upper", "rhs", "coef"]
    index: np.ndarray
    compute: Callable[[Param], np.ndarray]
    reads: frozenset[str] = frozenset()
    value: np.ndarray | None = None


@dataclass
class LinearProgram:
    """Columns, rows and their sparse matrix, built family by family.

    Attributes
    ----------
    params
        The parameter dataset the model is built from.
    variables, constraints
        Families by name, in the order they were added.
    """

    params: Param
    variables: dict[str, Var] = field(default_factory=dict)
    constraints: dict[str, _Block] = field(default_factory=dict)
    _lower: list[np.ndarray] = field(default_factory=list)
    _upper: list[np.ndarray] = field(default_factory=list)
    _integer: list[np.ndarray] = field(default_factory=list)
    _cost_terms: list[Term] = field(default_factory=list)
    _n_cols: int = 0
    _n_rows: int = 0
    _parametric: list[_Parametric] = field(default_factory=list)
    _matrix: Matrix | None = None

    def _open(self) -> None:
        if self._matrix is not None:
            raise ChainDefinitionError("the programme is assembled; no family can be added")

    # ------------------------------------------------------------------- columns

    def add_variables(self, name: str, coords: Mapping[str, Sequence[Any]], *,
                      lower: Coef = 0.0, upper: Coef = math.inf,
                      mask: xr.DataArray | None = None, integer: bool = False) -> Var:
        """Add a family of columns over ``coords``; where ``mask`` is False none is created.

        ``lower`` and ``upper`` may be functions of the parameters (recomputed by
        :meth:`update`).
        """
        self._open()
        if name in self.variables:
            raise ChainDefinitionError(f"variable family '{name}' defined twice")
        ids, keep = self._numbered(coords, mask, self._n_cols)
        n = int(keep.sum())
        cols = ids.values
        var = Var(name, ids)
        sides: tuple[tuple[Coef, list[np.ndarray], Literal["lower", "upper"]], ...] = (
            (lower, self._lower, "lower"), (upper, self._upper, "upper"))
        for bound, store, kind in sides:
            compute = self._on_columns(var, bound)
            value, reads = _recorded(compute, self.params)
            store.append(value)
            if callable(bound):
                self._parametric.append(_Parametric(kind, cols[keep], compute, reads, value))
        self._integer.append(np.full(n, 1 if integer else 0, dtype=np.uint8))
        self._n_cols += n
        self.variables[name] = var
        return var

    def _numbered(self, coords: Mapping[str, Sequence[Any]], mask: xr.DataArray | None,
                  first: int) -> tuple[xr.DataArray, np.ndarray]:
        """Ids ``first, first + 1, ...`` over ``coords`` where ``mask`` holds, -1 elsewhere."""
        shape = tuple(len(v) for v in coords.values())
        template = xr.DataArray(np.zeros(shape, dtype=np.int64), coords=dict(coords),
                                dims=list(coords))
        keep = np.ones(shape, dtype=bool) if mask is None else self._mask(template, mask)
        ids = np.full(shape, -1, dtype=np.int64)
        ids[keep] = np.arange(first, first + int(keep.sum()))
        return template.copy(deep=False, data=ids), keep

    @staticmethod
    def _mask(template: xr.DataArray, mask: xr.DataArray) -> np.ndarray:
        dims, (_, m) = _bcast(template, mask)
        if len(dims) != template.ndim:
            raise ChainDefinitionError("a mask has dimensions its family does not have")
        return np.array(m, dtype=bool)

    @staticmethod
    def _on_columns(var: Var, coef: Coef) -> Callable[[Param], np.ndarray]:
        """A function giving ``coef`` at each created column of ``var``, in column order."""
        def compute(p: Param) -> np.ndarray:
            return _on_ids(var.cols, _value(coef, p), f"a bound of '{var.name}'")

        return compute

    def add_cost(self, term: Term) -> None:
        """Add ``term`` (summed over all its dimensions) to the objective."""
        self._open()
        self._cost_terms.append(term)

    # ------------------------------------------------------------------- rows

    def add_constraints(self, name: str, terms: Sequence[Term], sense: Sense, rhs: Coef,
                        coords: Mapping[str, Sequence[Any]],
                        mask: xr.DataArray | None = None) -> None:
        """Add rows ``sum(terms) sense rhs`` over ``coords``; none where ``mask`` is False.

        Every unsummed dimension of a term must be a dimension of the rows.
        """
        self._open()
        if name in self.constraints:
            raise ChainDefinitionError(f"constraint family '{name}' defined twice")
        ids, keep = self._numbered(coords, mask, self._n_rows)
        n = int(keep.sum())
        for t in terms:
            free = [str(d) for d in t.cols.dims if d not in t.summed]
            extra = sorted(set(free) - set(coords))
            if extra:
                raise ChainDefinitionError(f"constraint '{name}': a term has dimensions "
                                           f"{extra} the rows do not have")
        self._n_rows += n
        self.constraints[name] = _Block(name, ids, sense, rhs, list(terms))

    # ------------------------------------------------------------------- assembly

    def _entries(self, rows: xr.DataArray, term: Term,
                 params: Param) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, value) triplets of ``term`` in ``rows``, absent ones dropped."""
        value = _value(term.coef, params)
        coef = value if isinstance(value, xr.DataArray) else xr.DataArray(float(value))
        dims, (r, c, v) = _bcast(rows, term.cols, coef)
        loose = sorted(d for d in dims[rows.ndim:] if d not in term.summed)
        if loose:
            raise ChainDefinitionError(f"a term has dimensions {loose} that are neither the "
                                       f"rows' nor summed over")
        rr, cc, vv = r.ravel(), c.ravel(), v.ravel()
        keep = (rr >= 0) & (cc >= 0)
        return rr[keep], cc[keep], vv[keep]

    def _rhs(self, block: _Block, params: Param) -> np.ndarray:
        return _on_ids(block.rows, _value(block.rhs, params),
                       f"the right-hand side of '{block.name}'")

    @staticmethod
    def _cost_entries(t: Term, params: Param) -> tuple[np.ndarray, np.ndarray]:
        value = _value(t.coef, params)
        coef = value if isinstance(value, xr.DataArray) else xr.DataArray(float(value))
        _, (c, v) = _bcast(t.cols, coef)
        cc, vv = c.ravel(), v.ravel()
        keep = cc >= 0
        return cc[keep], np.asarray(vv[keep], dtype=float)

    def _costs(self) -> np.ndarray:
        """The cost vector, one part per cost term (parametric ones recorded)."""
        cost = np.zeros(self._n_cols)
        for t in self._cost_terms:
            rec = _Recorder(self.params)
            cols, vals = self._cost_entries(t, rec)  # type: ignore[arg-type]
            np.add.at(cost, cols, vals)
            if callable(t.coef):
                def compute(p: Param, t: Term = t) -> np.ndarray:
                    return self._cost_entries(t, p)[1]
                self._parametric.append(_Parametric("cost", cols, compute,
                                                    frozenset(rec.read), vals))
        return cost

    def matrix(self) -> Matrix:
        """The whole programme as arrays (column-wise sparse matrix), ready for HiGHS.

        Assembled once; no family may be added afterwards.
        """
        if self._matrix is None:
            self._matrix = self._assemble()
        return self._matrix

    def _assemble(self) -> Matrix:
        rows, cols, vals, lower, upper = [], [], [], [], []
        for block in self.constraints.values():
            for t in block.terms:
                rec = _Recorder(self.params)
                r, c, v = self._entries(block.rows, t, rec)  # type: ignore[arg-type]
                rows.append(r)
                cols.append(c)
                vals.append(v)
                if callable(t.coef):
                    self._parametric.append(_Parametric(
                        "coef", np.stack([r, c]), self._coef_compute(block.rows, t),
                        frozenset(rec.read), v))
            rhs_compute = self._rhs_compute(block)
            rhs, reads = _recorded(rhs_compute, self.params)
            lo, up = _row_bounds(block.sense, rhs)
            lower.append(lo)
            upper.append(up)
            if callable(block.rhs):
                self._parametric.append(_Parametric("rhs", _row_ids(block.rows),
                                                    rhs_compute, reads, rhs))
        r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        v = np.concatenate(vals) if vals else np.zeros(0)
        order = np.lexsort((r, c))
        r, c, v = r[order], c[order], v[order]
        if r.size:  # a column in several terms of one row: one entry, the sum
            first = np.ones(r.size, dtype=bool)
            first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
            starts = np.nonzero(first)[0]
            r, c, v = r[starts], c[starts], np.add.reduceat(v, starts)
        nonzero = v != 0.0
        r, c, v = r[nonzero], c[nonzero], v[nonzero]
        start = np.zeros(self._n_cols + 1, dtype=np.int64)
        np.cumsum(np.bincount(c, minlength=self._n_cols), out=start[1:])
        return Matrix(
            col_cost=self._costs(),
            col_lower=_cat(self._lower), col_upper=_cat(self._upper),
            row_lower=_cat(lower), row_upper=_cat(upper),
            start=start, index=r, value=v, integrality=_cat(self._integer, np.uint8))

    def _coef_compute(self, rows: xr.DataArray, t: Term) -> Callable[[Param], np.ndarray]:
        def compute(p: Param) -> np.ndarray:
            return self._entries(rows, t, p)[2]
        return compute

    def _rhs_compute(self, block: _Block) -> Callable[[Param], np.ndarray]:
        def compute(p: Param) -> np.ndarray:
            return self._rhs(block, p)
        return compute

    def parametric(self) -> Iterator[_Parametric]:
        """The parts :meth:`update` recomputes (available after :meth:`matrix`)."""
        yield from self._parametric

    # ------------------------------------------------------------------- reading back

    def values(self, var: Var | str, x: np.ndarray) -> xr.DataArray:
        """Solution values of a variable family, labelled; 0 where no column exists."""
        v = self.variables[var] if isinstance(var, str) else var
        cols = v.cols.values
        out = np.where(cols >= 0, x[np.maximum(cols, 0)], 0.0) if x.size else np.zeros(cols.shape)
        return v.cols.copy(deep=False, data=out.astype(float))

    def evaluate(self, terms: Sequence[Term], x: np.ndarray,
                 params: Param | None = None) -> xr.DataArray:
        """Value of ``sum(terms)`` at the solution ``x``, over the terms' unsummed dims."""
        q = self.params if params is None else params
        total: xr.DataArray | float = 0.0
        for t in terms:
            value = _value(t.coef, q)
            coef = value if isinstance(value, xr.DataArray) else xr.DataArray(float(value))
            dims, (c, v) = _bcast(t.cols, coef)
            vals = np.where(c >= 0, x[np.maximum(c, 0)], 0.0) * v
            keep = [i for i, d in enumerate(dims) if d not in t.summed]
            summed = tuple(i for i in range(len(dims)) if i not in keep)
            data = vals.sum(axis=summed) if summed else vals
            labels = {**{d: t.cols.indexes[d] for d in t.cols.dims if d in t.cols.indexes},
                      **{d: coef.indexes[d] for d in coef.dims if d in coef.indexes}}
            kept = [dims[i] for i in keep]
            out = xr.DataArray(data, dims=kept, coords={d: labels[d] for d in kept
                                                        if d in labels})
            total = total + out
        return total if isinstance(total, xr.DataArray) else xr.DataArray(total)

    def row_values(self, name: str, y: np.ndarray) -> xr.DataArray:
        """Row values (e.g. duals) of a constraint family, labelled; 0 where no row exists."""
        rows = self.constraints[name].rows
        ids = rows.values
        out = np.where(ids >= 0, y[np.maximum(ids, 0)], 0.0) if y.size else np.zeros(ids.shape)
        return rows.copy(deep=False, data=out.astype(float))

    @property
    def n_cols(self) -> int:
        """Number of columns created."""
        return self._n_cols

    @property
    def n_rows(self) -> int:
        """Number of rows created."""
        return self._n_rows

    # ------------------------------------------------------------------- text form

    def to_text(self, family: str) -> str:
        """One family as LP-like text, one line per row (or column, for bounds).

        Constraint rows read ``name[labels]: +coef var[labels] ... sense rhs`` with terms
        sorted; variables read ``lower <= var[labels] <= upper``. Used by the golden tests,
        which compare numbers with a tolerance, not text.
        """
        m = self.matrix()
        names = self._column_names()
        if family in self.variables:
            var = self.variables[family]
            lines = []
            for c in sorted(int(i) for i in var.cols.values.ravel() if i >= 0):
                lines.append(f"{_num(m.col_lower[c])} <= {names[c]} <= {_num(m.col_upper[c])}"
                             + (" integer" if m.integrality[c] else ""))
            return "\n".join(lines) + "\n"
        return self._rows_text(family, m, names)

    def objective_text(self) -> str:
        """The objective as text, one line per column with a non-zero cost, sorted."""
        m = self.matrix()
        names = self._column_names()
        lines = sorted(f"{names[c]}: {_num(m.col_cost[c], sign=True)}"
                       for c in np.nonzero(m.col_cost)[0])
        return "\n".join(lines) + "\n"

    def _rows_text(self, family: str, m: Matrix, names: list[str]) -> str:
        block = self.constraints[family]
        col_of = np.repeat(np.arange(self._n_cols), np.diff(m.start))
        lines = []
        for label, row in _labelled(block.rows):
            hits = np.nonzero(m.index == row)[0]
            terms = sorted(f"{_num(m.value[i], sign=True)} {names[col_of[i]]}" for i in hits)
            lo, up = m.row_lower[row], m.row_upper[row]
            rel = "==" if lo == up else ("<=" if math.isinf(lo) else ">=")
            rhs = up if rel == "<=" else lo
            lines.append(f"{family}[{label}]: {' '.join(terms) or '0'} {rel} {_num(rhs)}")
        return "\n".join(lines) + "\n"

    def _column_names(self) -> list[str]:
        names = [""] * self._n_cols
        for var in self.variables.values():
            for label, col in _labelled(var.cols):
                names[col] = f"{var.name}[{label}]"
        return names


@dataclass(frozen=True)
class Matrix:
    """A linear programme as HiGHS takes it: costs, bounds and a column-wise matrix."""

    col_cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    integrality: np.ndarray

    @property
    def n_nonzeros(self) -> int:
        """Number of non-zero matrix entries."""
        return int(self.value.size)


def _on_ids(ids: xr.DataArray, value: xr.DataArray | float, what: str) -> np.ndarray:
    """``value`` at each created id (column or row) of ``ids``, in id order."""
    if isinstance(value, xr.DataArray):
        dims, (i, v) = _bcast(ids, value)
        if len(dims) != ids.ndim:
            raise ChainDefinitionError(f"{what} has dimensions its family does not have")
        flat_i, flat_v = i.ravel(), v.ravel()
    else:
        flat_i = ids.values.ravel()
        flat_v = np.full(flat_i.shape, float(value))
    return np.asarray(flat_v[flat_i >= 0], dtype=float)


def _labelled(ids: xr.DataArray) -> Iterator[tuple[str, int]]:
    flat = ids.values.ravel()
    index = np.stack(np.unravel_index(np.arange(flat.size), ids.shape), axis=-1) \
        if ids.ndim else np.zeros((1, 0), dtype=int)
    labels = [ids[d].values for d in ids.dims]
    for pos, i in zip(index, flat, strict=True):
        if i >= 0:
            yield ",".join(str(labels[k][j]) for k, j in enumerate(pos)), int(i)


def _row_ids(rows: xr.DataArray) -> np.ndarray:
    flat = rows.values.ravel()
    return flat[flat >= 0]


def _row_bounds(sense: Sense, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inf = np.full(rhs.shape, math.inf)
    if sense == "<=":
        return -inf, rhs
    if sense == ">=":
        return rhs, inf
    return rhs, rhs.copy()


def _cat(parts: list[np.ndarray], dtype: Any = float) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def _num(x: float, sign: bool = False) -> str:
    if math.isinf(x):
        return ("+" if x > 0 else "-") + "inf"
    text = f"{x:.12g}"
    return ("+" + text) if sign and not text.startswith("-") else text
