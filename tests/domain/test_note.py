"""C2SP signed notes, checkpoints and cosignatures against the published examples."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.domain.merkle import leaf_hash, root_of_leaves
from ledger.domain.note import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    cosign_checkpoint,
    cosigner_vkey,
    open_note,
    sign_note,
    verify_cosignature,
)
from ledger.errors import EncodingError, LedgerError, VerificationError
from tests.vectors import VECTORS, load_json

NOTES = load_json("checkpoint/signed-note-examples.json")
LOG = load_json("checkpoint/serverless-log/log.json")
COSIG = load_json("checkpoint/cosignature-v1-derived.json")


@pytest.mark.parametrize("case", NOTES["cases"], ids=lambda c: c["desc"])
def test_signed_note_examples(case: dict[str, object]) -> None:
    note = bytes.fromhex(case["note_hex"]).decode("utf-8", errors="replace")  # type: ignore[arg-type]
    verifiers = []
    try:
        verifiers = [NoteVerifier.from_vkey(v) for v in case["trusted_vkeys"]]  # type: ignore[attr-defined]
    except EncodingError:
        assert case["want"] == "reject"
        return
    if case["want"] == "accept":
        open_note(note, verifiers)
    else:
        with pytest.raises(LedgerError):
            open_note(note, verifiers)


def _go_skey(skey: str) -> Ed25519PrivateKey:
    seed = base64.b64decode(skey.split("+", 4)[4])[1:]
    return Ed25519PrivateKey.from_private_bytes(seed)


def test_signing_reproduces_the_go_example_exactly() -> None:
    peter = NOTES["signer_keys_for_signing_tests"]["PeterNeumann"]
    signer = NoteSigner("PeterNeumann", _go_skey(peter["skey"]))
    assert signer.verifier_key() == peter["vkey"]
    assert sign_note(peter["text"], [signer]) == peter["expected_signed_note"]


@pytest.mark.parametrize("size", range(16))
def test_serverless_log_checkpoints_verify_and_match_the_leaves(size: int) -> None:
    text = (VECTORS / "checkpoint" / "serverless-log" / f"checkpoint.{size}").read_text()
    note = open_note(text, [NoteVerifier.from_vkey(LOG["vkey"])])
    checkpoint = Checkpoint.from_text(note.body)
    assert (checkpoint.origin, checkpoint.size) == (LOG["origin"], size)
    leaves = [leaf_hash(leaf.encode()) for leaf in LOG["leaves"][:size]]
    assert checkpoint.root_hash == root_of_leaves(leaves)
    assert checkpoint.to_text() == note.body
    resigned = sign_note(note.body, [NoteSigner("astra", _go_skey(LOG["skey_TEST_ONLY"]))])
    assert resigned == text


def test_cosignature_reproduces_the_derived_vector() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(COSIG["witness_secret_seed_hex"]))
    body = COSIG["checkpoint_note_text"]
    line = cosign_checkpoint(body, COSIG["witness_name"], key, COSIG["timestamp"])
    assert line == COSIG["signature_line"]
    assert cosigner_vkey(COSIG["witness_name"], key) == COSIG["witness_vkey"]
    assert verify_cosignature(line, body, COSIG["witness_vkey"]) == COSIG["timestamp"]
    with pytest.raises(VerificationError):
        verify_cosignature(line, body.replace("15\n", "16\n"), COSIG["witness_vkey"])


def test_checkpoint_parsing_is_strict() -> None:
    good = Checkpoint("example.com/log", 3, bytes(32))
    assert Checkpoint.from_text(good.to_text()) == good
    for bad in ("example.com/log\n3\n", "example.com/log\n-3\nAAAA\n",
                "example.com/log\n3\nAAAA\n", "example.com/log\n03\n" + good.to_text()[-46:],
                good.to_text()[:-1]):
        with pytest.raises(EncodingError):
            Checkpoint.from_text(bad)


def test_tampered_checkpoint_notes_are_refused() -> None:
    signer = NoteSigner("trilha.test/log", Ed25519PrivateKey.generate())
    note = sign_note(Checkpoint("trilha.test/log", 5, bytes(32)).to_text(), [signer])
    verifier = NoteVerifier.from_vkey(signer.verifier_key())
    open_note(note, [verifier])
    with pytest.raises(VerificationError):
        open_note(note.replace("\n5\n", "\n6\n"), [verifier])
    with pytest.raises(LedgerError):
        open_note(note[:-10] + "\n", [verifier])
    other = NoteVerifier.from_vkey(NoteSigner("trilha.test/log",
                                              Ed25519PrivateKey.generate()).verifier_key())
    with pytest.raises(VerificationError, match="no signature by a trusted key"):
        open_note(note, [other])
