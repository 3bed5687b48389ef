"""Disk-backed mappings for verification state, so its memory stays flat on huge ledgers.

The verifier keeps what it has seen (event ids, lots, keys) in a :class:`MemoryState`
whose mappings are passed in; these put them in a temporary SQLite file behind a small
in-memory LRU cache. Values are pickled: the file is private to one verification run and
deleted after it.

Most lookups are for keys never seen (each new event id is checked for a replay, each
new lot for a clash), so a fixed-size Bloom filter answers "absent" for them without
touching the file; only its rare "maybe" goes to SQLite. Its size is fixed, so memory
still does not grow with the ledger.
"""

from __future__ import annotations

import hashlib
import pickle
import sqlite3
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

CACHE_KIB = 64 * 1024
BLOOM_BITS = 1 << 26  # 8 MiB: 1 in 90,000 false "maybe"s at a million keys
_MISSING = object()


class ScratchFile:
    """One temporary SQLite file holding several named mappings."""

    def __init__(self, directory: Path | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(dir=directory, prefix="trilha-verify-")
        self.connection = sqlite3.connect(Path(self._dir.name) / "state.sqlite",
                                          isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=OFF")
        self.connection.execute("PRAGMA synchronous=OFF")
        # A fixed page cache: lookups stay in memory instead of reading pages back
        # through the OS per query (memory bounded, whatever the ledger's size).
        self.connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")

    def mapping(self, name: str, cache_size: int = 20_000, flush_every: int = 5_000,
                bloom_bits: int = BLOOM_BITS) -> ScratchMapping:
        return ScratchMapping(self.connection, name, cache_size, flush_every, bloom_bits)

    def close(self) -> None:
        self.connection.close()
        self._dir.cleanup()


class BloomFilter:
    """A set that can only say "certainly absent" or "maybe present", in fixed memory."""

    __slots__ = ("_bits", "_mask")

    def __init__(self, bits: int) -> None:
        if bits < 64 or bits & (bits - 1):
            raise ValueError("bits: expected a power of two of at least 64")
        self._bits = bytearray(bits // 8)
        self._mask = bits - 1

    def _positions(self, key: str) -> tuple[int, int, int, int]:
        digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=16).digest(), "little")
        mask = self._mask
        return (digest & mask, (digest >> 32) & mask, (digest >> 64) & mask,
                (digest >> 96) & mask)

    def add(self, key: str) -> None:
        bits = self._bits
        for position in self._positions(key):
            bits[position >> 3] |= 1 << (position & 7)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return True  # not ours to rule out
        bits = self._bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in self._positions(key))


class ScratchMapping(MutableMapping[str, Any]):
    """A write-back mapping: recent items in memory, the rest in the file.

    Writes collect in memory and go to the file in batches (one ``executemany`` per
    ``flush_every`` writes), so the verifier's hot loop rarely leaves Python; both the
    cache and the pending writes are bounded, so memory stays flat.
    """

    def __init__(self, connection: sqlite3.Connection, name: str, cache_size: int,
                 flush_every: int = 5_000, bloom_bits: int = BLOOM_BITS) -> None:
        if not name.isidentifier():
            raise ValueError(f"bad mapping name {name!r}")
        self._db = connection
        self._cursor = connection.cursor()
        self._table = name
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = cache_size
        self._dirty: dict[str, Any] = {}
        self._flush_every = flush_every
        self._seen = BloomFilter(bloom_bits)  # every key ever stored (deletes leave it)
        self._select = f"SELECT v FROM {name} WHERE k = ?"
        connection.execute(f"CREATE TABLE IF NOT EXISTS {name} (k TEXT PRIMARY KEY, v BLOB) "
                           "WITHOUT ROWID")  # one b-tree, not a table and its key index

    def _lookup(self, key: str) -> Any:
        """The value, or _MISSING; the cache first, then pending writes, then the file."""
        cache = self._cache
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        if key in self._dirty:
            value = self._dirty[key]
        elif key not in self._seen:
            return _MISSING
        else:
            row = self._cursor.execute(self._select, (key,)).fetchone()
            if row is None:
                return _MISSING
            value = pickle.loads(row[0])
        self._remember(key, value)
        return value

    def __getitem__(self, key: str) -> Any:
        value = self._lookup(key)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._lookup(key)
        return default if value is _MISSING else value

    def __setitem__(self, key: str, value: Any) -> None:
        self._dirty[key] = value
        self._seen.add(key)
        self._remember(key, value)
        if len(self._dirty) >= self._flush_every:
            self.flush()

    def __delitem__(self, key: str) -> None:
        self._cache.pop(key, None)
        self._dirty.pop(key, None)
        self._db.execute(f"DELETE FROM {self._table} WHERE k = ?", (key,))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not _MISSING

    def __iter__(self) -> Iterator[str]:
        self.flush()
        for (key,) in self._db.execute(f"SELECT k FROM {self._table}"):
            yield key

    def __len__(self) -> int:
        self.flush()
        return int(self._db.execute(f"SELECT count(*) FROM {self._table}").fetchone()[0])

    def flush(self) -> None:
        if self._dirty:
            rows = [(k, pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL))
                    for k, v in sorted(self._dirty.items())]  # in key order: b-tree friendly
            # One transaction per batch: in autocommit each row would be its own commit,
            # writing its pages out again (measured: 20 s against 4.5 s for 1M event ids).
            self._db.execute("BEGIN")
            try:
                self._db.executemany(f"INSERT OR REPLACE INTO {self._table} VALUES (?, ?)",
                                     rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._dirty.clear()

    def _remember(self, key: str, value: Any) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
