"""Initial schema: the log, the Merkle nodes, checkpoints and the projections.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

APPEND_ONLY = ("entries", "merkle_nodes", "checkpoints")


INITIAL_TABLES = ("entries", "merkle_nodes", "log_head", "checkpoints", "cosignatures",
                  "actors", "keys", "products", "lots", "lot_links", "lot_events",
                  "entry_steps")


def _tables() -> list[sa.Table]:
    # The first revision creates these tables as tables.py declares them; later revisions
    # spell out their own changes. (Before the first release, 0001 gained the SQLite
    # rowid-aliased seq and WITHOUT ROWID node tables: ledgers made earlier keep BIGINT
    # keys, which behave the same and are only slower to append to.)
    from ledger.storage.tables import metadata

    return [t for t in metadata.sorted_tables if t.name in INITIAL_TABLES]


def upgrade() -> None:
    bind = op.get_bind()
    for declared in _tables():
        declared.create(bind)
    op.execute("INSERT INTO log_head (id, size, head_hash) VALUES "
               "(1, 0, " + ("X'" if bind.dialect.name == "sqlite" else "'\\x") + "00" * 32
               + "')")
    if bind.dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    else:
        op.execute(
            "CREATE FUNCTION trilha_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION trilha_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION trilha_append_only()")


def downgrade() -> None:
    raise RuntimeError("the ledger's history cannot be downgraded away")
