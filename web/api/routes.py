"""API routes. Shapes come from the core's schemas; errors are mapped once in web/errors.py."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Response, abort, current_app, g, jsonify, request, url_for

from ledger.accounts import Account
from ledger.domain.encoding import digests_equal
from ledger.domain.gs1 import check_lot
from ledger.errors import NotFound, ReplayError, ValidationError
from ledger.operations import perform
from ledger.provenance_view import lot_json, provenance_json
from ledger.wire.commands import parse_input_json
from ledger.wire.events import load_signed_event
from web.api import bp
from web.api.waiting import requested_wait, with_checkpoint
from web.auth import api_requires, get_accounts
from web.services import get_ledger

MAX_PAGE = 500
# Sequence numbers and tree sizes are below 2^53: a larger one in a URL names nothing
# (werkzeug answers 404) and never reaches a bigint column.
SEQ = "int(max=9007199254740991)"
# Far above any event the ledger takes (a 5,000-point plot is ~250 KB), so a hostile
# megabyte is refused before it is parsed, hashed and canonicalised (~1 s for 4 MB).
MAX_BODY_BYTES = 1 << 20
_DIGITS = re.compile(r"[0-9]{1,15}")  # ASCII only: "²".isdigit() is True, int("²") fails
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _int_arg(name: str, default: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        if default is None:
            raise ValidationError(f"{name}: required query parameter", field=name)
        return default
    if not _DIGITS.fullmatch(raw):
        raise ValidationError(f"{name}: expected a non-negative integer, got {raw!r:.20}",
                              field=name)
    return int(raw)


@bp.get("/openapi.json")
def openapi() -> Response:
    from importlib.metadata import version

    from web.api.openapi import build_openapi

    return jsonify(build_openapi(version("trilha")))


def _json_body(what: str) -> dict[str, Any]:
    """The request's JSON object, parsed as strictly as the ledger reads its own bytes
    (no repeated member names, NaN or deep nesting: ledger.wire.commands)."""
    if not request.is_json:
        raise ValidationError(f"body: expected a JSON object {what} (Content-Type: "
                              "application/json)", field="body")
    request.max_content_length = MAX_BODY_BYTES  # beyond it, werkzeug answers 413
    document = parse_input_json(request.get_data(), what="body")
    if not isinstance(document, dict):
        raise ValidationError(f"body: expected a JSON object {what}", field="body")
    return document


def _page() -> tuple[int, int]:
    limit = _int_arg("limit", 100)
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit: expected 1 to {MAX_PAGE}, got {limit}", field="limit")
    return limit, _int_arg("offset", 0)


def _page_json(items: list[Any], limit: int, offset: int, endpoint: str,
               **args: Any) -> Response:
    following = None
    if len(items) == limit:
        following = url_for(endpoint, limit=limit, offset=offset + limit, **args)
    return jsonify({"items": items, "limit": limit, "offset": offset, "next": following})


def _account_json(account: Account) -> dict[str, Any]:
    return {"username": account.username, "display_name": account.display_name,
            "role": account.role.value, "actor": account.actor_id,
            "server_held_key": account.has_key}


@bp.post("/tokens")
def issue_token() -> tuple[Response, int]:
    """Exchange a username and password for a bearer token (rate limited)."""
    body = _json_body("{username, password, label}")
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ValidationError("username, password: expected two strings",
                              field="username" if not isinstance(username, str)
                              else "password")
    account = get_accounts().authenticate(username, password)
    if account is None:
        abort(401, description="credentials: wrong username or password")
    label = body.get("label") if isinstance(body.get("label"), str) else "api"
    token = get_accounts().issue_token(account, str(label))
    return jsonify({"token": token, "account": _account_json(account)}), 201


@bp.delete("/tokens/current")
@api_requires("read_private")
def revoke_current_token() -> tuple[str, int]:
    token = request.headers["Authorization"].partition(" ")[2].strip()
    get_accounts().revoke_token(token)
    return "", 204


@bp.get("/me")
@api_requires("read_private")
def me() -> Response:
    return jsonify(_account_json(g.account))


@bp.get("/accounts")
@api_requires("manage_accounts")
def list_accounts() -> Response:
    return jsonify({"items": [_account_json(a) for a in get_accounts().all()]})


@bp.post("/accounts")
@api_requires("manage_accounts")
def create_account() -> tuple[Response, int]:
    body = _json_body("{username, password, role, actor, display_name}")
    def text(name: str, required: bool) -> str | None:
        value = body.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise ValidationError(f"{name}: {'required, ' if required else 'expected '}"
                                  "a string", field=name)
        return value

    account = get_accounts().create(str(text("username", True)), str(text("password", True)),
                                    str(text("role", True)), actor_id=text("actor", False),
                                    display_name=text("display_name", False))
    return jsonify(_account_json(account)), 201


@bp.post("/operations/<kind>")
@api_requires("read_private")
def record_operation(kind: str) -> tuple[Response, int]:
    """An unsigned request in the input form of ``kind``; the server signs it with the
    account's server-held key (the same path as the workspace forms)."""
    from ledger.accounts import RECORD_KINDS

    if kind not in RECORD_KINDS:
        raise NotFound(f"kind: expected one of {', '.join(RECORD_KINDS)}, got {kind!r:.40}",
                       field="kind")
    if not g.account.can(f"record:{kind}"):
        abort(403, description=f"role: a {g.account.role} account may not record {kind}")
    body = _json_body("in the input form of " + kind)
    wait_s = requested_wait()
    entry = perform(get_ledger(), kind, body, g.account.actor_id,
                    get_accounts().signer(g.account))
    return jsonify(with_checkpoint(_entry_json(entry.seq, entry.hash), entry.seq, wait_s)), 201


