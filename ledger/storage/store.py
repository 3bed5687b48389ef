"""The store: the only door to the database.

Appends run in an :class:`AppendSession`, which locks the log head (``SELECT ... FOR
UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) so that any number of threads
and processes append one at a time, each seeing what the one before committed.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import namedtuple
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from ledger.domain.catalogue import Product
from ledger.domain.entry import Entry, LotLink
from ledger.domain.merkle import NodeKey
from ledger.domain.state import ActorRecord, Effects, KeyRecord, LotRecord
from ledger.errors import Conflict, NotFound
from ledger.gc_pause import paused_gc
from ledger.storage import tables as t
from ledger.storage.engine import WRITE_OPTION, is_sqlite, make_engine, upgrade_schema
from ledger.storage.records import (
    actor_from_row,
    key_from_row,
    key_to_row,
    lot_from_row,
    lot_head_from_row,
    lot_to_row,
)
from ledger.wire.fields import format_instant, parse_instant

WRITER_CACHE_KIB = 64 * 1024  # the append connection's page cache (one per process)

# Statements built once: building SQLAlchemy expressions per call costs more than running
# them on SQLite, and appends sit on the hot path.
_ACTOR = select(t.actors).where(t.actors.c.actor_id == bindparam("id"))
_KEY = select(t.keys).where(t.keys.c.key_id == bindparam("id"))
_PRODUCT = select(t.products.c.body).where(t.products.c.code == bindparam("id"))
_LOT = select(t.lots).where(t.lots.c.lot_id == bindparam("id"))
_HAS_EVENT = select(literal(1)).where(t.entries.c.event_id == bindparam("id"))
_HAS_ACTORS = select(literal(1)).select_from(t.actors).limit(1)
_HEAD = select(t.log_head).where(t.log_head.c.id == 1)
# The hash column and bytes of many entries, for the lot page's badge.
_ENTRY_BODIES = text("SELECT seq, entry_hash, body FROM entries WHERE seq IN :seqs") \
    .bindparams(bindparam("seqs", expanding=True))

_SEQS_OF_LOTS = text("SELECT seq FROM lot_events WHERE lot_id IN :lots").bindparams(
    bindparam("lots", expanding=True))
# The ready steps of a set of lots (a lot's whole graph, found by lot_graph first).
_STEPS_OF_LOTS = text(
    "SELECT s.seq, s.step FROM lot_events e JOIN entry_steps s ON s.seq = e.seq "
    "WHERE e.lot_id IN :lots").bindparams(bindparam("lots", expanding=True))


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as the database holds it: the bytes and the columns beside them."""

    seq: int
    entry_hash: bytes
    event_id: str
    kind: str
    actor_id: str
    appended_at: str
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    root_hash: bytes
    note: str
    signed_at: str


