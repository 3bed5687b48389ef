"""Ed25519 public keys and signatures.

Ed25519 libraries disagree on edge cases (small-order and non-canonical public keys), so
:func:`check_public_key` refuses such keys when an actor registers: every honest
signature then verifies the same way in OpenSSL-, libsodium- and browser-based verifiers.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Final, NewType

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.errors import EncodingError, SignatureError

KeyId = NewType("KeyId", str)

KEY_ID_PREFIX: Final = b"trilha-key-v1\x00"
PUBLIC_KEY_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64

# Edwards25519: -x^2 + y^2 = 1 + d x^2 y^2 over GF(p).
_P: Final = 2**255 - 19
_D: Final = (-121665 * pow(121666, -1, _P)) % _P
_SQRT_M1: Final = pow(2, (_P - 1) // 4, _P)


def key_id_for(public_key_raw: bytes) -> KeyId:
    """16 lower-case hex digits naming a public key."""
    return KeyId(hashlib.sha256(KEY_ID_PREFIX + public_key_raw).hexdigest()[:16])


def _decompress(raw: bytes) -> tuple[int, int]:
    """The affine point encoded by ``raw`` (RFC 8032 5.1.3), refusing non-canonical forms."""
    y = int.from_bytes(raw, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        raise EncodingError("public key: non-canonical encoding (y is not reduced mod p)")
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = (u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P)) % _P
    if (v * x * x - u) % _P != 0:
        x = (x * _SQRT_M1) % _P
        if (v * x * x - u) % _P != 0:
            raise EncodingError("public key: not a point on the curve")
    if x == 0 and sign:
        raise EncodingError("public key: non-canonical encoding (negative zero x)")
    if (x & 1) != sign:
        x = _P - x
    return x, y


def _double(point: tuple[int, int]) -> tuple[int, int]:
    x, y = point
    xx, yy, xy = x * x % _P, y * y % _P, x * y % _P
    dxxyy = _D * xx * yy % _P
    x3 = 2 * xy * pow(1 + dxxyy, -1, _P) % _P
    y3 = (yy + xx) * pow(1 - dxxyy, -1, _P) % _P
    return x3, y3


def check_public_key(raw: bytes) -> None:
    """Refuse keys of the wrong size, non-canonical encodings and small-order points."""
    if not isinstance(raw, bytes) or len(raw) != PUBLIC_KEY_SIZE:
        size = len(raw) if isinstance(raw, bytes) else type(raw).__name__
        raise EncodingError(f"public key: expected {PUBLIC_KEY_SIZE} bytes, got {size}")
    point = _decompress(raw)
    for _ in range(3):  # 8·A: the point has small order iff this is the identity (0, 1)
        point = _double(point)
    if point == (0, 1):
        raise SignatureError("public_key_small_order",
                             "public key: small-order point (weak key) refused")


# Encodings (sign bit cleared) of small-order points, canonical or not: the blocklist
# libsodium applies to R. Refusing them here makes pyca agree with libsodium-based and
# browser verifiers on every signature, honest or crafted.
_SMALL_ORDER_ENCODINGS: Final = frozenset(bytes.fromhex(h) for h in (
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
))


def _clear_sign(encoded: bytes) -> bytes:
    return encoded[:31] + bytes([encoded[31] & 0x7F])


def verify_signature(public_key_raw: bytes, message: bytes, signature: bytes) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is valid (no key in the message)."""
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureError("signature_invalid", f"signature: expected {SIGNATURE_SIZE} "
                             f"bytes, got {len(signature)}")
    if (_clear_sign(signature[:32]) in _SMALL_ORDER_ENCODINGS
            or _clear_sign(public_key_raw) in _SMALL_ORDER_ENCODINGS):
        raise SignatureError("signature_invalid", "signature: small-order R or key refused")
    try:
        _public_key(public_key_raw).verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError("signature_invalid", "signature does not verify") from exc


@lru_cache(maxsize=4096)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    """Decoded keys, kept: a ledger has few signers and each signs many events."""
    return Ed25519PublicKey.from_public_bytes(raw)


class Signer:
    """An Ed25519 private key that signs; its public half and id are at hand."""

    __slots__ = ("key_id", "private_key", "public_key_raw")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self.private_key = private_key
        self.public_key_raw = private_key.public_key().public_bytes(Encoding.Raw,
                                                                    PublicFormat.Raw)
        self.key_id = key_id_for(self.public_key_raw)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"  # never the key itself
