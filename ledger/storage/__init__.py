"""Storage: SQLAlchemy tables, append-only triggers and serialized appends.

SQLAlchemy is imported only under this package. The rest of the ledger sees the store
through :class:`ledger.storage.store.Store` and its append session.
"""
