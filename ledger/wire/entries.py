"""The JSON form of log entries (the one thing the entry hash covers)."""

from __future__ import annotations

import re
from collections.abc import Mapping
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
from ledger.domain.entry import Entry, LotLink
from ledger.domain.events import SignedEvent
from ledger.domain.gs1 import check_lot
from ledger.errors import EncodingError, ValidationError
from ledger.wire import compiled
from ledger.wire.events import Strict, dump_signed_event, load_signed_event
from ledger.wire.fields import Instant, format_instant


class EntrySchema(Strict):
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(0, 2**53 - 1))
    prev = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}\Z"))
    appended_at = Instant(required=True)
    lot_prev = fields.Dict()  # format 2; its members are read by _lot_prev
    signed_event = fields.Dict(required=True)


_ENTRY = EntrySchema()


def build_entry(seq: int, prev: bytes, appended_at: datetime, signed: SignedEvent,
                lot_prev: Mapping[str, LotLink] | None) -> Entry:
    """The entry the log writes; ``lot_prev`` None writes a format 1 entry (tests of old
    ledgers only: the log writes format 2)."""
    document: dict[str, Any] = {
        "seq": seq,
        "prev": prev.hex(),
        "appended_at": format_instant(appended_at),
        "signed_event": dump_signed_event(signed),
    }
    if lot_prev is not None:
        document["lot_prev"] = {lot: {"seq": link.seq, "hash": link.hash.hex()}
                                for lot, link in lot_prev.items()}
    canonical = canonical_bytes(document)
    return Entry(seq=seq, prev=prev, appended_at=appended_at, signed=signed,
                 canonical=canonical, hash=entry_hash_of_bytes(canonical),
                 lot_prev=None if lot_prev is None else dict(lot_prev))


_HASH_HEX = re.compile(r"[0-9a-f]{64}")


def _lot_prev(value: Any) -> dict[str, LotLink] | None:
    """``lot_prev`` of a format 2 entry: lot code -> {"seq": int, "hash": hex}, exactly."""
    if value is None:
        return None
    links: dict[str, LotLink] = {}
    for lot, link in value.items():
        where = f"lot_prev.{lot:.40}"
        try:
            check_lot(lot)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc.message}", field="lot_prev") from exc
        if not isinstance(link, dict) or set(link) != {"seq", "hash"}:
            raise ValidationError(f"{where}: expected an object with only seq and hash",
                                  field=where)
        seq, digest = link["seq"], link["hash"]
        if type(seq) is not int or not 0 <= seq < 2**53:
            raise ValidationError(f"{where}.seq: expected an integer from 0 to 2^53-1",
                                  field=f"{where}.seq")
        if not isinstance(digest, str) or not _HASH_HEX.fullmatch(digest):
            raise ValidationError(f"{where}.hash: expected 64 lower-case hex digits",
                                  field=f"{where}.hash")
        links[lot] = LotLink(seq, bytes.fromhex(digest))
    return links


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
    lot_prev = _lot_prev(fields_.get("lot_prev"))
    signed = load_signed_event(fields_["signed_event"], digest=event_digest)
    return Entry(seq=fields_["seq"], prev=hex_decode(fields_["prev"], field="prev"),
                 appended_at=fields_["appended_at"], signed=signed, canonical=raw,
                 hash=entry_hash, lot_prev=lot_prev)


def entry_document(entry: Entry) -> Any:
    """The entry as a JSON value (for APIs); its canonical bytes are ``entry.canonical``."""
    return parse_json(entry.canonical, what="entry")
