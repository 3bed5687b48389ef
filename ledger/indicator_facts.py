"""Indicator facts: one record per contribution of a ledger step to an indicator.

The replay (:mod:`ledger.indicator_replay`) emits them; the projection keeps them in the
database and sums them there; :func:`summarise` sums them in memory, the reference the
projection is tested against. A fact carries the filter dimensions known at its step
(the lot, its community, harvested product and season, the step's day) and exact
measures: quantities as ``Decimal``, money as integer minor units. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from typing import Any

# The volume measures and the ``entries`` groups, in the order one step adds them (a first
# sale to a buyer: "sold at first sale", then "sold to buyers"). Reports list both in the
# order they first appear in the log, these breaking ties within one step.
MEASURES = ("harvested", "sold at first sale", "sold to buyers", "processed", "lost")
ENTRY_GROUPS = ("harvested", "benefits", "first_sales", "final_sales", "processed", "lost")
VOLUME_GROUPS = {"harvested": "harvested", "processed": "processed", "lost": "lost"}


@dataclass(frozen=True, slots=True)
class Filters:
    community: str | None = None
    cooperative: str | None = None  # an actor id the lot passed through
    product: str | None = None  # the product harvested
    season: str | None = None
    start: date | None = None  # statements on or after
    end: date | None = None  # statements on or before


@dataclass(frozen=True, slots=True)
class Dims:
    """What a filter can ask of a fact: known when its step is replayed."""

    lot: str  # the step's first lot
    community: str | None  # None once lots of several communities were merged
    product: str  # the product harvested
    season: str | None
    day: date  # of the statement


@dataclass(frozen=True, slots=True)
class VolumeFact:
    seq: int
    dims: Dims
    measure: str  # one of MEASURES
    key: str  # "product (unit)"
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class PeopleFact:
    seq: int
    dims: Dims
    harvesters: tuple[str, ...]  # pseudonymous references
    households: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FirstSale:
    """A lot's first acknowledged sale against the catalogue's minimum price."""

    lot: str
    seq: int  # the dispatch
    at: str
    product: str
    currency: str
    price_per_unit: Decimal
    reference_min: int | None  # minor units per unit
    premium_per_unit: Decimal | None
    premium_total: int | None

    def row(self) -> dict[str, Any]:
        return first_sale_row(self.lot, self.seq, self.at, self.product, self.currency,
                              self.price_per_unit, self.reference_min, self.premium_per_unit,
                              self.premium_total)


def first_sale_row(lot: str, seq: int, at: str, product: str, currency: str,
                   price_per_unit: Decimal, reference_min: int | None,
                   premium_per_unit: Decimal | None, premium_total: int | None
                   ) -> dict[str, Any]:
    """A first sale as the report lists it (built straight from stored columns too)."""
    return {"lot": lot, "seq": seq, "at": at, "product": product, "currency": currency,
            "price_per_unit": price_per_unit, "reference_min": reference_min,
            "premium_per_unit": premium_per_unit, "premium_total": premium_total}


@dataclass(frozen=True, slots=True)
class FinalSale:
    """A sale to a buyer: what was sold, and the days since the harvest behind it."""

    key: str
    quantity: Decimal
    days: int


@dataclass(frozen=True, slots=True)
class SaleFact:
    """An acknowledged sale (a dispatch and its receipt)."""

    seq: int  # the receipt
    dispatch_seq: int
    dims: Dims
    position: int  # 1 = the sale of the harvest, then along the chain
    currency: str
    price: int
    community: Decimal  # community-role amounts carried to this sale (weighted, minor units)
    shares: tuple[tuple[str, int], ...]  # (role, amount) in the split's order
    first: FirstSale | None
    final: FinalSale | None


@dataclass(frozen=True, slots=True)
class Yield:
    seq: int
    source: str
    target: str
    process: str
    ratio: Decimal | None
    low: Decimal | None  # the catalogue's range
    high: Decimal | None

    def row(self) -> dict[str, Any]:
        return yield_row(self.seq, self.source, self.target, self.process, self.ratio,
                         self.low, self.high)


def yield_row(seq: int, source: str, target: str, process: str, ratio: Decimal | None,
              low: Decimal | None, high: Decimal | None) -> dict[str, Any]:
    """A transformation's yield as the report lists it, beside the catalogue's range."""
    return {"seq": seq, "from": source, "to": target, "process": process, "yield": ratio,
            "min": low, "max": high}


@dataclass(frozen=True, slots=True)
class YieldFact:
    dims: Dims
    item: Yield


Fact = VolumeFact | PeopleFact | SaleFact | YieldFact


SaleSums = dict[Any, tuple[Decimal, int]]  # -> (Σ community amounts carried, Σ prices)

# Community amounts carried are weighted Decimals (28 significant digits); their sums are
# taken exactly, in any order, or not at all: a sum that would need rounding raises.
EXACT = Context(prec=200, Emax=MAX_EMAX, Emin=MIN_EMIN,
                traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])


def add_sale(at_step: SaleSums, at_final: SaleSums, position: int, currency: str,
             final: bool, community: Decimal, price: int) -> None:
    """Count sales in the community shares (``community`` and ``price`` may sum several):
    at their position along the chain, and among final sales if a buyer received them."""
    carried, paid = at_step.get((position, currency), (Decimal(0), 0))
    at_step[(position, currency)] = (EXACT.add(carried, community), paid + price)
    if final:
        carried, paid = at_final.get(currency, (Decimal(0), 0))
        at_final[currency] = (EXACT.add(carried, community), paid + price)


@dataclass(frozen=True, slots=True)
class Totals:
    """The facts that pass the filters, summed; each group in the order it first appears.

    The lists (first and final sales, yields, the entries behind each figure) are only
    filled in a detailed report: at a million entries they are hundreds of thousands of
    rows, while the summaries and counts beside them are a few."""

    volumes: tuple[tuple[str, str, Decimal], ...]  # (measure, key, Σ quantity)
    shares: tuple[tuple[str | None, int, str, str, int], ...]  # (season, pos, cur, role, Σ)
    at_step: SaleSums  # (position, currency) -> sums
    at_final: SaleSums  # currency -> sums, of sales to buyers
    first_sale_summary: tuple[dict[str, Any], ...]  # FirstSaleSummary rows
    yield_summary: tuple[dict[str, Any], ...]  # YieldSummary rows
    days_to_final_sale: dict[str, float | None]
    harvesters: int
    households: int
    entry_counts: dict[str, int]  # group -> how many entries are behind it
    detailed: bool = True
    first_sales: tuple[dict[str, Any], ...] = ()  # FirstSale.row()
    final_sales: tuple[tuple[str, str, Decimal, int], ...] = ()  # (lot, key, quantity, days)
    yields: tuple[dict[str, Any], ...] = ()  # Yield.row()
    entries: dict[str, list[int]] = field(default_factory=dict)


class FirstSaleSummary:
    """First sales per product and currency: how many, how many below the minimum, the
    lowest and highest price per unit, Σ premium (negative: a shortfall). Fed one sale at
    a time (the replay) or one stored group at a time (SQL sums), with the same result."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, product: str, currency: str, sales: int, below: int, lowest: Decimal,
            highest: Decimal, premium: int) -> None:
        row = self.rows.get((product, currency))
        if row is None:
            self.rows[(product, currency)] = {
                "product": product, "currency": currency, "sales": sales,
                "below_minimum": below, "lowest_per_unit": lowest,
                "highest_per_unit": highest, "premium_total": premium}
            return
        row["sales"] += sales
        row["below_minimum"] += below
        row["lowest_per_unit"] = min(row["lowest_per_unit"], lowest)
        row["highest_per_unit"] = max(row["highest_per_unit"], highest)
        row["premium_total"] += premium

    def add_sale(self, sale: Mapping[str, Any]) -> None:
        total = sale["premium_total"]
        self.add(sale["product"], sale["currency"], 1, int(total is not None and total < 0),
                 sale["price_per_unit"], sale["price_per_unit"], total or 0)

    def result(self) -> tuple[dict[str, Any], ...]:
        return tuple(self.rows[key] for key in sorted(self.rows))


