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
    hex_decode,
    parse_json,
)
from ledger.domain.entry import Entry
from ledger.domain.events import SignedEvent
from ledger.errors import EncodingError, ValidationError
from ledger.wire import compiled
from ledger.wire.events import (
    Strict,
    decode_accepted_signed_event,
    dump_signed_event,
    load_signed_event,
)
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
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # The strict parser says what is wrong (or parses what orjson cannot, such as
        # integers past 64 bits, for the canonical check below to refuse).
        document = parse_json(raw, what="entry")
    if not isinstance(document, dict):
        raise EncodingError("entry: expected a JSON object")
    if canonical_bytes(document) != raw:
        parse_json(raw, what="entry")  # a duplicate key is the likelier story: say so
        raise EncodingError("entry: bytes are not RFC 8785 canonical JSON")
    try:
        fields_ = compiled.load(_ENTRY, document)
    except MarshmallowError as exc:
        raise ValidationError(f"entry: {exc.messages}", field="entry") from exc
    signed = load_signed_event(fields_["signed_event"])
    return Entry(seq=fields_["seq"], prev=hex_decode(fields_["prev"], field="prev"),
                 appended_at=fields_["appended_at"], signed=signed, canonical=raw,
                 hash=entry_hash_of_bytes(raw))


def decode_accepted_entry(raw: bytes, entry_hash: bytes, event_digest: bytes) -> Entry:
    """The typed form of bytes that :func:`load_entry` has already accepted in this run
    (a verification worker checked them and computed both digests): the same
    :class:`Entry`, without re-running the checks. Never for bytes from outside."""
    document = orjson.loads(raw)
    fields_ = compiled.load(_ENTRY, document, validate=False)
    signed = decode_accepted_signed_event(fields_["signed_event"], event_digest)
    return Entry(seq=fields_["seq"], prev=bytes.fromhex(fields_["prev"]),
                 appended_at=fields_["appended_at"], signed=signed, canonical=raw,
                 hash=entry_hash)


def entry_document(entry: Entry) -> Any:
    """The entry as a JSON value (for APIs); its canonical bytes are ``entry.canonical``."""
    return parse_json(entry.canonical, what="entry")
