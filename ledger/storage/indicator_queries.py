"""The indicator projection's reads: the facts that pass the filters, summed by SQL.

All reads run in one transaction (a snapshot: SQLite's WAL read transaction, PostgreSQL's
REPEATABLE READ), so every figure covers the same folded steps. Sums are exact: every
column SQL sums is an integer (minor units, or millionths of a unit); quantities are
summed as two parts (the quotient and the remainder by 2^30) that no ledger can make
overflow 64 bits, since one lot may hold 10^18 millionths. The community amounts carried
to sales are weighted Decimals, summed exactly (ledger/indicator_facts.py EXACT): in SQL as
millionths of a minor unit when they have no more decimals, else here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    case,
    column,
    func,
    select,
    table,
    text,
)

from ledger.indicator_facts import (
    ENTRY_GROUPS,
    EXACT,
    MEASURES,
    VOLUME_GROUPS,
    Filters,
    FirstSaleSummary,
    SaleSums,
    Totals,
    YieldSummary,
    add_sale,
    days_summary,
    first_sale_row,
    yield_row,
)
from ledger.storage import indicator_tables as it

_PART = 2 ** 30
_SCOPE_LOTS = select(table("indicator_scope", column("lot")).c.lot)
_OUTSIDE_LOTS = select(table("indicator_outside", column("lot")).c.lot)
_TEMP_CACHE_KIB = 64 * 1024
_LotTest = Callable[[Any], ColumnElement[bool]]

# The cooperative filter's lots (ledger/indicator_facts.py cooperative_lots), kept by the
# fold in indicator_reach (ledger/storage/indicator_reach.py): copied into a temporary
# table, or the lots outside them are.
_TEMPORARY = "CREATE TEMPORARY TABLE IF NOT EXISTS {name} (lot VARCHAR(20) PRIMARY KEY)"


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read transaction that sees one state of the projection throughout."""
    options: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as connection, connection.begin():
        yield connection


def read_totals(engine: Engine, filters: Filters, *, detailed: bool = True,
                with_sales: bool = False) -> Totals:
    """The sums (and, ``detailed``, the lists; ``with_sales``, the lists of first and
    final sales only) of one report, in one snapshot of the projection.

    On SQLite the lists of sales are read on a second connection in another thread (the
    driver lets go of the interpreter while SQLite works), so the report uses two cores;
    that connection's snapshot must show the same folded position as the first's, which
    then means the same facts, since facts only change with the position. If it does
    not, the first connection reads them too."""
    with _snapshot(engine) as connection:
        position = connection.execute(select(it.position.c.next_seq)).scalar_one()
        with ThreadPoolExecutor(max_workers=1) as second:
            listed = detailed or with_sales
            sales_elsewhere = second.submit(_sales_lists, engine, filters, position,
                                            detailed) \
                if listed and engine.dialect.name == "sqlite" else None
            query = _Query(connection, filters, _scope(connection, filters))
            entries: dict[str, list[int]] = {}
            counts: dict[str, int] = {}  # group -> how many entries are behind it
            firsts: dict[str, int] = {}  # group -> the step where it first appears
            volumes = query.volumes(counts, firsts, entries if detailed else None)
            harvesters, households = query.people()
            at_step, at_final = query.community_sums()
            shares = query.shares()
            query.count_sales(counts, firsts)
            first_summary = query.first_sale_summary(counts, firsts)
            yield_summary = query.yield_summary()
            days = query.days_to_final_sale(counts, firsts)
            yields = query.yields() if detailed else ()
            lists = None if sales_elsewhere is None else sales_elsewhere.result()
        first_sales: tuple[dict[str, Any], ...] = ()
        final_sales: tuple[tuple[str, str, Decimal, int], ...] = ()
        if listed:
            sale_entries, first_sales, final_sales = lists if lists is not None \
                else _lists_of_sales(query, detailed)
            entries.update(sale_entries)
        _empty_scope(connection, filters)
        ordered = {group: counts[group] for group in sorted(
            counts, key=lambda g: (firsts[g], ENTRY_GROUPS.index(g)))}
        return Totals(volumes, shares, at_step, at_final, first_summary, yield_summary, days,
                      harvesters, households, ordered, detailed, first_sales, final_sales,
                      yields, {group: entries[group] for group in ordered} if detailed else {})


_SalesLists = tuple[dict[str, list[int]], tuple[dict[str, Any], ...],
                    tuple[tuple[str, str, Decimal, int], ...]]


