"""JSON API under /api/v1: what ``trilha sync``, witnesses and other systems call."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from web.api import routes  # noqa: E402,F401  (routes register on import)
