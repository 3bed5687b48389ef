"""Proof bundles: one lot's history in a self-contained file anyone can verify offline.

A bundle holds the canonical bytes of every entry behind the lot (its upstream history,
the operator's genesis, and the registrations and key events of the actors and products
involved), an RFC 6962 inclusion proof of each in one signed checkpoint, and that
checkpoint note. :func:`verify_bundle` needs only the bundle and the operator's verifier
key: no database, no network, no trust in the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.domain.encoding import entry_hash_of_bytes
from ledger.domain.events import (
    ActorRegistered,
    KeyRevoked,
    KeyRotated,
    LotTransformed,
    ProductRegistered,
)
from ledger.domain.merkle import leaf_hash, verify_inclusion
from ledger.domain.note import Checkpoint, NoteVerifier, open_note
from ledger.domain.rules import check_signature_crypto
from ledger.domain.sequencing import admit
from ledger.domain.state import MemoryState
from ledger.errors import EncodingError, LedgerError, RuleViolation
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

    @property
    def ok(self) -> bool:
        return not self.findings and self.entries > 0


def _inputs(step: Mapping[str, Any]) -> list[str]:
    kind = step["kind"]
    if kind == "lots.merged":
        return list(step["lots"][:-1])
    if kind == "lot.transformed":
        return list(step["inputs"])
    return [step["lots"][0]]


def build_bundle(ledger: Ledger, lot_id: str) -> dict[str, Any]:
    """The lot's upstream history with inclusion proofs in the latest signed checkpoint."""
    prov = ledger.provenance(lot_id, with_entries=False)
    lots = prov.upstream_lots
    seqs = {s["seq"] for s in prov.steps if set(_inputs(s)) <= lots}
    latest = ledger.latest_checkpoint()
    if latest is None or not seqs or max(seqs) >= latest.size:
        from ledger.checkpointer import AwaitingCheckpoint

        raise AwaitingCheckpoint(f"lot {lot_id}: its newest entries are not in a signed "
                                 "checkpoint yet; the next one will cover them (the server "
                                 "signs one within seconds, or run 'trilha checkpoint sign')",
                                 lot=lot_id)
    entries = {s.seq: load_entry(s.body) for s in ledger.store.entries_by_seq(seqs)}
    actors = {e.signed.event.actor for e in entries.values()}
    products = {getattr(e.signed.event.body, "product", None) for e in entries.values()}
    products |= {o.product for e in entries.values()
                 if isinstance(e.signed.event.body, LotTransformed)
                 for o in e.signed.event.body.outputs}
    # Registrations and key events of the actors and products involved, and the genesis.
    registry = ("actor.registered", "key.rotated", "key.revoked", "product.registered")
    for stored in ledger.store.entries_of_kinds(registry, end=latest.size):
        if stored.seq not in entries:
            entry = load_entry(stored.body)
            body = entry.signed.event.body
            wanted = (stored.seq == 0
                      or (isinstance(body, ActorRegistered) and body.actor_id in actors)
                      or (isinstance(body, KeyRotated | KeyRevoked) and body.actor_id in actors)
                      or (isinstance(body, ProductRegistered) and body.product.code in products))
            if wanted:
                entries[stored.seq] = entry
                if isinstance(body, ActorRegistered):
                    actors.add(entry.signed.event.actor)  # the operator who registered it
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
        note = open_note(str(bundle.get("checkpoint", "")),
                         [NoteVerifier.from_vkey(operator_vkey)])
        checkpoint = Checkpoint.from_text(note.body)
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
