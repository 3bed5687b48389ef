"""Each actor's reach (the lots its cooperative filter keeps), kept by the fold instead of
walked per report from the lots it handled (ledger/storage/indicator_reach.py).

The reach of steps already folded is not derived here: the projection is emptied and
refolds from the log on its next read, as a new ledger's does.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

# The projection's derived tables (migration 0003's, but the one being swapped).
_DERIVED = ("indicator_volumes", "indicator_sales", "indicator_first_sales",
            "indicator_final_sales", "indicator_people", "indicator_yields",
            "indicator_groups", "indicator_lots")


def _refold_from_the_start() -> None:
    for name in _DERIVED:
        op.execute(f"DELETE FROM {name}")
    op.execute("UPDATE indicator_position SET next_seq = 0, next_fact = 0")


def upgrade() -> None:
    op.create_table(
        "indicator_reach",
        sa.Column("actor", sa.String(64), primary_key=True),
        sa.Column("lot", sa.String(20), primary_key=True),
        sa.Column("up", sa.Boolean, nullable=False),
        sa.Column("down", sa.Boolean, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_indicator_reach_lot", "indicator_reach", ["lot"])
    op.drop_table("indicator_actor_lots")
    _refold_from_the_start()


def downgrade() -> None:
    op.create_table(
        "indicator_actor_lots",
        sa.Column("actor", sa.String(64), primary_key=True),
        sa.Column("lot", sa.String(20), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.drop_table("indicator_reach")
    _refold_from_the_start()
