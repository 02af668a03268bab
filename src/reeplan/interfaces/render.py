r"""Turn result frames into terminal tables, CSV or JSON. Imported only when a command runs.

User text (scenario names, ids, descriptions, anything read from the fact base) never
reaches the terminal raw: every string printed passes through :func:`safe_text`, which shows
control characters as visible escapes (so an ANSI sequence ``ESC[31m`` prints as
``\x1b[31m`` instead of turning the terminal red), then through rich's markup escaping.
JSON output escapes them the JSON way (``\u009b``), which parsers undo, so it stays lossless.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from reeplan.types import POOLED_ELEMENTS, OutputFormat

if TYPE_CHECKING:
    import pandas as pd

    from reeplan.flows.country import CountryChain
    from reeplan.flows.rare_metal_chain import CommodityChain
    from reeplan.metrics.world import WorldOverview
    from reeplan.optimize import Plan
    from reeplan.reporting import PlanComparison

__all__ = ["Format", "emit_chain", "emit_commodity_chain", "emit_comparison", "emit_frame",
           "emit_plan", "emit_world", "safe_text"]

Format = OutputFormat

# C0 and C1 control characters and DEL, the bidirectional overrides and isolates (which can
# make text read differently from what it is), the line and paragraph separators.
_UNSAFE = "\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE_RE = re.compile(f"[\x00-\x1f{_UNSAFE}]")
_UNSAFE_BUT_NEWLINE_RE = re.compile(f"[\x00-\x09\x0b-\x1f{_UNSAFE}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def safe_text(value: object, *, keep_newlines: bool = False) -> str:
    r"""``str(value)`` with every control character shown as a visible escape.

    Parameters
    ----------
    value
        Anything; converted with :func:`str`.
    keep_newlines
        Leave ``\n`` as it is (for multi-line messages); by default it is escaped too, as a
        table cell must stay on its line.

    Returns
    -------
    str
        The text with C0 and C1 control characters, DEL, bidirectional overrides and line
        separators replaced by ``\t``, ``\n``, ``\r``, ``\xNN`` or ``\uNNNN``: an ANSI
        escape sequence, a bell or a carriage return cannot act on the terminal.

    Examples
    --------
    >>> safe_text("\x1b[31mred\x07")
    '\\x1b[31mred\\x07'
    """
    pattern = _UNSAFE_BUT_NEWLINE_RE if keep_newlines else _UNSAFE_RE
    return pattern.sub(_visible, str(value))


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")


def _cell(value: object) -> str:
    """User text ready for a rich table cell or markup string."""
    return escape(safe_text(value))


def _safe_json(text: str) -> str:
    """Escape, the JSON way, the unsafe characters json leaves raw (DEL, C1, bidi)."""
    return _UNSAFE_BUT_NEWLINE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with :func:`safe_text` applied to every string cell and label."""
    out = df.copy()
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if column.dtype.kind == "O":  # object, string and categorical columns
            out.isetitem(i, column.map(_safe_cell, na_action="ignore").array)
    out.columns = [_safe_cell(c) for c in out.columns]
    return out


def _safe_cell(value: Any) -> Any:
    return safe_text(value) if isinstance(value, str) else value


def fmt_number(value: Any, qualifier: Any = None, digits: int = 0) -> str:
    """Format a quantity for people: thousands separators, bounds kept, blanks as '-'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    q = qualifier if isinstance(qualifier, str) else ""
    if isinstance(value, int | float):  # never "-0": a value that rounds to zero is 0
        value = round(float(value), digits) + 0.0
    return f"{q}{value:,.{digits}f}"


def fmt_pct(value: Any, digits: int = 1) -> str:
    """Format a fraction as a percentage."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * float(value):.{digits}f}%"


