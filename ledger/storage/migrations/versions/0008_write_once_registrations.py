"""Write-once registrations: an actor and a product are registered once and never change
(``product_unique``, ``actor_unique``), so database triggers now refuse UPDATE and DELETE on
``actors`` and ``products`` (and TRUNCATE on PostgreSQL), as 0006 does for the lineage.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from ledger.storage.migrations.write_once import protect, unprotect

revision = "0008"
down_revision = "0007"

WRITE_ONCE = ("actors", "products")


def upgrade() -> None:
    protect(WRITE_ONCE)


def downgrade() -> None:
    unprotect(WRITE_ONCE)
