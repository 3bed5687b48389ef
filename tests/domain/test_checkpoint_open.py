"""open_checkpoint: the one way a checkpoint note is trusted, each refusal with its rule;
notes parse strictly (one signature per key, canonical base64)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.domain.note import (
    Checkpoint,
    CheckpointRefused,
    NoteSigner,
    NoteVerifier,
    open_checkpoint,
    open_note,
    sign_note,
)
from ledger.errors import EncodingError

ORIGIN = "trilha.test/log"
SIGNER = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
VERIFIER = NoteVerifier.from_vkey(SIGNER.verifier_key())
GOOD = sign_note(Checkpoint(ORIGIN, 5, bytes(32)).to_text(), [SIGNER])


def refusal(note: str) -> str:
    with pytest.raises(CheckpointRefused) as caught:
        open_checkpoint(note, VERIFIER)
    return caught.value.rule


def test_a_good_checkpoint_opens() -> None:
    assert open_checkpoint(GOOD, VERIFIER) == Checkpoint(ORIGIN, 5, bytes(32))


def test_the_origin_must_be_the_name_of_the_key_that_signs() -> None:
    # The operator's own key, really signing, but a tree head of another log's name.
    other = sign_note(Checkpoint("other.example/log", 5, bytes(32)).to_text(), [SIGNER])
    assert open_note(other, [VERIFIER]).verified_by == (ORIGIN,)
    assert refusal(other) == "checkpoint_origin"


def test_signature_and_format_refusals_are_told_apart() -> None:
    assert refusal(GOOD.replace("\n5\n", "\n6\n")) == "checkpoint_signature"
    stranger = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32)))
    assert refusal(sign_note(Checkpoint(ORIGIN, 5, bytes(32)).to_text(), [stranger])) == \
        "checkpoint_signature"
    body = "trilha.test/log\n05\n" + base64.b64encode(bytes(32)).decode() + "\n"
    assert refusal(sign_note(body, [SIGNER])) == "checkpoint_format"  # signed, malformed
    assert refusal(GOOD[:-1]) == "checkpoint_format"


def test_a_key_that_signs_twice_is_refused_like_a_repeated_json_member() -> None:
    line = GOOD[GOOD.rindex("\n\n") + 2:]
    with pytest.raises(EncodingError, match="repeats the key"):
        open_note(GOOD + line, [VERIFIER])
    assert refusal(GOOD + line) == "checkpoint_format"
    # Another key's line beside it is fine (a witness, an unknown key).
    witness = NoteSigner("witness.example/w", Ed25519PrivateKey.from_private_bytes(bytes(32)))
    assert open_note(GOOD + witness.sign_line(GOOD[:GOOD.rindex("\n\n") + 1]), [VERIFIER])


def test_signature_base64_must_be_canonical() -> None:
    head, value = GOOD.rstrip("\n").rsplit(" ", 1)
    raw = base64.b64decode(value)
    assert len(raw) % 3 == 2  # 68 bytes: one padding '=', so the last digit has 2 spare bits
    last = value[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = value[:-2] + alphabet[alphabet.index(last) | 1] + "="
    if twin == value:
        twin = value[:-2] + alphabet[alphabet.index(last) | 2] + "="
    assert base64.b64decode(twin) == raw  # the same bytes, written another way
    with pytest.raises(EncodingError, match="canonical"):
        open_note(f"{head} {twin}\n", [VERIFIER])
