"""Verification of a whole log: a pure function over a stream of entries.

The server, ``trilha verify`` on a database or on an exported JSON Lines file, and an
offline auditor all run :func:`verify_log`. It re-checks every entry hash, chain link,
signature and key window, every rule and replay, and the Merkle root at every signed
checkpoint, and reports every finding instead of stopping at the first.

The byte-level checks of each entry (its hash, canonical form, event digest and
signatures: half the cost) run through ``map_batches``, which a caller may back with a
process pool; the meaning of the same bytes (schema, normal form) and the sequential
checks (links, rules, tree, with O(log n) memory) run here, so the work splits about
evenly between this process and the workers and every core is busy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledger.domain.encoding import b64decode, digests_equal, entry_hash_of_bytes
from ledger.domain.entry import GENESIS_PREV, Entry
from ledger.domain.merkle import CompactRange, leaf_hash
from ledger.domain.note import Checkpoint
from ledger.domain.rules import check_signature_crypto, check_signatures
from ledger.domain.sequencing import admit
from ledger.domain.state import MemoryState
from ledger.errors import EncodingError, LedgerError, RuleViolation
from ledger.wire.entries import check_entry_bytes, load_entry_document, parse_entry_json
from ledger.wire.fields import format_instant


class RawEntry(Protocol):
    """An entry as read from a database row or a JSON Lines file."""

    @property
    def seq(self) -> int: ...
    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Finding:
    seq: int | None
    entry_hash: str | None
    lot: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"entry {self.seq}" if self.seq is not None else "log"
        lot = f" lot {self.lot}" if self.lot else ""
        return f"{where}{lot}: [{self.rule}] {self.message}"


@dataclass(slots=True)
class Report:
    entries: int = 0
    findings: list[Finding] = field(default_factory=list)
    tree_size: int = 0
    root_hash: bytes = b""
    checkpoints_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True, slots=True)
class Checked:
    """The byte-level checks of one entry, made in a worker: its hash, canonical form,
    event digest and signatures. Small, since it crosses back to the main process,
    which checks the meaning of the same bytes (schema, normal form, rules)."""

    position: int
    raw_hash: bytes
    refusal: tuple[str, str] | None = None  # (rule, message): the bytes are refused
    event_digest: bytes | None = None
    signature_finding: tuple[str, str] | None = None
    signatures_checked: bool = False  # False: left to the main process


def check_batch(batch: Sequence[tuple[int, bytes]]) -> list[Checked]:
    """Byte-level checks of a batch of (position, bytes); runs in workers."""
    out = []
    for position, body in batch:
        raw_hash = entry_hash_of_bytes(body)
        try:
            document, digest = check_entry_bytes(body)
        except LedgerError as exc:
            out.append(Checked(position, raw_hash, refusal=(_rule_of(exc), exc.message)))
            continue
        pairs = _signature_pairs(document)
        if digest is None or pairs is None:  # malformed: the schema check will say how
            out.append(Checked(position, raw_hash, event_digest=digest))
            continue
        finding = None
        try:
            check_signatures(digest, pairs)
        except LedgerError as exc:
            finding = (_rule_of(exc), exc.message)
        out.append(Checked(position, raw_hash, event_digest=digest,
                           signature_finding=finding, signatures_checked=True))
    return out


def _signature_pairs(document: dict[str, Any]) -> list[tuple[bytes, bytes]] | None:
    """(public key, signature) of each signature, decoded as the schema decodes them;
    None if they are not where the schema wants them."""
    try:
        return [(b64decode(item["public_key"], size=32), b64decode(item["signature"], size=64))
                for item in document["signed_event"]["signatures"]]
    except (KeyError, TypeError, EncodingError):
        return None


def _rule_of(exc: LedgerError) -> str:
    return exc.rule if isinstance(exc, RuleViolation) else exc.code


MapBatches = Callable[
    [Callable[[Sequence[tuple[int, bytes]]], list[Checked]],
     Iterable[Sequence[tuple[int, bytes]]]],
    Iterable[list[Checked]],
]
_Columns = tuple[tuple[str, object], ...]  # stored columns beside the bytes, to cross-check


def _batches(entries: Iterable[RawEntry], size: int
             ) -> Iterator[list[tuple[int, bytes, _Columns]]]:
    batch: list[tuple[int, bytes, _Columns]] = []
    for raw in entries:
        columns = tuple((name, getattr(raw, name)) for name in
                        ("entry_hash", "event_id", "kind", "actor_id", "appended_at")
                        if getattr(raw, name, None) is not None)
        batch.append((raw.seq, raw.body, columns))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def verify_log(entries: Iterable[RawEntry], checkpoints: Sequence[Checkpoint] = (), *,
               map_batches: MapBatches = map, state: MemoryState | None = None,
               progress: Callable[[int], None] | None = None, batch_size: int = 256) -> Report:
    """Re-check a whole log; every problem becomes a :class:`Finding` in the report."""
    report = Report()
    state = state if state is not None else MemoryState()
    tree = CompactRange.empty()
    pending = {cp.size: cp for cp in checkpoints}
    prev = GENESIS_PREV
    sent: deque[list[tuple[int, bytes, _Columns]]] = deque()

    def remembered(batches: Iterable[list[tuple[int, bytes, _Columns]]]
                   ) -> Iterator[list[tuple[int, bytes]]]:
        for batch in batches:  # results come back in order: pair each with its batch
            sent.append(batch)
            yield [(position, body) for position, body, _ in batch]

    for results in map_batches(check_batch, remembered(_batches(entries, batch_size))):
        for checked, (_, body, columns) in zip(results, sent.popleft(), strict=True):
            prev = _check_one(checked, body, columns, report, state, tree, prev)
            report.entries += 1
            cp = pending.pop(tree.size, None)
            if cp is not None:
                _check_checkpoint(cp, tree, report)
        if progress is not None:
            progress(report.entries)
    if 0 in pending:
        _check_checkpoint(pending.pop(0), CompactRange.empty(), report)
    for size in sorted(pending):
        report.findings.append(Finding(None, None, None, "checkpoint_beyond_log",
                                       f"checkpoint of size {size} but the log has "
                                       f"{tree.size} entries"))
    report.tree_size = tree.size
    report.root_hash = tree.root()
    return report


def _finding(report: Report, checked: Checked, rule: str, message: str,
             lot: str | None = None) -> None:
    report.findings.append(Finding(checked.position, checked.raw_hash.hex(), lot, rule, message))


def _check_one(checked: Checked, body: bytes, columns: _Columns,
               report: Report, state: MemoryState, tree: CompactRange, prev: bytes) -> bytes:
    expected_seq = tree.size
    tree.append(leaf_hash(checked.raw_hash))
    if checked.position != expected_seq:
        _finding(report, checked, "seq_contiguous",
                 f"expected entry {expected_seq} here, got entry {checked.position}")
    if checked.refusal is not None:
        _finding(report, checked, *checked.refusal)
        return checked.raw_hash
    try:
        entry = load_entry_document(parse_entry_json(body), body, checked.raw_hash,
                                    checked.event_digest)
        if not checked.signatures_checked:
            check_signature_crypto(entry.signed)
    except LedgerError as exc:
        _finding(report, checked, _rule_of(exc), exc.message)
        return checked.raw_hash
    if checked.signature_finding is not None:
        _finding(report, checked, *checked.signature_finding)
        return checked.raw_hash
    if entry.seq != expected_seq:
        _finding(report, checked, "seq_contiguous",
                 f"seq: expected {expected_seq}, got {entry.seq}")
    if not digests_equal(entry.prev, prev):
        _finding(report, checked, "chain_link",
                 f"prev: expected {prev.hex()}, got {entry.prev.hex()}")
        if expected_seq > 0:
            # The link is broken on both sides: the entry before may be the one changed.
            report.findings.append(Finding(
                expected_seq - 1, prev.hex(), None, "chain_link",
                f"entry {expected_seq} links to {entry.prev.hex()}, not to this entry"))
    _check_columns(checked, columns, entry, report)
    try:
        effects = admit(entry, state, crypto_checked=True)
    except LedgerError as exc:
        _finding(report, checked, _rule_of(exc), exc.message, exc.lot)
    else:
        state.apply_entry(entry, effects)
    return entry.hash


def _check_columns(checked: Checked, columns: _Columns, entry: Entry,
                   report: Report) -> None:
    event = entry.signed.event
    expected: dict[str, object] = {
        "entry_hash": entry.hash, "event_id": event.id, "kind": event.kind.value,
        "actor_id": event.actor, "appended_at": format_instant(entry.appended_at),
    }
    for name, stored in columns:
        if stored != expected[name]:
            shown = stored.hex() if isinstance(stored, bytes) else stored
            _finding(report, checked, "stored_column",
                     f"column {name} holds {shown!r:.80}, but the entry says "
                     f"{expected[name]!r:.80}")


def _check_checkpoint(cp: Checkpoint, tree: CompactRange, report: Report) -> None:
    report.checkpoints_checked += 1
    root = tree.root()
    if not digests_equal(root, cp.root_hash):
        report.findings.append(Finding(
            cp.size - 1 if cp.size else None, None, None, "checkpoint_root",
            f"checkpoint of size {cp.size} signs root {cp.root_hash.hex()}, the entries give "
            f"{root.hex()}"))
