"""The planner's inputs as one labelled dataset, built once from a :class:`Problem`.

Everything the model reads that a risk draw may vary (prices, capex, opex, delays and the
online schedule, demand, scrap, trade terms) is a variable of this dataset, over the
dimensions ``candidate``, ``decision`` (the year a build is decided), ``year``,
``element``, ``partner``, ``mine`` and ``target``; a stack of draws adds a ``draw``
dimension, and :meth:`xarray.Dataset.isel` picks one. The model's structure (which
columns and rows exist) is fixed by the base parameters; a draw changes numbers only.

Units: capacities and flows [t/yr], capex [USD per t/yr], opex and prices [USD/t],
shares [fraction], lead times and delays [years].
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import xarray as xr

from reeplan.errors import ChainDefinitionError
from reeplan.optimize.problem import Partner, Problem, RareMetal

__all__ = ["REFERENCE", "build_parameters", "buy_price", "delayed", "online_schedule",
           "oxide_price", "partner_price", "reference_market", "reference_price_values",
           "sale_price"]


def online_schedule(decision: np.ndarray, years: np.ndarray, online_after: np.ndarray,
                    ramp_up: tuple[float, ...]) -> np.ndarray:
    """Share of capacity decided in each year that is usable in each year [fraction].

    A build decided in year d comes online in d + ``online_after`` (lead time plus delay)
    and is usable at ``ramp_up[0]``, ``ramp_up[1]``, ... of its size in its first, second,
    ... year online, fully after that.

    Parameters
    ----------
    decision, years
        Decision years and planning years.
    online_after
        Years from decision to online, per candidate [years]; may be fractional for a
        drawn delay (then rounded up: capacity counts from the first whole year).
    ramp_up
        Usable share in the first years online [fraction].

    Returns
    -------
    numpy.ndarray
        Shares over (candidate, decision, year).

    Examples
    --------
    >>> online_schedule(np.array([2025]), np.array([2025, 2026, 2027]), np.array([1]),
    ...                 (0.5,)).tolist()
    [[[0.0, 0.5, 1.0]]]
    """
    age = years[None, None, :] - decision[None, :, None] - np.ceil(online_after)[:, None, None]
    ramp = np.asarray((*ramp_up, 1.0), dtype=float)
    share = ramp[np.clip(age, 0, len(ramp) - 1).astype(int)]
    return np.where(age >= 0, share, 0.0)


def build_parameters(p: Problem) -> xr.Dataset:
    """The parameter dataset of ``p`` (see the module docstring for dimensions and units)."""
    cands = sorted(p.candidates, key=lambda c: c.id)
    ids = [c.id for c in cands]
    years = np.array(p.years)
    elements = list(p.elements)
    partners = [q.id for q in p.partners]
    coords: dict[str, object] = {"candidate": ids, "decision": years, "year": years,
                                 "element": elements, "partner": partners,
                                 "stage": ("candidate", [c.stage for c in cands]),
                                 "element_group": ("element", [p.element_groups.get(e, "")
                                                               for e in elements]),
                                 "candidate_partner": ("candidate", [c.abroad for c in cands]),
                                 "variant_of": ("candidate", [c.variant_of or c.id
                                                              for c in cands]),
                                 "indicator": sorted({i for _, i in p.environment})}
    ds: dict[str, object] = {}
    _candidates(ds, p, cands)
    _mines(ds, coords, p)
    _prices(ds, coords, p)
    _trade(ds, p)
    _demand(ds, p)
    _targets(ds, coords, p)
    _rare_metals(ds, coords, p, cands)
    ds["discount"] = ("year", (1 + p.discount_rate) ** -(years - years[0]).astype(float))
    ds["metal_per_oxide"] = ("element", [float(p.metal_per_oxide.get(e, 1.0)) for e in elements])
    ds["in_recipe"] = ("element", np.array([e in p.recipe.elements for e in elements],
                                           dtype=bool))
    first = {p.recipe.members(c)[0]: w / 100 for c, w in p.recipe.wt_pct.items()}
    ds["recipe_share"] = ("element", [first.get(e, 0.0) for e in elements])
    ds["budget"] = math.inf if p.budget is None else float(p.budget)
    ds["national_reserve"] = math.inf if p.national_reserve is None \
        else float(p.national_reserve)
    ds["unmet_penalty"] = float(p.unmet_penalty)
    out = xr.Dataset(ds, coords=coords)
    out.attrs["ramp_up"] = list(p.ramp_up)
    out.attrs["reference_market"] = reference_market(p)
    out["oxide_per_magnet"] = p.chain.oxide_per_magnet(
        p.recipe, {e: float(p.metal_per_oxide.get(e, 1.0)) for e in p.recipe.elements})
    _check_finite(out)
    return out


Vars = dict[str, object]


def _candidates(ds: Vars, p: Problem, cands: list) -> None:  # type: ignore[type-arg]
    years = np.array(p.years)
    lead = np.array([int(c.lead_time) for c in cands])
    known = {q.id: q for q in p.partners}
    for c in cands:
        if c.abroad and c.abroad not in known:
            raise ChainDefinitionError(f"candidate '{c.id}': it works with partner "
                                       f"'{c.abroad}', which the problem does not have "
                                       f"(partners: {', '.join(known) or 'none'})")
        if c.abroad and c.stage not in ("mining", "separation"):
            raise ChainDefinitionError(f"candidate '{c.id}': only mines (equity or offtake) "
                                       f"and separation (tolling) may be abroad, not "
                                       f"{c.stage}")
    ds["abroad"] = ("candidate", np.array([bool(c.abroad) for c in cands], dtype=bool))
    indicators = sorted({i for _, i in p.environment})
    ds["environment"] = (("candidate", "indicator"), np.array(
        [[0.0 if c.abroad else float(p.environment.get((c.environment_stage, i), 0.0))
          * float(c.environment_factor.get(i, 1.0)) for i in indicators]
         for c in cands], dtype=float).reshape(len(cands), len(indicators)))
    _check_feeds(cands)
    ds["online_from"] = ("candidate", [int(c.online_from) for c in cands])
    ds["offtake"] = (("candidate", "year"), np.array(
        [[float(c.offtake_share) if c.offtake_from <= y <= (c.offtake_until or y) else 0.0
          for y in p.years]
         for c in cands], dtype=float).reshape(len(cands), len(p.years)))
    bases = {c.id for c in cands}
    for c in cands:
        if c.variant_of and c.variant_of not in bases:
            raise ChainDefinitionError(f"candidate '{c.id}' is a variant of "
                                       f"'{c.variant_of}', which the problem does not have")
    ds["environment_cap"] = ("indicator", [float(p.environment_caps.get(i, math.inf))
                                           for i in indicators])
    unknown = sorted(set(p.environment_caps) - set(indicators))
    if unknown:
        raise ChainDefinitionError(f"a cap on {', '.join(unknown)}, for which no stage has "
                                   f"an intensity")
    ds["toll_freight"] = ("candidate", [2.0 * float(known[c.abroad].transport_cost)
                                        if c.abroad and c.stage == "separation" else 0.0
                                        for c in cands])
    blocked = {q.id for q in p.partners if q.blocked}
    for name in ("existing", "max_capacity", "capex", "opex", "min_size"):
        shut = name in ("existing", "max_capacity")  # a mine abroad behind a closed border
        ds[name] = ("candidate", [0.0 if shut and c.abroad in blocked else
                                  float(getattr(c, name)) for c in cands])
    ds["lead_time"] = ("candidate", lead)
    ds["allowed"] = ("candidate", np.array([c.technology in p.allowed_technology
                                            for c in cands], dtype=bool))
    ds["reserve"] = ("candidate", [math.inf if c.reserve is None else float(c.reserve)
                                   for c in cands])
    ds["online"] = (("candidate", "decision", "year"),
                    online_schedule(years, years, lead, p.ramp_up))
    fixed = np.full((len(cands), len(years)), np.nan)
    index = {c.id: i for i, c in enumerate(cands)}
    for (cid, year), value in p.fixed_builds.items():
        if cid not in index or year not in set(years.tolist()):
            raise ChainDefinitionError(f"fixed build ({cid}, {year}): unknown candidate or "
                                       f"a year outside the horizon")
        fixed[index[cid], int(year - years[0])] = value
    ds["fixed_build"] = (("candidate", "decision"), fixed)


def _check_feeds(cands: list) -> None:  # type: ignore[type-arg]
    """Only separation plants name their feed, and only mines of the problem."""
    mines = {c.id for c in cands if c.stage == "mining"}
    for c in cands:
        if c.feed_from and c.stage != "separation":
            raise ChainDefinitionError(f"candidate '{c.id}', field 'feed_from': only a "
                                       f"separation plant takes its feed from named mines")
        unknown = sorted(set(c.feed_from) - mines)
        if unknown:
            raise ChainDefinitionError(f"candidate '{c.id}', field 'feed_from': "
                                       f"{', '.join(unknown)} is not a mine of the problem")


def _mines(ds: Vars, coords: Vars, p: Problem) -> None:
    mines = p.of_stage("mining")
    coords["mine"] = [c.id for c in mines]
    ds["distribution"] = (("mine", "element"),
                          np.array([[c.distribution.get(e, 0.0) for e in p.elements]
                                    for c in mines]).reshape(len(mines), len(p.elements)))
    known = {q.id: q for q in p.partners}
    ds["mine_abroad"] = ("mine", np.array([bool(c.abroad) for c in mines], dtype=bool))
    coords["mine_partner"] = ("mine", [c.abroad for c in mines])
    ds["mine_buy_factor"] = ("mine", [1.0 + known[c.abroad].buy_premium if c.abroad else 0.0
                                      for c in mines])
    ds["mine_freight"] = ("mine", [float(known[c.abroad].transport_cost) if c.abroad else 0.0
                                   for c in mines])
    _feed_groups(ds, coords, p, [c.id for c in mines])
    ds["concentrate_value_share"] = float(p.concentrate_share)
    cost = p.concentrate_holding_cost
    if cost is not None and not (math.isfinite(cost) and cost >= 0):
        raise ChainDefinitionError(f"field 'concentrate_holding_cost': {cost}; expected a "
                                   f"finite, non-negative USD/t/yr, or None (no storage)")
    ds["conc_holding_cost"] = math.nan if cost is None else float(cost)  # NaN: no storage
    ds["oxide_per_mined"] = p.chain.oxide_per_mined
    ds["metal_recovery"] = p.chain.metal_recovery
    ds["magnet_per_alloy_metal"] = p.chain.magnet_per_alloy_metal
    ds["recycling_recovery"] = p.chain.recycling_recovery


def _feed_groups(ds: Vars, coords: Vars, p: Problem, mines: list[str]) -> None:
    """Which mines feed which separation plants, where a plant names its feed.

    One group per plant with ``feed_from`` and one (``"any"``) for every other plant and
    mine; none at all when no plant names its feed.
    """
    dedicated = [c for c in p.of_stage("separation") if c.feed_from]
    if not dedicated:
        return
    reserved = {m for c in dedicated for m in c.feed_from}
    twice = sorted(m for m in reserved if sum(m in c.feed_from for c in dedicated) > 1)
    if twice:
        raise ChainDefinitionError(f"mine {', '.join(twice)} is the feed of more than one "
                                   f"plant (feed_from); expected one")
    groups = [c.id for c in dedicated] + ["any"]
    coords["feed_group"] = groups
    cands = [c.id for c in p.candidates]
    ds["plant_in_group"] = (("feed_group", "candidate"), np.array(
        [[float(k == g) if g != "any" else float(
            k not in groups and p.candidates[i].stage == "separation")
          for i, k in enumerate(cands)] for g in groups], dtype=float))
    owner = {m: c.id for c in dedicated for m in c.feed_from}
    ds["mine_in_group"] = (("feed_group", "mine"), np.array(
        [[float(owner.get(m, "any") == g) for m in mines] for g in groups],
        dtype=float).reshape(len(groups), len(mines)))


REFERENCE = "reference"
"""The market of a problem's own reference prices, when it names no market for them."""


