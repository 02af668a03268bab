"""A country's chain of one rare metal, from the fact base: ``reeplan chain --commodity``.

Per stage (concentrate, the refined products) and for the balance year nearest the year
asked: production, imports, exports and consumption [t content], with

* gross import share = imports / consumption, and
* net import share = max(imports - exports, 0) / consumption,

beside the latest mine output of the production table (USGS) and every stated import
share of the ``import_reliance`` table, each compared with the shares the balance gives:
which stage it matches, or what it would take (imports or consumption) to reach it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from reeplan.data.rare_metals import StageBalance, output_rows, stage_balance
from reeplan.data.selection import nearest_year
from reeplan.errors import ReeplanError
from reeplan.metrics.dependence import apparent_consumption

if TYPE_CHECKING:
    from reeplan.data.loader import FactBase

__all__ = ["MATCH_POINTS", "CommodityChain", "commodity_chain"]

MATCH_POINTS = 5.0
"""A stated share within this many percentage points of a computed one matches it."""

STAGES = ("concentrate", "refined")


@dataclass(frozen=True)
class CommodityChain:
    """One rare metal in one country: balances, import shares and stated shares compared.

    Attributes
    ----------
    commodity, country, year
        What was asked.
    stages
        One row per stage: stage, balance_year, production, imports, exports,
        consumption [t content], consumption_stated (a published or derived row, else
        production + imports - exports), gross_import_share, net_import_share [fraction].
    mine_output
        The production table's mine (or sponge, refinery) output nearest ``year``: metric,
        year, value, unit, series, source_id; empty when the table has none.
    stated
        Every stated import share: period, value [%], basis, source_id, confidence,
        verdict (how it compares with the balance).
    sources
        Source ids of the balance rows.
    """

    commodity: str
    country: str
    year: int
    stages: pd.DataFrame
    mine_output: dict[str, Any]
    stated: pd.DataFrame
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN as null)."""
        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{str(k): (None if isinstance(v, float) and math.isnan(v) else v)
                     for k, v in r.items()} for r in df.to_dict(orient="records")]
        return {"commodity": self.commodity, "country": self.country, "year": self.year,
                "stages": records(self.stages), "mine_output": self.mine_output,
                "stated_import_shares": records(self.stated), "sources": list(self.sources)}


def _share(part: float | None, whole: float | None) -> float:
    if part is None or whole is None or whole <= 0:
        return float("nan")
    return round(max(part, 0.0) / whole, 6)


def _stage_row(b: StageBalance) -> dict[str, Any]:
    """A stage's balance, its use (stated, else apparent consumption) and import shares."""
    use = b.consumption
    if use is None and b.production is not None and b.imports is not None \
            and b.exports is not None:
        # apparent consumption only when output and both trade flows are published: a
        # missing flow is unknown, not zero
        use = round(apparent_consumption(b.production, b.imports, b.exports), 1)
    net = None if b.imports is None else b.imports - (b.exports or 0.0)
    return {"stage": b.stage, "balance_year": b.year, "production": b.production,
            "imports": b.imports, "exports": b.exports, "consumption": use,
            "consumption_stated": b.consumption is not None,
            "gross_import_share": _share(b.imports, use),
            "net_import_share": _share(net, use),
            "sources": ";".join(sorted(b.source_ids))}


def _stages(facts: FactBase, country: str, commodity: str, year: int) -> pd.DataFrame:
    rows = [_stage_row(b) for s in STAGES
            if (b := stage_balance(facts, country, commodity, s, year))]
    return pd.DataFrame(rows)


def commodity_chain(country: str, year: int, commodity: str, *,
                    facts: FactBase) -> CommodityChain:
    """The chain of ``commodity`` in ``country`` around ``year`` (see the module docstring).

    Raises
    ------
    ReeplanError
        When the fact base has no balance of the commodity for the country, naming the
        table and the commodities it has.
    """
    stages = _stages(facts, country, commodity, year)
    if stages.empty:
        table = facts["rare_metal_balances"]
        have = sorted(set(table.loc[table["country"] == country, "commodity"]))
        raise ReeplanError(f"no rare_metal_balances rows for {commodity} in {country}; the "
                           f"table has {', '.join(have) or 'none'} for {country}")
    sources = tuple(sorted({s for v in stages["sources"] for s in str(v).split(";")}))
    return CommodityChain(commodity, country, year, stages,
                          _mine_output(facts, country, commodity, year),
                          _stated(facts, country, commodity, year), sources)


def _mine_output(facts: FactBase, country: str, commodity: str, year: int) -> dict[str, Any]:
    rows = output_rows(facts, country, commodity)
    if rows.empty:
        return {}
    r = nearest_year(rows, year).sort_values(["metric", "series"]).iloc[0]
    return {"metric": str(r["metric"]), "year": int(r["year"]), "value": float(r["value"]),
            "unit": str(r["unit"]), "series": str(r["series"]),
            "source_id": str(r["source_id"])}