class _Reads:
    """Indexed reads shared by the store and by an append session."""

    def __init__(self, connection: Connection, *, actor_cache: dict[str, ActorRecord] | None
                 = None, product_cache: dict[str, Product] | None = None) -> None:
        self.connection = connection
        self.actor_cache: dict[str, ActorRecord] = {} if actor_cache is None else actor_cache
        self.product_cache: dict[str, Product] = {} if product_cache is None else product_cache

    def actor(self, actor_id: str) -> ActorRecord | None:
        cached = self.actor_cache.get(actor_id)
        if cached is not None:
            return cached
        row = self.connection.execute(_ACTOR, {"id": actor_id}).first()
        if row is None:
            return None
        actor = self.actor_cache[actor_id] = actor_from_row(row)  # actors never change
        return actor

    def key(self, key_id: str) -> KeyRecord | None:
        row = self.connection.execute(_KEY, {"id": key_id}).first()
        return key_from_row(row) if row else None

    def product(self, code: str) -> Product | None:
        cached = self.product_cache.get(code)
        if cached is not None:
            return cached
        row = self.connection.execute(_PRODUCT, {"id": code}).first()
        if row is None:
            return None
        product = self.product_cache[code] = Product.from_json(json.loads(row.body))
        return product  # products never change once registered

    def lot(self, lot_id: str) -> LotRecord | None:
        row = self.connection.execute(_LOT, {"id": lot_id}).first()
        return lot_from_row(row) if row else None

    def has_event(self, event_id: str) -> bool:
        return self.connection.execute(_HAS_EVENT, {"id": event_id}).first() is not None

    def has_actors(self) -> bool:
        return self.connection.execute(_HAS_ACTORS).first() is not None

    def read_nodes(self, keys: Collection[NodeKey]) -> Mapping[NodeKey, bytes]:
        if not keys:
            return {}
        # One IN list per level (a proof touches about 20 levels), in chunks the database
        # accepts, instead of one OR per node: thousands of nodes stay a handful of queries.
        by_level: dict[int, list[int]] = {}
        for level, idx in keys:
            by_level.setdefault(level, []).append(idx)
        nodes = t.merkle_nodes
        out: dict[NodeKey, bytes] = {}
        for level, indices in by_level.items():
            for i in range(0, len(indices), 900):
                rows = self.connection.execute(select(nodes).where(
                    nodes.c.level == level, nodes.c.idx.in_(indices[i:i + 900])))
                out.update(((row.level, row.idx), bytes(row.hash)) for row in rows)
        return out

    def head(self) -> tuple[int, bytes]:
        row = self.connection.execute(_HEAD).one()
        return int(row.size), bytes(row.head_hash)


class _Raw:
    """One hot statement, run on the driver's cursor inside SQLAlchemy's transaction.

    An append runs about a dozen small statements; SQLAlchemy's per-statement machinery
    cost more than SQLite itself, so the append path skips it. Written with ``:name``
    parameters (sqlite3's style), rewritten once to ``%(name)s`` for psycopg.
    """

    __slots__ = ("pg", "sqlite")

    def __init__(self, sql: str) -> None:
        self.sqlite = sql
        self.pg = re.sub(r":([a-z_]+)", r"%(\1)s", sql)


_LOT_COLUMNS = ("lot_id", "product", "quantity", "unit", "custodian", "status", "season",
                "community", "pending_to", "pending_dispatch", "pending_valuation",
                "pending_at", "updated_seq", "head_hash")
_RAW_HEAD = _Raw("SELECT size, head_hash FROM log_head WHERE id = 1")
_RAW_HEAD_FOR_UPDATE = _Raw("SELECT size, head_hash FROM log_head WHERE id = 1 FOR UPDATE")
_RAW_SET_HEAD = _Raw("UPDATE log_head SET size = :size, head_hash = :head_hash WHERE id = 1")
_RAW_HAS_EVENT = _Raw("SELECT 1 FROM entries WHERE event_id = :id")
_RAW_APPENDED_AT = _Raw("SELECT appended_at FROM entries WHERE seq = :seq")
_RAW_CHAINED_FROM = _Raw("SELECT chained_from FROM log_head WHERE id = 1")
_RAW_SET_CHAINED_FROM = _Raw("UPDATE log_head SET chained_from = :seq WHERE id = 1")
_RAW_LOT = _Raw("SELECT " + ", ".join(_LOT_COLUMNS) + " FROM lots WHERE lot_id = :id")
_KEY_COLUMNS = ("key_id", "actor_id", "public_key", "not_before", "not_after", "revoked",
                "accept_until")
_RAW_KEY = _Raw("SELECT " + ", ".join(_KEY_COLUMNS) + " FROM keys WHERE key_id = :id")
_RAW_INSERT_ENTRY = _Raw(
    "INSERT INTO entries (seq, entry_hash, event_id, kind, actor_id, appended_at, body) "
    "VALUES (:seq, :entry_hash, :event_id, :kind, :actor_id, :appended_at, :body)")
_RAW_INSERT_NODE = _Raw("INSERT INTO merkle_nodes (level, idx, hash) VALUES "
                        "(:level, :idx, :hash)")
