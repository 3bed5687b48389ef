"""The JSON form of log entries (the one thing the entry hash covers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from marshmallow import ValidationError as MarshmallowError
from marshmallow import fields, validate

from ledger.domain.encoding import (
    canonical_bytes,
    entry_hash_of_bytes,
    event_hash,
    hex_decode,
    parse_json,
)
from ledger.domain.entry import Entry
from ledger.domain.events import SignedEvent
from ledger.errors import EncodingError, ValidationError
from ledger.wire import compiled
from ledger.wire.events import Strict, dump_signed_event, load_signed_event
from ledger.wire.fields import Instant, format_instant


class EntrySchema(Strict):
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(0, 2**53 - 1))
    prev = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    appended_at = Instant(required=True)
    signed_event = fields.Dict(required=True)


_ENTRY = EntrySchema()


def build_entry(seq: int, prev: bytes, appended_at: datetime, signed: SignedEvent) -> Entry:
    document = {
        "seq": seq,
        "prev": prev.hex(),
        "appended_at": format_instant(appended_at),
        "signed_event": dump_signed_event(signed),
    }
    canonical = canonical_bytes(document)
    return Entry(seq=seq, prev=prev, appended_at=appended_at, signed=signed,
                 canonical=canonical, hash=entry_hash_of_bytes(canonical))


def load_entry(raw: bytes) -> Entry:
    """Bytes of one entry to a typed :class:`Entry`; the bytes must be canonical JCS."""
    document, digest = check_entry_bytes(raw)
    return load_entry_document(document, raw, entry_hash_of_bytes(raw), digest)


def parse_entry_json(raw: bytes) -> Any:
    """The JSON value of an entry's bytes: orjson, else the strict parser, which says what
    is wrong (or parses what orjson cannot, such as integers past 64 bits, for the
    canonical check to refuse)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return parse_json(raw, what="entry")


def check_entry_bytes(raw: bytes) -> tuple[dict[str, Any], bytes | None]:
    """The byte-level half of :func:`load_entry`: ``raw`` is JSON in RFC 8785 canonical
    form. Returns the parsed document and the digest of its event (None when there is no
    event object for the schema-level half to find)."""
    document = parse_entry_json(raw)
    if not isinstance(document, dict):
        raise EncodingError("entry: expected a JSON object")
    if canonical_bytes(document) != raw:
        parse_json(raw, what="entry")  # a duplicate key is the likelier story: say so
        raise EncodingError("entry: bytes are not RFC 8785 canonical JSON")
    signed = document.get("signed_event")
    event = signed.get("event") if isinstance(signed, dict) else None
    return document, event_hash(event) if isinstance(event, dict) else None


def load_entry_document(document: dict[str, Any], raw: bytes, entry_hash: bytes,
                        event_digest: bytes | None) -> Entry:
    """The schema-level half of :func:`load_entry`, for a document that
    :func:`check_entry_bytes` returned for ``raw`` with these digests."""
    try:
        fields_ = compiled.load(_ENTRY, document)
    except MarshmallowError as exc:
        raise ValidationError(f"entry: {exc.messages}", field="entry") from exc
    signed = load_signed_event(fields_["signed_event"], digest=event_digest)
    return Entry(seq=fields_["seq"], prev=hex_decode(fields_["prev"], field="prev"),
                 appended_at=fields_["appended_at"], signed=signed, canonical=raw,
                 hash=entry_hash)


def entry_document(entry: Entry) -> Any:
    """The entry as a JSON value (for APIs); its canonical bytes are ``entry.canonical``."""
    return parse_json(entry.canonical, what="entry")
