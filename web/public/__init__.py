"""Public pages: the lot provenance page a QR label opens, in the visitor's language."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public", __name__, template_folder="templates")

from web.public import views  # noqa: E402,F401  (routes register on import)
