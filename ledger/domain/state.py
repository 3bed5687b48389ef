"""What the rules need to know about the ledger so far, and what an event changes.

The rules read the ledger through :class:`LedgerView` and answer with
:class:`Effects`. The store implements the view with indexed queries inside the
append transaction; the verifier implements it with :class:`MemoryState`. Both apply
the same effects, so the server and an offline auditor hold the same state.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from ledger.domain.catalogue import Product
from ledger.domain.entry import Entry, LotLink
from ledger.domain.events import ActorId, ActorKind, EventId, LotId
from ledger.domain.measures import Valuation


class LotStatus(StrEnum):
    ACTIVE = "active"
    IN_TRANSIT = "in_transit"
    SPLIT = "split"
    MERGED = "merged"
    TRANSFORMED = "transformed"
    EXHAUSTED = "exhausted"


SPENT_STATUSES = frozenset({LotStatus.SPLIT, LotStatus.MERGED, LotStatus.TRANSFORMED,
                            LotStatus.EXHAUSTED})


@dataclass(frozen=True, slots=True)
class ActorRecord:
    actor_id: ActorId
    kind: ActorKind
    name: str
    gln: str | None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    actor_id: ActorId
    public_key: bytes
    not_before: datetime
    not_after: datetime | None = None  # set by a rotation: later statements are refused
    revoked: bool = False  # set by a revocation: every later append is refused
    # Set by a rotation: the last append time at which the old key's statements (signed
    # offline before the rotation) are still accepted; the rotation's append + its grace.
    accept_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingDispatch:
    to: ActorId
    dispatch: EventId
    valuation: Valuation
    at: datetime  # the dispatch statement's time: a receipt is never dated before it


@dataclass(frozen=True, slots=True)
class LotRecord:
    lot_id: LotId
    product: str
    quantity: Decimal
    unit: str
    custodian: ActorId
    status: LotStatus
    season: str | None
    community: str | None
    pending: PendingDispatch | None = None

    def with_changes(self, **changes: Any) -> LotRecord:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Effects:
    """The state changes one accepted event makes (records are full replacements)."""

    actors: tuple[ActorRecord, ...] = ()
    keys: tuple[KeyRecord, ...] = ()
    products: tuple[Product, ...] = ()
    lots: tuple[LotRecord, ...] = ()
    links: tuple[tuple[LotId, LotId], ...] = ()  # (parent, child) for provenance
    touched: tuple[LotId, ...] = ()  # lots whose history this event belongs to


class LedgerView(Protocol):
    def actor(self, actor_id: str) -> ActorRecord | None: ...
    def key(self, key_id: str) -> KeyRecord | None: ...
    def product(self, code: str) -> Product | None: ...
    def lot(self, lot_id: str) -> LotRecord | None: ...
    def has_event(self, event_id: str) -> bool: ...
    def has_actors(self) -> bool: ...
    def lot_head(self, lot_id: str) -> LotLink | None: ...
    def last_appended_at(self) -> datetime | None: ...
    def chained_from(self) -> int | None: ...


@dataclass(slots=True)
class MemoryState:
    """A :class:`LedgerView` over plain mappings, for the verifier and for tests.

    The mappings are passed in so that a caller can back them with something other
    than dicts (a disk-backed mapping keeps verification memory flat on huge ledgers).
    """

    actors: MutableMapping[str, ActorRecord] = field(default_factory=dict)
    keys: MutableMapping[str, KeyRecord] = field(default_factory=dict)
    products: MutableMapping[str, Product] = field(default_factory=dict)
    lots: MutableMapping[str, LotRecord] = field(default_factory=dict)
    events: MutableMapping[str, bool] = field(default_factory=dict)
    lot_heads: MutableMapping[str, LotLink] = field(default_factory=dict)
    last_append: datetime | None = None
    first_chained: int | None = None  # seq of the first format 2 entry

    def actor(self, actor_id: str) -> ActorRecord | None:
        return self.actors.get(actor_id)

    def key(self, key_id: str) -> KeyRecord | None:
        return self.keys.get(key_id)

    def product(self, code: str) -> Product | None:
        return self.products.get(code)

    def lot(self, lot_id: str) -> LotRecord | None:
        return self.lots.get(lot_id)

    def has_event(self, event_id: str) -> bool:
        return event_id in self.events

    def has_actors(self) -> bool:
        return bool(self.actors)

    def lot_head(self, lot_id: str) -> LotLink | None:
        return self.lot_heads.get(lot_id)

    def last_appended_at(self) -> datetime | None:
        return self.last_append

    def chained_from(self) -> int | None:
        return self.first_chained

    def apply(self, event_id: str, effects: Effects) -> None:
        self.events[event_id] = True
        for actor in effects.actors:
            self.actors[actor.actor_id] = actor
        for key in effects.keys:
            self.keys[key.key_id] = key
        for product in effects.products:
            self.products[product.code] = product
        for lot in effects.lots:
            self.lots[lot.lot_id] = lot

    def apply_entry(self, entry: Entry, effects: Effects) -> None:
        """Apply an accepted entry: its event's effects, and where the log now stands
        (each touched lot's newest entry, the last append time, the first chained entry)."""
        self.apply(entry.event_id, effects)
        link = LotLink(entry.seq, entry.hash)
        for lot_id in effects.touched:
            self.lot_heads[lot_id] = link
        if self.last_append is None or entry.appended_at > self.last_append:
            self.last_append = entry.appended_at
        if entry.lot_prev is not None and self.first_chained is None:
            self.first_chained = entry.seq
