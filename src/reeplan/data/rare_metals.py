"""The rare-metal facts the planner and ``reeplan chain --commodity`` read, one rule each.

A rare metal's refined product, price and yields (``rare_metal_products``); a country's
flows of it by stage and year (``rare_metal_balances``, t of content); what a deposit's
concentrate carries (``concentrate_compositions``), which gives the co-products of a mine
per tonne of its main product; and the roadmap's product groups (``product_groups``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from reeplan.data.selection import nearest_year
from reeplan.errors import ReeplanError
from reeplan.types import CONFIDENCE_LEVELS

if TYPE_CHECKING:
    from reeplan.data.loader import FactBase

__all__ = ["RareMetalDownstream", "RareMetalProduct", "StageBalance", "coproduct_ratios",
           "latest_output", "output_rows", "producer_of", "product_group_members",
           "rare_metal_consumption", "rare_metal_downstream", "rare_metal_product",
           "stage_balance"]



@dataclass(frozen=True)
class RareMetalProduct:
    """A rare metal's refined product as the planner prices and counts it.

    Attributes
    ----------
    commodity, product
        E.g. ``"W"``, ``"ammonium paratungstate (APT)"``.
    product_per_content
        t of product per t of content [t/t].
    price
        World price per t of content [USD/t].
    concentrate_share, refining_recovery
        Concentrate's price over the product's [fraction]; content refined per t fed
        [fraction].
    used_as_concentrate
        The concentrate is the product (no refinery needed).
    concentrate_market
        Concentrate trades in a merchant market.
    world_output
        World output [t content/yr].
    source_ids
        Sources and assumptions of the figures.
    """

    commodity: str
    product: str
    product_per_content: float
    price: float
    concentrate_share: float
    refining_recovery: float
    used_as_concentrate: bool
    concentrate_market: bool
    world_output: float
    source_ids: frozenset[str]


def rare_metal_product(facts: FactBase, commodity: str) -> RareMetalProduct:
    """The ``rare_metal_products`` row of ``commodity``; none raises, naming the table."""
    table = facts["rare_metal_products"]
    rows = table[table["commodity"] == commodity]
    if rows.empty:
        known = ", ".join(sorted(table["commodity"]))
        raise ReeplanError(f"no rare_metal_products row for '{commodity}' (its refined "
                           f"product, price and yields); the fact base has {known}")
    r = rows.iloc[0]
    return RareMetalProduct(
        commodity, str(r["product"]), 100.0 / float(r["content_pct"]),
        1000.0 * float(r["price_usd_per_kg_content"]), float(r["concentrate_share"]),
        float(r["refining_recovery"]), bool(r["used_as_concentrate"]),
        bool(r["concentrate_market"]), float(r["world_output_t"]),
        frozenset({str(r["source_id"]), str(r["concentrate_source"]),
                   str(r["recovery_source"]), str(r["world_output_source"])}))


@dataclass(frozen=True)
class RareMetalDownstream:
    """A rare metal's second product (``rare_metal_downstream``): what it trades at.

    Attributes
    ----------
    product
        E.g. ``"tungsten carbide powder (WC)"``.
    price_ratio
        Its price over the refined product's per t of content [ratio].
    conversion_recovery
        Content kept from the refined product fed [fraction].
    source_ids
        The price's and the recovery's sources.
    """

    product: str
    price_ratio: float
    conversion_recovery: float
    source_ids: frozenset[str]


def rare_metal_downstream(facts: FactBase, commodity: str) -> RareMetalDownstream | None:
    """The ``rare_metal_downstream`` row of ``commodity``, or None (no second product)."""
    table = facts["rare_metal_downstream"]
    rows = table[table["commodity"] == commodity]
    if rows.empty:
        return None
    r = rows.iloc[0]
    return RareMetalDownstream(str(r["product"]), float(r["price_ratio"]),
                               float(r["conversion_recovery"]),
                               frozenset({str(r["source_id"]), str(r["recovery_source"])}))


def _balance_rows(facts: FactBase, country: str, commodity: str) -> pd.DataFrame:
    table = facts["rare_metal_balances"]
    return table[(table["country"] == country) & (table["commodity"] == commodity)]


def rare_metal_consumption(facts: FactBase, country: str, commodity: str, year: int
                           ) -> tuple[float, int, str] | None:
    """Use of ``commodity`` in ``country`` [t content/yr], its year and its source.

    The ``consumption`` row of the refined stage nearest ``year`` (the later on a tie);
    of two rows in that year, the more confident. None when the table has none.
    """
    rows = _balance_rows(facts, country, commodity)
    rows = rows[(rows["stage"] == "refined") & (rows["flow"] == "consumption")]
    if rows.empty:
        return None
    best = _most_confident(nearest_year(rows, year))
    return float(best["value"]), int(best["year"]), str(best["source_id"])


def _most_confident(rows: pd.DataFrame) -> pd.Series:
    """Of rows of one flow and year, the most confident one.

    Ranked in ``CONFIDENCE_LEVELS`` order, then by source id and form.
    """
    rank = {level: i for i, level in enumerate(CONFIDENCE_LEVELS)}
    order = rows.assign(rank=rows["confidence"].map(rank)).sort_values(
        ["rank", "source_id", "form"])
    return order.iloc[0]


@dataclass(frozen=True)
class StageBalance:
    """One stage of a commodity's balance in one year [t content].

    ``production``, ``imports`` and ``exports`` sum the rows of each flow (every form);
    ``consumption`` is the stated (published or derived) row. A flow with no row is None
    (unknown, not zero).
    """

    stage: str
    year: int
    production: float | None
    imports: float | None
    exports: float | None
    consumption: float | None
    source_ids: frozenset[str]


def stage_balance(facts: FactBase, country: str, commodity: str, stage: str, year: int
                  ) -> StageBalance | None:
    """The balance of ``commodity`` at ``stage`` in the year nearest ``year``.

    Of the years with production or trade rows, if there are any: a year with only a
    consumption figure gives no import share.
    """
    rows = _balance_rows(facts, country, commodity)
    rows = rows[rows["stage"] == stage]
    if rows.empty:
        return None
    flows = rows[rows["flow"] != "consumption"]  # a year with trade or output, if any
    rows = rows[rows["year"] == int(nearest_year(flows if not flows.empty else rows,
                                                 year)["year"].iloc[0])]

    def flow(name: str) -> float | None:
        found = rows[rows["flow"] == name]
        if found.empty:
            return None
        if name == "consumption":
            return float(_most_confident(found)["value"])
        return round(float(found["value"].sum()), 1)  # tonnes, as published

    return StageBalance(stage, int(rows["year"].iloc[0]), flow("production"), flow("imports"),
                        flow("exports"), flow("consumption"),
                        frozenset(str(s) for s in rows["source_id"]))


def _content(facts: FactBase, deposit: str, component: str) -> float | None:
    """Content of ``component`` in the deposit's concentrate [wt% of content].

    ``REO`` as published; a rare metal from its oxide's wt% times the oxide-to-metal factor.
    """
    table = facts["concentrate_compositions"]
    rows = table[table["deposit_id"] == deposit].set_index("component")["value"]
    if component == "REO":
        return float(rows["REO"]) if "REO" in rows.index else None
    elements = facts["elements"].set_index("symbol")
    oxide = str(elements.at[component, "oxide_formula"])
    if oxide not in rows.index:
        return None
    factor = pd.to_numeric(elements["metal_per_oxide"])[component]
    return float(rows[oxide]) * float(factor)


def coproduct_ratios(facts: FactBase, deposit: str, main: str,
                     commodities: list[str]) -> dict[str, float]:
    """Co-products of a deposit's concentrate per tonne of its main product [t/t].

    ``main`` is ``REO`` for a rare-earth mine (per t REO) or the rare metal a mine is
    planned for (per t of its content, which is then 1). A commodity the composition does
    not list carries nothing; a deposit without a composition gives the main product only.

    Examples
    --------
    Loparite KL-1: 8.14 wt% Nb2O5 x 0.69905 / 32 wt% REO = 0.1778 t Nb per t REO.
    """
    base = _content(facts, deposit, main)
    ratios = {main: 1.0} if main in commodities else {}
    if not base:
        return ratios
    for k in commodities:
        if k == main:
            continue
        content = _content(facts, deposit, k)
        if content:
            ratios[k] = content / base
    return ratios


def product_group_members(facts: FactBase, group: str) -> tuple[list[str], list[str], str]:
    """A product group's commodities, its rare-earth element groups, and its sources.

    Unknown groups raise, naming the ones the table has.
    """
    table = facts["product_groups"]
    rows = table[table["group_id"] == group]
    if rows.empty:
        raise ReeplanError(f"unknown product group '{group}'; the product_groups table has "
                           f"{', '.join(sorted(set(table['group_id'])))}")
    commodities = [str(m) for m in rows.loc[rows["member_kind"] == "commodity", "member"]]
    element_groups = [str(m) for m in rows.loc[rows["member_kind"] == "element_group",
                                               "member"]]
    return commodities, element_groups, ";".join(sorted(set(rows["source_id"])))


def output_rows(facts: FactBase, country: str, commodity: str) -> pd.DataFrame:
    """The production table's output figures of ``commodity`` in ``country``.

    Mine, refinery, primary or sponge production with a value (reserves left out), every
    year and series; empty when the table has none for the pair.
    """
    prod = facts["production"]
    return prod[(prod["country"] == country) & (prod["commodity"] == commodity)
                & (prod["metric"] != "reserves") & prod["value"].notna()]


_MASS_UNITS = {"t": 1.0, "t content": 1.0, "kg": 1e-3}
"""Production-table units of a rare metal's mass, in t."""