_RAW_INSERT_STEP = _Raw("INSERT INTO entry_steps (seq, step) VALUES (:seq, :step)")
_RAW_INSERT_LINK = _Raw("INSERT INTO lot_links (parent, child, seq) VALUES "
                        "(:parent, :child, :seq)")
_RAW_INSERT_LOT_EVENT = _Raw("INSERT INTO lot_events (lot_id, seq) VALUES (:lot_id, :seq)")
_RAW_UPDATE_LOT = _Raw("UPDATE lots SET " + ", ".join(
    f"{c} = :{c}" for c in _LOT_COLUMNS if c != "lot_id") + " WHERE lot_id = :lot_id")
_RAW_INSERT_LOT = _Raw("INSERT INTO lots (" + ", ".join(_LOT_COLUMNS) + ", created_seq) "
                       "VALUES (" + ", ".join(f":{c}" for c in _LOT_COLUMNS)
                       + ", :created_seq)")
_LotRow = namedtuple("_LotRow", _LOT_COLUMNS)  # type: ignore[misc]
_KeyRow = namedtuple("_KeyRow", _KEY_COLUMNS)  # type: ignore[misc]


@lru_cache(maxsize=256)
def _lot_update(columns: tuple[str, ...]) -> _Raw:
    """UPDATE of just these lot columns (``updated_seq`` is among them on every write)."""
    return _Raw("UPDATE lots SET " + ", ".join(f"{c} = :{c}" for c in columns)
                + " WHERE lot_id = :lot_id")