def emit_frame(df: pd.DataFrame, fmt: Format, title: str = "",
               console: Console | None = None) -> None:
    """Write a frame to standard output as a table, CSV or JSON.

    Strings are shown through :func:`safe_text` in tables and CSV (CSV on standard output
    is as often read on a terminal as piped) and JSON-escaped in JSON.
    """
    if fmt == "csv":
        _safe_frame(df).to_csv(sys.stdout, index=False, lineterminator="\n")
        return
    if fmt == "json":
        text = df.to_json(orient="records", indent=2, force_ascii=False) or "[]"
        sys.stdout.write(_safe_json(text) + "\n")
        return
    console = console or Console()
    if len(df.columns) > STACK_ABOVE_COLUMNS:
        _stacked(df, title, console)
        return
    table = Table(title=_cell(title) if title else None, show_lines=False, header_style="bold")
    for col in df.columns:
        table.add_column(_cell(col), overflow="fold")
    for row in df.itertuples(index=False):
        table.add_row(*("" if _blank(v) else _cell(v) for v in row))
    console.print(table)


STACK_ABOVE_COLUMNS = 7
"""A table with more columns is printed record by record: one "column: value" line each."""


def _stacked(df: pd.DataFrame, title: str, console: Console) -> None:
    """Each row as a block of ``column: value`` lines, legible at any width."""
    if title:
        console.print(f"[bold]{_cell(title)}[/bold]")
    width = max(len(str(c)) for c in df.columns)
    for i, row in enumerate(df.itertuples(index=False), start=1):
        console.print(f"[bold]{i}.[/bold]")
        for col, v in zip(df.columns, row, strict=True):
            if not _blank(v):
                year_like = "year" in str(col) or str(col).endswith("_from")
                shown = int(v) if year_like and isinstance(v, float) and v.is_integer() else v
                console.print(_cell(f"  {str(col).ljust(width)}  {shown}"), highlight=False)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _narrow_table(title: str, columns: tuple[tuple[str, bool], ...]) -> Table:
    r"""A table that stays legible in 80 columns: no vertical rules, numbers never split.

    ``columns`` gives each header (a ``\n`` in it breaks the header line) and whether
    the column holds numbers (right-aligned). No cell is ever wrapped, so a figure such as
    ``15,210`` is never printed as ``15,21`` over ``0``: a cell that may be long must hold
    its own line breaks.
    """
    table = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    for header, numeric in columns:
        if numeric:
            table.add_column(header, justify="right", no_wrap=True)
        else:
            table.add_column(header, no_wrap=True)
    return table


_POOLED = "all others"
"""How the pooled balance row (:data:`reeplan.types.POOLED_ELEMENTS`) reads in a table."""


def _element_label(element: object) -> str:
    return _POOLED if element == POOLED_ELEMENTS else str(element)


def _num(value: Any) -> str:
    """A tonnage for a narrow table: one decimal below 100, none above."""
    if _blank(value):
        return "NA"
    return fmt_number(value, digits=1 if abs(float(value)) < 100 else 0)


def _emit_json(document: dict[str, Any]) -> None:
    """Write a result's JSON form to standard output, escaped."""
    sys.stdout.write(_safe_json(json.dumps(document, indent=2, ensure_ascii=False)) + "\n")


def emit_world(ov: WorldOverview, fmt: Format) -> None:
    """Write a :class:`~reeplan.metrics.world.WorldOverview` in the chosen format."""
    if fmt == "csv":
        emit_frame(ov.to_frame(), "csv")
        return
    if fmt == "json":
        _emit_json(ov.to_dict())
        return
    console = Console()
    s = ov.summary
    unit = _cell(ov.unit)
    console.print(f"[bold]World supply of {_cell(ov.commodity)} in {_cell(ov.year)}[/bold]  "
                  f"(unit: {unit}; series: {_cell(ov.series)})")
    console.print(
        f"World production {_cell(fmt_number(s['world_production']))} {unit} · reserves "
        f"{_cell(fmt_number(s['world_reserves'], s['world_reserves_qualifier']))} · static "
        "reserve life "
        f"{_cell(fmt_number(s['world_reserve_life'], s['world_reserves_qualifier']))} years\n"
        f"China's share {fmt_pct(s['china_share'])} · top 3 ({_cell(s['top3_countries'])}) "
        f"{fmt_pct(s['top3_share'])} · HHI {s['hhi']:.3f} (0-1; lower bound)"
    )
    refs = {str(r["source_id"]): i for i, r in enumerate(ov.sources.to_dict(orient="records"),
                                                        start=1)}
    _countries_table(console, ov, refs)
    _stages_table(console, ov.stages, refs)
    if not ov.alternatives.empty:
        _alternatives_table(console, ov.alternatives, refs)
    console.print("[bold]Sources[/bold] (numbered as in the tables)")
    for r in ov.sources.to_dict(orient="records"):
        year = "" if _blank(r["year"]) else f", {r['year']:.0f}"
        line = (f"  [{refs[str(r['source_id'])]}] {r['source_id']}: {r['title']}, "
                f"{r['publisher']}{year}. {r['url'] or ''}")
        console.print(_cell(line), highlight=False)


