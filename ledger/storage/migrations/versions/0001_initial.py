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


def _tables() -> list[sa.Table]:
    # The first revision creates the schema exactly as tables.py declared it when this
    # revision was written; later revisions must spell out their own changes.
    from ledger.storage.tables import metadata

    return list(metadata.sorted_tables)


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