@bp.get("/lots")
@api_requires("read_private")
def list_lots() -> Response:
    limit, offset = _page()
    filters = {k: request.args.get(k) or None
               for k in ("custodian", "product", "status", "season", "pending_to")}
    for name, value in filters.items():
        if value is not None and (_CONTROL.search(value) or len(value) > 100):
            raise ValidationError(f"{name}: expected at most 100 characters and no control "
                                  "characters", field=name)
    lots = get_ledger().store.lots(limit=limit, offset=offset, **filters)
    return _page_json([lot_json(lot) for lot in lots], limit, offset, "api.list_lots",
                      **{k: v for k, v in filters.items() if v})


@bp.get("/pending")
@api_requires("record:receive")
def pending() -> Response:
    """Deliveries dispatched to the token's actor, waiting for its receipt."""
    limit, offset = _page()
    lots = get_ledger().store.lots(pending_to=g.account.actor_id, limit=limit, offset=offset)
    return _page_json([lot_json(lot) for lot in lots], limit, offset, "api.pending")


@bp.get("/entries")
def list_entries() -> Response:
    """The log itself, in sequence order: anyone may read and re-verify it."""
    limit = _page()[0]
    start = _int_arg("from", 0)
    items = [json.loads(stored.body) for stored in
             get_ledger().store.iter_entries(start, start + limit, batch=limit)]
    following = f"{url_for('api.list_entries')}?from={start + limit}&limit={limit}" \
        if len(items) == limit else None
    return jsonify({"items": items, "from": start, "limit": limit, "next": following})


@bp.post("/checkpoints")
@api_requires("sign_checkpoint")
def sign_checkpoint() -> tuple[Response, int]:
    """The operator signs a checkpoint of the current tree with its server-held key (under
    the automatic signer's lock)."""
    from ledger.checkpointer import sign_now
    from ledger.domain.note import NoteSigner

    ledger = get_ledger()
    signer = get_accounts().signer(g.account)
    note = sign_now(ledger, NoteSigner(ledger.origin, signer.private_key))
    return current_app.response_class(note, status=201,
                                      mimetype="text/plain; charset=utf-8"), 201


