"""Reads for the derived-state audit (ledger/state_audit.py), and where it compares rows.

Every read runs on one connection inside one read-only snapshot (REPEATABLE READ on
PostgreSQL; one read transaction on SQLite, which in WAL mode sees one snapshot), so the
log and the tables derived from it are compared as of the same moment even while
appends go on. Each table is read in keyset-paged batches of its primary key (bounded
memory, an index walk per page on both dialects), as plain driver tuples.

Tables keyed by text are compared in a scratch SQLite file (:class:`Comparison`): each
database sorts text by its own collation, so two streams in key order cannot be merged
in Python; joins in the scratch file find changed, missing and extra rows in any order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Boolean, Column, Connection, Engine, Integer, LargeBinary, Table

from ledger.storage.engine import fetch_all

PAGE = 5000


@contextmanager
def snapshot(engine: Engine) -> Iterator[AuditReads]:
    """Reads of one consistent snapshot of the database, for the block's duration."""
    with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            if postgres:
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield AuditReads(connection)


def _kept(value: Any) -> Any:
    # A value of another type than its column's (SQLite keeps whatever is written):
    # shown as text, so it differs from the expected value instead of being coerced.
    return f"{type(value).__name__} {value!r:.60}"


def _binary(value: Any) -> Any:
    return bytes(value).hex() if isinstance(value, bytes | bytearray | memoryview) \
        else _kept(value)


def _boolean(value: Any) -> Any:
    return bool(value) if value in (0, 1) and not isinstance(value, float) else _kept(value)


def _integer(value: Any) -> Any:
    return value if type(value) is int else _kept(value)


def _text(value: Any) -> Any:
    return value if type(value) is str else _kept(value)


Converter = Callable[[Any], Any]


def converter(column: Column[Any]) -> Converter:
    """How a column's stored value is compared, the same on both dialects (SQLite has no
    booleans; drivers hand binary columns back as bytes or memoryview): JSON-ready, and
    never raising, whatever was written behind the app's back."""
    if isinstance(column.type, LargeBinary):
        return _binary
    if isinstance(column.type, Boolean):
        return _boolean
    if isinstance(column.type, Integer):
        return _integer
    return _text


def normal(column: Column[Any], value: Any) -> Any:
    return None if value is None else converter(column)(value)


