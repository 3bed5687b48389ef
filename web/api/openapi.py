"""The OpenAPI 3 document of /api/v1, generated from the core's marshmallow schemas."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from ledger.wire.entries import EntrySchema
from ledger.wire.events import EnvelopeSchema, SignedEnvelopeSchema

ERROR = {"description": "A precise error naming the field and the rule",
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
    spec.components.schema("Appended", {"type": "object", "properties": {
        "seq": {"type": "integer"}, "entry_hash": {"type": "string"}}})
    lot = {"name": "lot", "in": "path", "required": True, "schema": {"type": "string"}}
    spec.path("/events", operations={"post": {
        "summary": "Append an event its actor signed (idempotent for the same event)",
        "requestBody": {"required": True, "content": _json("SignedEvent")},
        "responses": {"201": {"description": "Appended", "content": _json("Appended")},
                      "200": {"description": "Already appended", "content": _json("Appended")},
                      "400": ERROR, "409": ERROR, "422": ERROR}}})
    spec.path("/lots/{lot}", operations={"get": {
        "summary": "A lot's current state", "parameters": [lot],
        "responses": {"200": {"description": "The lot"}, "404": ERROR}}})
    spec.path("/lots/{lot}/provenance", operations={"get": {
        "summary": "Upstream and downstream graph with every step", "parameters": [lot],
        "responses": {"200": {"description": "Provenance"}, "404": ERROR}}})
    spec.path("/lots/{lot}/bundle", operations={"get": {
        "summary": "The lot's proof bundle (trilha-bundle/v1), verifiable offline",
        "parameters": [lot],
        "responses": {"200": {"description": "Bundle"}, "404": ERROR, "409": ERROR}}})
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
    document: dict[str, Any] = spec.to_dict()
    document["servers"] = [{"url": "/api/v1"}]
    return document