def _sales_lists(engine: Engine, filters: Filters, position: int, with_entries: bool
                 ) -> _SalesLists | None:
    """The lists of sales, on a connection of its own; None if its snapshot is not at
    ``position``."""
    with engine.connect() as connection, connection.begin():
        if connection.execute(select(it.position.c.next_seq)).scalar_one() != position:
            return None
        lists = _lists_of_sales(_Query(connection, filters, _scope(connection, filters)),
                                with_entries)
        _empty_scope(connection, filters)
        return lists


def _lists_of_sales(query: _Query, with_entries: bool) -> _SalesLists:
    """The first and final sales, and (``with_entries``) the entries behind the sales."""
    entries: dict[str, list[int]] = {}
    first_sales, final_sales = query.sales(entries if with_entries else None)
    return entries, first_sales, final_sales


def read_entries(engine: Engine, filters: Filters, group: str, start: int, count: int
                 ) -> tuple[list[int], int]:
    """``count`` of the entries behind one figure (an ENTRY_GROUPS name), from the
    ``start``-th (from 0) in log order as a detailed report lists them, and how many there
    are in all: one page without reading the whole report."""
    with _snapshot(engine) as connection:
        query = _Query(connection, filters, _scope(connection, filters))
        page = query.entries_page(group, start, count)
        _empty_scope(connection, filters)
        return page


def _scope(connection: Connection, filters: Filters) -> _LotTest | None:
    return None if filters.cooperative is None else _fill_scope(connection,
                                                                filters.cooperative)


def _empty_scope(connection: Connection, filters: Filters) -> None:
    if filters.cooperative is not None:
        connection.execute(text("DELETE FROM indicator_scope"))
        connection.execute(text("DELETE FROM indicator_outside"))


def _fill_scope(connection: Connection, actor: str) -> _LotTest | None:
    """The cooperative's lots (its stored reach), or the lots outside them, into a
    temporary table (one per connection, emptied before and after each report); returns
    the test each fact's lot must pass.

    Probing a large table for every fact costs about as much as the sum itself, so when
    the scope holds most lots (a cooperative every chain passes through) the few lots
    outside it are probed instead, and nothing at all when there are none."""
    if connection.dialect.name == "sqlite":
        # The temporary tables' own page cache (2 MiB by default) would spill them to disk.
        connection.exec_driver_sql(f"PRAGMA temp.cache_size=-{_TEMP_CACHE_KIB}")
    for name in ("indicator_scope", "indicator_outside"):
        connection.execute(text(_TEMPORARY.format(name=name)))
        connection.execute(text(f"DELETE FROM {name}"))
    inside = connection.execute(text(
        "SELECT count(*) FROM indicator_reach WHERE actor = :actor"), {"actor": actor}
    ).scalar_one()
    lots = connection.execute(select(func.count()).select_from(it.lot_traces)).scalar_one()
    if 2 * int(inside) <= int(lots):
        connection.execute(text("INSERT INTO indicator_scope (lot) SELECT lot FROM"
                                " indicator_reach WHERE actor = :actor"), {"actor": actor})
        return lambda lot: lot.in_(_SCOPE_LOTS)
    # Every lot a fact names has a trace (facts are folded from traced lots).
    connection.execute(text(
        "INSERT INTO indicator_outside (lot) SELECT lot FROM indicator_lots l WHERE NOT EXISTS"
        " (SELECT 1 FROM indicator_reach r WHERE r.actor = :actor AND r.lot = l.lot)"),
        {"actor": actor})
    if connection.execute(text("SELECT count(*) FROM indicator_outside")).scalar_one() == 0:
        return None
    return lambda lot: lot.not_in(_OUTSIDE_LOTS)


