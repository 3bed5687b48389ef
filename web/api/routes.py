"""API routes. Shapes come from the core's schemas; errors are mapped once in web/errors.py."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request

from ledger.domain.encoding import digests_equal
from ledger.errors import ConfigurationError, Conflict, NotFound, ReplayError, ValidationError
from ledger.provenance_view import provenance_json
from ledger.wire.events import load_signed_event
from web.api import bp
from web.services import get_ledger


def _int_arg(name: str, default: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        if default is None:
            raise ValidationError(f"{name}: required query parameter", field=name)
        return default
    if not raw.isdigit() or len(raw) > 15:
        raise ValidationError(f"{name}: expected a non-negative integer, got {raw!r:.20}",
                              field=name)
    return int(raw)


@bp.get("/openapi.json")
def openapi() -> Response:
    from importlib.metadata import version

    from web.api.openapi import build_openapi

    return jsonify(build_openapi(version("trilha")))


@bp.post("/events")
def submit_event() -> tuple[Response, int]:
    """A signed event from a client (the CLI outbox). Repeating one is harmless."""
    document = request.get_json(silent=True)
    if not isinstance(document, dict):
        raise ValidationError("body: expected a JSON object {event, signatures}",
                              field="body")
    ledger = get_ledger()
    signed = load_signed_event(document)
    try:
        entry = ledger.append(signed)
    except ReplayError:
        stored = ledger.store.entry_by_event(signed.event.id)
        if stored is not None:
            existing = ledger.entry(stored.seq)
            if digests_equal(existing.signed.digest, signed.digest):
                return jsonify(_entry_json(stored.seq, existing.hash)), 200
        raise
    return jsonify(_entry_json(entry.seq, entry.hash)), 201


def _entry_json(seq: int, entry_hash: bytes) -> dict[str, Any]:
    return {"seq": seq, "entry_hash": entry_hash.hex()}


@bp.get("/lots/<path:lot_id>/provenance")
def lot_provenance(lot_id: str) -> Response:
    return jsonify(provenance_json(get_ledger().provenance(lot_id, with_entries=False)))


@bp.get("/lots/<path:lot_id>/bundle")
def lot_bundle(lot_id: str) -> Response:
    """The lot's proof bundle (docs/FORMAT.md section 8), to verify offline."""
    from ledger.bundle import build_bundle

    try:
        return jsonify(build_bundle(get_ledger(), lot_id))
    except ConfigurationError as exc:  # history newer than the last signed checkpoint
        raise Conflict(exc.message, lot=lot_id) from exc


@bp.get("/lots/<path:lot_id>")
def lot(lot_id: str) -> Response:
    record = get_ledger().lot(lot_id)
    return jsonify({"lot": record.lot_id, "product": record.product,
                    "quantity": format(record.quantity, "f"), "unit": record.unit,
                    "custodian": record.custodian, "status": record.status.value})


@bp.get("/entries/<int:seq>")
def entry(seq: int) -> Response:
    stored = get_ledger().store.entry(seq)
    return current_app.response_class(stored.body, mimetype="application/json")


@bp.get("/checkpoint")
def checkpoint() -> Response:
    latest = get_ledger().latest_checkpoint()
    if latest is None:
        raise NotFound("no checkpoint has been signed yet")
    return current_app.response_class(latest.note, mimetype="text/plain; charset=utf-8")


@bp.get("/proofs/inclusion")
def inclusion() -> Response:
    proof = get_ledger().inclusion_proof(_int_arg("seq"), request.args.get("size", type=int))
    return jsonify({"seq": proof.seq, "tree_size": proof.tree_size,
                    "leaf_hash": proof.leaf_hash.hex(), "path": [h.hex() for h in proof.path],
                    "root_hash": proof.root_hash.hex()})


@bp.get("/proofs/consistency")
def consistency() -> Response:
    ledger = get_ledger()
    old, new = _int_arg("old"), _int_arg("new", ledger.size())
    path = ledger.consistency_proof(old, new)
    return jsonify({"old_size": old, "new_size": new, "path": [h.hex() for h in path]})


@bp.get("/checkpoints/<int:size>")
def checkpoint_of_size(size: int) -> Response:
    stored = get_ledger().store.checkpoint(size)
    if stored is None:
        raise NotFound(f"no checkpoint of size {size}")
    return current_app.response_class(stored.note, mimetype="text/plain; charset=utf-8")


@bp.post("/checkpoints/<int:size>/cosignatures")
def add_cosignature(size: int) -> tuple[Response, int]:
    """A witness posts its cosignature line; it must verify under a configured witness key."""
    from ledger.domain.note import verify_cosignature
    from ledger.wire.fields import format_instant

    ledger = get_ledger()
    stored = ledger.store.checkpoint(size)
    if stored is None:
        raise NotFound(f"no checkpoint of size {size}")
    line = request.get_data(as_text=True)
    body = stored.note[:stored.note.index("\n\n") + 1]
    for vkey in current_app.config.get("WITNESS_VKEYS") or []:
        name = vkey.split("+", 1)[0]
        if line.startswith(f"\u2014 {name} "):
            verify_cosignature(line, body, vkey)
            ledger.store.add_cosignature(size, name, line.rstrip("\n") + "\n",
                                         format_instant(ledger.clock()))
            return jsonify({"checkpoint_size": size, "witness": name}), 201
    raise ValidationError("cosignature: expected a line by a configured witness",
                          field="cosignature")


@bp.get("/checkpoints/<int:size>/cosignatures")
def cosignatures(size: int) -> Response:
    lines = "".join(line for _, line in get_ledger().store.cosignatures(size))
    return current_app.response_class(lines, mimetype="text/plain; charset=utf-8")
