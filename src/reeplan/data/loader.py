"""Load the fact base: the embedded tables, optionally layered with a user's own.

``load_factbase()`` reads every table shipped inside the package; ``load_factbase(DIR)``
then layers the CSV files found in ``DIR`` over them: a row whose key matches an embedded
row replaces it, any other row is added. Nothing is read from the network, ever.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TypeVar

import pandas as pd

from reeplan.data.checks import check_factbase
from reeplan.data.reader import Record, read_table
from reeplan.data.schemas import SCHEMAS
from reeplan.errors import DataValidationError, Problem, UnknownItemError

__all__ = ["EMBEDDED_DIR", "FactBase", "load_factbase"]

_T = TypeVar("_T")

EMBEDDED_DIR = Path(str(resources.files("reeplan.data") / "tables"))
"""Directory of the tables shipped inside the package."""


@dataclass(frozen=True)
class FactBase:
    """The validated fact base: one :class:`pandas.DataFrame` per table.

    Attributes
    ----------
    tables
        Table name to frame; columns as in :mod:`reeplan.data.schemas`, plus ``origin``
        (``file:line`` the row came from) so every figure can be traced.
    layers
        The directories read, embedded first.
    """

    tables: dict[str, pd.DataFrame]
    layers: tuple[str, ...] = field(default=())
    digest: str = ""
    """SHA-256 of the bytes of every table file read, layer by layer (set by the loader)."""
    memo: dict[tuple[object, ...], object] = field(default_factory=dict, compare=False,
                                                   repr=False)
    """Derived lookups (prices of a market and year, the magnet as used) computed once;
    the tables never change after loading, so neither do they."""

    def derived(self, key: tuple[object, ...], compute: Callable[[], _T], kind: type[_T]) -> _T:
        """``compute()`` once per fact base and ``key``: a lookup derived from the tables.

        The tables never change after loading, so neither does what is derived from them;
        ``kind`` checks what the memo holds.
        """
        if key not in self.memo:
            self.memo[key] = compute()
        found = self.memo[key]
        if not isinstance(found, kind):
            raise TypeError(f"memo {key!r} holds {type(found).__name__}, not {kind.__name__}")
        return found

    def __getitem__(self, name: str) -> pd.DataFrame:
        """Return a copy of table ``name``; unknown names raise :class:`UnknownItemError`."""
        if name not in self.tables:
            raise UnknownItemError("table", name, list(self.tables))
        return self.tables[name].copy()

    def fingerprint(self) -> str:
        """SHA-256 of every table file, layers included, in order: the data's version.

        A fact base built by hand hashes its tables' content instead.
        """
        if self.digest:
            return self.digest
        digest = hashlib.sha256()
        for name in sorted(self.tables):
            digest.update(name.encode())
            frame = self.tables[name].drop(columns=["origin"], errors="ignore")
            digest.update(frame.to_csv(index=False, lineterminator="\n").encode())
        return digest.hexdigest()

    def provenance(self, source_id: str) -> str:
        """Describe ``source_id`` in one line (a source's title and year, or an assumption)."""
        sources = self.tables["sources"]
        match = sources[sources["source_id"] == source_id].to_dict(orient="records")
        if match:
            row = match[0]
            year = f", {row['year']:.0f}" if pd.notna(row["year"]) else ""
            return f"{row['title']} ({row['publisher']}{year})"
        assumptions = self.tables["assumptions"]
        topic = assumptions.loc[assumptions["assumption_id"] == source_id, "topic"].tolist()
        if topic:
            return f"Assumption: {topic[0]}"
        raise UnknownItemError("source", source_id, list(sources["source_id"]))


def load_factbase(data: str | Path | Sequence[str | Path] | None = None) -> FactBase:
    """Load and validate the fact base.

    Parameters
    ----------
    data
        Optional directory (or directories, applied in order) of user tables layered over
        the embedded ones. Each CSV file must be named after a table (``deposits.csv``) and
        follow that table's schema.

    Returns
    -------
    FactBase
        Every table, validated.

    Raises
    ------
    DataValidationError
        Listing every problem found, each with file, row, column and what was expected.
    """
    layers = [EMBEDDED_DIR, *_as_paths(data)]
    merged: dict[str, dict[tuple[object, ...], Record]] = {n: {} for n in SCHEMAS}
    problems: list[Problem] = []
    digest = hashlib.sha256()
    for layer in layers:
        problems += _read_layer(layer, merged, digest, required=layer == EMBEDDED_DIR)
    tables = {name: list(rows.values()) for name, rows in merged.items()}
    problems += check_factbase(tables)
    if problems:
        raise DataValidationError(problems)
    return FactBase({n: _frame(n, recs) for n, recs in tables.items()},
                    tuple(str(p) for p in layers), digest.hexdigest())


def _as_paths(data: str | Path | Sequence[str | Path] | None) -> list[Path]:
    if data is None:
        return []
    if isinstance(data, str | Path):
        return [Path(data)]
    return [Path(d) for d in data]


def _read_layer(
    layer: Path, merged: dict[str, dict[tuple[object, ...], Record]],
    digest: hashlib._Hash, *, required: bool,
) -> list[Problem]:
    if not layer.is_dir():
        return [Problem(str(layer), None, None, "is not a directory; expected a directory "
                                                "of CSV tables")]
    problems: list[Problem] = []
    for path in sorted(layer.glob("*.csv")):
        if path.stem not in SCHEMAS:
            problems.append(Problem(str(path), None, None,
                                    f"unknown table '{path.stem}'; expected a file named "
                                    f"after a table: {', '.join(SCHEMAS)}"))
    for name, spec in SCHEMAS.items():
        path = layer / f"{name}.csv"
        if not _present(path):
            if required:
                problems.append(Problem(str(path), None, None, "embedded table is missing"))
            continue
        records, found = read_table(path, spec)
        problems += found
        if not found:  # a regular, readable file: its bytes are the data's version
            digest.update(f"{layer.name}/{name}\n".encode())
            digest.update(path.read_bytes())
        rows = merged[name]
        seen_here: set[tuple[object, ...]] = set()
        for rec in records:
            key = tuple(getattr(rec.row, c) for c in spec.key)
            if key in seen_here:  # a duplicate within one file: let the key check name it
                key = (*key, rec.file, rec.line)
            seen_here.add(key)
            rows[key] = rec
    return problems


def _present(path: Path) -> bool:
    """Whether ``path`` names anything, even a broken link or one that cannot be read.

    Unlike :meth:`Path.exists`, a dangling symlink counts (the reader then reports it
    rather than the table being silently skipped), and no error escapes.
    """
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


def _frame(name: str, records: Iterable[Record]) -> pd.DataFrame:
    columns = [*SCHEMAS[name].columns, "origin"]
    data = [{**rec.row.model_dump(), "origin": f"{rec.file}:{rec.line}"} for rec in records]
    return pd.DataFrame(data, columns=columns)