def _ref(refs: dict[str, int], *ids: object) -> str:
    """Sources as their numbers in the list below the tables (an id not in it as itself)."""
    known = sorted({str(x) for x in ids if not _blank(x)})
    return ",".join(f"[{refs[x]}]" if x in refs else x for x in known)


def _countries_table(console: Console, ov: WorldOverview, refs: dict[str, int]) -> None:
    unit = _cell(ov.unit)
    table = _narrow_table(f"Mine production {_cell(ov.year)} and reserves, by country", (
        ("Country", False), (f"Production\n({unit})", True), ("Share", True),
        (f"Reserves\n({unit})", True), ("R/P\n(years)", True), ("Source", False)))
    for iso3, r in ov.countries.iterrows():
        cells = (str(iso3), fmt_number(r["production"], r["production_qualifier"]),
                 fmt_pct(r["share"]), fmt_number(r["reserves"], r["reserves_qualifier"]),
                 fmt_number(r["reserve_life"], digits=1 if r["reserve_life"] < 10 else 0),
                 _ref(refs, r["production_source"], r["reserves_source"]))
        table.add_row(*map(_cell, cells))
    console.print(table)


def _stages_table(console: Console, stages: pd.DataFrame, refs: dict[str, int]) -> None:
    if stages.empty:
        console.print("No stage shares in the fact base for this commodity.")
        return
    table = _narrow_table("Concentration by stage (shares as published)", (
        ("Stage", False), ("Year", True), ("Basis [source]", False), ("China", True),
        ("Top 3 (share)", False), ("HHI*", True), ("Conf.", False)))
    table.collapse_padding = True  # one space less between columns: 80 columns fit
    for column, least in ((table.columns[2], 20), (table.columns[4], 10)):
        column.no_wrap, column.min_width = False, least  # words wrap at their spaces
    table.columns[4].max_width = 14  # "CHN, MMR, USA"
    for r in stages.itertuples(index=False):
        table.add_row(*map(_cell, (str(r.stage), str(r.year),
                      f"{r.basis} {_ref(refs, r.source_id)}",
                      "-" if _blank(r.china_share) else f"{r.china_share:.1f}%",
                      f"{r.top3} ({r.top3_share:.1f}%)",
                      "-" if _blank(r.hhi) else f"{r.hhi:.3f}", str(r.confidence))))
    console.print(table)
    console.print("* HHI over the countries each source lists: a lower bound when it lists few.")


def _alternatives_table(console: Console, alt: pd.DataFrame, refs: dict[str, int]) -> None:
    table = _narrow_table("Other estimates, kept side by side (not averaged)", (
        ("Country", False), ("Metric", False), ("Year", True), ("Value", True),
        ("Series [source]", False), ("Conf.", False)))
    table.collapse_padding = True
    for column, least in ((table.columns[1], 8), (table.columns[4], 12)):
        column.no_wrap, column.min_width = False, least
    for r in alt.itertuples(index=False):
        table.add_row(*map(_cell, (str(r.country), str(r.metric).replace("_", " "),
                      str(r.year), f"{fmt_number(r.value, r.qualifier)} {r.unit}",
                      f"{r.series} {_ref(refs, r.source_id)}", str(r.confidence))))
    console.print(table)
    console.print(_cell("[n]: the sources numbered below; Conf.: confidence."))


