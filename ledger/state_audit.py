"""The derived-state audit: every table the app reads, re-derived from the log and compared.

The app reads lots, lineage (``lot_links``), each lot's entries (``lot_events``), the
timeline steps, the Merkle nodes, actors, keys, products and the log head from tables
that appends write beside the log; the indicator projection and the stored verdicts are
derived later. Verification (``ledger/verification.py``) checks the log; this checks that
those tables say what the log says. It replays the entries exactly as the verifier does
(the domain's ``admit()`` over a :class:`MemoryState`), so every expected value comes
from the signed bytes only, and reports each difference as (table, key, expected, found):
changed rows, missing rows and rows that should not exist.

It streams: entries and tables are read in keyset-paged batches of one snapshot
(``ledger/storage/audit_reads.py``); steps and Merkle nodes, keyed by integers, are
compared in step with the replay; rows keyed by text are compared in a scratch file;
above ``SCRATCH_THRESHOLD`` entries the replay's state is on disk too, as verification's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Table

from ledger.domain.encoding import digests_equal, entry_hash_of_bytes, event_hash
from ledger.domain.entry import GENESIS_PREV, Entry
from ledger.domain.merkle import EMPTY_ROOT, CompactRange, leaf_hash
from ledger.domain.sequencing import admit
from ledger.domain.state import Effects, MemoryState
from ledger.errors import LedgerError
from ledger.service import Ledger
from ledger.steps import step_json
from ledger.storage import tables as t
from ledger.storage.audit_reads import (
    AuditReads,
    Comparison,
    Converter,
    converter,
    snapshot,
)
from ledger.storage.indicator_tables import lot_verdicts
from ledger.storage.records import key_to_row, lot_to_row
from ledger.storage.scratch import ScratchFile
from ledger.storage.store import Store
from ledger.verification import Finding
from ledger.wire.entries import load_entry, load_entry_document, parse_entry_json

SCRATCH_THRESHOLD = 20_000  # entries: above, the replay's state is on disk (as verify's)
DIFFERENCES_KEPT = 1000  # listed; beyond, only counted (a wiped table has a million)
SHOWN = 80  # characters of a value shown


@dataclass(frozen=True, slots=True)
class Difference:
    """One row of a derived table that disagrees with the log."""

    table: str
    key: str
    expected: str  # "no row": the row should not exist
    found: str  # "no row": the row is missing

    def __str__(self) -> str:
        return f"{self.table} {self.key}: expected {self.expected}, found {self.found}"


@dataclass(slots=True)
class StateAudit:
    entries: int = 0
    rows: int = 0  # stored rows read and compared
    differences: list[Difference] = field(default_factory=list)
    more: int = 0  # differences beyond those listed
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.differences and not self.more

    @property
    def entries_per_s(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0

    def add(self, difference: Difference) -> None:
        if len(self.differences) < DIFFERENCES_KEPT:
            self.differences.append(difference)
        else:
            self.more += 1


def _shown(value: Any) -> str:
    text = "null" if value is None else str(value)
    return text if len(text) <= SHOWN else text[:SHOWN - 1] + "…"


def _pairs(names: Iterable[str], values: Iterable[Any]) -> str:
    return ", ".join(f"{name}={_shown(value)}" for name, value in zip(names, values,
                                                                        strict=True))


class RowsCheck:
    """One table keyed by text: expected rows from the replay, stored rows from the
    database, compared in the scratch file. Every column is compared, as the table
    declares it (a column added later is compared too)."""

    def __init__(self, scratch: ScratchFile, table: Table, first: tuple[str, ...] = ()
                 ) -> None:
        self.table = table
        self.key = list(table.primary_key.columns)
        self.first = [table.c[name] for name in first]  # set at insert, never changed
        self.values = [c for c in table.columns if not c.primary_key and c.name not in first]
        names = [c.name for c in table.columns]
        parts = (self.key, self.values, self.first)
        # (name or position, converter) of each column, per part: built once per table.
        self._by_name = [[(c.name, converter(c)) for c in part] for part in parts]
        self._by_place = [[(names.index(c.name), converter(c)) for c in part]
                          for part in parts]
        self.comparison = Comparison(scratch.connection, table.name)

    @staticmethod
    def _encode(pairs: list[tuple[Any, Converter]], get: Callable[[Any], Any]) -> bytes:
        encoded = orjson.dumps([None if (v := get(at)) is None else f(v) for at, f in pairs])
        # orjson's bytes keep a 4 KiB buffer each: copied to their size, so that the
        # rows waiting for their batch's write stay small.
        return bytes(memoryview(encoded))

    def expect(self, row: Mapping[str, Any]) -> None:
        key, values, first = self._by_name
        get = row.get
        self.comparison.expect(self._encode(key, get), self._encode(values, get),
                               self._encode(first, get) if first else None)

    def expect_tuple(self, row: Sequence[Any]) -> None:
        """An expected row given as its values in the table's column order."""
        key, values, first = self._by_place
        get = row.__getitem__
        self.comparison.expect(self._encode(key, get), self._encode(values, get),
                               self._encode(first, get) if first else None)

    def found(self, row: Sequence[Any]) -> None:
        key, values, first = self._by_place
        get = row.__getitem__
        self.comparison.found(self._encode(key, get), self._encode(values, get),
                              self._encode(first, get) if first else None)

    def read(self, reads: AuditReads) -> None:
        for row in reads.rows(self.table):
            self.found(row)

    def report(self, audit: StateAudit) -> None:
        names = [c.name for c in (*self.values, *self.first)]
        for raw_key, expected, found in self.comparison.differences():
            key_values = orjson.loads(raw_key)
            key = (_shown(key_values[0]) if len(self.key) == 1 else
                   ",".join(f"{c.name}={_shown(v)}" for c, v in zip(self.key, key_values,
                                                                     strict=True)))
            audit.add(Difference(self.table.name, key, *_described(names, expected, found)))