@bp.post("/events")
@api_requires("submit_signed")
def submit_event() -> tuple[Response, int]:
    """A signed event from a client (the CLI outbox). Repeating one is harmless."""
    document = _json_body("{event, signatures}")
    wait_s = requested_wait()
    ledger = get_ledger()
    signed = load_signed_event(document)
    if g.account.role.value != "operator" and signed.event.actor != g.account.actor_id:
        abort(403, description=f"event.actor: a token of {g.account.actor_id} may submit "
              f"only its own events, got {signed.event.actor}")
    try:
        entry = ledger.append(signed)
    except ReplayError:
        stored = ledger.store.entry_by_event(signed.event.id)
        if stored is not None:
            existing = ledger.entry(stored.seq)
            if digests_equal(existing.signed.digest, signed.digest):
                return jsonify(with_checkpoint(_entry_json(stored.seq, existing.hash),
                                               stored.seq, wait_s)), 200
        raise
    return jsonify(with_checkpoint(_entry_json(entry.seq, entry.hash), entry.seq, wait_s)), 201


def _entry_json(seq: int, entry_hash: bytes) -> dict[str, Any]:
    return {"seq": seq, "entry_hash": entry_hash.hex()}


def _lot_id(lot_id: str) -> str:
    """A lot code from the URL; one that cannot be a lot code names no lot (and never
    reaches a query: PostgreSQL refuses text with a NUL in it)."""
    try:
        check_lot(lot_id)
    except ValidationError as exc:
        raise NotFound(f"lot {lot_id!r:.40} does not exist ({exc.message})",
                       field="lot") from exc
    return lot_id


@bp.get("/lots/<path:lot_id>/provenance")
def lot_provenance(lot_id: str) -> Response:
    return jsonify(provenance_json(get_ledger().provenance(_lot_id(lot_id),
                                                           with_entries=False)))


@bp.get("/lots/<path:lot_id>/bundle")
def lot_bundle(lot_id: str) -> Response:
    """The lot's proof bundle (docs/FORMAT.md section 8), to verify offline. A lot whose
    newest entries no checkpoint covers yet is a 409 awaiting_checkpoint with Retry-After
    (web/api/__init__.py)."""
    from ledger.bundle import build_bundle

    return jsonify(build_bundle(get_ledger(), _lot_id(lot_id)))


@bp.get("/lots/<path:lot_id>")
def lot(lot_id: str) -> Response:
    return jsonify(lot_json(get_ledger().lot(_lot_id(lot_id))))


@bp.get(f"/entries/<{SEQ}:seq>")
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
    size = _int_arg("size") if "size" in request.args else None
    proof = get_ledger().inclusion_proof(_int_arg("seq"), size)
    return jsonify({"seq": proof.seq, "tree_size": proof.tree_size,
                    "leaf_hash": proof.leaf_hash.hex(), "path": [h.hex() for h in proof.path],
                    "root_hash": proof.root_hash.hex()})


@bp.get("/proofs/consistency")
def consistency() -> Response:
    ledger = get_ledger()
    old, new = _int_arg("old"), _int_arg("new", ledger.size())
    path = ledger.consistency_proof(old, new)
    return jsonify({"old_size": old, "new_size": new, "path": [h.hex() for h in path]})


@bp.get(f"/checkpoints/<{SEQ}:size>")
def checkpoint_of_size(size: int) -> Response:
    stored = get_ledger().store.checkpoint(size)
    if stored is None:
        raise NotFound(f"no checkpoint of size {size}")
    return current_app.response_class(stored.note, mimetype="text/plain; charset=utf-8")


@bp.post(f"/checkpoints/<{SEQ}:size>/cosignatures")
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


@bp.get(f"/checkpoints/<{SEQ}:size>/cosignatures")
def cosignatures(size: int) -> Response:
    lines = "".join(line for _, line in get_ledger().store.cosignatures(size))
    return current_app.response_class(lines, mimetype="text/plain; charset=utf-8")
