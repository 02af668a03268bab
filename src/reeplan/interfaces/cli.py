"""The ``reeplan`` command line: thin wrappers over the Python API.

Heavy libraries (pandas, numpy, xarray) are imported inside the commands, never at module
level, so ``reeplan --help`` starts fast. Every :class:`~reeplan.errors.ReeplanError` becomes
a one-message error on standard error and exit code 2, with no traceback; so does an
optional dependency missing from a light install (the message names the extra to install).
Ctrl-C prints ``reeplan: interrupted`` and exits with 130, the shell's code for SIGINT.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from reeplan.errors import ReeplanError
from reeplan.types import OutputFormat

__all__ = ["app", "main"]

F = TypeVar("F", bound=Callable[..., Any])
Format = OutputFormat

app = typer.Typer(
    name="reeplan",
    help="Plan rare-earth and rare-metal supply chains, mine to magnet, on a sourced fact base.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Inspect and check the fact base.", no_args_is_help=True)
app.add_typer(data_app, name="data")

DataOpt = Annotated[
    list[Path] | None,
    typer.Option("--data", help="Directory of your own CSV tables layered over the embedded "
                                "ones (same schema); repeat to stack several."),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells report it."""

EXTRAS = {
    "xarray": ("xarray", "chain"),
    "flodym": ("flodym", "chain"),
    "highspy": ("highspy", "plan"),
    "yaml": ("pyyaml", "plan"),
    "pyarrow": ("pyarrow", "parquet"),
}
"""Optional module -> (distribution, extra of reeplan that installs it)."""

CHAIN_NEEDS = ("xarray", "flodym")
PLAN_NEEDS = (*CHAIN_NEEDS, "highspy", "yaml")


class _Interrupted(BaseException):
    """Ctrl-C inside a command, carried past typer (which would swallow it) to :func:`main`."""


def _user_errors(func: F) -> F:
    """Map user errors to one message on stderr and exit code 2, Ctrl-C to :func:`main`.

    A :class:`ReeplanError` prints its message; a :class:`ModuleNotFoundError` for an
    optional dependency prints which extra to install (any other propagates: a bug).
    """
    command = "reeplan " + func.__name__.replace("_", " ")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ReeplanError as err:
            _fail(str(err))
        except ModuleNotFoundError as err:
            hint = _missing_extra(command, err.name)
            if hint is None:
                raise
            _fail(hint)
        except KeyboardInterrupt:
            raise _Interrupted from None

    return wrapper  # type: ignore[return-value]


def _fail(message: str) -> NoReturn:
    from reeplan.interfaces.render import safe_text

    sys.stderr.write(f"reeplan: error: {safe_text(message, keep_newlines=True)}\n")
    raise typer.Exit(code=2)


def _missing_extra(command: str, module: str | None) -> str | None:
    """The message for a missing optional ``module``, or ``None`` if it is not one."""
    top = (module or "").partition(".")[0]
    if top not in EXTRAS:
        return None
    dist, extra = EXTRAS[top]
    return (f"'{command}' needs the optional dependency '{dist}'; install it with: "
            f"pip install 'reeplan[{extra}]'")


def _require(modules: Iterable[str]) -> None:
    """Raise :class:`ModuleNotFoundError` for the first of ``modules`` not installed.

    Checked before any work (and without importing), so that a light install says which
    extra it lacks at once instead of failing half-way through a command.
    """
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)


def _facts(data: list[Path] | None) -> Any:
    from reeplan.data import load_factbase

    return load_factbase(data or None)


