"""The dashboards blueprint."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboards", __name__, template_folder="templates", url_prefix="/dashboards")
