"""Ed25519: RFC 8032 and Wycheproof vectors, and refusing keys libraries disagree on."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.domain.keys import Signer, check_public_key, key_id_for, verify_signature
from ledger.errors import EncodingError, LedgerError, SignatureError
from tests.vectors import load_json

RFC8032 = load_json("ed25519/rfc8032-7.1.json")
WYCHEPROOF = [(group["publicKey"]["pk"], test)
              for group in load_json("ed25519/wycheproof-ed25519_test.json")["testGroups"]
              for test in group["tests"]]
SPECCHECK = load_json("ed25519/speccheck-cases.json")


@pytest.mark.parametrize("case", RFC8032, ids=lambda c: c["desc"])
def test_rfc8032_vectors_sign_and_verify(case: dict[str, str]) -> None:
    signer = Signer(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(case["secret_key_hex"])))
    assert signer.public_key_raw.hex() == case["public_key_hex"]
    message = bytes.fromhex(case["message_hex"])
    assert signer.sign(message).hex() == case["signature_hex"]
    verify_signature(signer.public_key_raw, message, bytes.fromhex(case["signature_hex"]))
    check_public_key(signer.public_key_raw)


@pytest.mark.parametrize(("public_key", "case"), WYCHEPROOF,
                         ids=[str(t["tcId"]) for _, t in WYCHEPROOF])
def test_wycheproof_vectors(public_key: str, case: dict[str, str]) -> None:
    args = (bytes.fromhex(public_key), bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"]))
    if case["result"] == "valid":
        verify_signature(*args)
    else:
        with pytest.raises(SignatureError):
            verify_signature(*args)


# What libsodium (PyNaCl 1.6.2) answers on the 12 speccheck cases, per the vectors' README:
# only case 3 verifies. pyca alone accepts cases 0-3 and 11.
LIBSODIUM_ACCEPTS = {3}


@pytest.mark.parametrize("index", range(len(SPECCHECK)))
def test_speccheck_verdicts_agree_with_libsodium(index: int) -> None:
    case = SPECCHECK[index]
    args = (bytes.fromhex(case["pub_key"]), bytes.fromhex(case["message"]),
            bytes.fromhex(case["signature"]))
    if index in LIBSODIUM_ACCEPTS:
        verify_signature(*args)
    else:
        with pytest.raises(SignatureError):
            verify_signature(*args)


@pytest.mark.parametrize("index", [0, 1, 10, 11])
def test_speccheck_weak_or_noncanonical_keys_are_refused_at_registration(index: int) -> None:
    with pytest.raises(LedgerError):
        check_public_key(bytes.fromhex(SPECCHECK[index]["pub_key"]))


def test_every_small_order_point_is_refused() -> None:
    # The eight torsion points' canonical encodings (from the Ed25519 literature).
    torsion = [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    ]
    for encoded in torsion:
        with pytest.raises(LedgerError):
            check_public_key(bytes.fromhex(encoded))


def test_wrong_sizes_and_types_are_refused() -> None:
    with pytest.raises(EncodingError, match="expected 32 bytes, got 31"):
        check_public_key(bytes(31))
    with pytest.raises(EncodingError):
        check_public_key("not bytes")  # type: ignore[arg-type]
    signer = Signer(Ed25519PrivateKey.generate())
    with pytest.raises(SignatureError, match="expected 64 bytes"):
        verify_signature(signer.public_key_raw, b"m", b"short")


def test_key_ids_are_stable_and_short() -> None:
    raw = bytes.fromhex(RFC8032[0]["public_key_hex"])
    assert key_id_for(raw) == key_id_for(raw) and len(key_id_for(raw)) == 16
    assert "PRIVATE" not in repr(Signer(Ed25519PrivateKey.generate()))