def _markets(p: Problem) -> dict[str, tuple[Mapping[str, float], Mapping[str, float]]]:
    """Every market's (oxide, metal) prices.

    The reference prices come under their market's name when they are one of the
    markets, else under :data:`REFERENCE`.
    """
    markets = dict(p.market_prices)
    if p.reference_market not in markets:
        markets[REFERENCE] = (p.oxide_price, p.metal_price)
    return markets


def reference_market(p: Problem) -> str:
    """Name of the market whose prices value domestic output."""
    return p.reference_market if p.reference_market in p.market_prices else REFERENCE


def _prices(ds: Vars, coords: Vars, p: Problem) -> None:
    n = len(p.years)
    markets = _markets(p)
    coords["market"] = list(markets)
    for i, name in enumerate(("market_oxide_price", "market_metal_price")):
        ds[name] = (("market", "element", "year"), np.array(
            [[[float(m[i].get(e, 0.0))] * n for e in p.elements] for m in markets.values()],
            dtype=float).reshape(len(markets), len(p.elements), n))
    ds["magnet_price"] = ("year", np.full(n, float(p.magnet_price)))
    coords["partner_market"] = ("partner", [q.market or reference_market(p)
                                            for q in p.partners])
    ds["tradable"] = ("element", np.array([p.tradable is None or e in p.tradable
                                           for e in p.elements], dtype=bool))


