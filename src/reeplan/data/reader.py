"""Read one CSV table into validated rows, collecting every problem on the way.

Follows the ``read_*`` (file) / ``parse_*`` (text) split of pvlib's iotools: the reader only
turns bytes into rows; it knows nothing of other tables (see :mod:`reeplan.data.checks`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reeplan.data.schemas import TableRow, TableSpec
from reeplan.errors import Problem

__all__ = ["Record", "parse_table", "read_table"]


@dataclass(frozen=True)
class Record:
    """A validated row and where it came from."""

    file: str
    line: int
    """1-based line number in ``file`` (the header is line 1)."""
    row: TableRow


def read_table(path: Path, spec: TableSpec) -> tuple[list[Record], list[Problem]]:
    """Read and validate the CSV file ``path`` against ``spec``.

    Parameters
    ----------
    path
        A UTF-8 CSV file with a header row.
    spec
        The table's schema.

    Returns
    -------
    records, problems
        The rows that validated, and every problem found (empty when the file is clean).
    """
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        return [], [Problem(name, None, None, f"cannot be read ({err.strerror})")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return [], [_encoding_problem(name, raw, err)]
    return parse_table(text, spec, name)


def parse_table(text: str, spec: TableSpec, name: str) -> tuple[list[Record], list[Problem]]:
    """Validate CSV ``text`` against ``spec``; ``name`` labels problems.

    See :func:`read_table`.
    """
    if not text.strip():
        return [], [Problem(name, None, None,
                            f"the file is empty; expected a header row with the columns "
                            f"{', '.join(spec.columns)}")]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader)]
    problems = _header_problems(header, spec, name)
    if problems:
        return [], problems
    records: list[Record] = []
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(Problem(name, line, None,
                                    f"has {len(cells)} cells; expected {len(header)} "
                                    f"(one per header column)"))
            continue
        values = {h: c for h, c in zip(header, cells, strict=True) if c.strip() != ""}
        try:
            records.append(Record(name, line, spec.row.model_validate(values)))
        except ValidationError as err:
            problems.extend(_row_problems(err, name, line))
    return records, problems


def _header_problems(header: list[str], spec: TableSpec, name: str) -> list[Problem]:
    problems = []
    known = set(spec.columns)
    required = {n for n, f in spec.row.model_fields.items() if f.is_required()}
    for column in sorted(required - set(header)):
        problems.append(Problem(name, 1, column,
                                f"required column is missing; expected the columns "
                                f"{', '.join(spec.columns)}"))
    for column in header:
        if column not in known:
            problems.append(Problem(name, 1, column or "(blank)",
                                    f"unknown column; expected only {', '.join(spec.columns)}"))
    seen: set[str] = set()
    for column in header:
        if column in seen:
            problems.append(Problem(name, 1, column, "column appears twice in the header"))
        seen.add(column)
    return problems


def _row_problems(err: ValidationError, name: str, line: int) -> list[Problem]:
    problems = []
    for e in err.errors(include_url=False):
        field = str(e["loc"][0]) if e["loc"] else None
        got: Any = e.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
        problems.append(Problem(name, line, field, f"{_expected(e)}{shown}"))
    return problems


_EXPECTED = {
    "missing": "value is required but blank",
    "extra_forbidden": "unknown column",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "literal_error": "expected one of {expected}",
    "string_pattern_mismatch": "expected text matching {pattern}",
    "string_too_short": "value is required but blank",
    "greater_than_equal": "expected a number >= {ge}",
    "greater_than": "expected a number > {gt}",
    "less_than_equal": "expected a number <= {le}",
    "less_than": "expected a number < {lt}",
}


def _expected(e: Any) -> str:
    """Rephrase a pydantic error as what was expected."""
    template = _EXPECTED.get(e["type"])
    if template is None:
        return str(e["msg"])
    return template.format(**e.get("ctx", {}))


def _encoding_problem(name: str, raw: bytes, err: UnicodeDecodeError) -> Problem:
    line = raw.count(b"\n", 0, err.start) + 1
    start = raw.rfind(b"\n", 0, err.start) + 1
    header = raw.split(b"\n", 1)[0].decode("utf-8", "replace").strip().split(",")
    column_index = raw[start:err.start].count(b",")
    column = header[column_index] if line > 1 and column_index < len(header) else None
    return Problem(name, line, column,
                   f"byte 0x{raw[err.start]:02x} is not valid UTF-8; expected the file in "
                   f"UTF-8 (re-save it as 'CSV UTF-8')")