def _sum(column: Column[Any] | ColumnElement[Any]) -> tuple[ColumnElement[Any], ...]:
    return func.sum(column // _PART), func.sum(column % _PART)


def _whole(high: Any, low: Any) -> int:
    return int(high or 0) * _PART + int(low or 0)


class _Query:
    """The reads of one report. Sums are SQL, by group (streaming: see indicator_tables);
    lists come back as plain rows and are put in log order here."""

    def __init__(self, connection: Connection, filters: Filters,
                 scope: _LotTest | None) -> None:
        self.connection = connection
        self.filters = filters
        self.scope = scope
        self._sale_groups: list[Any] | None = None
        self.kinds: dict[int, dict[int, tuple[Any, ...]]] = {}  # kind -> grp -> key
        for grp, kind, key in connection.execute(select(it.groups)):
            self.kinds.setdefault(int(kind), {})[int(grp)] = tuple(json.loads(key))
        self.keys = {grp: key for keys in self.kinds.values() for grp, key in keys.items()}
        # Prices, ratios and quantities repeat: each distinct value is parsed once.
        self._texts = _Memo(Decimal)
        self._hundredths = _Memo(lambda value: Decimal(value).scaleb(-2))
        self._ten_thousandths = _Memo(lambda value: Decimal(value).scaleb(-4))

    def _where(self, table: Table, query: Select[Any]) -> Select[Any]:
        f, c = self.filters, table.c
        for dimension, value in ((c.community, f.community), (c.product, f.product),
                                 (c.season, f.season)):
            if value is not None:
                query = query.where(dimension == value)
        if f.start is not None:
            query = query.where(c.day >= f.start.isoformat())
        if f.end is not None:
            query = query.where(c.day <= f.end.isoformat())
        if self.scope is not None:
            query = query.where(self.scope(c.lot))
        return query

    def _rows(self, table: Table, query: Select[Any]) -> list[Any]:
        """Plain tuples from the driver: a whole-chain report reads about a million rows,
        and SQLAlchemy's result rows would cost more than the database itself."""
        compiled = self._where(table, query).compile(
            dialect=self.connection.dialect, compile_kwargs={"render_postcompile": True})
        params: Any = compiled.params
        if compiled.positiontup is not None:  # SQLite's qmark style
            params = tuple(params[name] for name in compiled.positiontup)
        cursor = self.connection.connection.cursor()
        try:
            cursor.execute(compiled.string, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _decimal(self, value: str | None) -> Decimal | None:
        return None if value is None else self._texts[value]

    def volumes(self, counts: dict[str, int], firsts: dict[str, int],
                entries: dict[str, list[int]] | None) -> tuple[tuple[str, str, Decimal], ...]:
        """Σ quantity per measure and product; the entries behind the harvested,
        processed and lost volumes counted (and listed, given ``entries``)."""
        v = it.volumes.c
        rows = self._rows(it.volumes, select(
            v.grp, *_sum(v.quantity), func.min(v.exponent), func.min(v.seq), func.count())
            .group_by(v.grp))
        out = []
        for grp, high, low, exponent, first, count in sorted(
                rows, key=lambda row: (row[4], MEASURES.index(self.keys[row[0]][0]))):
            measure, key = self.keys[grp]
            total = Decimal(_whole(high, low)).scaleb(-it.QUANTITY_DECIMALS)
            out.append((measure, key,
                        total.quantize(Decimal(1).scaleb(min(0, int(exponent))))))
            if measure in VOLUME_GROUPS:  # one fact per step
                _count(counts, firsts, VOLUME_GROUPS[measure], int(count), int(first))
        if entries is not None:
            present = {row[0] for row in rows}
            for grp, (measure, _) in sorted(self.kinds.get(it.VOLUME_GROUP, {}).items()):
                if grp in present and measure in VOLUME_GROUPS:  # each group in id order
                    entries.setdefault(VOLUME_GROUPS[measure], []).extend(
                        row[0] for row in self._rows(it.volumes,
                                                     select(v.seq).where(v.grp == grp)))
            for group in set(VOLUME_GROUPS.values()) & set(entries):
                entries[group].sort()  # log order
        return tuple(out)

    def count_sales(self, counts: dict[str, int], firsts: dict[str, int]) -> None:
        """The entries behind the benefits: one dispatch per sale."""
        for row in self._sales_by_group():
            _count(counts, firsts, "benefits", int(row[-2]), int(row[-1]))

    def first_sale_summary(self, counts: dict[str, int], firsts: dict[str, int]
                           ) -> tuple[dict[str, Any], ...]:
        f = it.first_sales.c
        products = self.kinds.get(it.FIRST_SALE_GROUP, {})
        summary = FirstSaleSummary()
        for grp, sales, below, lowest, highest, premium, first in self._rows(
                it.first_sales, select(
                    f.grp, func.count(), func.sum(case((f.premium_total < 0, 1), else_=0)),
                    func.min(f.price_per_unit), func.max(f.price_per_unit),
                    func.sum(f.premium_total), func.min(f.seq)).group_by(f.grp)):
            product, currency, _ = products[grp]
            summary.add(product, currency, int(sales), int(below), self._hundredths[lowest],
                        self._hundredths[highest], int(premium or 0))
            _count(counts, firsts, "first_sales", 2 * int(sales), int(first))  # and dispatch
        return summary.result()

    def yield_summary(self) -> tuple[dict[str, Any], ...]:
        y = it.yields.c
        by_group: dict[int, list[Any]] = {}
        for grp, ratio, count, first in self._rows(it.yields, select(
                y.grp, y.ratio, func.count(), func.min(y.seq)).group_by(y.grp, y.ratio)):
            group = by_group.setdefault(int(grp), [int(first), []])
            group[0] = min(group[0], int(first))
            group[1].append((None if ratio is None else self._ten_thousandths[ratio],
                             int(count)))
        summary = YieldSummary()
        # In the order of each group's first yield: the range shown is the first's.
        for grp, (_, ratios) in sorted(by_group.items(), key=lambda item: item[1][0]):
            source, target, process, low, high = self.kinds[it.YIELD_GROUP][grp]
            summary.add(source, target, process, self._decimal(low), self._decimal(high),
                        ratios)
        return summary.result()

    def days_to_final_sale(self, counts: dict[str, int], firsts: dict[str, int]
                           ) -> dict[str, float | None]:
        b = it.final_sales.c
        histogram: dict[int, int] = {}
        for days, count, first in self._rows(it.final_sales, select(
                b.days, func.count(), func.min(b.seq)).group_by(b.days)):
            histogram[int(days)] = int(count)
            _count(counts, firsts, "final_sales", 2 * int(count), int(first))  # and dispatch
        return days_summary(histogram)

    def sales(self, entries: dict[str, list[int]] | None
              ) -> tuple[tuple[dict[str, Any], ...], tuple[tuple[str, str, Decimal, int], ...]]:
        s, f, b = it.sales.c, it.first_sales.c, it.final_sales.c
        # One sale per receipt: in log order by its seq.
        rows = [] if entries is None else sorted(self._rows(it.sales, select(
            s.seq, s.dispatch_seq)))
        if entries is not None and rows:
            entries["benefits"] = [row[1] for row in rows]
        first = self._rows(it.first_sales, select(
            f.seq, f.dispatch_seq, f.lot, f.at, f.grp, f.price_per_unit, f.premium_per_unit,
            f.premium_total).order_by(f.id))
        final = self._rows(it.final_sales, select(
            b.seq, b.dispatch_seq, b.lot, b.key, b.sold, b.days).order_by(b.id))
        for group, pairs in (("first_sales", first), ("final_sales", final)):
            if entries is not None and pairs:
                entries[group] = [seq for row in pairs for seq in (row[1], row[0])]
        products = self.kinds.get(it.FIRST_SALE_GROUP, {})
        hundredths, texts = self._hundredths, self._texts
        return (tuple(first_sale_row(lot, dispatch, at, product, currency, hundredths[per_unit],
                                     reference, None if premium is None else texts[premium],
                                     total)
                      for _, dispatch, lot, at, grp, per_unit, premium, total in first
                      for product, currency, reference in (products[grp],)),
                tuple((lot, key, texts[sold], days) for _, _, lot, key, sold, days in final))

    def _sales_by_group(self) -> list[Any]:
        """Per group of sales: Σ price, Σ community amounts carried (two parts), the
        count of amounts kept as text, then per role Σ paid and the least place. One scan
        of the sales for both sums below; last, how many sales and the first's step."""
        if self._sale_groups is None:
            s = it.sales.c
            self._sale_groups = self._rows(it.sales, select(
                s.grp, func.sum(s.price), *_sum(s.carried), func.count(s.carried_text),
                *(func.sum(s[f"paid_{role}"]) for role in it.ROLES),
                *(func.min(s[f"place_{role}"]) for role in it.ROLES),
                func.count(), func.min(s.seq)).group_by(s.grp))
        return self._sale_groups

    def community_sums(self) -> tuple[SaleSums, SaleSums]:
        """Σ community amounts carried and Σ prices, per position and currency and at final
        sales: SQL sums of exact millionths, plus the few amounts kept as Decimal text."""
        s = it.sales.c
        keys = self.kinds.get(it.SALE_GROUP, {})
        at_step: SaleSums = {}
        at_final: SaleSums = {}
        as_text = 0
        for grp, price, high, low, written, *_ in self._sales_by_group():
            _, position, currency, final = keys[grp]
            carried = EXACT.scaleb(Decimal(_whole(high, low)), -it.QUANTITY_DECIMALS)
            add_sale(at_step, at_final, position, currency, final, carried, int(price))
            as_text += int(written)
        if as_text:
            for grp, written in self._rows(it.sales, select(s.grp, s.carried_text).where(
                    s.carried_text.is_not(None))):
                _, position, currency, final = keys[grp]
                add_sale(at_step, at_final, position, currency, final, Decimal(written), 0)
        return at_step, at_final

    def shares(self) -> tuple[tuple[str | None, int, str, str, int], ...]:
        """Per group of sales, each role's pay, with the place of the role's first share
        (to list roles in the order they appear)."""
        # Money is summed plainly: a group would need 9.2e18 minor units to overflow, and
        # SQLite then raises rather than return a wrong sum (PostgreSQL sums to numeric).
        keys = self.kinds.get(it.SALE_GROUP, {})
        shares: dict[tuple[str | None, int, str, str], list[int]] = {}  # -> [place, paid]
        count = len(it.ROLES)
        for grp, _, _, _, _, *sums in self._sales_by_group():
            season, position, currency, _ = keys[grp]
            for k, role in enumerate(it.ROLES):
                place = sums[count + k]
                if place is not None:  # sales to buyers and to others: one group each
                    share = shares.setdefault((season, position, currency, role),
                                              [int(place), 0])
                    share[0] = min(share[0], int(place))
                    share[1] += int(sums[k])
        return tuple((*key, paid) for key, (_, paid) in sorted(
            shares.items(), key=lambda item: item[1][0]))

    def people(self) -> tuple[int, int]:
        p = it.people.c
        counts = {bool(household): int(count) for household, count in self._rows(
            it.people, select(p.household, func.count(p.ref.distinct()))
            .group_by(p.household))}
        return counts.get(False, 0), counts.get(True, 0)

    def entries_page(self, group: str, start: int, count: int) -> tuple[list[int], int]:
        """See :func:`read_entries`. Sales groups list a dispatch then its receipt."""
        if group in VOLUME_GROUPS:
            v = it.volumes.c
            grps = [grp for grp, (measure, _) in self.kinds.get(it.VOLUME_GROUP, {}).items()
                    if VOLUME_GROUPS.get(measure) == group]
            where = select(v.seq).where(v.grp.in_(grps))
            total = self._rows(it.volumes, select(func.count()).select_from(it.volumes)
                               .where(v.grp.in_(grps)))[0][0]
            rows = self._rows(it.volumes, where.order_by(v.seq).limit(count).offset(start))
            return [row[0] for row in rows], int(total)
        if group == "benefits":
            s = it.sales.c
            total = self._rows(it.sales, select(func.count()).select_from(it.sales))[0][0]
            rows = self._rows(it.sales, select(s.dispatch_seq).order_by(s.seq)
                              .limit(count).offset(start))
            return [row[0] for row in rows], int(total)
        table = {"first_sales": it.first_sales, "final_sales": it.final_sales}[group]
        c = table.c
        total = self._rows(table, select(func.count()).select_from(table))[0][0]
        pairs = self._rows(table, select(c.dispatch_seq, c.seq).order_by(c.id)
                           .limit(count // 2 + 2).offset(start // 2))
        flat = [seq for pair in pairs for seq in pair]
        return flat[start % 2:start % 2 + count], 2 * int(total)

    def yields(self) -> tuple[dict[str, Any], ...]:
        y = it.yields.c
        rows = self._rows(it.yields, select(y.seq, y.grp, y.ratio).order_by(y.id))
        ranges = {grp: (source, target, process, self._decimal(low), self._decimal(high))
                  for grp, (source, target, process, low, high)
                  in self.kinds.get(it.YIELD_GROUP, {}).items()}
        ratios = self._ten_thousandths
        return tuple(yield_row(seq, source, target, process,
                               None if ratio is None else ratios[ratio], low, high)
                     for seq, grp, ratio in rows
                     for source, target, process, low, high in (ranges[grp],))


def _count(counts: dict[str, int], firsts: dict[str, int], group: str, count: int,
           first: int) -> None:
    counts[group] = counts.get(group, 0) + count
    firsts[group] = min(firsts.get(group, first), first)


class _Memo(dict[Any, Decimal]):
    """``memo[value]``: ``make(value)``, made once per distinct value."""

    def __init__(self, make: Callable[[Any], Decimal]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, value: Any) -> Decimal:
        made = self[value] = self.make(value)
        return made
