"""One Ledger per application (per process), opened lazily on first use."""

from __future__ import annotations

from flask import Flask, current_app

from ledger.service import Ledger

EXTENSION = "trilha_ledger"


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = None

    @app.teardown_appcontext
    def _noop(_exc: BaseException | None) -> None:
        return None


def get_ledger() -> Ledger:
    ledger: Ledger | None = current_app.extensions.get(EXTENSION)
    if ledger is None:
        from cli.context import ensure_sqlite_parent

        url = current_app.config["DATABASE_URL"]
        ensure_sqlite_parent(url)
        ledger = Ledger.open(url, origin=current_app.config["LOG_ORIGIN"])
        current_app.extensions[EXTENSION] = ledger
    return ledger
