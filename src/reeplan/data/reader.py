"""Read one CSV table into validated rows, collecting every problem on the way.

Follows the ``read_*`` (file) / ``parse_*`` (text) split of pvlib's iotools: the reader only
turns bytes into rows; it knows nothing of other tables (see :mod:`reeplan.data.checks`).
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reeplan.data.schemas import MAX_MAGNITUDE, TableRow, TableSpec
from reeplan.errors import Problem

__all__ = ["MAX_TABLE_BYTES", "Record", "parse_table", "read_table"]

MAX_TABLE_BYTES = 20_000_000
"""Largest table file read [bytes] (20 MB, about a hundred times the largest embedded table).
A larger file is reported, never read whole: at most this many bytes plus one are read."""

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
"""Flags to open a table with: a FIFO swapped in after the check must not block the open."""


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
    raw, problem = _read_bytes(path)
    if problem is not None:
        return [], [problem]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return [], [_encoding_problem(name, raw, err)]
    return parse_table(text, spec, name)


def _read_bytes(path: Path) -> tuple[bytes, Problem | None]:
    """The bytes of the regular file ``path`` (a symlink is followed), or why not.

    Never blocks and never reads more than :data:`MAX_TABLE_BYTES` + 1 bytes: a FIFO, a
    device (such as a link to ``/dev/zero``), a directory or an oversized file is refused
    from its ``stat`` before it is opened, and checked again on the open descriptor.
    """
    name = str(path)
    try:
        problem = _file_problem(path, os.stat(path))
        if problem is not None:
            return b"", problem
        fd = os.open(path, _OPEN_FLAGS)
        with os.fdopen(fd, "rb") as file:
            problem = _file_problem(path, os.fstat(file.fileno()))
            raw = b"" if problem is not None else file.read(MAX_TABLE_BYTES + 1)
    except OSError as err:
        return b"", Problem(name, None, None, f"cannot be read ({err.strerror or err})")
    if problem is None and len(raw) > MAX_TABLE_BYTES:
        problem = _too_large(name)
    return raw, problem


def _file_problem(path: Path, info: os.stat_result) -> Problem | None:
    """Why a file with status ``info`` is not read as a table, or ``None``."""
    name = str(path)
    if not stat.S_ISREG(info.st_mode):
        link = f" (a link to {os.path.realpath(path)})" if path.is_symlink() else ""
        return Problem(name, None, None, f"is {_file_kind(info.st_mode)}{link}, not a regular "
                                         f"file; expected a CSV file")
    if info.st_size > MAX_TABLE_BYTES:
        return _too_large(name)
    return None


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"))
    return next((kind for test, kind in kinds if test(mode)), "a special file")


def _too_large(name: str) -> Problem:
    return Problem(name, None, None,
                   f"is larger than {MAX_TABLE_BYTES / 1e6:g} MB; expected a table file "
                   f"of at most {MAX_TABLE_BYTES:,} bytes (keep only the rows you add or "
                   f"change: the embedded rows are read anyway)")


def parse_table(text: str, spec: TableSpec, name: str) -> tuple[list[Record], list[Problem]]:
    """Validate CSV ``text`` against ``spec``; ``name`` labels problems.

    See :func:`read_table`.
    """
    if not text.strip():
        return [], [Problem(name, None, None,
                            f"the file is empty; expected a header row with the columns "
                            f"{', '.join(spec.columns)}")]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as err:
        return [], [_csv_problem(err, text, 1, [], name)]
    problems = _header_problems(header, spec, name)
    if problems:
        return [], problems
    records: list[Record] = []
    start = 2  # line the next record starts on (it ends on reader.line_num)
    try:
        for cells in reader:
            records += _record(cells, header, spec, name, reader.line_num, problems)
            start = reader.line_num + 1
    except csv.Error as err:  # the reader cannot resynchronise: stop at the first one
        problems.append(_csv_problem(err, text, start, header, name))
    return records, problems


def _record(
    cells: list[str], header: list[str], spec: TableSpec, name: str, line: int,
    problems: list[Problem],
) -> list[Record]:
    """Validate one row's ``cells``: its record, or none with its problems appended."""
    if not any(c.strip() for c in cells):
        return []
    if len(cells) != len(header):
        problems.append(Problem(name, line, None,
                                f"has {len(cells)} cells; expected {len(header)} "
                                f"(one per header column)"))
        return []
    values = {h: c for h, c in zip(header, cells, strict=True) if c.strip() != ""}
    try:
        return [Record(name, line, spec.row.model_validate(values))]
    except ValidationError as err:
        problems.extend(_row_problems(err, name, line))
        return []


