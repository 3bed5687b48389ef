"""The stored verdicts on sold lots' histories (table ``indicator_verdicts``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from ledger.storage.engine import WRITE_OPTION, fetch_all
from ledger.storage.indicator_tables import lot_verdicts


class StoredVerdict(NamedTuple):
    verdict: str
    checkpoint_size: int | None
    checked_at: str


def read_verdicts(engine: Engine) -> dict[str, StoredVerdict]:
    """Every stored verdict (plain driver rows: a large ledger has one per sold lot)."""
    with engine.connect() as connection:
        return {lot: StoredVerdict(verdict, size, at) for lot, verdict, size, at in fetch_all(
            connection, "SELECT lot, verdict, checkpoint_size, checked_at "
            "FROM indicator_verdicts", ())}


def write_verdicts(engine: Engine, verdicts: Iterable[tuple[str, StoredVerdict]]) -> None:
    """Insert or replace, in one transaction."""
    rows = [{"lot": lot, "verdict": v.verdict, "checkpoint_size": v.checkpoint_size,
             "checked_at": v.checked_at} for lot, v in verdicts]
    if not rows:
        return
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(lot_verdicts)
    statement = statement.on_conflict_do_update(
        index_elements=[lot_verdicts.c.lot],
        set_={name: statement.excluded[name]
              for name in ("verdict", "checkpoint_size", "checked_at")})
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, \
            connection.begin():
        connection.execute(statement, rows)
