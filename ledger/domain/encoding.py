"""Canonical bytes, hashes and domain prefixes: every byte Trilha hashes or signs.

Canonical JSON is RFC 8785 (JCS). The reference implementation is the ``rfc8785``
package. Ledger documents never hold floats and only small integers, and for such
values JCS equals ``json.dumps(sort_keys=True)`` with compact separators (and so
``orjson`` with sorted keys, byte for byte), except for object keys outside the Basic
Multilingual Plane (JCS sorts by UTF-16 code units, Python by code points).
:func:`canonical_bytes` takes the fast path only when a scan proves it is equivalent,
and falls back to ``rfc8785`` otherwise; property tests hold the three together.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any, Final

import orjson
import rfc8785

from ledger.errors import EncodingError

MAX_SAFE_INTEGER: Final = 2**53 - 1

# Domain prefixes: one per kind of thing that is hashed or signed, so that a signature
# or hash made for one can never be replayed as another.
EVENT_SIGNATURE_PREFIX: Final = b"trilha-event-signature-v1\x00"
ENTRY_HASH_PREFIX: Final = b"trilha-entry-v1\x00"
EVENT_HASH_PREFIX: Final = b"trilha-event-v1\x00"

HASH_SIZE: Final = 32


def _fast_path_ok(value: Any) -> bool:
    """True when ``json.dumps`` with sorted keys gives exactly the JCS bytes."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is dict:
            for key in item:
                # Keys outside the BMP sort differently in UTF-16 (JCS) and code points.
                if type(key) is not str or not (key.isascii() or _bmp_only(key)):
                    return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is int:
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                return False
        elif kind is float:
            # Coordinates: for plain, non-integral magnitudes Python's shortest repr is the
            # ECMAScript one that JCS prescribes; anything else goes to rfc8785.
            if item.is_integer() or not 1e-4 <= abs(item) < 1e15:
                return False
        else:
            return False  # anything else (subclasses included): let rfc8785 decide
    return True


def _bmp_only(text: str) -> bool:
    return all(ord(ch) <= 0xFFFF for ch in text)


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of a JSON value.

    Raises :class:`EncodingError` for values JCS cannot represent (floats that are not
    finite, integers beyond 2**53, lone surrogates, non-string keys).
    """
    if _fast_path_ok(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate in a string
            raise EncodingError(f"cannot canonicalise value: {exc}") from exc
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise EncodingError(f"cannot canonicalise value: {exc}") from exc


def parse_json(data: bytes | str, *, what: str = "document") -> Any:
    """Parse JSON strictly: no NaN/Infinity, no duplicate keys."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, val in pairs:
            if key in out:
                raise EncodingError(f"{what}: duplicate key {key!r}")
            out[key] = val
        return out

    def no_constants(name: str) -> Any:
        raise EncodingError(f"{what}: {name} is not valid JSON")

    try:
        return json.loads(data, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except EncodingError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # deep nesting too
        raise EncodingError(f"{what}: not valid JSON ({exc})") from exc


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def event_hash(event: dict[str, Any]) -> bytes:
    """The hash of an unsigned event: what each signer signs (behind its own prefix)."""
    return sha256(EVENT_HASH_PREFIX + canonical_bytes(event))


def event_signature_message(event_digest: bytes) -> bytes:
    return EVENT_SIGNATURE_PREFIX + event_digest


def entry_hash_of_bytes(canonical_entry: bytes) -> bytes:
    return sha256(ENTRY_HASH_PREFIX + canonical_entry)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, field: str = "base64", size: int | None = None) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, AttributeError) as exc:
        raise EncodingError(f"{field}: expected standard base64, got {text!r:.40}") from exc
    if b64encode(raw) != text:
        raise EncodingError(f"{field}: base64 is not in canonical form")
    if size is not None and len(raw) != size:
        raise EncodingError(f"{field}: expected {size} bytes, got {len(raw)}")
    return raw


def hex_decode(text: str, *, field: str = "hash", size: int = HASH_SIZE) -> bytes:
    if not isinstance(text, str) or len(text) != 2 * size or text != text.lower():
        raise EncodingError(f"{field}: expected {2 * size} lower-case hex digits, got {text!r:.80}")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise EncodingError(f"{field}: not hex") from exc


def digests_equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison of digests."""
    return hmac.compare_digest(a, b)
