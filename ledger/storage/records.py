"""Conversions between domain records and database rows."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import Row

from ledger.domain.entry import LotLink
from ledger.domain.events import ActorId, ActorKind, EventId, LotId
from ledger.domain.measures import Money, Share, Valuation
from ledger.domain.state import ActorRecord, KeyRecord, LotRecord, LotStatus, PendingDispatch
from ledger.wire.fields import format_instant, parse_instant


# The pending valuation is the ledger's own projection of an already validated event, so
# it is stored as a compact internal form rather than passed through the wire schemas.
def _valuation_to_text(valuation: Valuation) -> str:
    return json.dumps([valuation.price.amount, valuation.price.currency,
                       [[s.party, s.role, s.share_bp, s.amount] for s in valuation.split]])


def _valuation_from_text(text: str) -> Valuation:
    amount, currency, split = json.loads(text)
    return Valuation(Money(amount, currency), tuple(Share(*item) for item in split))


def actor_from_row(row: Row[Any]) -> ActorRecord:
    return ActorRecord(ActorId(row.actor_id), ActorKind(row.kind), row.name, row.gln)


def key_from_row(row: Row[Any] | Any) -> KeyRecord:
    return KeyRecord(row.key_id, ActorId(row.actor_id), bytes(row.public_key),
                     parse_instant(row.not_before),
                     parse_instant(row.not_after) if row.not_after else None,
                     bool(row.revoked),
                     parse_instant(row.accept_until) if row.accept_until else None)


def key_to_row(key: KeyRecord) -> dict[str, Any]:
    return {"key_id": key.key_id, "actor_id": key.actor_id, "public_key": key.public_key,
            "not_before": format_instant(key.not_before),
            "not_after": format_instant(key.not_after) if key.not_after else None,
            "revoked": key.revoked,
            "accept_until": format_instant(key.accept_until) if key.accept_until else None}


def lot_from_row(row: Row[Any] | Any) -> LotRecord:
    pending = None
    if row.pending_to is not None:
        valuation = _valuation_from_text(row.pending_valuation)
        pending = PendingDispatch(ActorId(row.pending_to), EventId(row.pending_dispatch),
                                  valuation, parse_instant(row.pending_at))
    return LotRecord(LotId(row.lot_id), row.product, Decimal(row.quantity), row.unit,
                     ActorId(row.custodian), LotStatus(row.status), row.season, row.community,
                     pending)


def lot_to_row(lot: LotRecord, seq: int) -> dict[str, Any]:
    pending = lot.pending
    return {
        "lot_id": lot.lot_id, "product": lot.product, "quantity": format(lot.quantity, "f"),
        "unit": lot.unit, "custodian": lot.custodian, "status": lot.status.value,
        "season": lot.season, "community": lot.community,
        "pending_to": pending.to if pending else None,
        "pending_dispatch": pending.dispatch if pending else None,
        "pending_valuation": _valuation_to_text(pending.valuation) if pending else None,
        "pending_at": format_instant(pending.at) if pending else None,
        "updated_seq": seq,
    }


def lot_head_from_row(row: Row[Any] | Any) -> LotLink:
    """The newest entry touching a lot: ``updated_seq`` is its seq (every entry touching
    a lot rewrites its row), ``head_hash`` its hash."""
    return LotLink(int(row.updated_seq), bytes(row.head_hash))