def emit_chain(result: CountryChain, fmt: Format) -> None:
    """Write a :class:`~reeplan.flows.country.CountryChain` in the chosen format."""
    if fmt == "csv":
        emit_frame(result.balance, "csv")
        return
    if fmt == "json":
        _emit_json(result.to_dict())
        return
    console = Console()
    console.print(f"[bold]Rare-earth chain of {_cell(result.country)} in {_cell(result.year)}"
                  f"[/bold]  (mine output: {_cell(result.series)}; t REO up to separation, "
                  "t product after)")
    _chain_stage_table(console, result)
    _chain_element_tables(console, result)
    _end_of_life_table(console, result)
    console.print("[bold]Notes[/bold]")
    for note in result.notes:
        console.print(_cell(f"  - {note}"), highlight=False)
    console.print("[bold]Sources and assumptions[/bold]")
    for r in result.sources.itertuples(index=False):
        console.print(_cell(f"  [{r.source_id}] {r.description}"), highlight=False)


def emit_commodity_chain(result: CommodityChain, fmt: Format) -> None:
    """Write a :class:`~reeplan.flows.rare_metal_chain.CommodityChain` in ``fmt``."""
    if fmt == "csv":
        emit_frame(result.stages, "csv")
        return
    if fmt == "json":
        _emit_json(result.to_dict())
        return
    console = Console()
    years = sorted({int(y) for y in result.stages["balance_year"]})
    console.print(f"[bold]{_cell(result.commodity)} in {_cell(result.country)}[/bold]  (t of "
                  f"content; balance of {_cell(', '.join(map(str, years)))}, the nearest to "
                  f"{_cell(result.year)})")
    table = _narrow_table("By stage", (
        ("Stage", False), ("Output", True), ("Imports", True), ("Exports", True),
        ("Use", True), ("Gross\nshare", True), ("Net\nshare", True)))
    for r in result.stages.itertuples(index=False):
        known = _known(r.consumption)
        use = known + ("" if r.consumption_stated or known == "-" else "*")
        table.add_row(*map(_cell, (str(r.stage), _known(r.production), _known(r.imports),
                                   _known(r.exports), use, fmt_pct(r.gross_import_share),
                                   fmt_pct(r.net_import_share))))
    console.print(table)
    console.print("  -: no figure published; *: production + imports - exports; shares: "
                  "imports (gross, or net of exports) over use")
    above = result.stages[result.stages["gross_import_share"] > 1]  # NaN compares False
    for r in above.itertuples(index=False):
        console.print(_cell(
            f"  {r.stage}: imports ({fmt_number(r.imports)} t) exceed use "
            f"({fmt_number(r.consumption)} t): {fmt_number(r.exports)} t leave again "
            f"(re-exported or worked up and sold), so the gross share passes 100% by its "
            f"definition; the net share counts what stays"), highlight=False)
    m = result.mine_output
    if m:
        console.print(_cell(f"Latest {m['metric'].replace('_', ' ')}: {fmt_number(m['value'])} "
                            f"{m['unit']} in {m['year']} ({m['series']}, {m['source_id']})"),
                      highlight=False)
    console.print("[bold]Stated import shares, against the balance[/bold]")
    if result.stated.empty:
        console.print("  none in the import_reliance table")
    for r in result.stated.itertuples(index=False):
        console.print(_cell(f"  {r.value:g}% ({r.period}; {r.source_id}, {r.confidence}): "
                            f"{r.verdict}"), highlight=False)
    console.print(_cell(f"Sources: {', '.join(result.sources)}"), highlight=False)


def _known(value: Any) -> str:
    """A flow with no row in the fact base is unknown, not zero."""
    return "-" if _blank(value) else fmt_number(value)


