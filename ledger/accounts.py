"""Who may use the workspace and the API, and with which signing key.

Accounts are operational data, not ledger history: a password changes, a token is
revoked. What an account may do is decided here, once, by its role (web pages and API
routes both ask :func:`allowed`). Passwords are hashed with scrypt (memory-hard; 32 MiB
per hash at the default cost). A member's signing key is held by the server as
passphrase-encrypted PKCS#8 and opened only to sign.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ledger.domain.keys import Signer
from ledger.errors import Conflict, NotFound, ValidationError
from ledger.keystore import encrypt_private_key, load_private_key
from ledger.service import Ledger
from ledger.storage.accounts import AccountRow, AccountStore
from ledger.wire.fields import format_instant


class Role(StrEnum):
    OPERATOR = "operator"
    MEMBER = "member"  # a cooperative or community member recording its lots
    TRADER = "trader"  # processor or trader: takes custody, processes, sells on
    BUYER = "buyer"
    AUDITOR = "auditor"  # read-only


RECORD_KINDS = ("harvest", "dispatch", "receive", "refuse", "split", "merge", "transform",
                "adjust")

# The authorization matrix, in one place. Actions named "record:<kind>" sign an event of
# that kind with the account's server-held key.
PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.OPERATOR: frozenset({"workspace", "audit", "submit_signed", "sign_checkpoint",
                              "manage_accounts", "read_private"}),
    Role.MEMBER: frozenset({"workspace", "submit_signed", "labels", "read_private",
                            *(f"record:{kind}" for kind in RECORD_KINDS)}),
    Role.TRADER: frozenset({"workspace", "submit_signed", "labels", "read_private",
                            *(f"record:{kind}" for kind in RECORD_KINDS if kind != "harvest")}),
    Role.BUYER: frozenset({"workspace", "submit_signed", "read_private", "record:receive",
                           "record:refuse"}),
    Role.AUDITOR: frozenset({"audit", "read_private"}),
}

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 10
DEFAULT_LOG2_N = 15  # scrypt N = 32768, r = 8: 32 MiB and ~0.1 s per hash
TOKEN_PREFIX = "trl_"
# Development and the demo only: production refuses to start without its own passphrase.
DEVELOPMENT_KEY_PASSPHRASE = "trilha-development-only"


def allowed(role: Role | str, action: str) -> bool:
    return action in PERMISSIONS.get(Role(role), frozenset())


@dataclass(frozen=True, slots=True)
class Account:
    account_id: int
    username: str
    display_name: str
    role: Role
    actor_id: str | None
    has_key: bool

    def can(self, action: str) -> bool:
        return allowed(self.role, action)


def _account(row: AccountRow) -> Account:
    return Account(row.account_id, row.username, row.display_name, Role(row.role),
                   row.actor_id, row.key_pem is not None)


def hash_password(password: str, *, log2_n: int = DEFAULT_LOG2_N) -> str:
    salt = secrets.token_bytes(16)
    digest = Scrypt(salt=salt, length=32, n=2 ** log2_n, r=8, p=1).derive(password.encode())
    return "$".join(("scrypt", str(log2_n), "8", "1", base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()))


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        kdf = Scrypt(salt=base64.b64decode(salt), length=32, n=2 ** int(log2_n), r=int(r),
                     p=int(p))
        kdf.verify(password.encode(), base64.b64decode(digest))
    except (ValueError, InvalidKey):
        return False
    return True


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Accounts of one ledger's database; signing keys opened with ``key_passphrase``."""

    def __init__(self, ledger: Ledger, key_passphrase: bytes, *,
                 log2_n: int = DEFAULT_LOG2_N) -> None:
        self.ledger = ledger
        self.rows = AccountStore(ledger.store.engine)
        self.key_passphrase = key_passphrase
        self.log2_n = log2_n
        # Checked against when the username is unknown, so both failures cost the same.
        self._decoy = hash_password(secrets.token_hex(8), log2_n=log2_n)

    def create(self, username: str, password: str, role: Role | str, *,
               display_name: str | None = None, actor_id: str | None = None,
               private_key: Ed25519PrivateKey | None = None) -> Account:
        if not USERNAME.fullmatch(username):  # match() lets a trailing newline through
            raise ValidationError("username: expected 3-64 of a-z, 0-9, '.', '_' or '-', "
                                  f"starting with a letter or digit, got {username!r:.70}",
                                  field="username")
        password_hash = self._hash_new_password(password)
        try:
            role = Role(role)
        except ValueError as exc:
            raise ValidationError(f"role: expected one of {', '.join(Role)}, got {role!r}",
                                  field="role") from exc
        if actor_id is not None:
            if self.ledger.store.actor(actor_id) is None:
                raise NotFound(f"actor: no actor {actor_id!r} in the ledger", field="actor")
        elif role not in (Role.AUDITOR, Role.OPERATOR):
            raise ValidationError(f"actor: a {role} account acts for a ledger actor",
                                  field="actor")
        key_pem = None if private_key is None else self._sealed_key(actor_id, private_key)
        row = self.rows.insert(username=username, display_name=display_name or username,
                               role=role.value, actor_id=actor_id, password_hash=password_hash,
                               key_pem=key_pem, created_at=format_instant(self.ledger.clock()))
        return _account(row)

    def _hash_new_password(self, password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise ValidationError(f"password: expected at least {MIN_PASSWORD} characters",
                                  field="password")
        return hash_password(password, log2_n=self.log2_n)

    def _sealed_key(self, actor_id: str | None, private_key: Ed25519PrivateKey) -> bytes:
        """The key encrypted for storage, once it is known to be a current key of the actor."""
        if actor_id is None:
            raise ValidationError("actor: a signing key belongs to an actor", field="actor")
        signer = Signer(private_key)
        current = {k.key_id for k in self.ledger.store.keys_of(actor_id)
                   if not k.revoked and k.not_after is None}
        if signer.key_id not in current:
            raise ValidationError(f"key: {signer.key_id} is not a current key of actor "
                                  f"{actor_id}", field="key")
        return encrypt_private_key(private_key, self.key_passphrase)

    def set_key(self, username: str, private_key: Ed25519PrivateKey) -> None:
        row = self._row(username)
        self.rows.set_fields(row.account_id, key_pem=self._sealed_key(row.actor_id, private_key))

    def set_password(self, username: str, password: str) -> None:
        password_hash = self._hash_new_password(password)
        self.rows.set_fields(self._row(username).account_id, password_hash=password_hash)

    def _row(self, username: str) -> AccountRow:
        row = self.rows.by_username(username)
        if row is None:
            raise NotFound(f"username: no account {username!r}")
        return row

    def get(self, account_id: int) -> Account | None:
        row = self.rows.by_id(account_id)
        return _account(row) if row is not None and not row.disabled else None

    def by_username(self, username: str) -> Account:
        return _account(self._row(username))

    def all(self) -> list[Account]:
        return [_account(r) for r in self.rows.all()]

    def authenticate(self, username: str, password: str) -> Account | None:
        # Only a name an account can have is looked up (PostgreSQL refuses a NUL in text).
        row = self.rows.by_username(username) if USERNAME.fullmatch(username) else None
        if row is None or row.disabled:
            check_password(password, self._decoy)
            return None
        return _account(row) if check_password(password, row.password_hash) else None

    def issue_token(self, account: Account, label: str) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.rows.insert_token(account.account_id, token_digest(token), label[:200],
                               format_instant(self.ledger.clock()))
        return token

    def for_token(self, token: str) -> Account | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        row = self.rows.account_for_token(token_digest(token))
        return _account(row) if row is not None and not row.disabled else None

    def revoke_token(self, token: str) -> bool:
        return self.rows.revoke_token(token_digest(token), format_instant(self.ledger.clock()))

    def signer(self, account: Account) -> Signer:
        """The account's signing key, opened for one signature."""
        row = self.rows.by_id(account.account_id)
        if row is None or row.key_pem is None:
            raise Conflict(f"key: account {account.username} has no signing key on this "
                           "server; sign offline and submit the event", field="key")
        return Signer(load_private_key(row.key_pem, self.key_passphrase))
