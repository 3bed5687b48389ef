"""The auditor blueprint."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("auditor", __name__, template_folder="templates", url_prefix="/auditor")