def _trade(ds: Vars, p: Problem) -> None:
    q = p.partners
    ds["blocked"] = ("partner", np.array([x.blocked for x in q], dtype=bool))
    ds["buys"] = ("partner", np.array([not (x.blocked or x.buys_nothing) for x in q],
                                      dtype=bool))
    ds["buy_factor"] = ("partner", [1.0 + x.buy_premium for x in q])
    ds["sell_factor"] = ("partner", [1.0 - x.sell_discount for x in q])
    ds["freight"] = ("partner", [float(x.transport_cost) for x in q])
    ds["export_cap"] = (("partner", "element"),
                        np.array([[x.export_caps.get(e, np.nan) for e in p.elements]
                                  for x in q], dtype=float).reshape(len(q), len(p.elements)))
    ds["import_cap"] = (("partner", "element", "year"), np.array(
        [[[x.import_caps_by_year.get(y, x.import_caps).get(e, np.nan) for y in p.years]
          for e in p.elements] for x in q], dtype=float).reshape(
        len(q), len(p.elements), len(p.years)))
    ds["conc_buy_cap"] = ("partner", [math.inf if x.concentrate_buy_cap is None
                                      else float(x.concentrate_buy_cap) for x in q])
    ds["magnet_buy_cap"] = ("partner", [math.inf if x.magnet_buy_cap is None
                                        else float(x.magnet_buy_cap) for x in q])
    ds["magnet_cap"] = ("partner", [math.inf if x.magnet_cap is None else float(x.magnet_cap)
                                    for x in q])
    ds["route_capacity"] = ("partner", [math.inf if x.route_capacity is None
                                        else float(x.route_capacity) for x in q])
    ds["banned"] = (("partner", "year"), np.array([[y in x.banned_years for y in p.years]
                                                   for x in q], dtype=bool).reshape(
        len(q), len(p.years)))
    ds["reserve_cap"] = ("element", [float(p.reserve_caps.get(e, 0.0)) for e in p.elements])
    ds["reserve_initial"] = ("element", [float(p.reserve_initial.get(e, 0.0))
                                         for e in p.elements])
    ds["reserve_holding_cost"] = float(p.reserve_holding_cost)
    unknown = sorted((set(p.reserve_caps) | set(p.reserve_initial)) - set(p.elements))
    if unknown:
        raise ChainDefinitionError(f"a strategic reserve of {', '.join(unknown)}, which the "
                                   f"problem does not model")


