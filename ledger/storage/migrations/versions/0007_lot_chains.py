"""Lot chains and key windows (entry format 2).

- ``lots.head_hash``: the hash of the newest entry touching the lot (its seq is
  ``updated_seq``), which the log writes into the next entry's ``lot_prev``;
- ``lots.pending_at``: the dispatch statement's time, so that no receipt is dated before it;
- ``keys.accept_until``: for a rotated-out key, the last append time at which statements it
  signed before the rotation are still accepted (the rotation's append + 30 days, the
  default grace, for rotations made before grace periods existed);
- ``log_head.chained_from``: the first format 2 entry (none yet: existing entries keep
  their bytes, and the next append is the first to chain its lots).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

GRACE_OF_EARLIER_ROTATIONS = timedelta(days=30)  # ledger.domain.rules' default, frozen here


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _format(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond
                          else "%Y-%m-%dT%H:%M:%SZ")


def _columns(bind: sa.Connection, table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(bind).get_columns(table)}


def upgrade() -> None:
    bind = op.get_bind()
    # A new ledger's 0001 already created these columns (it creates the tables as
    # tables.py declares them today): add only what an older ledger lacks.
    if "head_hash" in _columns(bind, "lots"):
        return
    with op.batch_alter_table("lots") as batch:
        batch.add_column(sa.Column("pending_at", sa.String(32)))
        batch.add_column(sa.Column("head_hash", sa.LargeBinary(32)))
    op.add_column("keys", sa.Column("accept_until", sa.String(32)))
    op.add_column("log_head", sa.Column("chained_from", sa.BigInteger))

    op.execute("UPDATE lots SET head_hash = (SELECT e.entry_hash FROM entries e "
               "WHERE e.seq = lots.updated_seq)")
    in_transit = bind.execute(sa.text(
        "SELECT l.lot_id, e.body FROM lots l JOIN entries e ON e.event_id = l.pending_dispatch "
        "WHERE l.pending_dispatch IS NOT NULL")).all()
    for lot_id, body in in_transit:
        at = json.loads(bytes(body))["signed_event"]["event"]["at"]
        bind.execute(sa.text("UPDATE lots SET pending_at = :at WHERE lot_id = :lot"),
                     {"at": at, "lot": lot_id})
    rotations = bind.execute(sa.text(
        "SELECT appended_at, body FROM entries WHERE kind = 'key.rotated'")).all()
    for appended_at, body in rotations:
        old_key = json.loads(bytes(body))["signed_event"]["event"]["body"]["old_key"]
        until = _format(_instant(appended_at) + GRACE_OF_EARLIER_ROTATIONS)
        bind.execute(sa.text("UPDATE keys SET accept_until = :until WHERE key_id = :key"),
                     {"until": until, "key": old_key})
    with op.batch_alter_table("lots") as batch:
        batch.alter_column("head_hash", existing_type=sa.LargeBinary(32), nullable=False)


def downgrade() -> None:
    # Format 2 entries stay in the log (it is append-only); an older program would not
    # read them, so a downgrade is only for a ledger that has none.
    with op.batch_alter_table("lots") as batch:
        batch.drop_column("head_hash")
        batch.drop_column("pending_at")
    with op.batch_alter_table("keys") as batch:
        batch.drop_column("accept_until")
    with op.batch_alter_table("log_head") as batch:
        batch.drop_column("chained_from")
