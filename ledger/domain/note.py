"""C2SP signed notes, tlog-checkpoints and tlog-cosignatures (Ed25519).

A note is a UTF-8 text ending in a newline, a blank line, then signature lines
``— <name> <base64(key id || signature)>``. A checkpoint is a note whose text is the
log origin, the tree size and the base64 root hash, one per line. A witness cosigns a
checkpoint with a ``cosignature/v1`` signature (type 0x04) that also carries the time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.errors import EncodingError, VerificationError

ED25519_TYPE = 0x01
COSIGNATURE_TYPE = 0x04
SIGNATURE_PREFIX = "\u2014 "
MAX_SIGNATURES = 100
_NAME = re.compile(r"^[^\s+]+$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,19})$")


def _key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EncodingError(f"{what}: not base64") from exc
    if base64.b64encode(raw).decode() != text:  # one encoding per value, as for entries
        raise EncodingError(f"{what}: base64 is not in canonical form")
    return raw


def _check_name(name: str) -> None:
    if not name or not _NAME.match(name):
        raise EncodingError(f"note key name: expected no spaces or '+', got {name!r:.40}")


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class NoteSigner:
    """An Ed25519 note signer: a key name (the log origin, say) and a private key."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def key_id(self) -> bytes:
        return _key_id(self.name, ED25519_TYPE, _raw_public(self.private_key))

    def verifier_key(self) -> str:
        public = bytes([ED25519_TYPE]) + _raw_public(self.private_key)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(public).decode()}"

    def sign_line(self, text: str) -> str:
        signature = self.private_key.sign(text.encode("utf-8"))
        value = base64.b64encode(self.key_id + signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {value}\n"


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise EncodingError("verifier key: expected name+keyid+key")
        name, hex_id, encoded = parts
        _check_name(name)
        try:
            key_id = bytes.fromhex(hex_id)
        except ValueError as exc:
            raise EncodingError("verifier key: key id is not hex") from exc
        raw = _b64(encoded, "verifier key")
        if len(key_id) != 4 or len(raw) != 33 or raw[0] != ED25519_TYPE:
            raise EncodingError("verifier key: expected a 4-byte id and an Ed25519 key")
        if _key_id(name, ED25519_TYPE, raw[1:]) != key_id:
            raise EncodingError("verifier key: key id does not match the key")
        return cls(name, key_id, raw[1:])

    def verifies(self, text: str, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                signature, text.encode("utf-8"))
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True, slots=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class SignedNote:
    body: str
    signatures: tuple[NoteSignature, ...]
    verified_by: tuple[str, ...]


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise EncodingError("note: text must end with a newline")
    if any(ch < " " and ch != "\n" for ch in text):
        raise EncodingError("note: text contains control characters")


def sign_note(body: str, signers: Sequence[NoteSigner]) -> str:
    _check_text(body)
    return body + "\n" + "".join(signer.sign_line(body) for signer in signers)


def parse_note(note: str) -> tuple[str, tuple[NoteSignature, ...]]:
    """Split a note into its text and signature lines (no verification)."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise EncodingError("note: expected text, a blank line and signatures")
    body, block = note[:split + 1], note[split + 2:]
    _check_text(body)
    lines = block.split("\n")[:-1]
    if not lines:
        raise EncodingError("note: no signatures")
    if len(lines) > MAX_SIGNATURES:
        raise EncodingError(f"note: more than {MAX_SIGNATURES} signatures")
    signatures = []
    seen: set[tuple[str, bytes]] = set()
    for number, line in enumerate(lines, start=1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise EncodingError(f"note: signature line {number} does not start with '— '")
        fields = line[len(SIGNATURE_PREFIX):].split(" ")
        if len(fields) != 2:
            raise EncodingError(f"note: signature line {number} is malformed")
        name, value = fields
        _check_name(name)
        raw = _b64(value, f"note signature line {number}")
        if len(raw) < 5:
            raise EncodingError(f"note: signature line {number} is too short")
        # Strict, as for JSON member names: one key (name and id) signs a note once, so
        # two verifiers can never read different signatures of the same key.
        if (name, raw[:4]) in seen:
            raise EncodingError(f"note: signature line {number} repeats the key "
                                f"{name}+{raw[:4].hex()}")
        seen.add((name, raw[:4]))
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    return body, tuple(signatures)


def open_note(note: str, verifiers: Sequence[NoteVerifier]) -> SignedNote:
    """Parse and verify: at least one known key must sign; a known key must sign right."""
    body, signatures = parse_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = []
    for sig in signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if not verifier.verifies(body, sig.signature):
            raise VerificationError(f"note: signature by {sig.name} does not verify")
        verified.append(sig.name)
    if not verified:
        raise VerificationError("note: no signature by a trusted key")
    return SignedNote(body, signatures, tuple(verified))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def to_text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(),
                 *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        _check_text(text)
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise EncodingError("checkpoint: expected origin, size and root lines")
        origin, size, root = lines[:3]
        if not origin:
            raise EncodingError("checkpoint line 1: empty origin")
        if not _DECIMAL.match(size):
            raise EncodingError(f"checkpoint line 2: expected a tree size, got {size!r:.30}")
        root_hash = _b64(root, "checkpoint line 3")
        if len(root_hash) != 32:
            raise EncodingError(f"checkpoint line 3: expected a 32-byte root, got "
                                f"{len(root_hash)}")
        if any(not line for line in lines[3:]):
            raise EncodingError("checkpoint: empty extension line")
        return cls(origin, int(size), root_hash, tuple(lines[3:]))


# The findings a checkpoint note can give (docs/FORMAT.md section 9).
CHECKPOINT_FORMAT = "checkpoint_format"
CHECKPOINT_SIGNATURE = "checkpoint_signature"
CHECKPOINT_ORIGIN = "checkpoint_origin"


class CheckpointRefused(VerificationError):
    """A checkpoint note that must not be trusted, with the rule it breaks."""

    code = "checkpoint_refused"

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def open_checkpoint(note: str, verifier: NoteVerifier) -> Checkpoint:
    """The checkpoint a note signs with ``verifier``'s key, whose name must be its origin.

    Raises :class:`CheckpointRefused`: ``checkpoint_format`` (malformed note or body),
    ``checkpoint_signature`` (no valid signature by the key) or ``checkpoint_origin``.
    """
    try:
        checkpoint = Checkpoint.from_text(open_note(note, [verifier]).body)
    except EncodingError as exc:
        raise CheckpointRefused(CHECKPOINT_FORMAT, exc.message) from exc
    except VerificationError as exc:
        raise CheckpointRefused(CHECKPOINT_SIGNATURE, exc.message) from exc
    # A key vouches for one log: the same key's checkpoint of another origin is another
    # log's tree head, and must not be checked against this one (C2SP tlog-checkpoint).
    if checkpoint.origin != verifier.name:
        raise CheckpointRefused(CHECKPOINT_ORIGIN,
                                f"checkpoint origin: expected the key's name {verifier.name!r}, "
                                f"got {checkpoint.origin!r:.80}")
    return checkpoint


def cosignature_message(checkpoint_body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_body}".encode()


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    return _key_id(name, COSIGNATURE_TYPE, public_key)


def cosigner_vkey(name: str, private_key: Ed25519PrivateKey) -> str:
    public = _raw_public(private_key)
    encoded = base64.b64encode(bytes([COSIGNATURE_TYPE]) + public).decode()
    return f"{name}+{cosigner_key_id(name, public).hex()}+{encoded}"


def cosign_checkpoint(checkpoint_body: str, name: str, private_key: Ed25519PrivateKey,
                      timestamp: int) -> str:
    """A witness's cosignature line over a checkpoint body, at ``timestamp`` (Unix s)."""
    _check_name(name)
    signature = private_key.sign(cosignature_message(checkpoint_body, timestamp))
    key_id = cosigner_key_id(name, _raw_public(private_key))
    value = key_id + timestamp.to_bytes(8, "big") + signature
    return f"{SIGNATURE_PREFIX}{name} {base64.b64encode(value).decode()}\n"


def verify_cosignature(line: str, checkpoint_body: str, vkey: str) -> int:
    """Check one cosignature line against a witness's vkey; return its timestamp."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise EncodingError("witness key: expected name+keyid+key")
    name, hex_id, encoded = parts
    raw = _b64(encoded, "witness key")
    if len(raw) != 33 or raw[0] != COSIGNATURE_TYPE:
        raise EncodingError("witness key: expected a cosignature/v1 Ed25519 key")
    public = raw[1:]
    key_id = cosigner_key_id(name, public)
    if key_id.hex() != hex_id:
        raise EncodingError("witness key: key id does not match the key")
    text = line.rstrip("\n")
    if not text.startswith(SIGNATURE_PREFIX):
        raise EncodingError("cosignature: expected a '— name base64' line")
    fields = text[len(SIGNATURE_PREFIX):].split(" ")
    if len(fields) != 2 or fields[0] != name:
        raise VerificationError(f"cosignature: expected a line by {name}")
    value = _b64(fields[1], "cosignature")
    if len(value) != 4 + 8 + 64 or value[:4] != key_id:
        raise VerificationError("cosignature: wrong key id or length")
    timestamp = int.from_bytes(value[4:12], "big")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(
            value[12:], cosignature_message(checkpoint_body, timestamp))
    except InvalidSignature as exc:
        raise VerificationError("cosignature: signature does not verify") from exc
    return timestamp
