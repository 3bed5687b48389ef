"""Private keys at rest are encrypted; plain export only when asked for by name."""

from __future__ import annotations

import pytest

from ledger.errors import ConfigurationError, ValidationError
from ledger.keystore import (
    encrypt_private_key,
    export_unencrypted_private_key,
    generate_private_key,
    load_private_key,
    public_key_raw,
)


def test_round_trip_with_the_right_passphrase() -> None:
    key = generate_private_key()
    pem = encrypt_private_key(key, b"a long passphrase")
    assert b"ENCRYPTED PRIVATE KEY" in pem
    assert public_key_raw(load_private_key(pem, b"a long passphrase")) == public_key_raw(key)


def test_a_wrong_passphrase_is_a_clear_error() -> None:
    pem = encrypt_private_key(generate_private_key(), b"right")
    with pytest.raises(ConfigurationError, match="wrong passphrase"):
        load_private_key(pem, b"wrong")


def test_an_empty_passphrase_is_refused() -> None:
    with pytest.raises(ValidationError):
        encrypt_private_key(generate_private_key(), b"")


def test_plain_export_is_explicit() -> None:
    pem = export_unencrypted_private_key(generate_private_key(), unencrypted=True)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    with pytest.raises(ValidationError):
        export_unencrypted_private_key(generate_private_key(), unencrypted=False)  # type: ignore[arg-type]
