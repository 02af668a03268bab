"""Assemble deposits and facilities into a chain, checking every cross-reference once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reeplan.domain.entities import Deposit, Facility, Stage
from reeplan.errors import ChainDefinitionError

__all__ = ["Chain"]

_ORDER = list(Stage)


@dataclass(frozen=True)
class Chain:
    """A validated set of deposits and facilities whose references all resolve.

    Use :meth:`assemble`; it raises :class:`ChainDefinitionError` naming the facility and
    field of the first bad reference it meets, after checking them all.
    """

    deposits: dict[str, Deposit]
    facilities: dict[str, Facility]

    @classmethod
    def assemble(cls, deposits: Iterable[Deposit], facilities: Iterable[Facility]) -> Chain:
        """Check ids and references and return the chain.

        Rules: ids are unique; a mine feeds on a known deposit; any other facility feeds on
        a known facility of the previous stage (stages may not be skipped).
        """
        deps: dict[str, Deposit] = {}
        facs: dict[str, Facility] = {}
        problems = []
        for d in deposits:
            if d.id in deps:
                problems.append(f"deposit '{d.id}', field 'id': duplicate id")
            deps[d.id] = d
        for f in facilities:
            if f.id in facs:
                problems.append(f"facility '{f.id}', field 'id': duplicate id")
            facs[f.id] = f
        for f in facs.values():
            problems += _feed_problems(f, deps, facs)
        if problems:
            raise ChainDefinitionError("invalid chain definition:\n  - " + "\n  - ".join(problems))
        return cls(deps, facs)

    def downstream_order(self) -> list[Facility]:
        """Facilities sorted so that every feed comes before what it feeds."""
        return sorted(self.facilities.values(), key=lambda f: (_ORDER.index(f.stage), f.id))


def _feed_problems(f: Facility, deps: dict[str, Deposit], facs: dict[str, Facility]) -> list[str]:
    where = f"facility '{f.id}', field 'feed'"
    if f.stage is Stage.MINING:
        if f.feed not in deps:
            return [f"{where}: unknown deposit '{f.feed}'; expected one of "
                    f"{', '.join(sorted(deps)) or '(none)'}"]
        return []
    upstream = facs.get(f.feed)
    if upstream is None:
        return [f"{where}: unknown facility '{f.feed}'"]
    expected = _ORDER[_ORDER.index(f.stage) - 1]
    if upstream.stage is not expected:
        return [f"{where}: '{f.feed}' is at stage '{upstream.stage}'; a {f.stage} plant "
                f"takes from a {expected} plant"]
    return []