def _csv_problem(err: csv.Error, text: str, line: int, header: list[str], name: str) -> Problem:
    """Locate a CSV syntax error: the record starting on ``line`` and, if found, its cell."""
    limit = csv.field_size_limit()
    if "field larger than field limit" not in str(err):
        return Problem(name, line, None, f"is not valid CSV ({err}); expected comma-separated "
                                         f"cells, quoted with \" where they hold a comma")
    column = _long_cell(_text_from_line(text, line), limit)
    field = header[column] if column is not None and column < len(header) else None
    return Problem(name, line, field,
                   f"field larger than {limit:,} characters; expected each cell to hold at "
                   f"most {limit:,} characters")


def _text_from_line(text: str, line: int) -> str:
    """``text`` from the start of its 1-based ``line`` on (lines split as the reader does)."""
    lines: Iterator[str] = io.StringIO(text, newline="")
    skipped = sum(len(next(lines, "")) for _ in range(line - 1))
    return text[skipped:]


_CELL = re.compile(r'"((?:[^"]+|"")*)"|([^,\r\n]*)')
"""One cell of a record: quoted (``""`` is an escaped quote) or bare."""


def _long_cell(record: str, limit: int) -> int | None:
    """Index of the first cell of ``record`` longer than ``limit`` characters, if found."""
    pos, column = 0, 0
    while match := _CELL.match(record, pos):
        quoted, bare = match.groups()
        length = len(quoted.replace('""', '"')) if quoted is not None else len(bare)
        if length > limit:
            return column
        pos = match.end()
        if record[pos:pos + 1] != ",":
            return None
        pos, column = pos + 1, column + 1
    return None


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
    "finite_number": "expected a finite number (not inf or nan)",
}

_MAGNITUDE = f"{MAX_MAGNITUDE:.0e}".replace("e+", "e")
"""The bound of every number, as messages show it ('1e15')."""


def _expected(e: Any) -> str:
    """Rephrase a pydantic error as what was expected."""
    ctx = e.get("ctx", {})
    bound = ctx.get("le", ctx.get("ge"))
    if isinstance(bound, int | float) and abs(bound) == MAX_MAGNITUDE:
        return f"expected a number from -{_MAGNITUDE} to {_MAGNITUDE}"
    template = _EXPECTED.get(e["type"])
    if template is None:
        return str(e["msg"])
    return template.format(**{k: _shown(v) for k, v in ctx.items()})


def _shown(value: object) -> str:
    """A bound as people write it: ``0`` rather than ``0.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _encoding_problem(name: str, raw: bytes, err: UnicodeDecodeError) -> Problem:
    line = raw.count(b"\n", 0, err.start) + 1
    start = raw.rfind(b"\n", 0, err.start) + 1
    header = raw.split(b"\n", 1)[0].decode("utf-8", "replace").strip().split(",")
    column_index = raw[start:err.start].count(b",")
    column = header[column_index] if line > 1 and column_index < len(header) else None
    return Problem(name, line, column,
                   f"byte 0x{raw[err.start]:02x} is not valid UTF-8; expected the file in "
                   f"UTF-8 (re-save it as 'CSV UTF-8')")
