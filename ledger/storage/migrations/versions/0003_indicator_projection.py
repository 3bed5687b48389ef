"""The indicator projection: replay state per lot, indicator facts, and its position.

Derived from the log (docs/INDICATORS.md): created empty, it is built by the first report
that reads it, which folds in every step so far.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

ROLES = ("harvesters", "harvester", "community_fund", "community_association", "cooperative",
         "processor", "trader", "transport", "other")
FACT_TABLES = ("indicator_volumes", "indicator_sales",
               "indicator_first_sales", "indicator_final_sales", "indicator_people",
               "indicator_yields")


def _fact_table(name: str, *columns: sa.Column[Any], grouped: bool = True) -> None:
    # Grouped tables are stored in group order (WITHOUT ROWID on SQLite): see
    # ledger/storage/indicator_tables.py.
    key = [sa.Column("grp", sa.Integer, primary_key=True, autoincrement=False)] \
        if grouped else []
    op.create_table(
        name,
        *key,
        sa.Column("id", sa.BigInteger if grouped
                  else sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("lot", sa.String(20), nullable=False),
        sa.Column("community", sa.Text),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("season", sa.String(7)),
        sa.Column("day", sa.String(10), nullable=False),
        *columns,
        sqlite_with_rowid=not grouped,
    )
    op.create_index(f"ix_{name}_community", name, ["community"])


def upgrade() -> None:
    op.create_table(
        "indicator_position",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("next_seq", sa.BigInteger, nullable=False),
        sa.Column("next_fact", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO indicator_position (id, next_seq, next_fact) VALUES (1, 0, 0)")
    op.create_table(
        "indicator_lots",
        sa.Column("lot", sa.String(20), primary_key=True),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("quantity", sa.String(40), nullable=False),
        sa.Column("unit", sa.String(3), nullable=False),
        sa.Column("season", sa.String(7)),
        sa.Column("community", sa.Text),
        sa.Column("harvested_product", sa.String(64), nullable=False),
        sa.Column("first_harvest", sa.String(10), nullable=False),
        sa.Column("sold", sa.Boolean, nullable=False),
        sa.Column("sales", sa.Integer, nullable=False),
        sa.Column("embedded", sa.Text, nullable=False),
        sa.Column("pending", sa.Text),
    )
    op.create_table(
        "indicator_actor_lots",
        sa.Column("actor", sa.String(64), primary_key=True),
        sa.Column("lot", sa.String(20), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "indicator_groups",
        sa.Column("grp", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
    )
    _fact_table("indicator_volumes",
                sa.Column("quantity", sa.BigInteger, nullable=False),
                sa.Column("exponent", sa.SmallInteger, nullable=False))
    _fact_table("indicator_sales",
                sa.Column("dispatch_seq", sa.BigInteger, nullable=False),
                sa.Column("price", sa.BigInteger, nullable=False),
                sa.Column("carried", sa.BigInteger),
                sa.Column("carried_text", sa.Text),
                *(sa.Column(f"paid_{role}", sa.BigInteger, nullable=False) for role in ROLES),
                *(sa.Column(f"place_{role}", sa.BigInteger) for role in ROLES))
    _fact_table("indicator_first_sales",
                sa.Column("dispatch_seq", sa.BigInteger, nullable=False),
                sa.Column("at", sa.String(32), nullable=False),
                sa.Column("grp", sa.Integer, nullable=False),
                sa.Column("price_per_unit", sa.BigInteger, nullable=False),
                sa.Column("premium_per_unit", sa.String(40)),
                sa.Column("premium_total", sa.BigInteger), grouped=False)
    _fact_table("indicator_final_sales",
                sa.Column("dispatch_seq", sa.BigInteger, nullable=False),
                sa.Column("key", sa.Text, nullable=False),
                sa.Column("sold", sa.String(40), nullable=False),
                sa.Column("days", sa.Integer, nullable=False), grouped=False)
    _fact_table("indicator_people",
                sa.Column("household", sa.Boolean, nullable=False),
                sa.Column("ref", sa.Text, nullable=False), grouped=False)
    _fact_table("indicator_yields",
                sa.Column("grp", sa.Integer, nullable=False),
                sa.Column("ratio", sa.BigInteger), grouped=False)


def downgrade() -> None:
    for name in (*FACT_TABLES, "indicator_groups", "indicator_actor_lots", "indicator_lots",
                 "indicator_position"):
        op.drop_table(name)
