"""Indicator facts: one record per contribution of a ledger step to an indicator.

The replay (:mod:`ledger.indicator_replay`) emits them; the projection keeps them in the
database and sums them there; :func:`summarise` sums them in memory, the reference the
projection is tested against. A fact carries the filter dimensions known at its step
(the lot, its community, harvested product and season, the step's day) and exact
measures: quantities as ``Decimal``, money as integer minor units. Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
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
    """The facts that pass the filters, summed; each group in the order it first appears."""

    volumes: tuple[tuple[str, str, Decimal], ...]  # (measure, key, Σ quantity)
    shares: tuple[tuple[str | None, int, str, str, int], ...]  # (season, pos, cur, role, Σ)
    at_step: SaleSums  # (position, currency) -> sums
    at_final: SaleSums  # currency -> sums, of sales to buyers
    first_sales: tuple[dict[str, Any], ...]  # FirstSale.row()
    final_sales: tuple[tuple[str, str, Decimal, int], ...]  # (lot, key, quantity, days)
    yields: tuple[dict[str, Any], ...]  # Yield.row()
    harvesters: int
    households: int
    entries: dict[str, list[int]] = field(default_factory=dict)


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
              scope: Collection[str] | None) -> Totals:
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
    return Totals(
        tuple((m, k, total) for (m, k), total in volumes.items()),
        tuple((*key, amount) for key, amount in shares.items()),
        at_step, at_final,
        tuple(first), tuple(final), tuple(yields), len(harvesters), len(households),
        entries)


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
