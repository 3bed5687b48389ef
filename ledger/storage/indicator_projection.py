"""The indicator projection's writes: folding new log steps in, one locked batch at a time.

A :class:`FoldSession` is a write transaction that holds the projection's lock (``SELECT
... FOR UPDATE`` of its position row on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) and
reads the position under it, so that concurrent web workers and CLI processes fold
each step once. Appends never wait for it on PostgreSQL (it does not lock the log head);
on SQLite, which has one writer at a time, they wait for one batch at most.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, select, update

from ledger.domain.catalogue import Product
from ledger.errors import ValidationError
from ledger.indicator_facts import (
    Dims,
    Fact,
    Filters,
    PeopleFact,
    SaleFact,
    Totals,
    VolumeFact,
    YieldFact,
)
from ledger.indicator_replay import Catalogue, LotTrace, PendingSale, Replay
from ledger.storage import indicator_tables as it
from ledger.storage import tables as t
from ledger.storage.engine import WRITE_OPTION, run_many
from ledger.storage.indicator_queries import read_entries, read_totals
from ledger.storage.indicator_reach import extend_reach


class IndicatorProjection:
    """The projection of one ledger's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def behind(self) -> int:
        """How many entries the log holds that the projection has not folded yet (read
        without the lock: a report with nothing to fold never waits for writers)."""
        with self.engine.connect() as connection:
            folded = connection.execute(select(it.position.c.next_seq)).scalar_one()
            size = connection.execute(select(t.log_head.c.size)).scalar_one()
        return max(int(size) - int(folded), 0)

    @contextmanager
    def folding(self) -> Iterator[FoldSession]:
        """A locked write transaction: committed if the block ends normally."""
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, \
                connection.begin():
            yield FoldSession(connection)

    def totals(self, filters: Filters, *, detailed: bool = True,
               with_sales: bool = False) -> Totals:
        """The sums (and, ``detailed``, the lists; ``with_sales``, those of first and final
        sales) of the facts that pass ``filters``, in one snapshot."""
        return read_totals(self.engine, filters, detailed=detailed, with_sales=with_sales)

    def entries(self, filters: Filters, group: str, start: int, count: int
                ) -> tuple[list[int], int]:
        """One page of the entries behind a figure, and how many there are."""
        return read_entries(self.engine, filters, group, start, count)