@app.command()
@_user_errors
def chain(
    country: Annotated[str, typer.Option(
        help="ISO 3166-1 alpha-3 code, or a country group (EU27): its members' mines "
             "and plants.")] = "RUS",
    year: Annotated[int, typer.Option(help="Year of mine output and plants online.")] = 2024,
    series: Annotated[str | None, typer.Option(help="Production series (default: newest "
                                                    "USGS).")] = None,
    mix: Annotated[list[str] | None, typer.Option(
        "--mix", help="DEPOSIT=SHARE: how mine output splits between producing deposits; "
                      "repeat for each.")] = None,
    commodity: Annotated[str, typer.Option(
        help="'rare_earths', or a rare metal (W, Mo, Zr, Nb, Ta, Li, Ti): its balance by "
             "stage, import shares and the stated shares compared.")] = "rare_earths",
    fmt: FormatOpt = "table",
    data: DataOpt = None,
) -> None:
    """Per stage and element: capacity, output, demand, imports, dependence, surplus."""
    if commodity != "rare_earths":
        if mix or series:
            raise ReeplanError("--mix and --series are for the rare-earth chain, not "
                               f"--commodity {commodity}")
        from reeplan.flows.rare_metal_chain import commodity_chain
        from reeplan.interfaces.render import emit_commodity_chain

        emit_commodity_chain(commodity_chain(country.upper(), year, commodity,
                                             facts=_facts(data)), fmt)
        return
    deposit_mix = _parse_mix(mix)
    _require(CHAIN_NEEDS)
    from reeplan.flows.country import country_chain
    from reeplan.interfaces.render import emit_chain

    result = country_chain(country.upper(), year, facts=_facts(data), series=series,
                           deposit_mix=deposit_mix)
    emit_chain(result, fmt)


def _parse_mix(items: list[str] | None) -> dict[str, float] | None:
    """``["a=0.9", "b=0.1"]`` -> ``{"a": 0.9, "b": 0.1}``; shares finite and >= 0."""
    if not items:
        return None
    return dict(_mix_item(item) for item in items)


def _mix_item(item: str) -> tuple[str, float]:
    name, sep, value = item.partition("=")
    try:
        share = float(value)
    except ValueError:
        sep = ""
    if not sep or not name.strip():
        raise ReeplanError(f"--mix '{item}': expected DEPOSIT=SHARE, e.g. bayan_obo=0.9")
    if not math.isfinite(share) or share < 0:
        raise ReeplanError(f"--mix '{item}': SHARE must be a finite number >= 0, "
                           f"not '{value.strip()}'")
    return name.strip(), share


@app.command()
@_user_errors
def plan(
    scenario: Annotated[Path | None, typer.Argument(help="Scenario YAML file.")] = None,
    out: Annotated[Path | None, typer.Option(help="Directory for the roadmap files.")] = None,
    force: Annotated[bool, typer.Option(
        help="Replace reeplan's files in an existing --out directory (other files are "
             "kept).")] = False,
    diff: Annotated[tuple[Path, Path] | None, typer.Option(
        help="Compare the plans of two scenario files instead.")] = None,
    data: DataOpt = None,
) -> None:
    """Least-cost build plan to reach the scenario's targets, with reasons for any miss."""
    if (scenario is None) == (diff is None):
        raise ReeplanError("give one scenario file, or two after --diff")
    _require(PLAN_NEEDS if out is None else (*PLAN_NEEDS, "pyarrow"))
    from rich.console import Console

    from reeplan.interfaces.render import emit_comparison, emit_plan, fmt_number, safe_text

    protected = data or []
    if out is not None:
        from reeplan.reporting.files import check_output_dir

        check_output_dir(out, force=force, protected=protected)  # refuse before solving
    progress = Console(stderr=True)
    with progress.status("loading the fact base"):
        facts = _facts(data)
    if diff is not None:
        from reeplan.reporting import compare_plans

        plan_a, plan_b = (_solve(p, facts, progress) for p in diff)
        emit_comparison(compare_plans(plan_a, plan_b, (plan_a.name, plan_b.name)))
        return
    assert scenario is not None
    result = _solve(scenario, facts, progress)
    emit_plan(result, result.name)
    if out is not None:
        from reeplan.reporting.roadmap import write_plan

        write_plan(result, out, force=force, protected=protected)
        run = out / "run.json"  # what it wrote: the cost of each target
        costs = json.loads(run.read_text(encoding="utf-8")).get(
            "cost_of_each_target_musd", {}) if run.is_file() else {}
        if costs:
            Console().print(safe_text("What each target costs (discounted, penalties apart, "
                                      "against the plan without it): " + "; ".join(
                                          f"{k} {fmt_number(v)} M USD"
                                          for k, v in costs.items())),
                            markup=False, highlight=False)
        Console().print(f"roadmap written to {safe_text(out)}", markup=False, highlight=False)


def _solve(path: Path, facts: Any, progress: Any) -> Any:
    """Read, check and solve the scenario in ``path`` (one pass); return the plan."""
    from rich.markup import escape

    from reeplan.interfaces.render import safe_text
    from reeplan.scenarios.run import run_plan

    with progress.status(f"building and solving {escape(safe_text(path.name))}"):
        return run_plan(path, facts)