def _demand(ds: Vars, p: Problem) -> None:
    years = list(p.years)
    ds["magnet_demand"] = ("year", [float(p.magnet_demand.get(y, 0.0)) for y in years])
    ds["other_demand"] = ("year", [float(p.other_demand.get(y, 0.0)) for y in years])
    unknown = sorted(set(p.other_split) - set(p.elements))
    if unknown:
        raise ChainDefinitionError(f"non-magnet demand split names {', '.join(unknown)}, "
                                   f"which the problem does not model")
    if p.other_split and abs(sum(p.other_split.values()) - 1.0) > 1e-6:
        raise ChainDefinitionError(f"non-magnet demand split sums to "
                                   f"{sum(p.other_split.values()):.6f}; expected 1")
    ds["other_split"] = ("element", [float(p.other_split.get(e, 0.0)) for e in p.elements])
    ds["other_pooled"] = not p.other_split
    ds["scrap"] = ("year", [float(p.scrap_available.get(y, 0.0)) for y in years])


def _targets(ds: Vars, coords: Vars, p: Problem) -> None:
    ts = p.targets
    ids = [t.id for t in ts]
    if len(set(ids)) != len(ids):
        raise ChainDefinitionError(f"target ids repeat: {', '.join(sorted(ids))}")
    coords["target"] = ids
    coords["target_kind"] = ("target", [t.kind for t in ts])
    coords["target_stage"] = ("target", [t.stage for t in ts])
    ds["target_value"] = ("target", [float(t.value) for t in ts])
    ds["target_from"] = ("target", [int(t.from_year) for t in ts])
    ds["target_penalty"] = ("target", [float(t.penalty) for t in ts])