class FoldSession:
    """One batch of a catch-up: the position, read under the lock, and the writes."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        row = connection.execute(select(it.position).where(it.position.c.id == 1)
                                 .with_for_update()).one()
        self.next_seq, self.next_fact = int(row.next_seq), int(row.next_fact)

    def next_steps(self, limit: int) -> list[dict[str, Any]]:
        """The next ``limit`` timeline steps not folded yet, in log order."""
        rows = self.connection.execute(
            select(t.entry_steps.c.step).where(t.entry_steps.c.seq >= self.next_seq)
            .order_by(t.entry_steps.c.seq).limit(limit))
        return [orjson.loads(row.step) for row in rows]

    def catalogue(self) -> Catalogue:
        """Products and actor kinds as of now (read after the steps: a superset)."""
        products = {}
        for row in self.connection.execute(select(t.products.c.body)):
            product = Product.from_json(json.loads(row.body))
            products[product.code] = product
        kinds = {row.actor_id: row.kind
                 for row in self.connection.execute(select(t.actors.c.actor_id, t.actors.c.kind))}
        return Catalogue(products, kinds)

    def traces(self, lots: Collection[str]) -> dict[str, LotTrace]:
        ordered = sorted(lots)
        out: dict[str, LotTrace] = {}
        table = it.lot_traces
        for i in range(0, len(ordered), 900):
            rows = self.connection.execute(select(table).where(
                table.c.lot.in_(ordered[i:i + 900])))
            out.update((row.lot, _trace_from_row(row)) for row in rows)
        return out

    def record(self, replay: Replay, loaded: Collection[str], next_seq: int) -> None:
        """Write what folding up to ``next_seq`` produced: traces, reach, facts."""
        traces = [_trace_to_row(lot, trace) for lot, trace in replay.lots.items()]
        new = [row for row in traces if row[0] not in loaded]
        changed = [row[1:] + row[:1] for row in traces if row[0] in loaded]
        run_many(self.connection, _insert(it.lot_traces), new)
        run_many(self.connection, _update_trace(), changed)
        extend_reach(self.connection, next_seq, replay.touches, replay.links)
        rows = FactRows(self.next_fact, self._groups())
        for fact in replay.facts:
            rows.add(fact)
        run_many(self.connection, _insert(it.groups), rows.new_groups)
        for table, batch in rows.by_table.items():
            run_many(self.connection, _insert(table), batch)
        self.connection.execute(update(it.position).where(it.position.c.id == 1).values(
            next_seq=next_seq, next_fact=rows.next_id))

    def _groups(self) -> dict[tuple[int, str], int]:
        return {(row.kind, row.key): row.grp for row in self.connection.execute(
            select(it.groups))}


def _insert(table: Table) -> str:
    names = [column.name for column in table.columns]
    return (f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)})")


def _update_trace() -> str:
    names = [c.name for c in it.lot_traces.columns if c.name != "lot"]
    return (f"UPDATE indicator_lots SET {', '.join(f'{name} = ?' for name in names)} "
            "WHERE lot = ?")


def _trace_to_row(lot: str, trace: LotTrace) -> tuple[Any, ...]:
    pending = trace.pending
    return (lot, trace.product, str(trace.quantity), trace.unit, trace.season,
            trace.community_name, trace.harvested_product, trace.first_harvest.isoformat(),
            trace.sold, trace.sales,
            json.dumps({currency: str(amount) for currency, amount in trace.community.items()}),
            None if pending is None else json.dumps(
                [pending.seq, pending.at, pending.currency, pending.price, pending.shares]))


def _trace_from_row(row: Any) -> LotTrace:
    pending = None
    if row.pending is not None:
        seq, at, currency, price, shares = json.loads(row.pending)
        pending = PendingSale(seq, at, currency, price,
                              tuple((role, amount) for role, amount in shares))
    return LotTrace(row.product, Decimal(row.quantity), row.unit, row.season, row.community,
                    row.harvested_product, date.fromisoformat(row.first_harvest),
                    bool(row.sold), {currency: Decimal(amount) for currency, amount
                                     in json.loads(row.embedded).items()},
                    int(row.sales), pending)


def millionths(quantity: Decimal) -> tuple[int, int]:
    """A quantity as an exact integer of millionths, and its ``Decimal`` exponent."""
    exponent = quantity.as_tuple().exponent
    scaled = quantity.scaleb(it.QUANTITY_DECIMALS)
    if not isinstance(exponent, int) or scaled != scaled.to_integral_value():
        raise ValidationError(f"quantity: expected at most {it.QUANTITY_DECIMALS} decimals, "
                              f"got {quantity}", field="quantity")
    return int(scaled), exponent


class FactRows:
    """Facts as rows of their tables, numbered from ``next_id`` in the replay's order."""

    def __init__(self, next_id: int, groups: dict[tuple[int, str], int]) -> None:
        self.next_id = next_id
        self.groups = groups
        self.new_groups: list[tuple[int, int, str]] = []
        self._known: dict[tuple[int, tuple[Any, ...]], int] = {}  # no JSON per fact
        self.by_table: dict[Table, list[tuple[Any, ...]]] = {
            table: [] for table in it.FACT_TABLES}

    def _group(self, kind: int, key: tuple[Any, ...]) -> int:
        grp = self._known.get((kind, key))
        if grp is not None:
            return grp
        text = json.dumps(key, ensure_ascii=False)
        grp = self.groups.get((kind, text))
        if grp is None:
            grp = self.groups[(kind, text)] = len(self.groups)
            self.new_groups.append((grp, kind, text))
        self._known[(kind, key)] = grp
        return grp

    def _head(self, seq: int, dims: Dims) -> tuple[Any, ...]:
        self.next_id += 1
        return (self.next_id - 1, seq, dims.lot, dims.community, dims.product, dims.season,
                dims.day.isoformat())

    def add(self, fact: Fact) -> None:
        if isinstance(fact, VolumeFact):
            self.by_table[it.volumes].append((
                self._group(it.VOLUME_GROUP, (fact.measure, fact.key)),
                *self._head(fact.seq, fact.dims), *millionths(fact.quantity)))
        elif isinstance(fact, PeopleFact):
            for household, refs in ((False, fact.harvesters), (True, fact.households)):
                self.by_table[it.people].extend(
                    (*self._head(fact.seq, fact.dims), household, ref) for ref in refs)
        elif isinstance(fact, YieldFact):
            item = fact.item
            grp = self._group(it.YIELD_GROUP, (
                item.source, item.target, item.process,
                *(None if v is None else str(v) for v in (item.low, item.high))))
            self.by_table[it.yields].append((
                *self._head(item.seq, fact.dims), grp,
                None if item.ratio is None else _scaled(item.ratio, 4)))
        else:
            self._sale(fact)

    def _sale(self, fact: SaleFact) -> None:
        first, final = fact.first, fact.final
        grp = self._group(it.SALE_GROUP, (fact.dims.season, fact.position, fact.currency,
                                          final is not None))
        head = self._head(fact.seq, fact.dims)
        self.by_table[it.sales].append((grp, *head, fact.dispatch_seq, fact.price,
                                        *_carried(fact.community),
                                        *_paid(fact.shares, head[0])))
        if first is not None:
            self.by_table[it.first_sales].append((
                *self._head(fact.seq, fact.dims), fact.dispatch_seq, first.at,
                self._group(it.FIRST_SALE_GROUP,
                            (first.product, first.currency, first.reference_min)),
                _scaled(first.price_per_unit, 2),
                None if first.premium_per_unit is None else str(first.premium_per_unit),
                first.premium_total))
        if final is not None:
            self.by_table[it.final_sales].append((
                *self._head(fact.seq, fact.dims), fact.dispatch_seq, final.key,
                str(final.quantity), final.days))


