"""Write-once derived tables: lineage (``lot_links``), each lot's entries (``lot_events``)
and the timeline steps (``entry_steps``) are written once, when their entry is appended,
and never change; database triggers now refuse UPDATE and DELETE on them (and TRUNCATE on
PostgreSQL), as 0001 does for the log itself.

Tables whose rows change by design (``lots``, ``keys``, ``log_head``) cannot be protected
this way: ``trilha verify`` re-derives them from the log instead (ledger/state_audit.py).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"

WRITE_ONCE = ("lot_links", "lot_events", "entry_steps")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in WRITE_ONCE:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
        return
    # trilha_append_only() is 0001's function: it names the table in its message.
    for table in WRITE_ONCE:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION trilha_append_only()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION trilha_append_only()")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in WRITE_ONCE:
        if sqlite:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
