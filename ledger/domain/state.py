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


@dataclass(frozen=True, slots=True)
class PendingDispatch:
    to: ActorId
    dispatch: EventId
    valuation: Valuation


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