def _chain_stage_table(console: Console, result: CountryChain) -> None:
    table = _narrow_table("By stage", (
        ("Stage", False), ("Capacity", True), ("Output", True), ("Unit", False),
        ("Demand", True), ("Imports", True), ("Import\nshare", True)))
    for r in result.stages.itertuples(index=False):
        capacity = "not published" if _blank(r.capacity) else fmt_number(r.capacity)
        table.add_row(*map(_cell, (str(r.stage), capacity, fmt_number(r.output), str(r.unit),
                                   fmt_number(r.demand), fmt_number(r.imports),
                                   fmt_pct(r.dependence))))
    console.print(table)
    online = [(str(r.stage), str(r.plants)) for r in result.stages.itertuples(index=False)
              if str(r.plants) not in {"", "-"}]
    if online:
        console.print("[bold]Plants online[/bold]")
        for stage, plants in online:
            console.print(_cell(f"  {stage}: {plants}"), highlight=False)


def _chain_element_tables(console: Console, result: CountryChain) -> None:
    table = _narrow_table("By element: balance at separation (t REO)", (
        ("Element", False), ("Mined", True), ("Separated", True), ("Demand", True),
        ("Imports", True), ("Import\nshare", True), ("Surplus", True)))
    for r in result.elements.itertuples(index=False):
        table.add_row(*map(_cell, (_element_label(r.element), _num(r.mined), _num(r.separated),
                      _num(r.demand), _num(r.imports), fmt_pct(r.dependence),
                      _num(r.surplus))))
    console.print(table)
    table = _narrow_table("By element: what the surplus is worth, what limits it", (
        ("Element", False), ("Surplus value (M USD)", True), ("Share of ore value", True),
        ("Bottleneck", False)))
    musd = result.elements["surplus_value"] / 1e6
    for r, value in zip(result.elements.itertuples(index=False), musd, strict=True):
        table.add_row(*map(_cell, (_element_label(r.element), _num(value),
                                   fmt_pct(r.revenue_share),
                                   str(r.bottleneck) or "-")))
    console.print(table)
    if POOLED_ELEMENTS in set(result.elements["element"]):
        console.print(f"{_POOLED}: every element whose demand is not broken down, pooled "
                      "(the rows above included).", highlight=False)


def _end_of_life_table(console: Console, result: CountryChain) -> None:
    if result.end_of_life is None:
        return
    table = _narrow_table(
        f"Magnets in use and at end of life, {_cell(result.year)} (t magnet)",
        (("Product", False), ("Share", True), ("Inflow", True), ("In use", True),
         ("End of life", True), ("Recycled", True)))
    for r in result.end_of_life.products.itertuples(index=False):
        table.add_row(*map(_cell, (str(r.product), fmt_pct(r.share), _num(r.inflow),
                                   _num(r.stock), _num(r.end_of_life), _num(r.recycled))))
    console.print(table)


