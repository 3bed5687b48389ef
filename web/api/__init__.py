"""JSON API under /api/v1: what ``trilha sync``, witnesses and other systems call."""

from __future__ import annotations

from flask import Blueprint

from ledger.checkpointer import AwaitingCheckpoint
from web.checkpointing import awaiting_response

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from web.api import routes  # noqa: E402,F401  (routes register on import)

# A lot whose newest entries no checkpoint covers yet: 409 with a Retry-After.
bp.register_error_handler(AwaitingCheckpoint, awaiting_response)
