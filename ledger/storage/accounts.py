"""Rows of the accounts and api_tokens tables (SQL only; the rules live in ledger.accounts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from ledger.errors import Conflict
from ledger.storage import tables as t


@dataclass(frozen=True, slots=True)
class AccountRow:
    account_id: int
    username: str
    display_name: str
    role: str
    actor_id: str | None
    password_hash: str
    key_pem: bytes | None
    created_at: str
    disabled: bool


def _row(row: Any) -> AccountRow:
    return AccountRow(int(row.account_id), row.username, row.display_name, row.role,
                      row.actor_id, row.password_hash,
                      bytes(row.key_pem) if row.key_pem is not None else None,
                      row.created_at, bool(row.disabled))


class AccountStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(self, *, username: str, display_name: str, role: str, actor_id: str | None,
               password_hash: str, key_pem: bytes | None, created_at: str) -> AccountRow:
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(t.accounts).values(
                    username=username, display_name=display_name, role=role,
                    actor_id=actor_id, password_hash=password_hash, key_pem=key_pem,
                    created_at=created_at, disabled=False))
        except IntegrityError as exc:
            raise Conflict(f"username: {username!r} is already taken") from exc
        found = self.by_username(username)
        assert found is not None
        return found

    def by_username(self, username: str) -> AccountRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(t.accounts).where(t.accounts.c.username == username)).first()
        return _row(row) if row is not None else None

    def by_id(self, account_id: int) -> AccountRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(t.accounts).where(t.accounts.c.account_id == account_id)).first()
        return _row(row) if row is not None else None

    def all(self) -> list[AccountRow]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(t.accounts).order_by(t.accounts.c.username)).all()
        return [_row(r) for r in rows]

    def set_fields(self, account_id: int, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(t.accounts)
                               .where(t.accounts.c.account_id == account_id).values(**values))

    def insert_token(self, account_id: int, token_hash: str, label: str,
                     created_at: str) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(insert(t.api_tokens).values(
                account_id=account_id, token_hash=token_hash, label=label,
                created_at=created_at))
            key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def account_for_token(self, token_hash: str) -> AccountRow | None:
        query = (select(t.accounts).join(t.api_tokens,
                                         t.api_tokens.c.account_id == t.accounts.c.account_id)
                 .where(t.api_tokens.c.token_hash == token_hash,
                        t.api_tokens.c.revoked_at.is_(None)))
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return _row(row) if row is not None else None

    def revoke_token(self, token_hash: str, at: str) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(
                update(t.api_tokens).where(t.api_tokens.c.token_hash == token_hash,
                                           t.api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=at))
        return bool(result.rowcount)
