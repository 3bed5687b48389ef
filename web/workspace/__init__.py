"""The workspace blueprint."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("workspace", __name__, template_folder="templates", url_prefix="/workspace")
