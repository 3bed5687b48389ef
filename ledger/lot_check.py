"""Re-verify one lot's history for its public page: the badge a buyer sees.

Each entry behind the lot is re-checked from its stored bytes (hash, canonical form,
signatures), its link to the entry before it, and its inclusion in the latest signed
checkpoint, whose note signature is checked against the operator's key when known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ledger.domain.encoding import digests_equal, entry_hash_of_bytes
from ledger.domain.merkle import leaf_hash, verify_inclusion
from ledger.domain.note import Checkpoint, NoteVerifier, open_note
from ledger.domain.rules import check_signature_crypto
from ledger.errors import LedgerError
from ledger.service import Ledger
from ledger.storage.store import StoredEntry
from ledger.wire.entries import load_entry


class Verdict(StrEnum):
    VERIFIED = "verified"  # every check passed, anchored in a signed checkpoint
    UNANCHORED = "unanchored"  # entries check, but some are newer than the last checkpoint
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LotCheck:
    verdict: Verdict
    entries_checked: int
    checkpoint_size: int | None
    checkpoint_signature: bool | None  # None: no operator key configured
    problems: tuple[str, ...] = field(default=())


def check_lot_history(ledger: Ledger, seqs: Sequence[int],
                      operator_vkey: str | None = None) -> LotCheck:
    problems: list[str] = []
    wanted = sorted(set(seqs))
    neighbours = {seq - 1 for seq in wanted if seq > 0} - set(wanted)
    stored = {s.seq: s for s in ledger.store.entries_by_seq([*wanted, *neighbours])}
    for seq in wanted:
        row = stored.get(seq)
        if row is None:
            problems.append(f"entry {seq} is missing")
            continue
        digest = entry_hash_of_bytes(row.body)
        if not digests_equal(digest, row.entry_hash):
            problems.append(f"entry {seq}: bytes do not match the stored hash")
        try:
            entry = load_entry(row.body)
            check_signature_crypto(entry.signed)
        except LedgerError as exc:
            problems.append(f"entry {seq}: {exc.message}")
            continue
        previous = stored.get(seq - 1)
        if seq > 0 and (previous is None or not digests_equal(
                entry.prev, entry_hash_of_bytes(previous.body))):
            problems.append(f"entry {seq}: does not link to entry {seq - 1}")
    checkpoint_size, signature_ok = _check_anchor(ledger, wanted, stored, operator_vkey,
                                                  problems)
    if problems:
        verdict = Verdict.FAILED
    elif checkpoint_size is None or (wanted and wanted[-1] >= checkpoint_size):
        verdict = Verdict.UNANCHORED
    else:
        verdict = Verdict.VERIFIED
    return LotCheck(verdict, len(wanted), checkpoint_size, signature_ok, tuple(problems))


def _check_anchor(ledger: Ledger, seqs: Sequence[int], stored: dict[int, StoredEntry],
                  operator_vkey: str | None, problems: list[str]) -> tuple[int | None,
                                                                           bool | None]:
    latest = ledger.latest_checkpoint()
    if latest is None:
        return None, None
    signature_ok: bool | None = None
    if operator_vkey:
        try:
            note = open_note(latest.note, [NoteVerifier.from_vkey(operator_vkey)])
            checkpoint = Checkpoint.from_text(note.body)
            signature_ok = checkpoint.size == latest.size and digests_equal(
                checkpoint.root_hash, latest.root_hash)
        except LedgerError as exc:
            problems.append(f"checkpoint {latest.size}: {exc.message}")
            signature_ok = False
    for seq in seqs:
        if seq >= latest.size:
            continue
        row = stored.get(seq)
        if row is None:
            continue
        try:
            proof = ledger.inclusion_proof(seq, latest.size)
            verify_inclusion(leaf_hash(entry_hash_of_bytes(row.body)),
                             seq, latest.size, proof.path, latest.root_hash)
        except LedgerError as exc:
            problems.append(f"entry {seq}: not in checkpoint {latest.size} ({exc.message})")
    return latest.size, signature_ok
