"""The Ledger service: the one entry point the adapters (web, CLI) call.

It wires the pure core to the store: appends (single or batched, serialized by the
database), provenance, Merkle proofs, checkpoints and verification.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy.exc import NoResultFound

from ledger.domain.encoding import digests_equal, entry_hash_of_bytes
from ledger.domain.entry import GENESIS_PREV, Entry
from ledger.domain.events import SignedEvent, lots_named
from ledger.domain.merkle import (
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_reader,
    verify_inclusion,
)
from ledger.domain.note import (
    Checkpoint,
    CheckpointRefused,
    NoteSigner,
    NoteVerifier,
    open_checkpoint,
    sign_note,
)
from ledger.domain.sequencing import admit, lot_prev_for
from ledger.domain.state import LotRecord, MemoryState
from ledger.errors import LedgerError, NotFound, ValidationError, VerificationError
from ledger.gc_pause import paused_gc
from ledger.steps import step_json
from ledger.storage.scratch import ScratchFile
from ledger.storage.store import AppendSession, Store, StoredCheckpoint, StoredEntry
from ledger.verification import RawEntry, Report, verify_log
from ledger.wire.entries import build_entry, load_entry
from ledger.wire.events import load_signed_event
from ledger.wire.fields import format_instant

DEFAULT_ORIGIN = "trilha.local/log"
# Above this many entries, verification keeps its state on disk (flat memory).
SCRATCH_THRESHOLD = 20_000

T = TypeVar("T")
R = TypeVar("R")


def encode_step(entry: Entry) -> str:
    return orjson.dumps(step_json(entry)).decode()  # a read model, not hashed: any JSON


def utc_now() -> datetime:
    return datetime.now(UTC)


class BatchRejected(LedgerError):
    """A batch of events in which some were refused; nothing of it was appended."""

    code = "batch_rejected"

    def __init__(self, failures: list[tuple[int, LedgerError]]) -> None:
        first_index, first = failures[0]
        super().__init__(f"{len(failures)} of the events were refused; nothing was appended "
                         f"(first, #{first_index + 1}: {first.message})")
        self.failures = failures


@dataclass(frozen=True, slots=True)
class InclusionProof:
    seq: int
    tree_size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]
    root_hash: bytes


@dataclass(frozen=True, slots=True)
class Provenance:
    """A lot's history: every lot upstream back to the harvests, and every lot downstream."""

    lot: LotRecord
    upstream: tuple[tuple[str, str], ...]  # (parent, child) links towards the harvests
    downstream: tuple[tuple[str, str], ...]
    entries: tuple[Entry, ...] = field(default=())  # every entry touching those lots
    steps: tuple[dict[str, Any], ...] = field(default=())  # the same, as timeline steps

    @property
    def upstream_lots(self) -> frozenset[str]:
        """The lot and every lot it came from."""
        return frozenset({self.lot.lot_id, *(parent for parent, _ in self.upstream)})

    def upstream_steps(self) -> list[dict[str, Any]]:
        """The steps that touched the lot or a lot it came from, in log order."""
        lots = self.upstream_lots
        return [step for step in self.steps if not lots.isdisjoint(step["lots"])]


