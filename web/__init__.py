"""The Flask application: an adapter over :class:`ledger.service.Ledger`.

``create_app(test_config=None)`` builds a fresh app (never at import time). Blueprints:
``public`` (the QR provenance pages), ``workspace`` (cooperatives, login), ``auditor``
(console), ``dashboards`` (indicators) and ``api`` (JSON, under /api/v1). A serving app
signs its own checkpoints (web/checkpointing.py).
"""

from __future__ import annotations

import importlib
from typing import Any

from flask import Flask

from web.config import load_config
from web.i18n import init_i18n
from web.security import init_security

BLUEPRINT_MODULES = ("web.public", "web.workspace", "web.auditor", "web.dashboards", "web.api")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    load_config(app, test_config)
    init_i18n(app)
    init_security(app)
    from web import auth, errors, services
    from web.checkpointing import init_checkpointer

    services.init_app(app)
    init_checkpointer(app)
    errors.init_app(app)
    auth.init_auth(app)
    for name in BLUEPRINT_MODULES:
        module = importlib.import_module(name)
        app.register_blueprint(module.bp)
    auth.finish_auth(app)
    return app
