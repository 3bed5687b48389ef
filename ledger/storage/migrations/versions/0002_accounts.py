"""Accounts and API tokens of the workspace and the API.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(64)),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("key_pem", sa.LargeBinary),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.account_id"),
                  nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32)),
    )

    # The workspace's "recent activity" of one actor.
    op.create_index("ix_entries_actor_seq", "entries", ["actor_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_entries_actor_seq", "entries")
    op.drop_table("api_tokens")
    op.drop_table("accounts")