class AppendSession(_Reads):
    """A write transaction holding the log head; implements the rules' LedgerView."""

    def __init__(self, connection: Connection, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        self._pg = connection.dialect.name == "postgresql"
        self._cursor: Any = None
        # Lot rows as this transaction last read or wrote them: an update then sets only
        # the columns that changed, so the indexes on the others are not rewritten.
        self._lot_rows: dict[str, dict[str, Any]] = {}
        self._size = -1  # the log's size as this transaction last set it (-1: not read)
        self._last_append: datetime | None = None
        self._chained: int | bool | None = False  # False: not read yet

    def _run(self, statement: _Raw, params: Mapping[str, Any] | None = None) -> Any:
        if self._cursor is None:
            self._cursor = self.connection.connection.cursor()
        self._cursor.execute(statement.pg if self._pg else statement.sqlite, params or {})
        return self._cursor

    def _run_many(self, statement: _Raw, rows: Sequence[Mapping[str, Any]]) -> None:
        if self._cursor is None:
            self._cursor = self.connection.connection.cursor()
        self._cursor.executemany(statement.pg if self._pg else statement.sqlite, rows)

    def lock_head(self) -> tuple[int, bytes]:
        row = self._run(_RAW_HEAD_FOR_UPDATE if self._pg else _RAW_HEAD).fetchone()
        self._size = int(row[0])
        return self._size, bytes(row[1])

    def last_appended_at(self) -> datetime | None:
        if self._last_append is None and self._size > 0:
            row = self._run(_RAW_APPENDED_AT, {"seq": self._size - 1}).fetchone()
            self._last_append = parse_instant(row[0])
        return self._last_append

    def chained_from(self) -> int | None:
        if self._chained is False:
            value = self._run(_RAW_CHAINED_FROM).fetchone()[0]
            self._chained = None if value is None else int(value)
        return self._chained if isinstance(self._chained, int) else None

    def lot_head(self, lot_id: str) -> LotLink | None:
        row = self._lot_rows.get(lot_id)
        if row is None:
            if self.lot(lot_id) is None:
                return None
            row = self._lot_rows[lot_id]
        return LotLink(int(row["updated_seq"]), bytes(row["head_hash"]))

    def head(self) -> tuple[int, bytes]:
        row = self._run(_RAW_HEAD).fetchone()
        return int(row[0]), bytes(row[1])

    def has_event(self, event_id: str) -> bool:
        return self._run(_RAW_HAS_EVENT, {"id": event_id}).fetchone() is not None

    def key(self, key_id: str) -> KeyRecord | None:
        row = self._run(_RAW_KEY, {"id": key_id}).fetchone()
        return key_from_row(_KeyRow(*row)) if row else None

    def lot(self, lot_id: str) -> LotRecord | None:
        row = self._run(_RAW_LOT, {"id": lot_id}).fetchone()
        if not row:
            return None
        self._lot_rows[lot_id] = dict(zip(_LOT_COLUMNS, row, strict=True))
        return lot_from_row(_LotRow(*row))

    def write(self, entry: Entry, effects: Effects,
              nodes: Sequence[tuple[int, int, bytes]], step: str) -> None:
        event = entry.signed.event
        seq = entry.seq
        conn = self.connection
        self._run(_RAW_INSERT_ENTRY, {
            "seq": seq, "entry_hash": entry.hash, "event_id": event.id,
            "kind": event.kind.value, "actor_id": event.actor,
            "appended_at": _instant(entry), "body": entry.canonical})
        self._run_many(_RAW_INSERT_NODE, [{"level": level, "idx": idx, "hash": digest}
                                          for level, idx, digest in nodes])
        self._run(_RAW_INSERT_STEP, {"seq": seq, "step": step})
        for actor in effects.actors:
            conn.execute(insert(t.actors).values(
                actor_id=actor.actor_id, kind=actor.kind.value, name=actor.name, gln=actor.gln,
                seq=seq))
        for key in effects.keys:
            row = key_to_row(key)
            if self.key(key.key_id) is None:
                conn.execute(insert(t.keys).values(**row))
            else:
                conn.execute(update(t.keys).where(t.keys.c.key_id == key.key_id).values(**row))
        for product in effects.products:
            conn.execute(insert(t.products).values(
                code=product.code, body=json.dumps(product.to_json(), ensure_ascii=False),
                seq=seq))
        self._write_lots(effects.lots, seq, entry.hash)
        if entry.lot_prev is not None and self.chained_from() is None:
            self._run(_RAW_SET_CHAINED_FROM, {"seq": seq})
            self._chained = seq
        self._size = seq + 1
        self._last_append = entry.appended_at
        if effects.links:
            self._run_many(_RAW_INSERT_LINK, [{"parent": parent, "child": child, "seq": seq}
                                              for parent, child in effects.links])
        if effects.touched:
            self._run_many(_RAW_INSERT_LOT_EVENT, [{"lot_id": lot, "seq": seq}
                                                   for lot in dict.fromkeys(effects.touched)])

    def _write_lots(self, lots: Sequence[LotRecord], seq: int, entry_hash: bytes) -> None:
        for lot in lots:
            row = lot_to_row(lot, seq)
            row["head_hash"] = entry_hash
            before = self._lot_rows.get(lot.lot_id)
            if before is not None:
                changed = tuple(c for c in _LOT_COLUMNS if row[c] != before[c])
                if changed:
                    self._run(_lot_update(changed), row)
            elif self._run(_RAW_UPDATE_LOT, row).rowcount == 0:
                self._run(_RAW_INSERT_LOT, {"created_seq": seq, **row})
            self._lot_rows[lot.lot_id] = row

    def set_head(self, size: int, head_hash: bytes) -> None:
        self._run(_RAW_SET_HEAD, {"size": size, "head_hash": head_hash})


def _instant(entry: Entry) -> str:
    return format_instant(entry.appended_at)


class Store:
    """The database behind one ledger."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Actors and products are immutable once registered, so positive lookups may be
        # kept for the life of the process (keys and lots change, and are always re-read).
        self._actors: dict[str, ActorRecord] = {}
        self._products: dict[str, Product] = {}
        # The Merkle frontier after this process's last append: reused when the head has
        # not moved since (another writer's append changes the head and forces a re-read).
        self.frontier: tuple[int, bytes, list[bytes]] | None = None
        # One connection kept for appends (checking one out of the pool and resetting it
        # per append cost as much as SQLite's own commit); the lock serializes this
        # process's threads, the database serializes processes.
        self._writer: Connection | None = None
        self._writer_pid = 0
        self._writer_lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True) -> Store:
        engine = make_engine(url)
        if upgrade:
            upgrade_schema(engine)
        return cls(engine)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    def close(self) -> None:
        with self._writer_lock:
            self._drop_writer()
        self.engine.dispose()

    @contextmanager
    def append_session(self) -> Iterator[AppendSession]:
        """A write transaction: committed if the block ends normally, else rolled back."""
        with self._writer_lock:
            connection = self._writer_connection()
            try:
                with connection.begin():
                    yield AppendSession(connection, actor_cache=self._actors,
                                        product_cache=self._products)
            except BaseException as exc:
                # A rolled-back append may have cached records it wrote: forget them all,
                # and the connection too (after a lost server it is unusable).
                self._actors.clear()
                self._products.clear()
                self.frontier = None
                self._drop_writer()
                if isinstance(exc, IntegrityError):
                    raise Conflict(f"the database refused the append: {exc.orig}") from exc
                raise

    def _writer_connection(self) -> Connection:
        if self._writer is None or self._writer.closed or self._writer_pid != os.getpid():
            # A forked child must not share its parent's connection: it opens its own.
            self._writer = self.engine.connect().execution_options(**{WRITE_OPTION: True})
            self._writer_pid = os.getpid()
            if self.is_sqlite:
                # Every append probes random pages of the event-id, lot and link indexes:
                # a large ledger's working set outgrows SQLite's 2 MiB default cache.
                driver: Any = self._writer.connection.driver_connection
                driver.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
        return self._writer

    def _drop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None and self._writer_pid == os.getpid():
            writer.close()

    @contextmanager
    def reading(self) -> Iterator[_Reads]:
        with self.engine.connect() as connection, connection.begin():
            yield _Reads(connection, actor_cache=self._actors, product_cache=self._products)

    # -- reads outside an append ------------------------------------------------------

    def head(self) -> tuple[int, bytes]:
        with self.reading() as reads:
            return reads.head()

    def iter_entries(self, start: int = 0, end: int | None = None,
                     batch: int = 2000) -> Iterator[StoredEntry]:
        """Entries in sequence order, read in keyset-paged batches (constant memory)."""
        position = start
        while True:
            query = select(t.entries).where(t.entries.c.seq >= position)
            if end is not None:
                query = query.where(t.entries.c.seq < end)
            with self.engine.connect() as connection:
                rows = connection.execute(query.order_by(t.entries.c.seq).limit(batch)).all()
            if not rows:
                return
            for row in rows:
                yield _stored(row)
            position = int(rows[-1].seq) + 1

    def entry(self, seq: int) -> StoredEntry:
        with self.engine.connect() as connection:
            row = connection.execute(select(t.entries).where(t.entries.c.seq == seq)).first()
        if row is None:
            raise NotFound(f"entry {seq} does not exist")
        return _stored(row)

    def entry_by_event(self, event_id: str) -> StoredEntry | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(t.entries).where(t.entries.c.event_id == event_id)).first()
        return _stored(row) if row else None

    def entries_of_kinds(self, kinds: Collection[str], *, end: int,
                         start: int = 0) -> list[StoredEntry]:
        """Entries of the given kinds from ``start`` to below ``end``, in log order
        (registrations are few)."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(t.entries).where(
                t.entries.c.kind.in_(list(kinds)), t.entries.c.seq >= start,
                t.entries.c.seq < end)
                .order_by(t.entries.c.seq))
            return [_stored(row) for row in rows]

    def entry_bodies(self, seqs: Collection[int]) -> dict[int, tuple[bytes, bytes]]:
        """``seq -> (entry hash column, canonical bytes)`` of many entries (what the lot
        badge re-checks), without building full rows."""
        out: dict[int, tuple[bytes, bytes]] = {}
        ordered = sorted(seqs)
        with self.engine.connect() as connection:
            for i in range(0, len(ordered), 900):
                rows = connection.execute(_ENTRY_BODIES, {"seqs": ordered[i:i + 900]})
                out.update((row[0], (bytes(row[1]), bytes(row[2]))) for row in rows)
        return out

    def entries_by_seq(self, seqs: Collection[int]) -> list[StoredEntry]:
        out: list[StoredEntry] = []
        ordered = sorted(seqs)
        with self.engine.connect() as connection:
            for i in range(0, len(ordered), 500):
                rows = connection.execute(select(t.entries).where(
                    t.entries.c.seq.in_(ordered[i:i + 500])).order_by(t.entries.c.seq))
                out.extend(_stored(row) for row in rows)
        return out

    def read_nodes(self, keys: Collection[NodeKey]) -> Mapping[NodeKey, bytes]:
        with self.reading() as reads:
            return reads.read_nodes(keys)

    def actor(self, actor_id: str) -> ActorRecord | None:
        with self.reading() as reads:
            return reads.actor(actor_id)

    def actors(self) -> list[ActorRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(t.actors).order_by(t.actors.c.seq))
            return [actor_from_row(row) for row in rows]

    def keys_of(self, actor_id: str) -> list[KeyRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(t.keys).where(t.keys.c.actor_id == actor_id)
                                      .order_by(t.keys.c.not_before))
            return [key_from_row(row) for row in rows]

    def product(self, code: str) -> Product | None:
        cached = self._products.get(code)  # no connection for what never changes
        if cached is not None:
            return cached
        with self.reading() as reads:
            return reads.product(code)

    def products(self) -> list[Product]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(t.products.c.body).order_by(t.products.c.code))
            return [Product.from_json(json.loads(row.body)) for row in rows]

    def lot(self, lot_id: str) -> LotRecord | None:
        with self.reading() as reads:
            return reads.lot(lot_id)

    def lots(self, *, custodian: str | None = None, product: str | None = None,
             status: str | None = None, season: str | None = None,
             pending_to: str | None = None, limit: int = 100,
             offset: int = 0) -> list[LotRecord]:
        query = select(t.lots)
        for column, value in ((t.lots.c.custodian, custodian), (t.lots.c.product, product),
                              (t.lots.c.status, status), (t.lots.c.season, season),
                              (t.lots.c.pending_to, pending_to)):
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(t.lots.c.created_seq.desc(), t.lots.c.lot_id)
        with self.engine.connect() as connection:
            rows = connection.execute(query.limit(limit).offset(offset))
            return [lot_from_row(row) for row in rows]

    def lot_head(self, lot_id: str) -> LotLink | None:
        """The lot row's claim of its newest entry (a walk's starting point, checked by
        the walk against the entry's bytes)."""
        with self.engine.connect() as connection:
            row = connection.execute(select(t.lots.c.updated_seq, t.lots.c.head_hash)
                                     .where(t.lots.c.lot_id == lot_id)).first()
        return None if row is None else lot_head_from_row(row)

    def seqs_of_lots(self, lots: Collection[str]) -> list[int]:
        """Every entry the ``lot_events`` index lists for these lots (a prefetch hint)."""
        if not lots:
            return []
        with self.engine.connect() as connection:
            rows = connection.execute(_SEQS_OF_LOTS, {"lots": list(lots)})
            return sorted({int(row.seq) for row in rows})

    def lot_graph(self, lot_id: str, *, upstream: bool) -> list[tuple[str, str]]:
        """Every (parent, child) link reachable from ``lot_id`` (one recursive query)."""
        links = t.lot_links
        start = links.c.child if upstream else links.c.parent
        base = select(links.c.parent, links.c.child).where(start == lot_id)
        walk = base.cte("walk", recursive=True)
        step_on = links.c.child == walk.c.parent if upstream else links.c.parent == walk.c.child
        walk = walk.union(select(links.c.parent, links.c.child).where(step_on))
        with self.engine.connect() as connection:
            return [(row.parent, row.child) for row in connection.execute(select(walk))]

    def iter_steps(self, batch: int = 5000) -> Iterator[dict[str, Any]]:
        """Every timeline step in log order, read in keyset-paged batches."""
        position = 0
        while True:
            with self.engine.connect() as connection:
                rows = connection.execute(select(t.entry_steps).where(
                    t.entry_steps.c.seq >= position).order_by(t.entry_steps.c.seq)
                    .limit(batch)).all()
            if not rows:
                return
            for row in rows:
                yield orjson.loads(row.step)
            position = int(rows[-1].seq) + 1

    def recent_steps(self, actor_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The latest timeline steps signed by ``actor_id``, newest first."""
        recent = (select(t.entries.c.seq).where(t.entries.c.actor_id == actor_id)
                  .order_by(t.entries.c.seq.desc()).limit(limit).subquery())
        query = (select(t.entry_steps.c.step).join(recent, recent.c.seq == t.entry_steps.c.seq)
                 .order_by(t.entry_steps.c.seq.desc()))
        with self.engine.connect() as connection:
            return [orjson.loads(row.step) for row in connection.execute(query)]

    def steps_of_lots(self, lots: Collection[str]) -> list[dict[str, Any]]:
        """The ready timeline steps of every event touching ``lots``, in log order."""
        texts: dict[int, str] = {}
        ordered = sorted(lots)
        with self.engine.connect() as connection:
            for i in range(0, len(ordered), 900):
                rows = connection.execute(_STEPS_OF_LOTS, {"lots": ordered[i:i + 900]})
                texts.update((row[0], row[1]) for row in rows)
        # Thousands of fresh dicts would trigger full garbage collections mid-decode (the
        # slow tail of this query); they hold no cycles, so collection can wait.
        with paused_gc():
            return [orjson.loads(texts[seq]) for seq in sorted(texts)]

    # -- checkpoints --------------------------------------------------------------------

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self.append_session() as session:
            exists = session.connection.execute(select(t.checkpoints.c.size).where(
                t.checkpoints.c.size == checkpoint.size)).first()
            if exists is None:
                session.connection.execute(insert(t.checkpoints).values(
                    size=checkpoint.size, root_hash=checkpoint.root_hash,
                    note=checkpoint.note, signed_at=checkpoint.signed_at))

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(t.checkpoints).order_by(t.checkpoints.c.size))
            return [StoredCheckpoint(int(r.size), bytes(r.root_hash), r.note, r.signed_at)
                    for r in rows]

    def checkpoint(self, size: int | None = None) -> StoredCheckpoint | None:
        query = select(t.checkpoints)
        query = (query.where(t.checkpoints.c.size == size) if size is not None
                 else query.order_by(t.checkpoints.c.size.desc()).limit(1))
        with self.engine.connect() as connection:
            r = connection.execute(query).first()
        return StoredCheckpoint(int(r.size), bytes(r.root_hash), r.note, r.signed_at) \
            if r else None

    def add_cosignature(self, size: int, witness: str, line: str, received_at: str) -> None:
        """Keep a witness's cosignature of checkpoint ``size`` (the latest one wins)."""
        with self.append_session() as session:
            session.connection.execute(t.cosignatures.delete().where(
                t.cosignatures.c.checkpoint_size == size, t.cosignatures.c.witness == witness))
            session.connection.execute(insert(t.cosignatures).values(
                checkpoint_size=size, witness=witness, line=line, received_at=received_at))

    def cosignatures(self, size: int) -> list[tuple[str, str]]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(t.cosignatures).where(
                t.cosignatures.c.checkpoint_size == size).order_by(t.cosignatures.c.witness))
            return [(row.witness, row.line) for row in rows]

    def size_on_disk(self) -> int | None:
        """Bytes the database uses (SQLite file pages, or PostgreSQL's database size)."""
        with self.engine.connect() as connection:
            if self.is_sqlite:
                count = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
                size = connection.exec_driver_sql("PRAGMA page_size").scalar_one()
                return int(count) * int(size)
            return int(connection.exec_driver_sql(
                "SELECT pg_database_size(current_database())").scalar_one())


def _stored(row: Any) -> StoredEntry:
    return StoredEntry(int(row.seq), bytes(row.entry_hash), row.event_id, row.kind,
                       row.actor_id, row.appended_at, bytes(row.body))