class Ledger:
    """One ledger: a store, a clock and a log origin name for its checkpoints."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = utc_now,
                 origin: str = DEFAULT_ORIGIN) -> None:
        self.store = store
        self.clock = clock
        self.origin = origin

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> Ledger:
        return cls(Store.open(url), **kwargs)

    def close(self) -> None:
        self.store.close()

    # -- appends --------------------------------------------------------------------------

    def submit(self, document: Any) -> Entry:
        """Append a signed event given as JSON (what the API and the outbox send)."""
        return self.append(load_signed_event(document))

    def append(self, signed: SignedEvent) -> Entry:
        return self.append_many([signed])[0]

    def append_many(self, events: Sequence[SignedEvent]) -> list[Entry]:
        """Append every event in one transaction, or none of them.

        Each event is checked against the state the ones before it left. If any is
        refused, the others are still checked, so one run reports every refusal; then
        :class:`BatchRejected` carries them all and nothing is appended.
        """
        failures: list[tuple[int, LedgerError]] = []
        appended: list[Entry] = []
        with self.store.append_session() as session:
            size, head = session.lock_head()
            tree = self._frontier(size, head, session)
            last = session.last_appended_at()
            for index, signed in enumerate(events):
                # The log's clock never goes back, even if this machine's does.
                appended_at = self.clock() if last is None else max(self.clock(), last)
                try:
                    entry = self._sequence(signed, tree.size, head, appended_at, session)
                    effects = admit(entry, session)
                except LedgerError as exc:
                    if len(events) == 1:
                        raise
                    failures.append((index, exc))
                    continue
                nodes = tree.append(leaf_hash(entry.hash))
                session.write(entry, effects, nodes, encode_step(entry))
                head, last = entry.hash, entry.appended_at
                appended.append(entry)
            if failures:
                raise BatchRejected(failures)
            session.set_head(tree.size, head)
        self.store.frontier = (tree.size, head, tree.hashes())
        return appended

    @staticmethod
    def _sequence(signed: SignedEvent, seq: int, prev: bytes, appended_at: datetime,
                  session: AppendSession) -> Entry:
        """The entry the log would write, read back from its canonical bytes by the
        verifier's own loader: whatever door built ``signed``, what is checked and
        appended is exactly what a verifier will read."""
        lot_prev = lot_prev_for(lots_named(signed.event.body), session)
        return load_entry(build_entry(seq, prev, appended_at, signed, lot_prev).canonical)

    def _frontier(self, size: int, head: bytes, session: Any) -> CompactRange:
        cached = self.store.frontier
        if cached is not None and cached[0] == size and digests_equal(cached[1], head):
            return CompactRange(size, list(cached[2]))
        return CompactRange.from_reader(size, session)

    def replicate(self, entries: Iterable[Entry]) -> int:
        """Append entries exactly as another ledger sequenced them (restore, mirror).

        Each must continue this log (its seq and prev) and pass every rule; the batch is
        appended in one transaction, or not at all.
        """
        count = 0
        with self.store.append_session() as session:
            size, head = session.lock_head()
            tree = CompactRange.from_reader(size, session)
            for entry in entries:
                if entry.seq != tree.size or not digests_equal(entry.prev, head):
                    raise VerificationError(
                        f"entry {entry.seq}: expected seq {tree.size} linking to "
                        f"{head.hex()[:16]}…, got seq {entry.seq} linking to "
                        f"{entry.prev.hex()[:16]}…")
                effects = admit(entry, session)
                session.write(entry, effects, tree.append(leaf_hash(entry.hash)),
                              encode_step(entry))
                head = entry.hash
                count += 1
            session.set_head(tree.size, head)
        return count

    # -- reads ----------------------------------------------------------------------------

    def size(self) -> int:
        return self.store.head()[0]

    def entry(self, seq: int) -> Entry:
        return load_entry(self.store.entry(seq).body)

    def lot(self, lot_id: str) -> LotRecord:
        lot = self.store.lot(lot_id)
        if lot is None:
            raise NotFound(f"lot {lot_id} does not exist", lot=lot_id)
        return lot

    def provenance(self, lot_id: str, *, with_entries: bool = True) -> Provenance:
        """Upstream and downstream graphs from the link index, never a log scan."""
        lot = self.lot(lot_id)
        upstream = tuple(self.store.lot_graph(lot_id, upstream=True))
        downstream = tuple(self.store.lot_graph(lot_id, upstream=False))
        linked = {lot.lot_id, *(p for p, _ in upstream), *(c for _, c in downstream)}
        steps = tuple(self.store.steps_of_lots(linked))
        if not with_entries:
            return Provenance(lot, upstream, downstream, (), steps)
        seqs = [step["seq"] for step in steps]
        entries = tuple(load_entry(stored.body) for stored in self.store.entries_by_seq(seqs))
        return Provenance(lot, upstream, downstream, entries, steps)

    # -- Merkle proofs and checkpoints ----------------------------------------------------

    def root(self, size: int | None = None) -> bytes:
        size = self.size() if size is None else size
        return root_from_reader(size, self.store)

    def _check_size(self, size: int, field_name: str) -> int:
        current = self.size()
        if not 0 <= size <= current:
            raise ValidationError(f"{field_name}: expected a tree size from 0 to {current}, "
                                  f"got {size}", field=field_name)
        return size

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> InclusionProof:
        size = self._check_size(self.size() if tree_size is None else tree_size, "tree_size")
        if not 0 <= seq < size:
            raise ValidationError(f"seq: expected an entry below tree size {size}, got {seq}",
                                  field="seq")
        leaf = leaf_hash(self.store.entry(seq).entry_hash)
        path = tuple(inclusion_proof(seq, size, self.store))
        return InclusionProof(seq, size, leaf, path, self.root(size))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        new = self._check_size(self.size() if new_size is None else new_size, "new_size")
        old = self._check_size(old_size, "old_size")
        if old > new:
            raise ValidationError(f"old_size: expected at most {new}, got {old}",
                                  field="old_size")
        return consistency_proof(old, new, self.store)

    def sign_checkpoint(self, signer: NoteSigner) -> str:
        """Sign the current tree head as a C2SP checkpoint note and keep it."""
        size = self.size()
        checkpoint = Checkpoint(self.origin, size, self._root_to_sign(size, signer))
        note = sign_note(checkpoint.to_text(), [signer])
        self.store.add_checkpoint(StoredCheckpoint(size, checkpoint.root_hash, note,
                                                   format_instant(self.clock())))
        stored = self.store.checkpoint(size)
        return stored.note if stored else note

    def _root_to_sign(self, size: int, signer: NoteSigner) -> bytes:
        """The root the log's entries give at ``size``: the last checkpoint this key
        signed (its frontier read from the stored nodes, held to the signed root, and its
        last entry's bytes proven in it), extended by hashing the bytes of every later
        entry, each linked to the one before. Every node those entries made must be stored
        as computed (inclusion proofs are served from them), or nothing is signed: the
        operator never signs a tree that the entries themselves do not give. (Nodes below
        an earlier checkpoint were held to it when it was signed; a later change to them
        cannot move this root, and trilha verify's derived-state pass names it.)"""
        tree, prev = CompactRange.empty(), GENESIS_PREV
        latest = self.store.checkpoint()
        signed: Checkpoint | None = None
        if latest is not None and 0 < latest.size <= size:
            try:
                signed = open_checkpoint(latest.note,
                                         NoteVerifier.from_vkey(signer.verifier_key()))
            except LedgerError:
                signed = None  # another key's (a rotation): rebuild from the first entry
        if signed is not None and 0 < signed.size <= size:
            tree = CompactRange.from_reader(signed.size, self.store)
            if not digests_equal(tree.root(), signed.root_hash):
                raise VerificationError(f"merkle_nodes: the stored tree of size {signed.size} "
                                        "is not the one its checkpoint signs; nothing signed "
                                        "(run trilha verify)")
            prev = entry_hash_of_bytes(self.store.entry(signed.size - 1).body)
            verify_inclusion(leaf_hash(prev), signed.size - 1, signed.size,
                             inclusion_proof(signed.size - 1, signed.size, self.store),
                             signed.root_hash)
        created: dict[tuple[int, int], bytes] = {}
        for stored in self.store.iter_entries(start=tree.size, end=size):
            digest = entry_hash_of_bytes(stored.body)
            try:
                linked = bytes.fromhex(orjson.loads(stored.body)["prev"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                linked = b""
            if not digests_equal(linked, prev):
                raise VerificationError(f"entry {stored.seq}: its bytes do not link to entry "
                                        f"{stored.seq - 1}; nothing signed (run trilha verify)")
            created.update(((level, idx), node) for level, idx, node in
                           tree.append(leaf_hash(digest)))
            prev = digest
        stored_nodes = self.store.read_nodes(list(created))
        wrong = sorted(key for key, node in created.items()
                       if not digests_equal(stored_nodes.get(key, b""), node))
        if tree.size != size or wrong:
            raise VerificationError(f"merkle_nodes: {len(wrong)} stored nodes of the tree of "
                                    f"size {size} are not the ones the entries give (first "
                                    f"{wrong[:1]}); nothing signed (run trilha verify)")
        return tree.root()

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self.store.checkpoint()

    def open_checkpoints(self, verifier: NoteVerifier
                         ) -> tuple[list[Checkpoint], list[tuple[str, str]]]:
        """Every stored checkpoint that opens with ``verifier`` (signature and origin), and
        (rule, problem) for the rest."""
        good: list[Checkpoint] = []
        problems: list[tuple[str, str]] = []
        for stored in self.store.checkpoints():
            try:
                checkpoint = open_checkpoint(stored.note, verifier)
            except CheckpointRefused as exc:
                problems.append((exc.rule, f"checkpoint of size {stored.size}: {exc.message}"))
                continue
            if checkpoint.size != stored.size or not digests_equal(checkpoint.root_hash,
                                                                   stored.root_hash):
                problems.append(("stored_column", f"checkpoint of size {stored.size}: "
                                 "columns disagree with the signed note"))
            good.append(checkpoint)
        return good, problems

    # -- verification and export ----------------------------------------------------------

    def verify(self, verifier: NoteVerifier | None = None, *, workers: int = 2,
               progress: Callable[[int], None] | None = None) -> Report:
        """Re-verify the whole log from the database, using ``workers`` processes."""
        checkpoints: list[Checkpoint] = []
        problems: list[tuple[str, str]] = []
        if verifier is not None:
            checkpoints, problems = self.open_checkpoints(verifier)
        else:
            # No key to check signatures with: the recorded roots are still compared with
            # the tree the log rebuilds (a rewritten log cannot match them).
            checkpoints = [Checkpoint(self.origin, stored.size, stored.root_hash)
                           for stored in self.store.checkpoints()]
        head = self._stored_head()
        # The head row is one of the things being checked: size the replay's state by it
        # only when it is there (a missing row is a finding below, not a crash).
        scratch = ScratchFile() if head is not None and head[0] > SCRATCH_THRESHOLD else None
        small = 1 << 20  # bits: actors, keys and products number in the thousands at most
        state = None if scratch is None else MemoryState(
            actors=scratch.mapping("actors", bloom_bits=small),
            keys=scratch.mapping("keys", bloom_bits=small),
            products=scratch.mapping("products", bloom_bits=small),
            lots=scratch.mapping("lots"), events=scratch.mapping("events"),
            lot_heads=scratch.mapping("lot_heads"))
        try:
            report = run_verification(self.store.iter_entries(), checkpoints,
                                      workers=workers, progress=progress, state=state)
        finally:
            if scratch is not None:
                scratch.close()
        from ledger.verification import Finding

        for rule, problem in problems:
            report.findings.append(Finding(None, None, None, rule, problem))
        if head is None:
            report.findings.append(Finding(None, None, None, "log_head",
                                           "the log head row is missing"))
        elif head[0] != report.entries:
            report.findings.append(Finding(None, None, None, "log_head",
                                           f"the log head says {head[0]} entries, found "
                                           f"{report.entries}"))
        return report

    def _stored_head(self) -> tuple[int, bytes] | None:
        try:
            return self.store.head()
        except NoResultFound:
            return None

    def export_jsonl(self) -> Iterator[bytes]:
        """Every entry's canonical bytes, one per line (what ``trilha verify`` reads)."""
        for stored in self.store.iter_entries():
            yield stored.body + b"\n"


@dataclass(frozen=True, slots=True)
class JsonlEntry:
    seq: int
    body: bytes


def read_jsonl(lines: Iterable[bytes]) -> Iterator[JsonlEntry]:
    for position, line in enumerate(lines):
        body = line.rstrip(b"\r\n")
        if body:
            yield JsonlEntry(position, body)


def run_verification(entries: Iterable[StoredEntry] | Iterable[JsonlEntry],
                     checkpoints: Sequence[Checkpoint], *, workers: int = 2,
                     progress: Callable[[int], None] | None = None,
                     state: MemoryState | None = None) -> Report:
    stream: Iterator[RawEntry] = _collecting_now_and_then(entries)
    with paused_gc():
        if workers <= 1:
            return verify_log(stream, checkpoints, progress=progress, state=state)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            def map_batches(fn: Callable[[T], R], batches: Iterable[T]) -> Iterator[R]:
                return bounded_map(pool, fn, batches, window=workers * 4)

            return verify_log(stream, checkpoints, map_batches=map_batches,
                              progress=progress, state=state)


def _collecting_now_and_then(entries: Iterable[RawEntry], every: int = 100_000
                             ) -> Iterator[RawEntry]:
    """With the collector paused for the run (its full passes over the state caches cost
    a tenth of the main process), collect once in a while all the same, so memory stays
    flat even if something made cycles."""
    for count, entry in enumerate(entries, 1):
        if count % every == 0:
            gc.collect()
        yield entry


def bounded_map(executor: Executor, fn: Callable[[T], R], items: Iterable[T], *,
                window: int) -> Iterator[R]:
    """Like ``executor.map`` but with at most ``window`` items in flight (flat memory)."""
    in_flight: deque[Future[R]] = deque()
    for item in items:
        in_flight.append(executor.submit(fn, item))
        if len(in_flight) >= window:
            yield in_flight.popleft().result()
    while in_flight:
        yield in_flight.popleft().result()
