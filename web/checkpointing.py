"""The server signs its own checkpoints: one checkpointer thread per serving process.

``trilha serve`` starts it with the app; under gunicorn each worker starts its own on its
first request (threads do not survive gunicorn's fork, and a ledger opened before the
fork must not be shared), and the signer lock lets only one of them sign at a time. An app
given its config (``create_app(mapping)``: tests, the benchmark) runs none unless that
config sets ``CHECKPOINTER``.

The key: the one ``trilha serve`` passes in (``CHECKPOINT_KEY``, from the keyring), else
the server-held key of an operator account (opened with ``KEY_PASSPHRASE``). Either must
be the key pages check (``OPERATOR_VKEY``) or, without one configured, a current key of
the ledger's operator: a checkpoint signed by any other key would be kept for ever.
"""

from __future__ import annotations

import math
import threading

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, Response, current_app, jsonify

from ledger.accounts import Role
from ledger.checkpointer import AwaitingCheckpoint, Checkpointer, is_operator_key
from ledger.domain.note import NoteSigner
from ledger.errors import LedgerError
from ledger.service import Ledger

EXTENSION = "trilha_checkpointer"
_STARTING = threading.Lock()


def init_checkpointer(app: Flask) -> None:
    """Start this process's checkpointer on its first request (if the config wants one)."""
    app.extensions[EXTENSION] = None
    if not app.config.get("CHECKPOINTER"):
        return

    @app.before_request
    def _ensure_checkpointer() -> None:
        running = app.extensions.get(EXTENSION)
        if running is None or not running.alive:
            start_checkpointer(app)


def start_checkpointer(app: Flask) -> Checkpointer:
    """This process's checkpointer, started now if it is not running."""
    from web.services import get_ledger

    with _STARTING:
        running: Checkpointer | None = app.extensions.get(EXTENSION)
        if running is not None and running.alive:
            return running
        with app.app_context():
            ledger = get_ledger()
        checkpointer = Checkpointer(
            ledger, lambda: find_signer(app, ledger),
            interval_s=float(app.config["CHECKPOINT_INTERVAL_S"]), log=app.logger,
            still_valid=lambda signer: is_operator_key(ledger, signer,
                                                       app.config.get("OPERATOR_VKEY")))
        app.extensions[EXTENSION] = checkpointer.start()
        return checkpointer


def stop_checkpointer(app: Flask) -> None:
    running: Checkpointer | None = app.extensions.get(EXTENSION)
    if running is not None:
        running.stop()


def find_signer(app: Flask, ledger: Ledger) -> NoteSigner | None:
    """The operator's note signer this server may use, or None."""
    from web.auth import get_accounts

    candidates: list[Ed25519PrivateKey] = []
    given = app.config.get("CHECKPOINT_KEY")
    if isinstance(given, Ed25519PrivateKey):
        candidates.append(given)
    with app.app_context():
        accounts = get_accounts()
        for account in accounts.all():
            if account.role is Role.OPERATOR and account.has_key:
                try:
                    candidates.append(accounts.signer(account).private_key)
                except LedgerError as exc:  # a key sealed with another passphrase
                    app.logger.warning("checkpointer: account %s: %s", account.username,
                                       exc.message)
    vkey = app.config.get("OPERATOR_VKEY")
    for key in candidates:
        signer = NoteSigner(ledger.origin, key)
        if is_operator_key(ledger, signer, vkey):
            return signer
    return None


def retry_after_s() -> int:
    """When a lot waiting for its checkpoint is worth asking for again."""
    return max(1, min(60, math.ceil(float(current_app.config["CHECKPOINT_INTERVAL_S"]))))


def awaiting_response(error: AwaitingCheckpoint) -> tuple[Response, int]:
    """409 with the error's JSON and a Retry-After: not a failure, the next checkpoint
    will cover the lot."""
    response = jsonify(error.as_dict())
    response.headers["Retry-After"] = str(retry_after_s())
    return response, 409
