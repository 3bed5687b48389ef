"""The cooperative workspace: login, the forms that record lots, labels, the member's view."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("workspace", __name__, template_folder="templates", url_prefix="/workspace")

from web.workspace import views  # noqa: E402,F401  (routes register on import)
