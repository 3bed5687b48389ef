"""The database schema (SQLAlchemy Core). Migrations live in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

metadata = MetaData()

# On SQLite, an INTEGER PRIMARY KEY is the table's rowid: the log's sequence number then
# costs no separate index (BIGINT would add one). PostgreSQL keeps a 64-bit bigint.
SEQ = BigInteger().with_variant(Integer(), "sqlite")

# The log itself. Append-only: database triggers refuse UPDATE and DELETE.
entries = Table(
    "entries", metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=False),
    Column("entry_hash", LargeBinary(32), nullable=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("kind", String(32), nullable=False, index=True),
    Column("actor_id", String(64), nullable=False),
    Column("appended_at", String(32), nullable=False),
    Column("body", LargeBinary, nullable=False),  # the canonical entry bytes
)

# Complete-subtree nodes of the Merkle tree (level 0 = leaf hashes). Append-only.
merkle_nodes = Table(
    "merkle_nodes", metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,  # the key is the row: one b-tree, not two
)

# One row: the log's size and last entry hash. Locking it serializes appends.
log_head = Table(
    "log_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("head_hash", LargeBinary(32), nullable=False),
    Column("chained_from", BigInteger),  # seq of the first format 2 entry (lot_prev)
)

checkpoints = Table(
    "checkpoints", metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("signed_at", String(32), nullable=False),
)

# Witnesses' cosignatures of checkpoints (C2SP tlog-cosignature lines), one per witness.
cosignatures = Table(
    "cosignatures", metadata,
    Column("checkpoint_size", BigInteger, primary_key=True, autoincrement=False),
    Column("witness", String(200), primary_key=True),
    Column("line", Text, nullable=False),
    Column("received_at", String(32), nullable=False),
)

# Projections: derived from the log, rebuilt by replaying it; they answer queries fast.
actors = Table(
    "actors", metadata,
    Column("actor_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("gln", String(13)),
    Column("seq", BigInteger, nullable=False),
)

keys = Table(
    "keys", metadata,
    Column("key_id", String(16), primary_key=True),
    Column("actor_id", String(64), nullable=False, index=True),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("not_before", String(32), nullable=False),
    Column("not_after", String(32)),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("accept_until", String(32)),
)

products = Table(
    "products", metadata,
    Column("code", String(64), primary_key=True),
    Column("body", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
)

lots = Table(
    "lots", metadata,
    Column("lot_id", String(20), primary_key=True),
    Column("product", String(64), nullable=False, index=True),
    Column("quantity", String(24), nullable=False),
    Column("unit", String(3), nullable=False),
    Column("custodian", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("season", String(7), index=True),
    Column("community", Text),
    Column("pending_to", String(64), index=True),
    Column("pending_dispatch", String(36)),
    Column("pending_valuation", Text),
    Column("pending_at", String(32)),
    Column("created_seq", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),  # the newest entry touching the lot
    Column("head_hash", LargeBinary(32), nullable=False),  # and its hash (lot_prev)
)

lot_links = Table(
    "lot_links", metadata,
    Column("parent", String(20), primary_key=True),
    Column("child", String(20), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Index("ix_lot_links_child", "child", "parent"),
)

lot_events = Table(
    "lot_events", metadata,
    Column("lot_id", String(20), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

# Each entry as a ready timeline step (JSON), written at append time: provenance reads it.
entry_steps = Table(
    "entry_steps", metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=False),
    Column("step", Text, nullable=False),
)

APPEND_ONLY_TABLES = ("entries", "merkle_nodes", "checkpoints", "lot_links", "lot_events",
                      "entry_steps", "actors", "products")  # 0001, 0006 and 0008


# Accounts of the workspace and the API. Not part of the log and not derived from it:
# mutable operational data (a password changes, a token is revoked).
accounts = Table(
    "accounts", metadata,
    Column("account_id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("actor_id", String(64)),  # the ledger actor this account acts for
    Column("password_hash", Text, nullable=False),
    Column("key_pem", LargeBinary),  # the actor's signing key, encrypted PKCS#8
    Column("created_at", String(32), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("token_id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.account_id"), nullable=False,
           index=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the token
    Column("label", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
)