@app.command()
@_user_errors
def world(
    commodity: Annotated[str, typer.Option(help="'rare_earths' or a rare-metal symbol "
                                                "(W, Mo, Li, ...).")] = "rare_earths",
    year: Annotated[int | None, typer.Option(help="Production year (default: latest).")] = None,
    series: Annotated[str | None, typer.Option(help="Estimate series, e.g. 'USGS MCS2024' "
                                                    "(default: newest USGS).")] = None,
    fmt: FormatOpt = "table",
    data: DataOpt = None,
) -> None:
    """World production, reserves, reserve life, shares, HHI and top 3 per stage, with sources."""
    from reeplan.interfaces.render import emit_world
    from reeplan.metrics.world import world as world_overview

    emit_world(world_overview(commodity, year, series=series, facts=_facts(data)), fmt)


@data_app.command("check")
@_user_errors
def data_check(data: DataOpt = None) -> None:
    """Validate every table (types, units, ranges, keys, references, share sums)."""
    facts = _facts(data)
    rows = sum(len(t) for t in facts.tables.values())
    from reeplan.interfaces.render import safe_text

    typer.echo(f"fact base OK: {len(facts.tables)} tables, {rows} rows, "
               f"{len(facts.tables['sources'])} sources, "
               f"{len(facts.tables['assumptions'])} assumptions "
               f"(layers: {safe_text(', '.join(map(str, facts.layers)))})")


@data_app.command("list")
@_user_errors
def data_list(data: DataOpt = None, fmt: FormatOpt = "table") -> None:
    """List the tables with their row counts and what they hold."""
    import pandas as pd

    from reeplan.data import SCHEMAS
    from reeplan.interfaces.render import emit_frame

    facts = _facts(data)
    df = pd.DataFrame([{"table": n, "rows": len(facts.tables[n]),
                        "description": s.description} for n, s in SCHEMAS.items()])
    emit_frame(df, fmt, title="Fact-base tables")


@data_app.command("show")
@_user_errors
def data_show(
    table: Annotated[str, typer.Argument(help="Table name (see 'reeplan data list').")],
    where: Annotated[list[str] | None, typer.Option(help="Filter COLUMN=VALUE; repeatable.")]
    = None,
    fmt: FormatOpt = "table",
    data: DataOpt = None,
) -> None:
    """Print one table, optionally filtered."""
    _show(table, where, fmt, data)


@data_app.command("sources")
@_user_errors
def data_sources(fmt: FormatOpt = "table", data: DataOpt = None) -> None:
    """Print the sources every number cites."""
    _show("sources", None, fmt, data)


@data_app.command("assumptions")
@_user_errors
def data_assumptions(fmt: FormatOpt = "table", data: DataOpt = None) -> None:
    """Print the numbers that have no published source, with their reasoning."""
    _show("assumptions", None, fmt, data)


@data_app.command("conflicts")
@_user_errors
def data_conflicts(fmt: FormatOpt = "table", data: DataOpt = None) -> None:
    """Print the estimates that disagree and how reeplan handles each."""
    _show("conflicts", None, fmt, data)


def _show(table: str, where: list[str] | None, fmt: Format, data: list[Path] | None) -> None:
    from reeplan.interfaces.render import emit_frame

    df = _facts(data)[table].drop(columns="origin")
    for clause in where or []:
        column, sep, value = clause.partition("=")
        if not sep or column not in df.columns:
            raise ReeplanError(f"--where '{clause}': expected COLUMN=VALUE with COLUMN one of "
                               f"{', '.join(df.columns)}")
        df = df[df[column].astype(str) == value]
    emit_frame(df, fmt, title=table)


def main() -> None:
    """Entry point of the ``reeplan`` console script.

    Ctrl-C anywhere in a command prints ``reeplan: interrupted`` on standard error and exits
    with 130, without a traceback.
    """
    try:
        app()
    except (KeyboardInterrupt, _Interrupted):
        _interrupted()
    except SystemExit as exc:
        if exc.code == INTERRUPTED:  # typer's own handling of a Ctrl-C outside a command
            _interrupted()
        raise


def _interrupted() -> NoReturn:
    sys.stderr.write("reeplan: interrupted\n")
    sys.stderr.flush()
    raise SystemExit(INTERRUPTED)