def _rare_metals(ds: Vars, coords: Vars, p: Problem, cands: list) -> None:  # type: ignore[type-arg]
    """The rare-metal chains: commodities, their markets and who mines or refines them."""
    metals = list(p.rare_metals)
    names = [m.commodity for m in metals]
    coords["commodity"] = names
    n, years = len(names), list(p.years)
    ds["rm_consumption"] = (("commodity", "year"), np.array(
        [[float(m.consumption.get(y, 0.0)) for y in years] for m in metals],
        dtype=float).reshape(n, len(years)))
    ds["rm_price"] = (("commodity", "year"), np.array(
        [[float(m.price)] * len(years) for m in metals], dtype=float).reshape(n, len(years)))
    ds["rm_concentrate_share"] = ("commodity", [float(m.concentrate_share) for m in metals])
    ds["rm_recovery"] = ("commodity", [float(m.refining_recovery) for m in metals])
    ds["rm_product_factor"] = ("commodity", [float(m.product_per_content) for m in metals])
    ds["rm_export_cap"] = ("commodity", [math.inf if m.export_cap is None
                                         else float(m.export_cap) for m in metals])
    ds["rm_direct"] = ("commodity", np.array([m.used_as_concentrate for m in metals],
                                             dtype=bool))
    ds["rm_concentrate_traded"] = ("commodity", np.array(
        [m.concentrate_market and not m.used_as_concentrate for m in metals], dtype=bool))
    def sells(q: Partner, m: RareMetal, refined: bool) -> bool:
        # a commodity used as concentrate (zircon) trades as its concentrate
        allowed = q.sells_refined if refined and not m.used_as_concentrate \
            else q.sells_concentrate
        return allowed is None or m.commodity in allowed

    for name, refined in (("rm_sells_concentrate", False), ("rm_sells_refined", True)):
        ds[name] = (("partner", "commodity"), np.array(
            [[sells(q, m, refined) for m in metals] for q in p.partners],
            dtype=bool).reshape(len(p.partners), n))
    ds["coproduct"] = (("candidate", "commodity"), np.array(
        [[0.0 if c.abroad else float(c.coproducts.get(k, 0.0)) for k in names]
         for c in cands], dtype=float).reshape(len(cands), n))
    ds["rm_refines"] = (("candidate", "commodity"), np.array(
        [[float(c.stage == "rare_metal_refining" and c.commodity == k) for k in names]
         for c in cands], dtype=float).reshape(len(cands), n))
    ds["rm_converts"] = (("candidate", "commodity"), np.array(
        [[float(c.stage == "rare_metal_conversion" and c.commodity == k) for k in names]
         for c in cands], dtype=float).reshape(len(cands), n))
    ds["rm_down_share"] = ("commodity", [float(m.downstream_share) for m in metals])
    ds["rm_down_ratio"] = ("commodity", [float(m.downstream_ratio) for m in metals])
    ds["rm_conversion_recovery"] = ("commodity", [float(m.conversion_recovery)
                                                  for m in metals])
    groups = list(p.product_groups)
    coords["group"] = [g.id for g in groups]
    ds["group_commodity"] = (("group", "commodity"), np.array(
        [[float(k in g.commodities) for k in names] for g in groups],
        dtype=float).reshape(len(groups), n))
    ds["group_element"] = (("group", "element"), np.array(
        [[float(p.element_groups.get(e, "") in g.element_groups) for e in p.elements]
         for g in groups], dtype=float).reshape(len(groups), len(p.elements)))
    coords["target_group"] = ("target", [t.group for t in p.targets])


def _check_finite(ds: xr.Dataset) -> None:
    """Reject NaN anywhere it is not the stated 'none', and infinities in prices and costs."""
    for name in ("capex", "opex", "market_oxide_price", "market_metal_price", "magnet_price",
                 "existing",
                 "max_capacity", "magnet_demand", "other_demand", "scrap", "target_value",
                 "target_penalty", "freight", "buy_factor", "sell_factor", "unmet_penalty",
                 "reserve_cap", "reserve_initial", "reserve_holding_cost", "rm_consumption",
                 "rm_price"):
        values = np.asarray(ds[name].values, dtype=float)
        if values.size and not np.isfinite(values).all():
            raise ChainDefinitionError(f"parameter '{name}': not a finite number "
                                       f"({values[~np.isfinite(values)][:3].tolist()})")


