"""Configuration from environment variables and the instance folder.

Development (the default, ``trilha serve``) may run without secrets: a random session
key is made per process. Production (``TRILHA_ENV=production``) refuses to start
without ``TRILHA_SECRET_KEY`` and ``TRILHA_DATABASE_URL``.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from flask import Flask

from ledger.accounts import DEFAULT_LOG2_N, DEVELOPMENT_KEY_PASSPHRASE
from ledger.checkpointer import DEFAULT_INTERVAL_S
from ledger.errors import ConfigurationError

REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "DATABASE_URL", "KEY_PASSPHRASE")


def _seconds(variable: str, default: str) -> float:
    text = os.environ.get(variable, default)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ConfigurationError(f"{variable}: expected a number of seconds >= 0, "
                                 f"got {text!r}")
    return value


def _interval(variable: str, value: Any) -> float:
    """A checkpoint interval: a finite number of seconds > 0 (checked at start-up)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(value, bool) or not 0 < seconds < float("inf"):
        raise ConfigurationError(f"{variable}: expected a number of seconds > 0, "
                                 f"got {value!r:.40}; refusing to start")
    return seconds


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.from_mapping(
        ENV_NAME=os.environ.get("TRILHA_ENV", "development"),
        DATABASE_URL=os.environ.get("TRILHA_DATABASE_URL"),
        SECRET_KEY=os.environ.get("TRILHA_SECRET_KEY"),
        PUBLIC_BASE_URL=os.environ.get("TRILHA_PUBLIC_BASE_URL", "http://localhost:8000"),
        LOG_ORIGIN=os.environ.get("TRILHA_LOG_ORIGIN", "trilha.local/log"),
        OPERATOR_VKEY=os.environ.get("TRILHA_OPERATOR_VKEY"),
        # Seconds a dashboard view may spend checking histories not checked before.
        VERIFY_BUDGET_S=_seconds("TRILHA_VERIFY_BUDGET_S", "1.0"),
        # At most this long between a new entry and a signed checkpoint covering it.
        CHECKPOINT_INTERVAL_S=os.environ.get("TRILHA_CHECKPOINT_INTERVAL_S",
                                             str(DEFAULT_INTERVAL_S)),
        WITNESS_VKEYS=[v for v in os.environ.get("TRILHA_WITNESS_VKEYS", "").split(",") if v],
        # Opens the signing keys the server holds for workspace members (encrypted PKCS#8).
        KEY_PASSPHRASE=os.environ.get("TRILHA_KEY_PASSPHRASE"),
        PASSWORD_LOG2_N=int(os.environ.get("TRILHA_PASSWORD_LOG2_N", DEFAULT_LOG2_N)),
        LOGIN_RATE_LIMIT=os.environ.get("TRILHA_LOGIN_RATE_LIMIT", "10 per minute"),
        # memory:// counts per worker process; give every gunicorn worker one shared
        # store in production, e.g. redis://127.0.0.1:6379.
        RATELIMIT_STORAGE_URI=os.environ.get("TRILHA_RATELIMIT_STORAGE_URI", "memory://"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
    )
    if test_config is None:
        app.config.from_pyfile("trilha.cfg", silent=True)
    else:
        app.config.from_mapping(test_config)
    app.config["CHECKPOINT_INTERVAL_S"] = _interval("TRILHA_CHECKPOINT_INTERVAL_S",
                                                    app.config["CHECKPOINT_INTERVAL_S"])
    # A serving app (gunicorn's create_app(), trilha serve) signs checkpoints by itself;
    # an app given its config (tests, the benchmark) only when that config asks.
    app.config.setdefault("CHECKPOINTER", test_config is None)
    production = app.config["ENV_NAME"] == "production"
    app.config.setdefault("SESSION_COOKIE_SECURE", production)
    app.config["SESSION_COOKIE_SECURE"] = production or app.config.get(
        "SESSION_COOKIE_SECURE", False)
    if production:
        missing = [name for name in REQUIRED_IN_PRODUCTION if not app.config.get(name)]
        if missing:
            raise ConfigurationError(
                "production mode needs " + ", ".join(f"TRILHA_{name}" for name in missing)
                + " to be set; refusing to start")
    if not app.config.get("KEY_PASSPHRASE"):
        app.config["KEY_PASSPHRASE"] = DEVELOPMENT_KEY_PASSPHRASE
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    if not app.config.get("DATABASE_URL"):
        from cli.context import default_database_url

        app.config["DATABASE_URL"] = default_database_url()
