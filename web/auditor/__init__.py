"""The auditor console: ledger status, verification runs, checkpoints, exports."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("auditor", __name__, template_folder="templates", url_prefix="/auditor")

from web.auditor import views  # noqa: E402,F401  (routes register on import)