def _stated(facts: FactBase, country: str, commodity: str, year: int) -> pd.DataFrame:
    """Every stated share, each compared with the balance of its own period's last year."""
    table = facts["import_reliance"]
    rows = table[(table["country"] == country) & (table["commodity"] == commodity)]
    cols = ["period", "value", "basis", "source_id", "confidence", "verdict"]
    out = []
    for _, r in rows.iterrows():
        years = re.findall(r"(?:19|20)\d\d", str(r["period"]))
        claimed = int(years[-1]) if years else year
        stages = _stages(facts, country, commodity, claimed)
        assumed = _assumed(facts, stages)
        out.append({"period": str(r["period"]), "value": float(r["value"]),
                    "basis": str(r["basis"]), "source_id": str(r["source_id"]),
                    "confidence": str(r["confidence"]),
                    "verdict": _verdict(float(r["value"]), str(r["note"] or ""), stages,
                                        assumed, _why_apart(facts, stages, assumed,
                                                            claimed))})
    return pd.DataFrame(out, columns=cols)


def _assumed(facts: FactBase, stages: pd.DataFrame) -> set[str]:
    """The assumptions among the balance's sources."""
    assumptions = set(facts["assumptions"]["assumption_id"])
    return {s for v in stages["sources"] for s in str(v).split(";")} & assumptions


def _why_apart(facts: FactBase, stages: pd.DataFrame, assumed: set[str],
               claimed: int) -> list[str]:
    """What in the balance itself may set it apart from a stated share.

    The years (a balance of 2021 against a claim of 2025), the stages it covers (a
    balance of concentrates only, a claim perhaps of products), and the caveat each
    assumption it rests on states (its reasoning's last sentence).
    """
    reasons = []
    shared = stages.dropna(subset=["gross_import_share"])
    balance_years = sorted({int(y) for y in shared["balance_year"]})
    if balance_years and balance_years[-1] != claimed:
        reasons.append(f"the balance is of {balance_years[-1]}, the claim of {claimed}")
    covered = list(shared["stage"])
    if covered and set(covered) == {"concentrate"}:
        reasons.append("the balance has shares for concentrates only; the claim may count "
                       "refined products")
    table = facts["assumptions"].set_index("assumption_id")["reasoning"]
    for a in sorted(assumed):
        sentences = [x.strip() for x in re.split(r"(?<=\.)\s+", str(table.get(a, "")))
                     if x.strip()]
        if len(sentences) > 1:
            last = sentences[-1].rstrip(".")
            reasons.append(f"{a}: {last[:1].lower()}{last[1:]}")
    return reasons


def _verdict(stated_pct: float, note: str, stages: pd.DataFrame,
             assumed: set[str] | None = None, why: list[str] | None = None) -> str:
    """How a stated import share compares with the shares the balance gives.

    The nearest of the gross and net shares of each stage: within :data:`MATCH_POINTS`
    it matches; a stated lower bound ("above 90%") is consistent when the balance is
    above it; otherwise the imports (or consumption) it would take are named.
    """
    options = [(100 * float(r[m]), str(m).removesuffix("_import_share"), r)
               for _, r in stages.iterrows()
               for m in ("gross_import_share", "net_import_share") if pd.notna(r[m])]
    if not options:
        return ("cannot be checked: the fact base has no use and imports for it (a "
                "published consumption, or output, imports and exports all published: a "
                "missing flow is unknown, not zero)")
    computed, measure, best = min(options, key=lambda o: abs(o[0] - stated_pct))
    where = (f"the {best['stage']} stage's {measure} share ({computed:.1f}% in "
             f"{int(best['balance_year'])}"
             + (f", a balance resting on {', '.join(sorted(assumed))}" if assumed else "")
             + ")")
    if "lower bound" in note and computed >= stated_pct - MATCH_POINTS:
        return f"consistent with this lower bound: {where}"
    if abs(computed - stated_pct) <= MATCH_POINTS:
        return f"matches {where} within {MATCH_POINTS:.0f} points"
    use, imports = float(best["consumption"]), float(best["imports"])
    needed = stated_pct / 100 * use
    return (f"differs from {where}: {stated_pct:g}% of its consumption of {use:,.0f} t would "
            f"need imports of {needed:,.0f} t against the {imports:,.0f} t reported"
            + (f", or consumption of {imports / (stated_pct / 100):,.0f} t"
               if stated_pct > 0 and imports > 0 else "")
            + "; " + ("; ".join(why) if why else
                      "the claim may count another stage, year or basis (products, value)"))