def delayed(params: xr.Dataset, delay: xr.DataArray) -> xr.Dataset:
    """``params`` with each candidate's builds coming online ``delay`` years late.

    The online schedule is recomputed from the lead time plus the delay [years, over
    ``candidate``; a fractional delay counts from the next whole year], with the same
    ramp-up; nothing else changes. This is how a risk draw varies lead times without
    rebuilding the model (which builds exist stays as planned).
    """
    d = delay.reindex(candidate=params["candidate"].values, fill_value=0.0)
    if bool((d < 0).any()) or not bool(np.isfinite(d).all()):
        raise ChainDefinitionError("delays must be finite and non-negative [years]")
    online = online_schedule(params["decision"].values, params["year"].values,
                             params["lead_time"].values + d.values,
                             tuple(params.attrs.get("ramp_up", ())))
    out = params.copy()
    out["online"] = (("candidate", "decision", "year"), online)
    return out


def oxide_price(q: xr.Dataset, product: str = "oxide") -> xr.DataArray:
    """Reference price of each element's oxide (or metal) [USD/t], over (element, year).

    The reference market is the one that values domestic output.
    """
    price: xr.DataArray = q[f"market_{product}_price"].sel(
        market=q.attrs["reference_market"], drop=True)
    return price


def reference_price_values(q: xr.Dataset, product: str = "oxide") -> np.ndarray:
    """:func:`oxide_price` as a bare array over (element, year) [USD/t], for risk draws."""
    markets = list(q.indexes["market"])
    table = _array(q, f"market_{product}_price", "market", "element", "year")
    return table[markets.index(q.attrs["reference_market"])]  # type: ignore[no-any-return]


def partner_price(q: xr.Dataset, product: str) -> xr.DataArray:
    """Price of ``product`` (oxide or metal) in each partner's market [USD/t].

    Over (partner, element, year). Read from the dataset's variables, not through
    ``q[name]`` (which builds a labelled array each time): risk draws call it thousands of
    times.
    """
    table = _array(q, f"market_{product}_price", "market", "element", "year")
    markets = {str(m): i for i, m in enumerate(q.indexes["market"])}
    pick = [markets[str(m)] for m in q.variables["partner_market"].values]
    return xr.DataArray(table[pick], dims=("partner", "element", "year"),  # indexes reused
                        coords=[q.indexes["partner"], q.indexes["element"],
                                q.indexes["year"]])


def _array(q: xr.Dataset, name: str, *dims: str) -> np.ndarray:
    """A parameter's values with its dimensions in ``dims`` order (no labels, fast)."""
    return q.variables[name].transpose(*dims).values


def buy_price(q: xr.Dataset, product: str) -> xr.DataArray:
    """What a tonne of ``product`` bought from each partner costs [USD/t], freight apart.

    Over (partner, element, year): the partner's market price times its premium; an
    element the partner exports under licence (an export cap above zero) at the dearest
    market's price times the premium: a licence's scarcity rent goes to the seller, so a
    plan cannot buy China's licensed Dy at the Chinese price and sell its own at the
    ex-China premium.
    """
    price = partner_price(q, product)  # (partner, element, year) in q's order; arrays below
    values = price.values
    cap = _array(q, "export_cap", "partner", "element")
    licensed = cap > 0  # NaN (no cap) compares False
    if licensed.any():
        table = _array(q, f"market_{product}_price", "market", "element", "year")
        values = np.where(licensed[:, :, None], np.maximum(values, table.max(axis=0)[None]),
                          values)
    return price.copy(deep=False, data=values * q.variables["buy_factor"].values[:, None, None])


def sale_price(q: xr.Dataset, product: str) -> xr.DataArray:
    """What a tonne of ``product`` sold to each partner earns [USD/t].

    Over (partner, element, year): the partner's market price less its discount, but never
    more than the same tonne costs to buy from a partner that sells it freely (open, and
    no export cap on the element): a market premium (ex-China over China) is a price of
    scarce supply, and while the plan can buy from China without limit it cannot also
    sell at the premium.
    So buying and selling one product and element never earns money, and with freight
    both ways round trips lose it.
    """
    price = partner_price(q, product)  # (partner, element, year); arrays below, for speed
    values = price.values
    own = values * q.variables["sell_factor"].values[:, None, None]
    if not values.shape[0]:
        return price.copy(deep=False, data=own)
    cap = _array(q, "export_cap", "partner", "element")
    free = ~q.variables["blocked"].values[:, None] & np.isnan(cap)  # (partner, element)
    buy = np.where(free[:, :, None], values * q.variables["buy_factor"].values[:, None, None],
                   np.inf)
    cheapest = buy.min(axis=0)  # (element, year); inf where no one sells freely
    return price.copy(deep=False, data=np.minimum(own, cheapest[None, :, :]))