def _carried(amount: Decimal) -> tuple[int | None, str | None]:
    """A community amount carried, as exact millionths of a minor unit (summed by SQL)
    or, when it has more decimals than that (a weight of 1/3...), as Decimal text."""
    scaled = amount.scaleb(it.QUANTITY_DECIMALS)
    if scaled == scaled.to_integral_value() and abs(scaled) < 2 ** 62:
        return int(scaled), None
    return None, str(amount)


def _paid(shares: tuple[tuple[str, int], ...], fact_id: int) -> tuple[int | None, ...]:
    """A sale's split as the sales table keeps it: the amount paid to each role, then the
    place of each role's first share (``None`` if the split does not name it)."""
    paid = dict.fromkeys(it.ROLES, 0)
    place: dict[str, int | None] = dict.fromkeys(it.ROLES)
    for index, (role, amount) in enumerate(shares):
        if role not in paid or index >= it.SPLIT_PLACES:
            raise ValidationError(f"split: the indicator projection expected at most "
                                  f"{it.SPLIT_PLACES} shares of the roles {it.ROLES}, got "
                                  f"{role!r} at #{index + 1}", field="split")
        paid[role] += amount
        if place[role] is None:
            place[role] = fact_id * it.SPLIT_PLACES + index
    return (*paid.values(), *place.values())


def _scaled(value: Decimal, decimals: int) -> int:
    """A figure quantized to ``decimals`` places, as an exact integer (asserted)."""
    if value.as_tuple().exponent != -decimals:
        raise ValidationError(f"expected {decimals} decimals, got {value}")
    return int(value.scaleb(decimals))
