"""The checkpoint signer's lock: at most one signer at a time across threads, web workers
and processes on one database.

PostgreSQL: a transaction-level advisory lock (``pg_try_advisory_xact_lock``) taken on a
connection of its own and held until that transaction ends; a crashed holder's
connection closes and the server releases the lock. SQLite: an exclusive ``flock`` on a
file beside the database (``<database>.signer-lock``), released by the kernel when the
holder's file closes or its process dies; an in-memory database lives in one process, so
a thread lock is enough. Either way the lock is only tried, never waited for: a signer
that finds it held leaves the work to the holder.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

# One 64-bit advisory lock key for "the checkpoint signer" (PostgreSQL's key space is
# shared by every application on the database, hence a hash rather than a small number).
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"trilha-checkpoint-signer").digest()[:8],
                              "big", signed=True)
SUFFIX = ".signer-lock"


class SignerLock:
    """Try to become the one signer; ``with lock.hold() as held:`` signs only if held."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Threads of one process try this first: flock and advisory locks would refuse a
        # second holder too, but this keeps a process from opening a file or connection
        # per thread just to be told no.
        self._local = threading.Lock()
        self.path = lock_file_of(engine)

    @contextmanager
    def hold(self) -> Iterator[bool]:
        if not self._local.acquire(blocking=False):
            yield False
            return
        try:
            if self.engine.dialect.name == "postgresql":
                with self._advisory() as held:
                    yield held
            elif self.path is not None:
                with self._flock() as held:
                    yield held
            else:
                yield True
        finally:
            self._local.release()

    @contextmanager
    def _advisory(self) -> Iterator[bool]:
        with self.engine.connect() as connection, connection.begin():
            held = bool(connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                           {"key": ADVISORY_KEY}).scalar())
            yield held  # the lock ends with this transaction (commit or rollback)

    @contextmanager
    def _flock(self) -> Iterator[bool]:
        import fcntl

        assert self.path is not None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)  # the file stays: removing it would let two holders lock two files


def lock_file_of(engine: Engine) -> Path | None:
    """The lock file of a SQLite database file (None for PostgreSQL or in-memory)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).with_name(Path(database).name + SUFFIX)
