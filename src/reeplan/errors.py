"""Error types of reeplan.

One base class, :class:`ReeplanError`; each specific error also inherits the built-in
exception it resembles, so ``except ValueError`` keeps working for library users. The CLI
maps every :class:`ReeplanError` to exit code 2 with its message and no traceback.

All errors are picklable (they keep their constructor arguments), so they cross process
pools unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ChainDefinitionError",
    "DataValidationError",
    "MassBalanceError",
    "Problem",
    "ReeplanError",
    "UnknownItemError",
]


class ReeplanError(Exception):
    """Base class of every error reeplan raises on purpose."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input, located as precisely as the input allows.

    Attributes
    ----------
    file
        Path or name of the file the problem is in.
    row
        1-based line number in that file (the header is line 1), or ``None`` when the
        problem concerns the whole file.
    field
        Column, key or field name, or ``None`` when the problem concerns a whole row.
    message
        What is wrong and what was expected.
    unit
        How ``row`` is named in messages: ``"row"`` for tables, ``"line"`` for YAML (where
        ``field`` is then a key).
    """

    file: str
    row: int | None
    field: str | None
    message: str
    unit: str = "row"

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", {self.unit} {self.row}"
        if self.field is not None:
            where += f", {'key' if self.unit == 'line' else 'field'} '{self.field}'"
        return f"{where}: {self.message}"


class DataValidationError(ReeplanError, ValueError):
    """Input data failed validation; carries every problem found, not only the first.

    Parameters
    ----------
    problems
        Every problem found, in file and row order.
    """

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(sorted(problems, key=_problem_sort_key))
        super().__init__(self.problems)

    def __reduce__(self) -> tuple[type[DataValidationError], tuple[tuple[Problem, ...]]]:
        return (type(self), (self.problems,))

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the input data:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


class UnknownItemError(ReeplanError, KeyError):
    """A name asked for (a table, a commodity, a country) does not exist.

    Parameters
    ----------
    kind
        What kind of item was asked for, e.g. ``"table"``.
    name
        The name that was not found.
    known
        The names that do exist, listed in the message to help the user.
    """

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]) -> None:
        self.kind = kind
        self.name = name
        self.known = tuple(known)
        super().__init__(kind, name, self.known)

    def __reduce__(self) -> tuple[type[UnknownItemError], tuple[str, str, tuple[str, ...]]]:
        return (type(self), (self.kind, self.name, self.known))

    def __str__(self) -> str:
        shown = ", ".join(self.known[:30]) + (", ..." if len(self.known) > 30 else "")
        return f"unknown {self.kind} '{self.name}'; expected one of: {shown}"


class ChainDefinitionError(ReeplanError, ValueError):
    """A chain definition is invalid (bad reference, recovery above 1, bad distribution)."""


class MassBalanceError(ReeplanError, ArithmeticError):
    """Inputs do not equal outputs + losses + stock change within the stated tolerance."""


def _problem_sort_key(p: Problem) -> tuple[str, int, str, str]:
    return (p.file, p.row if p.row is not None else 0, p.field or "", p.message)