def emit_plan(result: Plan, name: str) -> None:
    """Print a plan's summary: cost, targets met or missed and why, the builds."""
    console = Console()
    penalties = result.penalties
    parts = {k: v for k, v in result.penalties_by_part.items() if v > 0.5e6}
    what = (": " + ", ".join(f"{k} {v / 1e6:,.0f}" for k, v in parts.items())
            if len(parts) > 1 else f" for {next(iter(parts))}" if parts else "")
    console.print(f"[bold]{_cell(name)}[/bold]: discounted cost "
                  f"{(result.cost - penalties) / 1e6:,.0f} M USD"
                  + (f" (plus {penalties / 1e6:,.0f} M USD of penalties{what})"
                     if penalties > 0.5e6 else ""))
    for target, rows in result.targets.groupby("target", sort=False):
        start = int(rows["year"].min())
        verdict = "met every year" if bool(rows["met"].all()) else "MISSED"
        missed = rows.loc[~rows["met"], "year"]
        if len(missed) and int(missed.max()) < int(rows["year"].max()):  # met later
            verdict += f" until {int(missed.max())}, met from {int(missed.max()) + 1}"
        console.print(_cell(f"  target {target} (from {start}): {verdict}"))
    for line in result.missed:
        console.print(_cell(f"  {line}"), highlight=False)
    table = _narrow_table("Roadmap", (
        ("Project", False), ("Stage", False), ("Capacity\n(t/yr)", True), ("Decided", True),
        ("Online", True), ("Capex\n(M USD)", True)))
    table.columns[1].no_wrap = False  # "rare metal conversion" wraps at its spaces
    builds = result.builds.to_dict(orient="records")
    for r in builds:
        table.add_row(*map(_cell, (str(r["candidate"]), str(r["stage"]).replace("_", " "),
                      fmt_number(r["capacity"]), str(r["decision_year"]), str(r["online_year"]),
                      fmt_number(float(r["capex"]) / 1e6, digits=1))))
    console.print(table)
    if builds:
        console.print("[bold]Why each build[/bold]")
    for r in builds:
        reason = r["reason"] + r["oversized"]
        console.print(_cell(f"  {r['candidate']} ({r['decision_year']}): {reason}"),
                      highlight=False)
    if not result.binding.empty:
        top = ", ".join(result.binding["constraint"].head(5))
        console.print(_cell(f"Binding constraints (largest duals first): {top}"),
                      highlight=False)
    for line in result.idle_mines:
        console.print(_cell(f"Existing mine below capacity: {line}"), highlight=False)
    abroad = _done_abroad(result.cross_trades)
    if abroad:
        console.print(_cell("Done abroad in effect (sold as one product, bought back as a "
                            f"later one; cross_trades): {abroad}"), highlight=False)


def _done_abroad(cross: pd.DataFrame) -> str:
    """The chain steps the plan leaves to partners: per step, the elements and years."""
    if cross.empty:
        return ""
    parts = []
    for step, g in cross[cross["done_abroad"].astype(bool)].groupby("steps", sort=True):
        years = f"{int(g['year'].min())}-{int(g['year'].max())}"
        parts.append(f"{step} of {', '.join(sorted(g['element'].unique()))} ({years})")
    return "; ".join(parts)


def emit_comparison(cmp: PlanComparison) -> None:
    """Print two plans side by side: cost, targets and builds."""
    a, b = cmp.names
    cost = {k: float(v) / 1e6 for k, v in cmp.cost.items()}
    console = Console()
    console.print(f"[bold]{_cell(a)}[/bold] vs [bold]{_cell(b)}[/bold]: discounted cost, "
                  f"penalties included, {cost[a]:,.0f} vs {cost[b]:,.0f} M USD "
                  f"({cost['difference']:+,.0f})")
    console.print(_cell(f"  A: {a}; B: {b}"), highlight=False)
    short = {f"first_met_{a}": "Met from (A)", f"max_shortfall_{a}": "Worst short (A)",
             f"first_met_{b}": "Met from (B)", f"max_shortfall_{b}": "Worst short (B)",
             f"capacity_{a}": "Built (A)", f"first_online_{a}": "Online (A)",
             f"capacity_{b}": "Built (B)", f"first_online_{b}": "Online (B)",
             "capacity_difference": "B - A", "target": "Target", "candidate": "Project"}
    if not cmp.targets.empty:
        emit_frame(_shown(cmp.targets, short), "table",
                   title="Targets: first year met, largest shortfall", console=console)
    emit_frame(_shown(cmp.builds, short), "table", title="Builds (t/yr)", console=console)


def _shown(df: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """A comparison frame for the terminal: short headers, numbers as the CLI prints them.

    Years as years, quantities rounded with thousands separators, blanks kept.
    """
    out = df.astype(object)
    for col in df.columns:
        if col in ("target", "candidate"):
            continue
        year = str(col).startswith(("first_met_", "first_online_"))
        out[col] = [v if isinstance(v, str) or _blank(v) else str(int(v)) if year
                    else fmt_number(v) for v in df[col]]
    return out.rename(columns=names)
