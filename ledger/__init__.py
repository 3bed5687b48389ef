"""Trilha: an append-only, hash-chained custody ledger for non-timber forest products."""
