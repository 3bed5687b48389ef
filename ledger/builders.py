"""Building typed events: one place that knows which body makes which kind of event."""

from __future__ import annotations

import uuid
from datetime import datetime

from ledger.domain import events as ev

KIND_OF_BODY: dict[type, ev.EventKind] = {
    ev.ActorRegistered: ev.EventKind.ACTOR_REGISTERED,
    ev.KeyRotated: ev.EventKind.KEY_ROTATED,
    ev.KeyRevoked: ev.EventKind.KEY_REVOKED,
    ev.ProductRegistered: ev.EventKind.PRODUCT_REGISTERED,
    ev.LotHarvested: ev.EventKind.LOT_HARVESTED,
    ev.LotDispatched: ev.EventKind.LOT_DISPATCHED,
    ev.LotReceived: ev.EventKind.LOT_RECEIVED,
    ev.LotRefused: ev.EventKind.LOT_REFUSED,
    ev.LotSplit: ev.EventKind.LOT_SPLIT,
    ev.LotsMerged: ev.EventKind.LOTS_MERGED,
    ev.LotTransformed: ev.EventKind.LOT_TRANSFORMED,
    ev.LotAdjusted: ev.EventKind.LOT_ADJUSTED,
}


def new_event_id() -> ev.EventId:
    return ev.EventId(str(uuid.uuid4()))


def make_event(body: ev.Body, actor: str, at: datetime,
               event_id: str | None = None) -> ev.Event:
    """An event for ``body`` stated by ``actor`` at ``at`` (a fresh id unless given)."""
    return ev.Event(id=ev.EventId(event_id or new_event_id()), kind=KIND_OF_BODY[type(body)],
                    actor=ev.ActorId(actor), at=at, body=body)
