"""Write-once triggers, as migrations 0006 and 0008 create and drop them.

Frozen with those revisions: a change here changes what they did. On SQLite a trigger
per action refuses UPDATE and DELETE; on PostgreSQL 0001's ``trilha_append_only()``
(which names the table in its message) refuses UPDATE and DELETE per row and TRUNCATE
per statement.
"""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op


def protect(tables: Iterable[str]) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in tables:
        if sqlite:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
        else:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON "
                       f"{table} FOR EACH ROW EXECUTE FUNCTION trilha_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION trilha_append_only()")


def unprotect(tables: Iterable[str]) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in tables:
        if sqlite:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
