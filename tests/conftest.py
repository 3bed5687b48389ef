"""Shared fixtures: a fresh ledger per test on SQLite, and on PostgreSQL when configured.

Set TRILHA_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to
run every storage test on PostgreSQL too. In CI (CI=true) the variable is required and an
unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ledger.service import Ledger
from tests.builders import FakeClock, World

PG_URL = os.environ.get("TRILHA_TEST_DATABASE_URL")
if os.environ.get("CI") == "true" and not PG_URL:
    raise RuntimeError("CI must run the PostgreSQL tests: set TRILHA_TEST_DATABASE_URL")

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
        connection.execute(text("DROP FUNCTION IF EXISTS trilha_append_only() CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    assert PG_URL is not None
    reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(db_url: str, clock: FakeClock) -> Iterator[Ledger]:
    ledger = Ledger.open(db_url, clock=clock)
    yield ledger
    ledger.close()


@pytest.fixture
def world(ledger: Ledger, clock: FakeClock) -> World:
    return World.with_chain(ledger, clock)
