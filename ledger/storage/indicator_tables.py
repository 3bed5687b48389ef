"""The indicator projection's tables (SQLAlchemy Core; created by migrations 0003 to 0005).

Derived from the log like the other projections: the replay's state per lot, the facts
it emitted (one row per contribution to an indicator, each with the filter dimensions),
the groups they are summed by, and how far into the log it has folded. Facts are
numbered in the order the replay emitted them (``id``): reports list groups and entries
in the order they first appear.

Quantities are stored as integers in millionths (:data:`QUANTITY_SCALE`, the most
decimals a quantity may have), with the exponent of the exact ``Decimal`` beside them, so
that SQL sums are exact integers on SQLite (which has no decimal type) as on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

from ledger.storage.tables import SEQ

metadata = MetaData()

QUANTITY_DECIMALS = 6  # ledger/domain/measures.py accepts at most 6 (a test checks it)
QUANTITY_SCALE = 10 ** QUANTITY_DECIMALS

# One row: the next log sequence number to fold in (every step below it is folded).
position = Table(
    "indicator_position", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("next_seq", BigInteger, nullable=False),
    Column("next_fact", BigInteger, nullable=False),  # the id the next fact gets
)

# The replay's state per lot (ledger/indicator_replay.py LotTrace), exact: Decimal text.
lot_traces = Table(
    "indicator_lots", metadata,
    Column("lot", String(20), primary_key=True),
    Column("product", String(64), nullable=False),
    Column("quantity", String(40), nullable=False),
    Column("unit", String(3), nullable=False),
    Column("season", String(7)),
    Column("community", Text),
    Column("harvested_product", String(64), nullable=False),
    Column("first_harvest", String(10), nullable=False),
    Column("sold", Boolean, nullable=False),
    Column("sales", Integer, nullable=False),
    Column("embedded", Text, nullable=False),  # JSON: currency -> Decimal text
    Column("pending", Text),  # JSON: the dispatch waiting for its receipt
)

# Which lots each actor's cooperative filter keeps (ledger/indicator_facts.py
# cooperative_lots), kept up to date as steps are folded so that a report reads them
# instead of walking the lot graph. ``up``: the actor handled (or was sent) this lot or
# one made from it, so every lot it came from is kept too; ``down``: the actor handled
# this lot or one it came from, so every lot made from it is kept too.
reach = Table(
    "indicator_reach", metadata,
    Column("actor", String(64), primary_key=True),
    Column("lot", String(20), primary_key=True),
    Column("up", Boolean, nullable=False),
    Column("down", Boolean, nullable=False),
    Index("ix_indicator_reach_lot", "lot"),
    sqlite_with_rowid=False,
)

# The groups that reports sum by, numbered: ``kind`` 0 = volumes (measure, "product
# (unit)"), 1 = sales (season, sale position, currency, received by a buyer); and values
# that repeat on list rows, read once: 2 = first sales (product, currency, reference
# minimum), 3 = yields (from, to, process, the catalogue's min and max as text). ``key``
# is that tuple as JSON.
VOLUME_GROUP, SALE_GROUP, FIRST_SALE_GROUP, YIELD_GROUP = 0, 1, 2, 3

# The roles a split may name (ledger/wire/events.py ROLES; a test keeps them in step):
# a sale's payments are one column per role, the sum of that role's shares, beside the
# place of its first share in the split (``id * SPLIT_PLACES + index``, for the order in
# which reports list roles). Splits have at most 20 shares.
ROLES = ("harvesters", "harvester", "community_fund", "community_association", "cooperative",
         "processor", "trader", "transport", "other")
SPLIT_PLACES = 32
groups = Table(
    "indicator_groups", metadata,
    Column("grp", Integer, primary_key=True, autoincrement=False),
    Column("kind", SmallInteger, nullable=False),
    Column("key", Text, nullable=False),
)


def _fact_table(name: str, *columns: Column[Any], grouped: bool = True) -> Table:
    """A fact table: its group and id, the step, the filter dimensions, its measures.

    A grouped table is stored in group order (on SQLite, a WITHOUT ROWID table keyed by
    group then id), so that SQL sums by group stream through it with no sort, on a full
    scan as through the community index (whose entries end with that key). SQLite has no
    hash aggregation: sorting a million facts by group would cost seconds. Only the
    community is indexed: a community is a small part of a ledger, while one season, a
    date range or a large cooperative's lots may be most of it, and walking an index row
    by row costs several times a scan (SQLite, without statistics, would take any index).
    """
    key = [Column("grp", Integer, primary_key=True, autoincrement=False)] if grouped else []
    return Table(
        name, metadata,
        *key,
        Column("id", BigInteger if grouped else SEQ, primary_key=True, autoincrement=False),
        Column("seq", BigInteger, nullable=False),
        Column("lot", String(20), nullable=False),
        Column("community", Text),
        Column("product", String(64), nullable=False),  # the product harvested
        Column("season", String(7)),
        Column("day", String(10), nullable=False),  # ISO date of the statement
        *columns,
        Index(f"ix_{name}_community", "community"),
        sqlite_with_rowid=not grouped,
    )


volumes = _fact_table(
    "indicator_volumes",
    Column("quantity", BigInteger, nullable=False),  # millionths
    Column("exponent", SmallInteger, nullable=False),  # of the exact Decimal
)

sales = _fact_table(
    "indicator_sales",
    Column("dispatch_seq", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    # The community amounts carried to the sale: millionths of a minor unit when that is
    # exact (nearly always), else the Decimal's text.
    Column("carried", BigInteger),
    Column("carried_text", Text),
    *(Column(f"paid_{role}", BigInteger, nullable=False) for role in ROLES),
    *(Column(f"place_{role}", BigInteger) for role in ROLES),
)

# Rows the report lists, in log order (rowid tables, by id).
first_sales = _fact_table(
    "indicator_first_sales",
    Column("dispatch_seq", BigInteger, nullable=False),
    Column("at", String(32), nullable=False),
    Column("grp", Integer, nullable=False),  # FIRST_SALE_GROUP
    Column("price_per_unit", BigInteger, nullable=False),  # hundredths (quantized so)
    Column("premium_per_unit", String(40)),  # text: keeps a -0.00
    Column("premium_total", BigInteger),
    grouped=False,
)

final_sales = _fact_table(
    "indicator_final_sales",
    Column("dispatch_seq", BigInteger, nullable=False),
    Column("key", Text, nullable=False),
    Column("sold", String(40), nullable=False),  # Decimal text
    Column("days", Integer, nullable=False),
    grouped=False,
)

people = _fact_table(
    "indicator_people",
    Column("household", Boolean, nullable=False),  # else a harvester
    Column("ref", Text, nullable=False),
    grouped=False,
)

yields = _fact_table(
    "indicator_yields",
    Column("grp", Integer, nullable=False),  # YIELD_GROUP
    Column("ratio", BigInteger),  # ten-thousandths (quantized so)
    grouped=False,
)

FACT_TABLES = (volumes, sales, first_sales, final_sales, people, yields)


# The last verdict on each sold lot's history (ledger/indicators.py verified_share), with
# the size of the signed checkpoint it was checked against: dashboards reuse it instead of
# re-checking every history behind the whole chain on each view.
lot_verdicts = Table(
    "indicator_verdicts", metadata,
    Column("lot", String(20), primary_key=True),
    Column("verdict", String(12), nullable=False),
    Column("checkpoint_size", BigInteger),
    Column("checked_at", String(32), nullable=False),  # ISO 8601 instant, UTC
)
