"""Private keys at rest: passphrase-encrypted PKCS#8, never plain unless asked for by name."""

from __future__ import annotations

from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.errors import ConfigurationError, ValidationError


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def encrypt_private_key(key: Ed25519PrivateKey, passphrase: bytes) -> bytes:
    """PEM PKCS#8, encrypted with the best algorithm the library offers."""
    if not passphrase:
        raise ValidationError("passphrase: must not be empty", field="passphrase")
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase))


def load_private_key(pem: bytes, passphrase: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase or None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("cannot open the private key: wrong passphrase or not an "
                                 "encrypted PKCS#8 key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError("the private key is not an Ed25519 key")
    return key


def export_unencrypted_private_key(key: Ed25519PrivateKey, *,
                                   unencrypted: Literal[True]) -> bytes:
    """Plain PKCS#8 PEM. The keyword makes the danger explicit at the call site."""
    if unencrypted is not True:
        raise ValidationError("refusing to export a private key without encryption")
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
