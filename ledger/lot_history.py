"""A lot's history as its signed entries tell it: what the lot page and bundle show.

The walk starts at the lot's newest entry and follows, backwards, the ``lot_prev`` links
each entry commits to (entry format 2), checking every entry's bytes against the hash
the next one names; at the entry that created a lot it goes on into the lots that entry
names as its inputs. The database's indexes only say which rows to read first: an entry
the walk needs and the index forgot is read anyway, one the index lists and the walk does
not reach is not part of the history. The entries are then replayed through the same
rules as the verifier (:func:`ledger.domain.sequencing.admit`), with the registrations of
the actors, keys and products involved, and the lot's figures are what that replay
leaves: nothing on the page comes from a table that was not checked against the log.

History written before lot chains existed (format 1) is found through the index, and
says so (``index_backed``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.domain import events as ev
from ledger.domain.catalogue import Product
from ledger.domain.encoding import digests_equal, entry_hash_of_bytes
from ledger.domain.entry import Entry, LotLink
from ledger.domain.gs1 import check_lot
from ledger.domain.sequencing import admit
from ledger.domain.state import LotRecord, MemoryState
from ledger.errors import LedgerError, NotFound, RuleViolation, ValidationError
from ledger.lot_check import checked_entry
from ledger.service import Ledger
from ledger.steps import step_json
from ledger.storage.store import StoredEntry

REGISTRY_KINDS = ("actor.registered", "key.rotated", "key.revoked", "product.registered")


@dataclass(frozen=True, slots=True)
class LotHistory:
    lot_id: str
    lot: LotRecord | None  # as the replay leaves it; None if the replay never made it
    entries: tuple[Entry, ...]  # the lot's and its upstream lots' chains, in log order
    registry: tuple[Entry, ...]  # registrations and key events the replay relied on
    links: tuple[tuple[str, str], ...]  # (parent, child), from the signed creation events
    actors: Mapping[str, str] = field(default_factory=dict)  # actor id -> registered name
    lots: Mapping[str, LotRecord] = field(default_factory=dict)  # every lot of the replay
    products: Mapping[str, Product] = field(default_factory=dict)  # as their entries say
    problems: tuple[str, ...] = ()
    index_backed: bool = False  # part of it is format 1, found through the index

    @property
    def ok(self) -> bool:
        return not self.problems and self.lot is not None

    @property
    def upstream_lots(self) -> frozenset[str]:
        return frozenset({self.lot_id, *(parent for parent, _ in self.links)})

    def steps(self) -> list[dict[str, Any]]:
        return [step_json(entry) for entry in self.entries]

    def seqs(self) -> list[int]:
        return [entry.seq for entry in self.entries]

    def replayed_seqs(self) -> list[int]:
        """Every entry the page's figures come from: the history and the registrations
        (names, keys, products) its replay relied on; the badge checks all of them."""
        return sorted({*self.seqs(), *(entry.seq for entry in self.registry)})


def _inputs_of(body: ev.Body, lot_id: str) -> tuple[str, ...] | None:
    """The lots ``body`` made ``lot_id`` from; None if ``body`` did not create it."""
    match body:
        case ev.LotHarvested() if body.lot == lot_id:
            return ()
        case ev.LotSplit() if any(child.lot == lot_id for child in body.children):
            return (body.lot,)
        case ev.LotsMerged() if body.into == lot_id:
            return tuple(body.lots)
        case ev.LotTransformed() if any(out.lot == lot_id for out in body.outputs):
            return tuple(body.inputs)
    return None


class _Walk:
    def __init__(self, ledger: Ledger, lot_id: str) -> None:
        self.store = ledger.store
        self.entries: dict[int, Entry] = {}
        self.problems: list[str] = []
        self.index_backed = False
        self.visited: set[str] = set()
        hint_lots = {lot_id, *(p for p, _ in self.store.lot_graph(lot_id, upstream=True))}
        self.hint_seqs = self.store.seqs_of_lots(hint_lots)
        self.bodies = self.store.entry_bodies(self.hint_seqs)

    def _read(self, seq: int) -> Entry | None:
        found = self.bodies.get(seq)
        if found is None:
            found = self.store.entry_bodies([seq]).get(seq)
            if found is None:
                self.problems.append(f"entry {seq} is missing from the log")
                return None
            self.bodies[seq] = found
        body = found[1]
        try:
            return checked_entry(body, entry_hash_of_bytes(body))
        except LedgerError as exc:
            self.problems.append(f"entry {seq}: {exc.message}")
            return None

    def newer_than_head(self, lot_id: str, head: LotLink) -> None:
        """An entry the index lists for the lot after the head its row names, and that
        touches it by its signed body: the row hides the lot's newest entries."""
        for seq in self.hint_seqs:
            if seq > head.seq:
                entry = self._read(seq)
                if entry is not None and lot_id in entry.signed.event.lots():
                    self.problems.append(f"lot {lot_id}: its row names entry {head.seq} as "
                                         f"its newest, but entry {seq} touches it")
                    return

    def lot(self, lot_id: str, start: LotLink) -> None:
        """Walk ``lot_id``'s chain back from ``start``, then into the lots it came from."""
        if lot_id in self.visited:
            return
        self.visited.add(lot_id)
        link: LotLink | None = start
        while link is not None:
            entry = self._read(link.seq)
            if entry is None:
                return
            if not digests_equal(entry.hash, link.hash):
                self.problems.append(f"lot {lot_id}: entry {link.seq} is not the one its "
                                     "successor names (hash differs)")
                return
            if lot_id not in entry.signed.event.lots():
                self.problems.append(f"lot {lot_id}: entry {link.seq} does not touch the lot")
                return
            self.entries[entry.seq] = entry
            if entry.lot_prev is None:
                self._format_1(lot_id, entry)
                return
            inputs = _inputs_of(entry.signed.event.body, lot_id)
            if inputs is not None and lot_id not in entry.lot_prev:
                for parent in inputs:  # the creating entry consumed each of them
                    consumed = entry.lot_prev.get(parent)
                    if consumed is None:
                        self.problems.append(f"lot {parent}: entry {entry.seq} consumes it "
                                             "but names no previous entry of it")
                    else:
                        self.lot(parent, LotLink(entry.seq, entry.hash))
                return
            link = entry.lot_prev.get(lot_id)
            if link is None:
                self.problems.append(f"lot {lot_id}: entry {entry.seq} names no previous "
                                     "entry of it and did not create it")

    def _format_1(self, lot_id: str, newest: Entry) -> None:
        """Before lot chains: the index's entries of the lot, the creator's inputs from
        its signed body."""
        self.index_backed = True
        older = [seq for seq in self.hint_seqs if seq < newest.seq]
        for seq in sorted(older, reverse=True):
            entry = self._read(seq)
            if entry is None or lot_id not in entry.signed.event.lots():
                continue
            self.entries[entry.seq] = entry
        creator = min((e for e in self.entries.values() if lot_id in e.signed.event.lots()),
                      key=lambda e: e.seq)
        for parent in _inputs_of(creator.signed.event.body, lot_id) or ():
            self.lot(parent, LotLink(creator.seq, creator.hash))


