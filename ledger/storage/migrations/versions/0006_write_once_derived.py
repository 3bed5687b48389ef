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

from ledger.storage.migrations.write_once import protect, unprotect

revision = "0006"
down_revision = "0005"

WRITE_ONCE = ("lot_links", "lot_events", "entry_steps")


def upgrade() -> None:
    protect(WRITE_ONCE)


def downgrade() -> None:
    unprotect(WRITE_ONCE)