def _decoded(side: tuple[bytes | None, bytes | None]) -> list[Any]:
    value, first = side
    return [*orjson.loads(value or b"[]"), *orjson.loads(first or b"[]")]


def _described(names: list[str], expected: tuple[bytes | None, bytes | None] | None,
               found: tuple[bytes | None, bytes | None] | None) -> tuple[str, str]:
    if expected is None or found is None:
        side = expected or found
        assert side is not None
        row = f"a row ({_pairs(names, _decoded(side))})" if names else "a row"
        return (row, "no row") if found is None else ("no row", row)
    ours, theirs = _decoded(expected), _decoded(found)
    differing = [i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b]
    return (_pairs([names[i] for i in differing], [ours[i] for i in differing]),
            _pairs([names[i] for i in differing], [theirs[i] for i in differing]))


class _Steps:
    """The stored timeline steps, compared in step with the replay (keyed by seq)."""

    def __init__(self, reads: AuditReads, audit: StateAudit) -> None:
        self._stored = reads.steps()
        self._audit = audit
        self._next: tuple[int, str] | None = next(self._stored, None)

    def _before(self, seq: int) -> tuple[int, str] | None:
        """Report stored steps below ``seq`` as extra; the step at ``seq``, if stored."""
        while self._next is not None and self._next[0] < seq:
            self._audit.add(Difference("entry_steps", str(self._next[0]), "no row",
                                       f"a step ({_shown(self._next[1])})"))
            self._next = next(self._stored, None)
        if self._next is not None and self._next[0] == seq:
            found, self._next = self._next, next(self._stored, None)
            return found
        return None

    def expect(self, seq: int, step: dict[str, Any]) -> None:
        found = self._before(seq)
        if found is None:
            self._audit.add(Difference("entry_steps", str(seq),
                                       f"a step ({_shown(orjson.dumps(step).decode())})",
                                       "no row"))
            return
        text = found[1]
        if text == orjson.dumps(step).decode():
            return
        try:
            stored = orjson.loads(text)
        except orjson.JSONDecodeError:
            stored = None
        if stored == step:
            return  # written differently, same step (the app reads it as JSON)
        if not isinstance(stored, dict):
            self._audit.add(Difference("entry_steps", str(seq), "a step as JSON",
                                       _shown(text)))
            return
        names = sorted(name for name in {*step, *stored} if step.get(name) != stored.get(name))
        self._audit.add(Difference("entry_steps", str(seq),
                                   _pairs(names, [step.get(n) for n in names]),
                                   _pairs(names, [stored.get(n) for n in names])))

    def skip(self, seq: int) -> None:
        """An entry whose bytes do not load: its step cannot be derived (verify says why)."""
        self._before(seq)

    def finish(self) -> None:
        self._before(1 << 62)


