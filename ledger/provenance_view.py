"""Provenance as data for people: timeline steps, prices and splits, in JSON-ready form.

One read model for the CLI, the web pages and the API, so they never disagree.
"""

from __future__ import annotations

from typing import Any

from ledger.domain import events as ev
from ledger.domain.entry import Entry
from ledger.domain.state import LotRecord
from ledger.service import Provenance
from ledger.steps import VERBS, step_json


def describe_entry(entry: Entry) -> str:
    """A one-line summary for terminals and logs."""
    step = step_json(entry)
    event = entry.signed.event
    verb = VERBS.get(event.kind, event.kind.value)
    text = f"#{entry.seq} {step['at']} {event.actor} {verb} {', '.join(step['lots'])}"
    if "quantity" in step and "unit" in step:
        text += f" ({step['quantity']} {step['unit']})"
    valuation = step.get("valuation")
    if valuation and event.kind is not ev.EventKind.LOT_RECEIVED:
        from ledger.domain.measures import Money

        price = valuation["price"]
        text += f" for {Money(price['amount'], price['currency'])}"
    return text


def lot_json(record: LotRecord) -> dict[str, Any]:
    """A lot's current state, as the CLI's --json and the API give it."""
    return {"lot": record.lot_id, "product": record.product,
            "quantity": format(record.quantity, "f"), "unit": record.unit,
            "custodian": record.custodian, "status": record.status.value,
            "season": record.season, "community": record.community,
            "pending_to": record.pending.to if record.pending else None}


def provenance_json(prov: Provenance) -> dict[str, Any]:
    lot = prov.lot
    return {
        "lot": {"lot": lot.lot_id, "product": lot.product, "quantity": format(lot.quantity, "f"),
                "unit": lot.unit, "custodian": lot.custodian, "status": lot.status.value,
                "season": lot.season, "community": lot.community},
        "upstream": [{"parent": p, "child": c} for p, c in prov.upstream],
        "downstream": [{"parent": p, "child": c} for p, c in prov.downstream],
        "timeline": list(prov.steps) if prov.steps else [step_json(e) for e in prov.entries],
    }
