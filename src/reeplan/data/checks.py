"""Checks that need a whole table or the whole fact base: keys, references, share sums.

Each check takes the validated records of every table and returns problems; none raises.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from reeplan.data.reader import Record
from reeplan.data.schemas import (
    SCHEMAS,
    CrossRef,
    ElementDistributionRow,
    ElementRow,
    ShareRule,
    TableSpec,
)
from reeplan.errors import Problem

__all__ = ["OXYGEN_MASS", "check_factbase", "oxide_metal_factor"]

Tables = Mapping[str, Sequence[Record]]

OXYGEN_MASS = 15.999
"""Standard atomic weight of oxygen [g/mol] (IUPAC/CIAAW 2021, conventional value)."""


def check_factbase(tables: Tables) -> list[Problem]:
    """Run every table-level and cross-table check over validated ``tables``."""
    problems: list[Problem] = []
    targets = _reference_targets(tables)
    for name, spec in SCHEMAS.items():
        records = tables.get(name, ())
        problems += _check_key(records, spec)
        for ref in spec.refs:
            problems += _check_refs(records, ref, targets)
        for rule in spec.shares:
            problems += _check_shares(records, rule)
        for check in _EXTRA_CHECKS.get(name, ()):
            problems += check(records, tables)
    return problems


def _reference_targets(tables: Tables) -> dict[tuple[str, str], set[str]]:
    """The values of every column some cross-reference points at, by (table, column)."""
    wanted = {(r.target_table, r.target_column) for spec in SCHEMAS.values() for r in spec.refs}
    wanted |= {("sources", "source_id"), ("assumptions", "assumption_id")}
    targets: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, column in wanted:
        found = targets[(name, column)]
        for rec in tables.get(name, ()):
            value = getattr(rec.row, column, None)
            if isinstance(value, str):
                found.add(value)
    targets[("provenance", "id")] = (
        targets[("sources", "source_id")] | targets[("assumptions", "assumption_id")]
    )
    groups = {str(rec.row.group) for rec in tables.get("country_groups", ())
              if hasattr(rec.row, "group")}
    targets[("places", "id")] = targets[("countries", "iso3")] | groups
    return targets


def _check_key(records: Sequence[Record], spec: TableSpec) -> list[Problem]:
    first: dict[tuple[object, ...], Record] = {}
    problems = []
    for rec in records:
        key = tuple(getattr(rec.row, c) for c in spec.key)
        if key in first:
            earlier = first[key]
            problems.append(Problem(
                rec.file, rec.line, spec.key[0],
                f"duplicate key ({_describe(spec.key, key)}); the same key is on row "
                f"{earlier.line}; expected each key once",
            ))
        else:
            first[key] = rec
    return problems


def _describe(columns: Sequence[str], values: Sequence[object]) -> str:
    return ", ".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))


def _check_refs(
    records: Sequence[Record], ref: CrossRef, targets: dict[tuple[str, str], set[str]]
) -> list[Problem]:
    known = targets[(ref.target_table, ref.target_column)]
    where = {"provenance": "sources or assumptions",
             "places": "countries or country_groups"}.get(ref.target_table, ref.target_table)
    problems = []
    for rec in records:
        cell = getattr(rec.row, ref.column)
        if cell is None:
            continue
        values = [v.strip() for v in cell.split(ref.split)] if ref.split else [cell]
        for value in values:
            if value not in known:
                problems.append(Problem(rec.file, rec.line, ref.column,
                                        f"'{value}' is not a known id in {where}; "
                                        f"expected an existing {ref.target_column}"))
    return problems


def _check_shares(records: Sequence[Record], rule: ShareRule) -> list[Problem]:
    totals: dict[tuple[object, ...], float] = defaultdict(float)
    last: dict[tuple[object, ...], Record] = {}
    for rec in records:
        group = tuple(getattr(rec.row, c) for c in rule.group_by)
        totals[group] += float(rec.row.model_dump()["value"])
        last[group] = rec
    return [
        Problem(last[g].file, last[g].line, "value",
                f"shares for ({', '.join(map(str, g))}) sum to {total:.2f}%; "
                f"expected at most {rule.limit:g}%")
        for g, total in totals.items()
        if total > rule.limit + rule.tolerance
    ]


def oxide_metal_factor(formula: str, masses: Mapping[str, float]) -> float:
    """Mass fraction of metal in an oxide, from its formula [t metal / t oxide].

    Parameters
    ----------
    formula
        Oxide formula of one metal and oxygen, e.g. ``"Nd2O3"`` or ``"Pr6O11"``.
    masses
        Standard atomic weights [g/mol] by symbol; oxygen is taken as 15.999.

    Examples
    --------
    >>> round(oxide_metal_factor("Nd2O3", {"Nd": 144.242}), 4)
    0.8574
    """
    parts = re.findall(r"([A-Z][a-z]?)(\d*)", formula)
    metal_mass = 0.0
    total = 0.0
    for symbol, count in parts:
        n = int(count) if count else 1
        mass = OXYGEN_MASS if symbol == "O" else masses[symbol]
        total += n * mass
        if symbol != "O":
            metal_mass += n * mass
    return metal_mass / total


def _check_oxide_factors(records: Sequence[Record], _: Tables) -> list[Problem]:
    rows = [(rec, rec.row) for rec in records if isinstance(rec.row, ElementRow)]
    masses = {row.symbol: row.atomic_mass for _, row in rows}
    problems = []
    for rec, row in rows:
        symbols = set(re.findall(r"[A-Z][a-z]?", row.oxide_formula)) - {"O"}
        if symbols != {row.symbol}:
            problems.append(Problem(rec.file, rec.line, "oxide_formula",
                                    f"expected an oxide of {row.symbol} and O only"))
            continue
        expected = oxide_metal_factor(row.oxide_formula, masses)
        if abs(row.metal_per_oxide - expected) > 5e-4:
            problems.append(Problem(rec.file, rec.line, "metal_per_oxide",
                                    f"expected {expected:.4f} from the oxide formula and "
                                    f"atomic masses (got {row.metal_per_oxide})"))
    return problems


COMPLETE_SLACK = 1.5
"""Percentage points a complete distribution may fall short of 100%: published tables list
every element but round each (Longnan's, Castor and Hedrick 2006, sums to 98.8%)."""


def _check_complete_distributions(records: Sequence[Record], _: Tables) -> list[Problem]:
    totals: dict[str, float] = defaultdict(float)
    complete: dict[str, Record] = {}
    for rec in records:
        row = rec.row
        if not isinstance(row, ElementDistributionRow):
            continue
        totals[row.distribution_id] += row.value
        if row.complete:
            complete[row.distribution_id] = rec
    return [
        Problem(rec.file, rec.line, "complete",
                f"distribution '{dist}' is marked complete but sums to {totals[dist]:.2f}%; "
                f"expected 100% within {COMPLETE_SLACK:g} points")
        for dist, rec in complete.items()
        if totals[dist] < 100.0 - COMPLETE_SLACK
    ]


_EXTRA_CHECKS: dict[str, tuple[Callable[[Sequence[Record], Tables], list[Problem]], ...]] = {
    "elements": (_check_oxide_factors,),
    "element_distributions": (_check_complete_distributions,),
}
