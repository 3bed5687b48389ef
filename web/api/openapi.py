"""The OpenAPI 3 document of /api/v1, generated from the core's marshmallow schemas."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from ledger.wire.entries import EntrySchema
from ledger.wire.events import EnvelopeSchema, SignedEnvelopeSchema

ERROR = {"description": "A precise error naming the field and the rule",
         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


# ?wait=checkpoint on the write endpoints (web/api/waiting.py).
WAIT = [{"name": "wait", "in": "query", "schema": {"type": "string", "enum": ["checkpoint"]},
         "description": "Answer only once a signed checkpoint covers the new entry (or "
                        "wait_s has passed: the same success, with in_checkpoint false)"},
        {"name": "wait_s", "in": "query",
         "schema": {"type": "number", "minimum": 0, "exclusiveMinimum": True,
                    "maximum": 60, "default": 20},
         "description": "How long to wait for the checkpoint, in seconds (with wait)"}]
TOO_LARGE = {"description": "The body is larger than 8 MiB"}
AWAITING = {"description": "The lot's newest entries are in no signed checkpoint yet "
                           "(error awaiting_checkpoint): not a failure, ask again after "
                           "Retry-After seconds",
            "headers": {"Retry-After": {"description": "Seconds until the next checkpoint "
                                                       "is due",
                                        "schema": {"type": "integer", "minimum": 1}}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def build_openapi(version: str) -> dict[str, Any]:
    spec = APISpec(title="Trilha API", version=version, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Custody ledger of forest product lots: signed "
                                        "events in, provenance and proofs out."})
    spec.components.schema("Event", schema=EnvelopeSchema)
    spec.components.schema("SignedEvent", schema=SignedEnvelopeSchema)
    spec.components.schema("Entry", schema=EntrySchema)
    spec.components.schema("Error", {"type": "object", "required": ["error", "message"],
                                     "properties": {k: {"type": "string"} for k in
                                                    ("error", "message", "field", "rule",
                                                     "lot")}})
    spec.components.schema("Appended", {"type": "object", "required": ["seq", "entry_hash"],
                                        "properties": {
        "seq": {"type": "integer"}, "entry_hash": {"type": "string"},
        "in_checkpoint": {"type": "boolean", "description": "With wait=checkpoint: whether "
                          "a signed checkpoint covered the entry before the wait ended"},
        "checkpoint_size": {"type": "integer", "nullable": True},
        "checkpoint": {"type": "string", "description": "The covering checkpoint (C2SP "
                       "signed note)"},
        "inclusion_proof": {"type": "object", "properties": {
            "leaf_index": {"type": "integer"}, "tree_size": {"type": "integer"},
            "root_hash": {"type": "string"},
            "hashes": {"type": "array", "items": {"type": "string"}}}}}})
    lot = {"name": "lot", "in": "path", "required": True, "schema": {"type": "string"}}
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": "A token from POST /tokens"})
    spec.path("/events", operations={"post": {
        "summary": "Append an event its actor signed (idempotent for the same event)",
        "security": [{"bearer": []}], "parameters": WAIT,
        "requestBody": {"required": True, "content": _json("SignedEvent")},
        "responses": {"201": {"description": "Appended", "content": _json("Appended")},
                      "200": {"description": "Already appended", "content": _json("Appended")},
                      "400": ERROR, "401": ERROR,
                      "403": {**ERROR, "description": "Another actor's event"},
                      "409": {**ERROR, "description": "Another event reusing its id"},
                      "413": TOO_LARGE,
                      "422": {**ERROR, "description": "Malformed, refused by a rule, or a "
                                                      "bad wait / wait_s"}}}})
    spec.path("/lots/{lot}", operations={"get": {
        "summary": "A lot's current state", "parameters": [lot],
        "responses": {"200": {"description": "The lot"}, "404": ERROR}}})
    spec.path("/lots/{lot}/provenance", operations={"get": {
        "summary": "Upstream and downstream graph with every step", "parameters": [lot],
        "responses": {"200": {"description": "Provenance"}, "404": ERROR}}})
    spec.path("/lots/{lot}/bundle", operations={"get": {
        "summary": "The lot's proof bundle (trilha-bundle/v1), verifiable offline",
        "parameters": [lot],
        "responses": {"200": {"description": "Bundle"}, "404": ERROR, "409": AWAITING,
                      "422": {**ERROR, "description": "The lot's history does not verify"}}}})
    spec.path("/entries/{seq}", operations={"get": {
        "summary": "One entry's canonical bytes",
        "parameters": [{"name": "seq", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 0}}],
        "responses": {"200": {"description": "The entry", "content": _json("Entry")},
                      "404": ERROR}}})
    spec.path("/checkpoint", operations={"get": {
        "summary": "The latest signed checkpoint (C2SP signed note)",
        "responses": {"200": {"description": "Note", "content": {"text/plain": {
            "schema": {"type": "string"}}}}, "404": ERROR}}})
    integer = {"type": "integer", "minimum": 0}
    size = {"name": "size", "in": "path", "required": True, "schema": integer}
    text = {"text/plain": {"schema": {"type": "string"}}}
    spec.path("/checkpoints/{size}", operations={"get": {
        "summary": "The signed checkpoint of a tree size", "parameters": [size],
        "responses": {"200": {"description": "Note", "content": text}, "404": ERROR}}})
    spec.path("/checkpoints/{size}/cosignatures", operations={
        "get": {"summary": "Witnesses' cosignature lines", "parameters": [size],
                "responses": {"200": {"description": "Lines", "content": text}}},
        "post": {"summary": "A witness's cosignature line (C2SP tlog-cosignature)",
                 "parameters": [size], "requestBody": {"required": True, "content": text},
                 "responses": {"201": {"description": "Kept"}, "404": ERROR, "422": ERROR}}})
    spec.path("/proofs/inclusion", operations={"get": {
        "summary": "RFC 6962 inclusion proof",
        "parameters": [{"name": "seq", "in": "query", "required": True, "schema": integer},
                       {"name": "size", "in": "query", "schema": integer}],
        "responses": {"200": {"description": "Proof"}, "422": ERROR}}})
    spec.path("/proofs/consistency", operations={"get": {
        "summary": "RFC 6962 consistency proof",
        "parameters": [{"name": "old", "in": "query", "required": True, "schema": integer},
                       {"name": "new", "in": "query", "schema": integer}],
        "responses": {"200": {"description": "Proof"}, "422": ERROR}}})
    _accounts_and_writes(spec, integer)
    document: dict[str, Any] = spec.to_dict()
    document["servers"] = [{"url": "/api/v1"}]
    return document


def _page_of(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": {"type": "object", "properties": {
        "items": {"type": "array", "items": schema}, "limit": {"type": "integer"},
        "offset": {"type": "integer"}, "next": {"type": "string", "nullable": True}}}}}


def _accounts_and_writes(spec: APISpec, integer: dict[str, Any]) -> None:
    """Tokens, accounts, server-signed operations and the paginated lists."""
    from ledger.accounts import RECORD_KINDS, Role

    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    denied = {"401": ERROR, "403": ERROR}
    account = {"type": "object", "properties": {
        "username": {"type": "string"}, "display_name": {"type": "string"},
        "role": {"type": "string", "enum": [r.value for r in Role]},
        "actor": {"type": "string", "nullable": True},
        "server_held_key": {"type": "boolean"}}}
    spec.components.schema("Account", account)
    lot = {"type": "object", "properties": {
        "lot": {"type": "string"}, "product": {"type": "string"},
        "quantity": {"type": "string", "description": "decimal, as text"},
        "unit": {"type": "string"}, "custodian": {"type": "string"},
        "status": {"type": "string"}, "season": {"type": "string", "nullable": True},
        "community": {"type": "string", "nullable": True},
        "pending_to": {"type": "string", "nullable": True}}}
    spec.components.schema("Lot", lot)
    paging = [{"name": "limit", "in": "query", "schema": {**integer, "maximum": 500}},
              {"name": "offset", "in": "query", "schema": integer}]
    spec.path("/tokens", operations={"post": {
        "summary": "A bearer token for a username and password (rate limited)",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["username", "password"], "properties": {
                "username": {"type": "string"}, "password": {"type": "string"},
                "label": {"type": "string"}}}}}},
        "responses": {"201": {"description": "The token (shown once)"}, "401": ERROR,
                      "422": ERROR, "429": ERROR}}})
    spec.path("/tokens/current", operations={"delete": {
        "summary": "Revoke the token of this request", "security": secured,
        "responses": {"204": {"description": "Revoked"}, **denied}}})
    spec.path("/me", operations={"get": {
        "summary": "The token's account", "security": secured,
        "responses": {"200": {"description": "Account", "content": _json("Account")},
                      **denied}}})
    spec.path("/accounts", operations={
        "get": {"summary": "Every account (operator)", "security": secured,
                "responses": {"200": {"description": "Accounts"}, **denied}},
        "post": {"summary": "Create an account (operator)", "security": secured,
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"type": "object",
                                "required": ["username", "password", "role"],
                                "properties": {k: {"type": "string"} for k in (
                                    "username", "password", "role", "actor",
                                    "display_name")}}}}},
                 "responses": {"201": {"description": "Created", "content": _json("Account")},
                               **denied, "404": ERROR, "409": ERROR, "422": ERROR}}})
    for kind in RECORD_KINDS:
        spec.path(f"/operations/{kind}", operations={"post": {
            "summary": f"Record a {kind}, signed with the account's server-held key",
            "description": "The same input form as the trilha command's options "
                           "(ledger/wire/commands.py): prices in major units, shares as "
                           "party:role:percent.",
            "security": secured, "parameters": WAIT,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object"}}}},
            "responses": {"201": {"description": "Appended", "content": _json("Appended")},
                          **denied, "409": {**ERROR, "description": "The account holds no "
                                                                    "signing key"},
                          "413": TOO_LARGE,
                          "422": {**ERROR, "description": "Malformed, refused by a rule, "
                                                          "or a bad wait / wait_s"}}}})
    spec.path("/lots", operations={"get": {
        "summary": "Lots, newest first", "security": secured,
        "parameters": [*paging, *({"name": k, "in": "query", "schema": {"type": "string"}}
                                  for k in ("custodian", "product", "status", "season",
                                            "pending_to"))],
        "responses": {"200": {"description": "A page of lots",
                              "content": _page_of({"$ref": "#/components/schemas/Lot"})},
                      **denied, "422": ERROR}}})
    spec.path("/pending", operations={"get": {
        "summary": "Deliveries waiting for the token's actor to receive them",
        "security": secured, "parameters": paging,
        "responses": {"200": {"description": "A page of lots",
                              "content": _page_of({"$ref": "#/components/schemas/Lot"})},
                      **denied}}})
    spec.path("/entries", operations={"get": {
        "summary": "The log in sequence order (anyone may re-verify it)",
        "parameters": [{"name": "from", "in": "query", "schema": integer}, paging[0]],
        "responses": {"200": {"description": "A page of entries"}, "422": ERROR}}})
    spec.path("/checkpoints", operations={"post": {
        "summary": "Sign a checkpoint of the current tree now (operator; the server also "
                   "signs one within TRILHA_CHECKPOINT_INTERVAL_S of new entries)",
        "security": secured,
        "responses": {"201": {"description": "The signed note", "content": {
            "text/plain": {"schema": {"type": "string"}}}}, **denied,
            "409": {**ERROR, "description": "No server-held key, or the automatic signer "
                                            "held the signer lock for 5 s"}}}})
