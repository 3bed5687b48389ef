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

    def mapping(self, name: str, cache_size: int = 20_000) -> ScratchMapping:
        return ScratchMapping(self.connection, name, cache_size)

    def close(self) -> None:
        self.connection.close()
        self._dir.cleanup()


class ScratchMapping(MutableMapping[str, Any]):
    def __init__(self, connection: sqlite3.Connection, name: str, cache_size: int) -> None:
        if not name.isidentifier():
            raise ValueError(f"bad mapping name {name!r}")
        self._db = connection
        self._table = name
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = cache_size
        connection.execute(f"CREATE TABLE IF NOT EXISTS {name} (k TEXT PRIMARY KEY, v BLOB)")

    def __getitem__(self, key: str) -> Any:
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        row = self._db.execute(f"SELECT v FROM {self._table} WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        value = pickle.loads(row[0])
        self._remember(key, value)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._db.execute(f"INSERT OR REPLACE INTO {self._table} VALUES (?, ?)",
                         (key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))
        self._remember(key, value)

    def __delitem__(self, key: str) -> None:
        self._cache.pop(key, None)
        self._db.execute(f"DELETE FROM {self._table} WHERE k = ?", (key,))

    def __contains__(self, key: object) -> bool:
        if key in self._cache:
            return True
        return self._db.execute(f"SELECT 1 FROM {self._table} WHERE k = ?",
                                (key,)).fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        for (key,) in self._db.execute(f"SELECT k FROM {self._table}"):
            yield key

    def __len__(self) -> int:
        return int(self._db.execute(f"SELECT count(*) FROM {self._table}").fetchone()[0])

    def _remember(self, key: str, value: Any) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
