"""Writes that wait for their checkpoint.

``POST /events?wait=checkpoint`` (and ``/operations/<kind>``) answers once a signed
checkpoint covers the new entry, with that checkpoint and the entry's inclusion proof in
it, as Rekor v2 does; after ``wait_s`` seconds (default 20, at most 60) it answers the
same success with ``"in_checkpoint": false``: the entry is appended either way.
"""

from __future__ import annotations

import re
import time
from typing import Any

from flask import request

from ledger.errors import ValidationError
from web.services import get_ledger

DEFAULT_WAIT_S = 20.0  # below gunicorn's default 30 s worker timeout
MAX_WAIT_S = 60.0
POLL_S = 0.1  # one indexed read of the latest checkpoint
_SECONDS = re.compile(r"[0-9]{1,2}(\.[0-9]{1,3})?")


def requested_wait() -> float | None:
    """Seconds the request asks to wait for a checkpoint, or None; checked before the
    append, so a bad parameter appends nothing."""
    wait, wait_s = request.args.get("wait"), request.args.get("wait_s")
    if wait is None:
        if wait_s is not None:
            raise ValidationError("wait_s: only with wait=checkpoint", field="wait_s")
        return None
    if wait != "checkpoint":
        raise ValidationError(f"wait: expected 'checkpoint', got {wait!r:.40}", field="wait")
    if wait_s is None:
        return DEFAULT_WAIT_S
    if not _SECONDS.fullmatch(wait_s) or not 0 < float(wait_s) <= MAX_WAIT_S:
        raise ValidationError(f"wait_s: expected seconds above 0 and at most {MAX_WAIT_S:g}, "
                              f"got {wait_s!r:.20}", field="wait_s")
    return float(wait_s)


def with_checkpoint(answer: dict[str, Any], seq: int, wait_s: float | None) -> dict[str, Any]:
    """``answer`` as is without a wait; else once a checkpoint covers entry ``seq`` (or
    ``wait_s`` has passed), with the checkpoint and the entry's inclusion proof."""
    if wait_s is None:
        return answer
    ledger = get_ledger()
    deadline = time.monotonic() + wait_s
    while True:
        latest = ledger.latest_checkpoint()
        if latest is not None and latest.size > seq:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            return {**answer, "in_checkpoint": False, "checkpoint_size": None}
        time.sleep(min(POLL_S, left))
    proof = ledger.inclusion_proof(seq, latest.size)
    return {**answer, "in_checkpoint": True, "checkpoint_size": latest.size,
            "checkpoint": latest.note,
            "inclusion_proof": {"leaf_index": seq, "tree_size": latest.size,
                                "root_hash": proof.root_hash.hex(),
                                "hashes": [h.hex() for h in proof.path]}}
