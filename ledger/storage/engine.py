"""Engines for the embedded SQLite default and for PostgreSQL, and schema upgrades."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event

MIGRATIONS = Path(__file__).with_name("migrations")
WRITE_OPTION = "trilha_write"
WAL_CHECKPOINT_PAGES = 10_000


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _driver_marks(connection: Connection, sql: str) -> str:
    return sql.replace("?", "%s") if connection.dialect.name == "postgresql" else sql


def run_many(connection: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run ``sql`` (written with ``?`` marks) once per row, straight through the driver:
    for the hundreds of thousands of rows of a projection's cold build, SQLAlchemy's
    per-row parameter processing would cost more than the database."""
    if not rows:
        return
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(_driver_marks(connection, sql), rows)
    finally:
        cursor.close()


def fetch_all(connection: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """The rows of ``sql`` (written with ``?`` marks), as plain driver tuples."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_driver_marks(connection, sql), tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    """An engine whose write transactions take the database's write lock up front."""
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below issue BEGIN itself (pysqlite would not).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives any crash of the process (a SIGKILL'd writer loses
        # nothing it committed); only an OS crash or power cut can lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        # Each append dirties a dozen pages, mostly the same hot ones (the right edge of
        # every b-tree, the log head); checkpointing every 10,000 WAL pages instead of
        # SQLite's 1,000 copies each hot page back once instead of ten times.
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the lock at BEGIN: a deferred transaction that later tries to write
        # can fail with SQLITE_BUSY instead of waiting its turn.
        # Straight to the driver: SQLAlchemy's statement machinery costs more than BEGIN.
        statement = "BEGIN IMMEDIATE" if connection.get_execution_options().get(
            WRITE_OPTION) else "BEGIN"
        connection.connection.driver_connection.execute(statement)

    return engine


def upgrade_schema(engine: Engine) -> None:
    """Create or upgrade the schema to the newest Alembic revision."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
