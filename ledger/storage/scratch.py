"""Disk-backed mappings for verification state, so its memory stays flat on huge ledgers.

The verifier keeps what it has seen (event ids, lots, keys) in a :class:`MemoryState`
whose mappings are passed in; these put them in a temporary SQLite file behind a small
in-memory LRU cache. Values are pickled: the file is private to one verification run and
deleted after it.
"""

from __future__ import annotations

import pickle
import sqlite3
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any


class ScratchFile:
    """One temporary SQLite file holding several named mappings."""

    def __init__(self, directory: Path | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(dir=directory, prefix="trilha-verify-")
        self.connection = sqlite3.connect(Path(self._dir.name) / "state.sqlite",
                                          isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=OFF")
        self.connection.execute("PRAGMA synchronous=OFF")

    def mapping(self, name: str, cache_size: int = 20_000,
                flush_every: int = 5_000) -> ScratchMapping:
        return ScratchMapping(self.connection, name, cache_size, flush_every)

    def close(self) -> None:
        self.connection.close()
        self._dir.cleanup()


class ScratchMapping(MutableMapping[str, Any]):
    """A write-back mapping: recent items in memory, the rest in the file.

    Writes collect in memory and go to the file in batches (one ``executemany`` per
    ``flush_every`` writes), so the verifier's hot loop rarely leaves Python; both the
    cache and the pending writes are bounded, so memory stays flat.
    """

    def __init__(self, connection: sqlite3.Connection, name: str, cache_size: int,
                 flush_every: int = 5_000) -> None:
        if not name.isidentifier():
            raise ValueError(f"bad mapping name {name!r}")
        self._db = connection
        self._table = name
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = cache_size
        self._dirty: dict[str, Any] = {}
        self._flush_every = flush_every
        connection.execute(f"CREATE TABLE IF NOT EXISTS {name} (k TEXT PRIMARY KEY, v BLOB)")

    def __getitem__(self, key: str) -> Any:
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key in self._dirty:
            value = self._dirty[key]
        else:
            row = self._db.execute(f"SELECT v FROM {self._table} WHERE k = ?",
                                   (key,)).fetchone()
            if row is None:
                raise KeyError(key)
            value = pickle.loads(row[0])
        self._remember(key, value)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._dirty[key] = value
        self._remember(key, value)
        if len(self._dirty) >= self._flush_every:
            self.flush()

    def __delitem__(self, key: str) -> None:
        self._cache.pop(key, None)
        self._dirty.pop(key, None)
        self._db.execute(f"DELETE FROM {self._table} WHERE k = ?", (key,))

    def __contains__(self, key: object) -> bool:
        if key in self._cache or key in self._dirty:
            return True
        return self._db.execute(f"SELECT 1 FROM {self._table} WHERE k = ?",
                                (key,)).fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        self.flush()
        for (key,) in self._db.execute(f"SELECT k FROM {self._table}"):
            yield key

    def __len__(self) -> int:
        self.flush()
        return int(self._db.execute(f"SELECT count(*) FROM {self._table}").fetchone()[0])

    def flush(self) -> None:
        if self._dirty:
            self._db.executemany(
                f"INSERT OR REPLACE INTO {self._table} VALUES (?, ?)",
                [(k, pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL))
                 for k, v in self._dirty.items()])
            self._dirty.clear()

    def _remember(self, key: str, value: Any) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
