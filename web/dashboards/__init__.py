"""Public dashboards of the shared-measurement indicators (aggregates, no personal data)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboards", __name__, template_folder="templates", url_prefix="/dashboards")

from web.dashboards import views  # noqa: E402,F401  (routes register on import)