def latest_output(facts: FactBase, country: str, commodity: str
                  ) -> tuple[float, int, str] | None:
    """The newest published output of ``commodity`` in ``country`` [t content/yr].

    Of :func:`output_rows` in a unit of mass, the newest year's (the larger where several
    are published for the year), with its year and source id; None when there is none.
    """
    rows = output_rows(facts, country, commodity)
    rows = rows[rows["unit"].isin(list(_MASS_UNITS))]
    if rows.empty:
        return None
    rows = rows[rows["year"] == rows["year"].max()]
    tonnes = pd.to_numeric(rows["value"]) * rows["unit"].map(_MASS_UNITS)
    best = tonnes.idxmax()
    return float(tonnes[best]), int(rows.loc[best, "year"]), str(rows.loc[best, "source_id"])


ANNOUNCED = ("planned", "construction", "commissioning")
"""Facility statuses that are announced capacity, not yet output."""


def announced_capacity(facts: FactBase, country: str, commodity: str
                       ) -> list[tuple[float, int | None, str, str]]:
    """Announced plants of ``commodity`` in ``country`` [t content/yr].

    Facilities of the commodity (their ``commodity`` column) with an announced status
    (:data:`ANNOUNCED`) and a capacity: (tonnes, start year or None, name, source id),
    largest first.
    """
    table = facts["facilities"]
    rows = table[(table["country"] == country) & (table["commodity"] == commodity)
                 & table["status"].isin(list(ANNOUNCED)) & table["capacity"].notna()]
    starts = pd.to_numeric(rows["start_year"])
    found = [(float(cap), None if pd.isna(start) else int(start), str(name), str(src))
             for cap, start, name, src in zip(pd.to_numeric(rows["capacity"]), starts,
                                              rows["name"], rows["source_id"], strict=True)]
    return sorted(found, key=lambda x: -x[0])


def producer_of(facts: FactBase, country: str, commodity: str) -> tuple[bool, bool]:
    """Whether ``country`` mines ``commodity``, and whether it makes it at all.

    From the production table's newest year for the pair (:func:`output_rows`): mine
    production above zero (it can sell concentrate), and any production above zero, mine,
    refinery, primary or sponge (it can sell the refined product). A country the table
    does not list for the commodity (China and niobium) makes none.
    """
    rows = output_rows(facts, country, commodity)
    if rows.empty:
        return False, False
    rows = rows[rows["year"] == rows["year"].max()]
    values = pd.to_numeric(rows["value"])
    mines = bool((values[rows["metric"] == "mine_production"] > 0).any())
    return mines, bool((values > 0).any())
