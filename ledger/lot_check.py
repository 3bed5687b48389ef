"""Re-verify one lot's history for its public page: the badge a buyer sees.

Each entry behind the lot is re-checked from its stored bytes (hash, canonical form,
signatures), its link to the entry before it, and its inclusion in the latest signed
checkpoint, whose note signature is checked against the operator's key when known.

Every request reads and hashes the stored bytes again. What follows from those exact
bytes (the signatures verify, the entry names this previous hash) and what follows from
exact hashes (this leaf is in the tree of this size and root) are facts that cannot
change, so they are remembered per process, keyed by the digests they depend on: a
changed byte misses the memo and is checked, and caught, from scratch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from ledger.domain.encoding import digests_equal, entry_hash_of_bytes
from ledger.domain.entry import Entry
from ledger.domain.merkle import inclusion_proofs, leaf_hash, verify_inclusion
from ledger.domain.note import NoteVerifier, open_checkpoint
from ledger.domain.rules import check_signature_crypto
from ledger.errors import LedgerError
from ledger.service import Ledger
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


class _Memo:
    """A bounded memo of pure results (oldest forgotten first)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()  # web servers call from many threads

    def get(self, key: Hashable) -> Any:
        return self.items.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        with self.lock:
            self.items[key] = value
            if len(self.items) > self.limit:
                self.items.popitem(last=False)


# entry digest -> (previous entry hash it names, problem or None)
_ENTRY_FACTS = _Memo(500_000)
# entry digest -> the entry read and signature-checked (a few KB each: ~100 MB at most)
_CHECKED = _Memo(20_000)
# (seq, leaf hash, tree size, root hash) of inclusions already proven
_INCLUDED = _Memo(500_000)


def checked_entry(body: bytes, digest: bytes) -> Entry:
    """The entry ``body`` holds (``digest`` its hash), read and its signatures checked;
    remembered by digest, so a changed byte is read and checked from scratch. Raises the
    :class:`LedgerError` that says what is wrong."""
    known = _CHECKED.get(digest)
    if known is not None:
        return cast(Entry, known)
    entry = load_entry(body)
    check_signature_crypto(entry.signed)
    _CHECKED.put(digest, entry)
    return entry


def _entry_facts(seq: int, body: bytes, digest: bytes) -> tuple[bytes | None, str | None]:
    known = _ENTRY_FACTS.get(digest)
    if known is not None:
        return cast(tuple[bytes | None, str | None], known)
    try:
        facts: tuple[bytes | None, str | None] = (checked_entry(body, digest).prev, None)
    except LedgerError as exc:
        facts = (None, f"entry {seq}: {exc.message}")
    _ENTRY_FACTS.put(digest, facts)
    return facts


def check_lot_history(ledger: Ledger, seqs: Sequence[int],
                      operator_vkey: str | None = None,
                      history_problems: Sequence[str] = ()) -> LotCheck:
    """The badge: ``seqs`` re-checked from their stored bytes and against the latest
    signed checkpoint; ``history_problems`` (what the walk and replay of the lot's
    history found, :mod:`ledger.lot_history`) fail it too."""
    problems: list[str] = list(history_problems)
    wanted = sorted(set(seqs))
    neighbours = {seq - 1 for seq in wanted if seq > 0} - set(wanted)
    stored = ledger.store.entry_bodies([*wanted, *neighbours])
    digests = {seq: entry_hash_of_bytes(body) for seq, (_, body) in stored.items()}
    for seq in wanted:
        if seq not in stored:
            problems.append(f"entry {seq} is missing")
            continue
        column_hash, body = stored[seq]
        digest = digests[seq]
        if not digests_equal(digest, column_hash):
            problems.append(f"entry {seq}: bytes do not match the stored hash")
        prev, problem = _entry_facts(seq, body, digest)
        if problem is not None or prev is None:
            problems.append(problem or f"entry {seq}: unreadable")
            continue
        if seq > 0 and (seq - 1 not in digests or not digests_equal(prev, digests[seq - 1])):
            problems.append(f"entry {seq}: does not link to entry {seq - 1}")
    checkpoint_size, signature_ok = _check_anchor(ledger, wanted, digests, operator_vkey,
                                                  problems)
    if problems:
        verdict = Verdict.FAILED
    elif checkpoint_size is None or (wanted and wanted[-1] >= checkpoint_size):
        verdict = Verdict.UNANCHORED
    else:
        verdict = Verdict.VERIFIED
    return LotCheck(verdict, len(wanted), checkpoint_size, signature_ok, tuple(problems))


def _check_anchor(ledger: Ledger, seqs: Sequence[int], digests: dict[int, bytes],
                  operator_vkey: str | None, problems: list[str]) -> tuple[int | None,
                                                                           bool | None]:
    latest = ledger.latest_checkpoint()
    if latest is None:
        return None, None
    signature_ok: bool | None = None
    if operator_vkey:
        try:
            checkpoint = open_checkpoint(latest.note, NoteVerifier.from_vkey(operator_vkey))
            signature_ok = checkpoint.size == latest.size and digests_equal(
                checkpoint.root_hash, latest.root_hash)
        except LedgerError as exc:
            problems.append(f"checkpoint {latest.size}: {exc.message}")
            signature_ok = False
    leaves = {seq: leaf_hash(digests[seq]) for seq in seqs
              if seq < latest.size and seq in digests}
    unproven = [seq for seq, leaf in leaves.items()
                if _INCLUDED.get((seq, leaf, latest.size, latest.root_hash)) is None]
    try:
        proofs = inclusion_proofs(unproven, latest.size, ledger.store)
    except LedgerError as exc:
        problems.append(f"checkpoint {latest.size}: cannot prove inclusion ({exc.message})")
        return latest.size, signature_ok
    for seq in unproven:
        try:
            verify_inclusion(leaves[seq], seq, latest.size, proofs[seq], latest.root_hash)
        except LedgerError as exc:
            problems.append(f"entry {seq}: not in checkpoint {latest.size} ({exc.message})")
        else:
            _INCLUDED.put((seq, leaves[seq], latest.size, latest.root_hash), True)
    return latest.size, signature_ok