class AuditReads:
    """Keyset-paged reads of one snapshot."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.rows_read = 0

    def _pages(self, sql_first: str, sql_after: str, key_of: Any,
               params: Sequence[Any] = (), page: int | None = None) -> Iterator[Any]:
        page = page or PAGE  # read when called: tests page by two rows
        rows = fetch_all(self.connection, sql_first, (*params, page))
        while rows:
            self.rows_read += len(rows)
            yield from rows
            if len(rows) < page:
                return
            rows = fetch_all(self.connection, sql_after,
                             (*params, *key_of(rows[-1]), page))

    def rows(self, table: Table, page: int | None = None) -> Iterator[tuple[Any, ...]]:
        """Every row of ``table``, its columns in the table's order, by primary key."""
        names = [column.name for column in table.columns]
        key = [column.name for column in table.primary_key.columns]
        at = [names.index(name) for name in key]
        select = f"SELECT {', '.join(names)} FROM {table.name}"
        order = f" ORDER BY {', '.join(key)} LIMIT ?"
        after = (f" WHERE ({', '.join(key)}) > ({', '.join('?' for _ in key)})"
                 if len(key) > 1 else f" WHERE {key[0]} > ?")
        return self._pages(select + order, select + after + order,
                           lambda row: [row[i] for i in at], page=page)

    def entries(self, page: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(seq, bytes) of every entry, in sequence order."""
        for seq, body in self._pages(
                "SELECT seq, body FROM entries ORDER BY seq LIMIT ?",
                "SELECT seq, body FROM entries WHERE seq > ? ORDER BY seq LIMIT ?",
                lambda row: [row[0]], page=page):
            yield int(seq), bytes(body)

    def steps(self) -> Iterator[tuple[int, str]]:
        """(seq, step JSON) of every stored timeline step, in sequence order."""
        for seq, step in self._pages(
                "SELECT seq, step FROM entry_steps ORDER BY seq LIMIT ?",
                "SELECT seq, step FROM entry_steps WHERE seq > ? ORDER BY seq LIMIT ?",
                lambda row: [row[0]]):
            yield int(seq), str(step)

    def nodes(self, level: int) -> Iterator[tuple[int, bytes]]:
        """(index, hash) of the stored Merkle nodes of one level, in index order."""
        for idx, digest in self._pages(
                "SELECT idx, hash FROM merkle_nodes WHERE level = ? ORDER BY idx LIMIT ?",
                "SELECT idx, hash FROM merkle_nodes WHERE level = ? AND idx > ? "
                "ORDER BY idx LIMIT ?", lambda row: [row[0]], params=(level,)):
            yield int(idx), bytes(digest)

    def node_levels(self) -> list[int]:
        """Every level that holds a stored node (one index probe per level)."""
        levels: list[int] = []
        while True:
            row = fetch_all(self.connection, "SELECT min(level) FROM merkle_nodes "
                            "WHERE level > ?", (levels[-1] if levels else -1,))
            if not row or row[0][0] is None:
                return levels
            levels.append(int(row[0][0]))

    def size(self) -> int:
        """The log's size as its head row says (0 if the row is gone)."""
        row = fetch_all(self.connection, "SELECT size FROM log_head WHERE id = 1", ())
        return int(row[0][0]) if row and isinstance(row[0][0], int) else 0

    def entries_held(self) -> int:
        """One more than the highest stored sequence number (the primary key's end): how
        large the replay will be, whatever the head row says."""
        row = fetch_all(self.connection, "SELECT max(seq) FROM entries", ())
        return 0 if row[0][0] is None else int(row[0][0]) + 1

    def checkpoint_roots(self) -> dict[int, bytes]:
        """Tree size -> root hash of every stored checkpoint (few: read at once)."""
        return {int(size): bytes(root) for size, root in fetch_all(
            self.connection, "SELECT size, root_hash FROM checkpoints", ())}


class Comparison:
    """Expected and stored rows of one table, keyed alike, in a scratch SQLite file.

    Keys and values are opaque bytes (the audit encodes them). A value may have a part
    set only when its row is first expected (``first``: a lot's ``created_seq``), which
    later expectations of the same key keep. Writes are batched (one ``executemany``
    per ``flush_every``), so memory stays flat whatever the table's size.
    """

    def __init__(self, db: sqlite3.Connection, name: str, flush_every: int = 5000) -> None:
        if not name.isidentifier():
            raise ValueError(f"bad comparison name {name!r}")
        self._db = db
        self._name = name
        self._flush_every = flush_every
        self._expected: dict[bytes, list[bytes | None]] = {}
        self._found: dict[bytes, list[bytes | None]] = {}
        self.found_rows = 0
        for side in ("exp", "got"):
            db.execute(f"CREATE TABLE {side}_{name} (k BLOB PRIMARY KEY, v BLOB, c BLOB) "
                       "WITHOUT ROWID")

    def expect(self, key: bytes, value: bytes, first: bytes | None = None) -> None:
        pending = self._expected.get(key)
        if pending is not None:
            pending[0] = value  # the newest value, the first part from its first time
        else:
            self._expected[key] = [value, first]
            if len(self._expected) >= self._flush_every:
                self._flush_expected()

    def found(self, key: bytes, value: bytes, first: bytes | None = None) -> None:
        self._found[key] = [value, first]
        self.found_rows += 1
        if len(self._found) >= self._flush_every:
            self._flush_found()

    def _flush_expected(self) -> None:
        if self._expected:
            self._write(f"INSERT INTO exp_{self._name} (k, v, c) VALUES (?, ?, ?) "
                        "ON CONFLICT (k) DO UPDATE SET v = excluded.v", self._expected)

    def _flush_found(self) -> None:
        if self._found:
            self._write(f"INSERT OR REPLACE INTO got_{self._name} (k, v, c) VALUES (?, ?, ?)",
                        self._found)

    def _write(self, sql: str, rows: dict[bytes, list[bytes | None]]) -> None:
        # One transaction per batch, in key order (b-tree friendly), as ScratchMapping does.
        self._db.execute("BEGIN")
        try:
            self._db.executemany(sql, [(k, *rows[k]) for k in sorted(rows)])
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        rows.clear()

    def differences(self) -> Iterator[tuple[bytes, tuple[bytes | None, bytes | None] | None,
                                            tuple[bytes | None, bytes | None] | None]]:
        """(key, expected (value, first) or None, found (value, first) or None) of each
        row that differs, is missing (found None) or should not exist (expected None)."""
        self._flush_expected()
        self._flush_found()
        exp, got = f"exp_{self._name}", f"got_{self._name}"
        changed = self._db.execute(
            f"SELECT e.k, e.v, e.c, g.k IS NOT NULL, g.v, g.c FROM {exp} e "
            f"LEFT JOIN {got} g ON g.k = e.k "
            "WHERE g.k IS NULL OR e.v IS NOT g.v OR e.c IS NOT g.c ORDER BY e.k")
        for key, ev, ec, present, gv, gc in changed:
            yield key, (ev, ec), ((gv, gc) if present else None)
        extra = self._db.execute(
            f"SELECT g.k, g.v, g.c FROM {got} g LEFT JOIN {exp} e ON e.k = g.k "
            "WHERE e.k IS NULL ORDER BY g.k")
        for key, gv, gc in extra:
            yield key, None, (gv, gc)

    def expected_rows(self) -> int:
        self._flush_expected()
        return int(self._db.execute(f"SELECT count(*) FROM exp_{self._name}").fetchone()[0])
