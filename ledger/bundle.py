"""Proof bundles: one lot's history in a self-contained file anyone can verify offline.

A bundle holds the canonical bytes of every entry behind the lot (its upstream history,
the operator's genesis, and the registrations and key events of the actors and products
involved), an RFC 6962 inclusion proof of each in one signed checkpoint, and that
checkpoint note. :func:`verify_bundle` needs only the bundle and the operator's verifier
key: no database, no network, no trust in the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.domain.encoding import entry_hash_of_bytes
from ledger.domain.merkle import leaf_hash, verify_inclusion
from ledger.domain.note import Checkpoint, CheckpointRefused, NoteVerifier, open_checkpoint
from ledger.domain.rules import check_signature_crypto
from ledger.domain.sequencing import admit
from ledger.domain.state import MemoryState
from ledger.errors import EncodingError, LedgerError, RuleViolation, VerificationError
from ledger.lot_history import lot_history
from ledger.service import Ledger
from ledger.wire.entries import load_entry

FORMAT = "trilha-bundle/v1"


@dataclass(frozen=True, slots=True)
class BundleFinding:
    seq: int | None
    reason: str

    def __str__(self) -> str:
        return f"{'entry ' + str(self.seq) if self.seq is not None else 'bundle'}: {self.reason}"


@dataclass(slots=True)
class BundleReport:
    lot: str
    entries: int = 0
    checkpoint_size: int | None = None
    findings: list[BundleFinding] = field(default_factory=list)
    # The newest entry of the bundle's lot: its history is proven gap-free from each
    # lot's creation up to this entry (a later one is shown by a later bundle).
    lot_head: int | None = None
    # Entries touching lots written before lot chains (format 1): they link by the log's
    # hash chain only, so their completeness is not proven by the bundle.
    format_1_lot_entries: int = 0

    def completeness(self) -> str:
        """One line: how far the bundle proves the lot's history complete."""
        if self.lot_head is None:
            return "history not established"
        text = (f"history complete from each lot's creation to entry {self.lot_head}, "
                f"as of checkpoint {self.checkpoint_size}")
        if self.format_1_lot_entries:
            text += (f"; {self.format_1_lot_entries} entries written before lot chains "
                     "(format 1) are not proven complete")
        return text

    @property
    def ok(self) -> bool:
        return not self.findings and self.entries > 0


def build_bundle(ledger: Ledger, lot_id: str) -> dict[str, Any]:
    """The lot's upstream history (as its signed entries tell it:
    :func:`ledger.lot_history.lot_history`) with the registrations it relies on and an
    inclusion proof of each in the latest signed checkpoint."""
    history = lot_history(ledger, lot_id)
    if not history.ok:
        raise VerificationError(f"lot {lot_id}: its history does not verify: "
                                + "; ".join(history.problems[:3]), lot=lot_id)
    latest = ledger.latest_checkpoint()
    if latest is None or history.seqs()[-1] >= latest.size:
        from ledger.checkpointer import AwaitingCheckpoint

        raise AwaitingCheckpoint(f"lot {lot_id}: its newest entries are not in a signed "
                                 "checkpoint yet; the next one will cover them (the server "
                                 "signs one within seconds, or run 'trilha checkpoint sign')",
                                 lot=lot_id)
    # As of the checkpoint: a registration or key event signed after it is not in its tree.
    entries = {e.seq: e for e in (*history.entries, *history.registry) if e.seq < latest.size}
    return {
        "format": FORMAT, "lot": lot_id, "checkpoint": latest.note,
        "entries": [{"seq": seq, "entry": entries[seq].canonical.decode("utf-8"),
                     "proof": [h.hex() for h in ledger.inclusion_proof(seq, latest.size).path]}
                    for seq in sorted(entries)],
    }


def verify_bundle(bundle: Any, operator_vkey: str) -> BundleReport:
    """Check everything the bundle can prove; every problem becomes a finding."""
    lot = bundle.get("lot", "?") if isinstance(bundle, dict) else "?"
    report = BundleReport(str(lot))
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        report.findings.append(BundleFinding(None, f"not a {FORMAT} document"))
        return report
    try:
        checkpoint = open_checkpoint(str(bundle.get("checkpoint", "")),
                                     NoteVerifier.from_vkey(operator_vkey))
    except CheckpointRefused as exc:  # format, signature or origin (FORMAT.md section 7)
        report.findings.append(BundleFinding(None, f"[{exc.rule}] checkpoint: {exc.message}"))
        return report
    except LedgerError as exc:
        report.findings.append(BundleFinding(None, f"checkpoint: {exc.message}"))
        return report
    report.checkpoint_size = checkpoint.size
    state = MemoryState()
    last = -1
    for item in bundle.get("entries") or []:
        _check_item(item, checkpoint, state, report, last)
        if isinstance(item, dict) and isinstance(item.get("seq"), int):
            last = item["seq"]
        report.entries += 1
    if not any(s.lot_id == lot for s in state.lots.values()):
        report.findings.append(BundleFinding(None, f"lot {lot} is not created by the bundle"))
    head = state.lot_head(str(lot))
    report.lot_head = None if head is None else head.seq
    return report


def _check_item(item: Any, checkpoint: Checkpoint, state: MemoryState, report: BundleReport,
                last: int) -> None:
    if not isinstance(item, dict) or not isinstance(item.get("seq"), int) or \
            not isinstance(item.get("entry"), str) or not isinstance(item.get("proof"), list):
        report.findings.append(BundleFinding(None, "entry item: expected seq, entry, proof"))
        return
    seq: int = item["seq"]
    if seq <= last:
        report.findings.append(BundleFinding(seq, f"entries out of order (after {last})"))
    raw = item["entry"].encode("utf-8")
    try:
        entry = load_entry(raw)
        if entry.seq != seq:
            raise EncodingError(f"seq: the entry says {entry.seq}")
        proof = [bytes.fromhex(h) for h in item["proof"]]
        verify_inclusion(leaf_hash(entry_hash_of_bytes(raw)), seq, checkpoint.size, proof,
                         checkpoint.root_hash)
        check_signature_crypto(entry.signed)
    except (LedgerError, ValueError, TypeError) as exc:
        reason = exc.message if isinstance(exc, LedgerError) else str(exc)
        report.findings.append(BundleFinding(seq, reason))
        return
    try:
        effects = admit(entry, state, crypto_checked=True)
    except RuleViolation as exc:
        report.findings.append(BundleFinding(seq, f"[{exc.rule}] {exc.message}"))
        return
    state.apply_entry(entry, effects)
    if entry.lot_prev is None and effects.touched:
        report.format_1_lot_entries += 1