class _Registry:
    """The log's registrations and key events, read once and then only the new ones.

    Kept per store object (weakly: an id() can be reused by the next store), and re-read
    from the start if the newest cached entry is no longer in the database as cached (a
    database reset or replaced behind the same store)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_store: weakref.WeakKeyDictionary[Any, tuple[int, list[Entry]]] = (
            weakref.WeakKeyDictionary())

    def entries(self, ledger: Ledger) -> list[Entry]:
        store = ledger.store
        size = ledger.size()
        with self.lock:
            seen, known = self.by_store.get(store, (0, []))
            if known and (seen > size or not self._still_there(ledger, known[-1])):
                seen, known = 0, []
            if size > seen:
                new = store.entries_of_kinds(REGISTRY_KINDS, start=seen, end=size)
                known = [*known, *_signed_entries(new)]
                self.by_store[store] = (size, known)
            return known

    @staticmethod
    def _still_there(ledger: Ledger, entry: Entry) -> bool:
        stored = ledger.store.entry_bodies([entry.seq]).get(entry.seq)
        return stored is not None and digests_equal(bytes(stored[0]), entry.hash)


def _signed_entries(stored: Iterable[StoredEntry]) -> Iterator[Entry]:
    """The entries whose bytes read and whose signatures verify; one that does not is
    left out, and the replay that needed it says what is missing."""
    for row in stored:
        try:
            yield checked_entry(row.body, entry_hash_of_bytes(row.body))
        except LedgerError:
            continue


_REGISTRY = _Registry()


def relevant_registry(registry: Iterable[Entry], history: Iterable[Entry]) -> list[Entry]:
    """The genesis, and the registrations and key events of every actor and product the
    history involves, and of the operators who registered those actors or revoked their
    keys (and so on up to the genesis)."""
    registry = list(registry)
    actors: set[str] = set()
    products: set[str] = set()
    for entry in history:
        actors.add(entry.signed.event.actor)
        body = entry.signed.event.body
        if isinstance(body, ev.LotHarvested):
            products.add(body.product)
        elif isinstance(body, ev.LotTransformed):
            products.update(out.product for out in body.outputs)
    grown = True
    while grown:  # registrars of registrars: a handful of rounds at most
        before = len(actors)
        for entry in registry:
            body = entry.signed.event.body
            if isinstance(body, ev.ActorRegistered | ev.KeyRotated | ev.KeyRevoked) \
                    and body.actor_id in actors:
                actors.add(entry.signed.event.actor)
        grown = len(actors) > before

    def wanted(entry: Entry) -> bool:
        body = entry.signed.event.body
        if isinstance(body, ev.ActorRegistered | ev.KeyRotated | ev.KeyRevoked):
            return entry.seq == 0 or body.actor_id in actors
        if isinstance(body, ev.ProductRegistered):
            return body.product.code in products
        return entry.seq == 0

    return [entry for entry in registry if wanted(entry)]


def lot_history(ledger: Ledger, lot_id: str) -> LotHistory:
    """The lot's history from its signed entries, replayed; every problem is named."""
    try:
        check_lot(lot_id)  # a code no lot can have (a NUL, 30 characters) names nothing
    except ValidationError as exc:
        raise NotFound(f"lot {lot_id!r:.40} does not exist", lot=None) from exc
    head = ledger.store.lot_head(lot_id)
    if head is None:
        raise NotFound(f"lot {lot_id} does not exist", lot=lot_id)
    walk = _Walk(ledger, lot_id)
    walk.newer_than_head(lot_id, head)
    walk.lot(lot_id, head)
    history = [walk.entries[seq] for seq in sorted(walk.entries)]
    registry = relevant_registry(_REGISTRY.entries(ledger), history)
    problems = list(walk.problems)
    state = MemoryState()
    links: list[tuple[str, str]] = []
    chosen = {e.seq: e for e in (*history, *registry)}
    for seq in sorted(chosen):
        entry = chosen[seq]
        try:
            effects = admit(entry, state, crypto_checked=True)  # signatures checked on read
        except LedgerError as exc:
            rule = exc.rule if isinstance(exc, RuleViolation) else exc.code
            problems.append(f"entry {seq}: [{rule}] {exc.message}")
            continue
        state.apply_entry(entry, effects)
        links.extend(effects.links)
    upstream = _upstream_links(lot_id, links)
    names = {actor_id: record.name for actor_id, record in state.actors.items()}
    return LotHistory(lot_id, state.lots.get(lot_id), tuple(history), tuple(registry),
                      upstream, names, dict(state.lots), dict(state.products),
                      tuple(problems), walk.index_backed)


def _upstream_links(lot_id: str, links: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The links on the way from the harvests to ``lot_id`` (a split's other children
    are made by an entry of the history, but are not upstream of it)."""
    parents: dict[str, list[str]] = {}
    for parent, child in links:
        parents.setdefault(child, []).append(parent)
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    stack = [lot_id]
    while stack:
        child = stack.pop()
        if child in seen:
            continue
        seen.add(child)
        for parent in parents.get(child, ()):
            out.append((parent, child))
            stack.append(parent)
    return tuple(out)