class _Nodes:
    """The stored Merkle nodes, compared level by level with those the replay's tree
    creates (each level's nodes are created in index order)."""

    def __init__(self, reads: AuditReads, audit: StateAudit) -> None:
        self._reads = reads
        self._audit = audit
        self._levels: dict[int, tuple[Iterator[tuple[int, bytes]], list[Any]]] = {}

    def _level(self, level: int) -> tuple[Iterator[tuple[int, bytes]], list[Any]]:
        cursor = self._levels.get(level)
        if cursor is None:
            stored = self._reads.nodes(level)
            cursor = self._levels[level] = (stored, [next(stored, None)])
        return cursor

    def _extra(self, level: int, idx: int, digest: bytes) -> None:
        self._audit.add(Difference("merkle_nodes", f"level={level},idx={idx}", "no row",
                                   f"hash={digest.hex()}"))

    def expect(self, level: int, idx: int, digest: bytes) -> None:
        stored, head = self._level(level)
        while head[0] is not None and head[0][0] < idx:
            self._extra(level, *head[0])
            head[0] = next(stored, None)
        if head[0] is not None and head[0][0] == idx:
            if not digests_equal(head[0][1], digest):
                self._audit.add(Difference("merkle_nodes", f"level={level},idx={idx}",
                                           f"hash={digest.hex()}", f"hash={head[0][1].hex()}"))
            head[0] = next(stored, None)
        else:
            self._audit.add(Difference("merkle_nodes", f"level={level},idx={idx}",
                                       f"hash={digest.hex()}", "no row"))

    def finish(self) -> None:
        for level in self._reads.node_levels():
            stored, head = self._level(level)
            while head[0] is not None:
                self._extra(level, *head[0])
                head[0] = next(stored, None)


def _state(scratch: ScratchFile, size: int) -> MemoryState:
    if size <= SCRATCH_THRESHOLD:
        return MemoryState()
    small = 1 << 20  # bits: actors, keys and products number in the thousands at most
    return MemoryState(actors=scratch.mapping("s_actors", bloom_bits=small),
                       keys=scratch.mapping("s_keys", bloom_bits=small),
                       products=scratch.mapping("s_products", bloom_bits=small),
                       lots=scratch.mapping("s_lots"), events=scratch.mapping("s_events"),
                       lot_heads=scratch.mapping("s_lot_heads"))