class YieldSummary:
    """Yields per transformation (from, to, process): how many, the lowest and highest,
    how many fell outside the catalogue's range of their day, and the range of the first
    one (the catalogue may have changed since). Groups must come in the order of their
    first yield."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(self, source: str, target: str, process: str, low: Decimal | None,
            high: Decimal | None, ratios: Iterable[tuple[Decimal | None, int]]) -> None:
        """``ratios``: (yield, how many times) pairs; a yield of None is not known."""
        row = self.rows.setdefault((source, target, process), {
            "from": source, "to": target, "process": process, "count": 0, "lowest": None,
            "highest": None, "min": low, "max": high, "outside": 0})
        for ratio, count in ratios:
            row["count"] += count
            if ratio is None:
                continue
            row["lowest"] = ratio if row["lowest"] is None else min(row["lowest"], ratio)
            row["highest"] = ratio if row["highest"] is None else max(row["highest"], ratio)
            if (low is not None and ratio < low) or (high is not None and ratio > high):
                row["outside"] += count

    def add_yield(self, item: Mapping[str, Any]) -> None:
        self.add(item["from"], item["to"], item["process"], item["min"], item["max"],
                 ((item["yield"], 1),))

    def result(self) -> tuple[dict[str, Any], ...]:
        return tuple(self.rows[key] for key in sorted(self.rows))


def days_summary(counts: Mapping[int, int]) -> dict[str, float | None]:
    """Median and 90th percentile (nearest rank) of days from harvest to final sale, from
    how many final sales took each number of days."""
    total = sum(counts.values())
    if not total:
        return {"median": None, "p90": None, "lots": 0.0}
    ordered = sorted(counts.items())

    def nth(rank: int) -> int:  # the rank-th smallest, from 0
        seen = 0
        for days, count in ordered:
            seen += count
            if rank < seen:
                return days
        raise AssertionError(rank)

    middle = total // 2
    median = nth(middle) if total % 2 else (nth(middle - 1) + nth(middle)) / 2
    return {"median": float(median), "p90": float(nth(math.ceil(0.9 * total) - 1)),
            "lots": float(total)}


def passes(dims: Dims, filters: Filters, scope: Collection[str] | None) -> bool:
    """Whether a fact counts under ``filters`` (``scope``: the cooperative's lots)."""
    return ((filters.community is None or dims.community == filters.community)
            and (scope is None or dims.lot in scope)
            and (filters.product is None or dims.product == filters.product)
            and (filters.season is None or dims.season == filters.season)
            and (filters.start is None or dims.day >= filters.start)
            and (filters.end is None or dims.day <= filters.end))


def cooperative_lots(touches: Iterable[tuple[str, str]], links: Iterable[tuple[str, str]],
                     actor: str) -> frozenset[str]:
    """The lots an actor handled or was sent, every lot they came from and every lot made
    from them: the lots whose facts the cooperative filter keeps."""
    handled = {lot for who, lot in touches if who == actor}
    parents: dict[str, list[str]] = defaultdict(list)
    children: dict[str, list[str]] = defaultdict(list)
    for parent, child in links:
        parents[child].append(parent)
        children[parent].append(child)
    return frozenset(_reach(handled, parents) | _reach(handled, children))


def _reach(start: set[str], edges: Mapping[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(start)
    while stack:
        lot = stack.pop()
        if lot not in seen:
            seen.add(lot)
            stack.extend(edges.get(lot, ()))
    return seen


def summarise(facts: Iterable[Fact], filters: Filters,
              scope: Collection[str] | None, *, detailed: bool = True,
              with_sales: bool = False) -> Totals:
    """Sum the facts that pass the filters, in memory (the projection does it in SQL)."""
    volumes: dict[tuple[str, str], Decimal] = {}
    shares: dict[tuple[str | None, int, str, str], int] = {}
    at_step: SaleSums = {}
    at_final: SaleSums = {}
    first: list[dict[str, Any]] = []
    final: list[tuple[str, str, Decimal, int]] = []
    yields: list[dict[str, Any]] = []
    harvesters: set[str] = set()
    households: set[str] = set()
    entries: dict[str, list[int]] = {}
    for fact in facts:
        if not passes(fact.dims, filters, scope):
            continue
        if isinstance(fact, VolumeFact):
            key = (fact.measure, fact.key)
            volumes[key] = volumes.get(key, Decimal(0)) + fact.quantity
            if fact.measure in VOLUME_GROUPS:
                entries.setdefault(VOLUME_GROUPS[fact.measure], []).append(fact.seq)
        elif isinstance(fact, PeopleFact):
            harvesters.update(fact.harvesters)
            households.update(fact.households)
        elif isinstance(fact, YieldFact):
            yields.append(fact.item.row())
        else:
            _add_sale(fact, shares, entries)
            add_sale(at_step, at_final, fact.position, fact.currency, fact.final is not None,
                     fact.community, fact.price)
            if fact.first is not None:
                first.append(fact.first.row())
            if fact.final is not None:
                final.append((fact.dims.lot, fact.final.key, fact.final.quantity,
                              fact.final.days))
    # Facts come in log order: the groups are in the order they first appear.
    ordered = {group: len(seqs) for group, seqs in entries.items()}
    first_summary, yield_summary = FirstSaleSummary(), YieldSummary()
    for sale in first:
        first_summary.add_sale(sale)
    for item in yields:
        yield_summary.add_yield(item)
    return Totals(
        tuple((m, k, total) for (m, k), total in volumes.items()),
        tuple((*key, amount) for key, amount in shares.items()),
        at_step, at_final, first_summary.result(), yield_summary.result(),
        days_summary(Counter(days for *_, days in final)), len(harvesters), len(households),
        ordered, detailed, tuple(first) if detailed or with_sales else (),
        tuple(final) if detailed or with_sales else (),
        tuple(yields) if detailed else (),
        entries if detailed else {})


def _add_sale(fact: SaleFact, shares: dict[tuple[str | None, int, str, str], int],
              entries: dict[str, list[int]]) -> None:
    for role, amount in fact.shares:
        key = (fact.dims.season, fact.position, fact.currency, role)
        shares[key] = shares.get(key, 0) + amount
    entries.setdefault("benefits", []).append(fact.dispatch_seq)
    if fact.first is not None:
        entries.setdefault("first_sales", []).extend([fact.dispatch_seq, fact.seq])
    if fact.final is not None:
        entries.setdefault("final_sales", []).extend([fact.dispatch_seq, fact.seq])
