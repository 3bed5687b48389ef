"""The last verdict on each sold lot's history, so that dashboards need not re-check a
whole ledger on every view (ledger/indicators.py verified_share).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "indicator_verdicts",
        sa.Column("lot", sa.String(20), primary_key=True),
        sa.Column("verdict", sa.String(12), nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger),
        sa.Column("checked_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("indicator_verdicts")