class _Replay:
    """The log replayed as the verifier replays it, each accepted entry's derived rows
    handed to the comparisons."""

    def __init__(self, reads: AuditReads, scratch: ScratchFile, audit: StateAudit,
                 bad: Mapping[int, str], size: int) -> None:
        self.reads = reads
        self.audit = audit
        self.bad = bad  # seq -> rule: entries the verifier found a problem with
        self.state = _state(scratch, size)
        self.tree = CompactRange.empty()
        self.head = GENESIS_PREV
        self.chained_from: int | None = None
        self.steps = _Steps(reads, audit)
        self.nodes = _Nodes(reads, audit)
        self.checkpoints = reads.checkpoint_roots()
        self.anchored = {0} if digests_equal(self.checkpoints.get(0, b""), EMPTY_ROOT) \
            else set()  # sizes of stored checkpoints whose root the log gives
        self.tables = {table.name: RowsCheck(scratch, table, first) for table, first in (
            (t.lots, ("created_seq",)), (t.lot_links, ()), (t.lot_events, ()),
            (t.actors, ()), (t.keys, ()), (t.products, ()), (t.log_head, ()))}
        # Lots whose history holds an entry that does not verify (lot -> that entry).
        self.tainted: MutableMapping[str, int] = (
            {} if size <= SCRATCH_THRESHOLD else scratch.mapping("s_tainted"))
        self.unreadable: int | None = None  # the first bad entry whose lots are unknown
        # Imported here: the projection's audit builds on this module's comparisons.
        from ledger.indicator_audit import ProjectionAudit

        self.projection = ProjectionAudit(reads, scratch, self.state, audit)

    def run(self, progress: Callable[[int], None] | None) -> None:
        for seq, body in self.reads.entries():
            self.entry(seq, body)
            self.audit.entries += 1
            if progress is not None and self.audit.entries % 10_000 == 0:
                progress(self.audit.entries)
        self.steps.finish()
        self.nodes.finish()
        self.tables["log_head"].expect({"id": 1, "size": self.tree.size,
                                        "head_hash": self.head,
                                        "chained_from": self.chained_from})
        self.projection.finish()

    def entry(self, seq: int, body: bytes) -> None:
        raw_hash = entry_hash_of_bytes(body)
        for level, idx, digest in self.tree.append(leaf_hash(raw_hash)):
            self.nodes.expect(level, idx, digest)
        root = self.checkpoints.get(self.tree.size)
        if root is not None and digests_equal(root, self.tree.root()):
            self.anchored.add(self.tree.size)
        self.head = raw_hash
        try:
            entry = self._load(seq, body, raw_hash)
        except LedgerError:
            self.steps.skip(seq)
            if self.unreadable is None:
                self.unreadable = seq
            return
        step = step_json(entry)
        self.steps.expect(seq, step)
        self.projection.fold(step)
        if seq in self.bad:
            for lot in entry.signed.event.lots():
                self.tainted.setdefault(lot, seq)
        try:
            # The verifier checked the signatures of every entry it found nothing wrong
            # with; those it did are checked again here, as it does, and refused alike.
            effects = admit(entry, self.state, crypto_checked=seq not in self.bad)
        except LedgerError:
            return  # not applied, as by the verifier (whose finding says why)
        self.state.apply_entry(entry, effects)
        self.expect(entry, effects)

    def _load(self, seq: int, body: bytes, raw_hash: bytes) -> Entry:
        if seq in self.bad:
            return load_entry(body)  # every check of the bytes, as the verifier made them
        # The verifier found these bytes canonical: only their meaning is loaded again, as
        # its main process loads it (a third of the replay's time saved).
        document = parse_entry_json(body)
        signed = document.get("signed_event") if isinstance(document, dict) else None
        event = signed.get("event") if isinstance(signed, dict) else None
        if not isinstance(event, dict):
            return load_entry(body)  # let the full check say what is wrong
        return load_entry_document(document, body, raw_hash, event_hash(event))

    def expect(self, entry: Entry, effects: Effects) -> None:
        seq = entry.seq
        tables = self.tables
        if entry.lot_prev is not None and self.chained_from is None:
            self.chained_from = seq
        for actor in effects.actors:
            tables["actors"].expect({"actor_id": actor.actor_id, "kind": actor.kind.value,
                                     "name": actor.name, "gln": actor.gln, "seq": seq})
        for key in effects.keys:
            tables["keys"].expect(key_to_row(key))
        for product in effects.products:
            tables["products"].expect({
                "code": product.code, "seq": seq,
                "body": json.dumps(product.to_json(), ensure_ascii=False)})
        for lot in effects.lots:
            tables["lots"].expect({**lot_to_row(lot, seq), "head_hash": entry.hash,
                                   "created_seq": seq})
        for parent, child in effects.links:
            tables["lot_links"].expect({"parent": parent, "child": child, "seq": seq})
            if parent in self.tainted:
                self.tainted.setdefault(child, self.tainted[parent])
        for lot_id in dict.fromkeys(effects.touched):
            tables["lot_events"].expect({"lot_id": lot_id, "seq": seq})
        self.projection.links(seq, effects.links)

    def compare(self) -> None:
        for rows in self.tables.values():
            rows.read(self.reads)
            rows.report(self.audit)
        self._verdicts()
        self.projection.compare()

    def _verdicts(self) -> None:
        """A stored verdict names a lot of the log, and "verified" only for a history
        that verifies and lies within a checkpoint that the log gives the root of."""
        for lot, verdict, size, _ in self.reads.rows(lot_verdicts):
            found = f"verdict={verdict} (checkpoint {size})"
            record, head = self.state.lot(lot), self.state.lot_head(lot)
            if record is None or head is None:
                self.audit.add(Difference(lot_verdicts.name, lot, "no row (no such lot)",
                                          found))
                continue
            if verdict != "verified":
                continue  # claiming less than the truth misleads nobody
            expected = None
            if size is None or int(size) not in self.anchored:
                expected = f"not verified (checkpoint {size} is not one of this log's)"
            elif head.seq >= int(size):
                expected = f"verdict=unanchored (entry {head.seq} is after checkpoint {size})"
            elif lot in self.tainted:
                expected = (f"verdict=failed (entry {self.tainted[lot]} of its history does "
                            "not verify)")
            elif self.unreadable is not None and self.unreadable <= head.seq:
                expected = (f"not verified (entry {self.unreadable} does not load and may "
                            "be in its history)")
            if expected is not None:
                self.audit.add(Difference(lot_verdicts.name, lot, expected, found))


def audit_ledger(ledger: Ledger, findings: Iterable[Finding] = (), *,
                 progress: Callable[[int], None] | None = None) -> StateAudit:
    """:func:`audit_derived_state` of a ledger's store: the service's door for the
    adapters (``trilha verify``, the auditor console), which never touch storage."""
    return audit_derived_state(ledger.store, findings, progress=progress)


def audit_derived_state(store: Store, findings: Iterable[Finding] = (), *,
                        progress: Callable[[int], None] | None = None) -> StateAudit:
    """Compare every derived table with the log replayed; ``findings`` are verification's
    on the same log (``Ledger.verify``): entries it refused are not applied, as there,
    and a stored "verified" verdict on a history holding one is a difference."""
    started = time.perf_counter()
    audit = StateAudit()
    bad = {f.seq: f.rule for f in findings if f.seq is not None}
    with snapshot(store.engine) as reads:
        size = reads.entries_held()
        scratch = ScratchFile()
        try:
            replay = _Replay(reads, scratch, audit, bad, size)
            replay.run(progress)
            replay.compare()
        finally:
            scratch.close()
        audit.rows = reads.rows_read - audit.entries
    audit.seconds = time.perf_counter() - started
    return audit
