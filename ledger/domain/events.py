"""Events: the signed statements actors make, as immutable typed objects.

The JSON form of every event is defined once, by the marshmallow schemas in
``ledger.wire.events``; this module holds the typed values and nothing about bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NewType

from ledger.domain.catalogue import Product
from ledger.domain.measures import Quantity, Valuation

EventId = NewType("EventId", str)
ActorId = NewType("ActorId", str)
LotId = NewType("LotId", str)


class EventKind(StrEnum):
    ACTOR_REGISTERED = "actor.registered"
    KEY_ROTATED = "key.rotated"
    KEY_REVOKED = "key.revoked"
    PRODUCT_REGISTERED = "product.registered"
    LOT_HARVESTED = "lot.harvested"
    LOT_DISPATCHED = "lot.dispatched"
    LOT_RECEIVED = "lot.received"
    LOT_REFUSED = "lot.refused"
    LOT_SPLIT = "lot.split"
    LOTS_MERGED = "lots.merged"
    LOT_TRANSFORMED = "lot.transformed"
    LOT_ADJUSTED = "lot.adjusted"


class ActorKind(StrEnum):
    COMMUNITY = "community"
    COOPERATIVE = "cooperative"
    PROCESSOR = "processor"
    TRADER = "trader"
    BUYER = "buyer"
    CERTIFIER = "certifier"
    OPERATOR = "operator"


class AdjustmentReason(StrEnum):
    LOSS = "loss"
    SPOILAGE = "spoilage"
    MOISTURE = "moisture"
    CORRECTION = "correction"


@dataclass(frozen=True, slots=True)
class ActorRegistered:
    actor_id: ActorId
    actor_kind: ActorKind
    name: str
    gln: str | None
    public_key: bytes


@dataclass(frozen=True, slots=True)
class KeyRotated:
    actor_id: ActorId
    old_key: str
    new_public_key: bytes
    # How long after the rotation's entry the old key's offline statements are accepted
    # (seconds); absent: the default grace (ledger.domain.rules.DEFAULT_ROTATION_GRACE).
    grace_s: int | None = None


@dataclass(frozen=True, slots=True)
class KeyRevoked:
    actor_id: ActorId
    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class ProductRegistered:
    product: Product


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a lot was harvested. Harvesters are never named here, only pseudonyms."""

    community: str
    territory: str
    country: str
    plot: str | None
    area_ha: Decimal | None
    geometry: dict[str, Any] | None  # GeoJSON geometry, validated at the door


@dataclass(frozen=True, slots=True)
class LotHarvested:
    lot: LotId
    product: str
    quantity: Quantity
    season: str
    harvest_start: date
    harvest_end: date
    origin: Origin
    harvesters: tuple[str, ...]
    valuation: Valuation
    # Pseudonymous household references (optional; absent from the JSON when None): the
    # unit benefit-sharing programmes count, since several harvesters share a household.
    households: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class LotDispatched:
    lot: LotId
    to: ActorId
    valuation: Valuation


@dataclass(frozen=True, slots=True)
class LotReceived:
    lot: LotId
    dispatch: EventId
    valuation: Valuation


@dataclass(frozen=True, slots=True)
class LotRefused:
    lot: LotId
    dispatch: EventId
    reason: str


@dataclass(frozen=True, slots=True)
class Portion:
    lot: LotId
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class LotSplit:
    lot: LotId
    children: tuple[Portion, ...]


@dataclass(frozen=True, slots=True)
class LotsMerged:
    lots: tuple[LotId, ...]
    into: LotId
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Output:
    lot: LotId
    product: str
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class LotTransformed:
    inputs: tuple[LotId, ...]
    process: str
    outputs: tuple[Output, ...]


@dataclass(frozen=True, slots=True)
class LotAdjusted:
    lot: LotId
    change: Decimal  # negative: losses are explicit and only ever reduce a lot
    reason: AdjustmentReason
    note: str


Body = (
    ActorRegistered | KeyRotated | KeyRevoked | ProductRegistered | LotHarvested
    | LotDispatched | LotReceived | LotRefused | LotSplit | LotsMerged | LotTransformed
    | LotAdjusted
)


@dataclass(frozen=True, slots=True)
class Event:
    """An actor's statement, before signing."""

    id: EventId
    kind: EventKind
    actor: ActorId
    at: datetime  # when the actor made the statement (UTC)
    body: Body

    def lots(self) -> tuple[LotId, ...]:
        """Every lot this event names, inputs first."""
        return lots_named(self.body)


@dataclass(frozen=True, slots=True)
class Signature:
    public_key: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class SignedEvent:
    """An event with its signatures, and the exact JSON and digest that were signed."""

    event: Event
    signatures: tuple[Signature, ...]
    event_json: dict[str, Any]
    digest: bytes


def lots_named(body: Body) -> tuple[LotId, ...]:
    match body:
        case LotHarvested(lot=lot) | LotDispatched(lot=lot) | LotReceived(lot=lot) \
                | LotRefused(lot=lot) | LotAdjusted(lot=lot):
            return (lot,)
        case LotSplit(lot=lot, children=children):
            return (lot, *(child.lot for child in children))
        case LotsMerged(lots=lots, into=into):
            return (*lots, into)
        case LotTransformed(inputs=inputs, outputs=outputs):
            return (*inputs, *(out.lot for out in outputs))
    return ()
