"""One entry as a timeline step: who did what to which lots, when, how much, what price.

Computed once at append time and stored beside the entry, so provenance pages and
queries read ready steps from an index instead of re-parsing signed entries.
"""

from __future__ import annotations

from typing import Any

from ledger.domain import events as ev
from ledger.domain.entry import Entry
from ledger.domain.measures import Valuation
from ledger.wire.fields import format_instant

VERBS = {
    ev.EventKind.LOT_HARVESTED: "harvested",
    ev.EventKind.LOT_DISPATCHED: "dispatched",
    ev.EventKind.LOT_RECEIVED: "received",
    ev.EventKind.LOT_REFUSED: "refused",
    ev.EventKind.LOT_SPLIT: "split",
    ev.EventKind.LOTS_MERGED: "merged",
    ev.EventKind.LOT_TRANSFORMED: "transformed",
    ev.EventKind.LOT_ADJUSTED: "adjusted",
}


def valuation_json(valuation: Valuation) -> dict[str, Any]:
    return {"price": {"amount": valuation.price.amount, "currency": valuation.price.currency},
            "split": [{"party": s.party, "role": s.role, "share_bp": s.share_bp,
                       "amount": s.amount} for s in valuation.split]}


def step_json(entry: Entry) -> dict[str, Any]:
    """One timeline step: who did what to which lots, when, how much, at what price."""
    event = entry.signed.event
    body = event.body
    step: dict[str, Any] = {
        "seq": entry.seq, "entry_hash": entry.hash.hex(), "event": event.id,
        "kind": event.kind.value, "actor": event.actor, "at": format_instant(event.at),
        "lots": list(event.lots()),
    }
    match body:
        case ev.LotHarvested():
            step.update(quantity=format(body.quantity.value, "f"), unit=body.quantity.unit,
                        product=body.product, season=body.season,
                        harvest={"start": body.harvest_start.isoformat(),
                                 "end": body.harvest_end.isoformat()},
                        origin={"community": body.origin.community,
                                "territory": body.origin.territory,
                                "country": body.origin.country, "plot": body.origin.plot,
                                "area_ha": None if body.origin.area_ha is None
                                else format(body.origin.area_ha, "f"),
                                "geometry": body.origin.geometry},
                        harvesters=len(body.harvesters),
                        harvester_refs=list(body.harvesters),  # pseudonymous by rule
                        households=len(body.households or ()),
                        household_refs=list(body.households or ()),
                        valuation=valuation_json(body.valuation))
        case ev.LotDispatched():
            step.update(to=body.to, valuation=valuation_json(body.valuation))
        case ev.LotReceived():
            step.update(dispatch=body.dispatch, valuation=valuation_json(body.valuation))
        case ev.LotRefused():
            step.update(dispatch=body.dispatch, reason=body.reason)
        case ev.LotSplit():
            step.update(children=[{"lot": c.lot, "quantity": format(c.quantity, "f")}
                                  for c in body.children])
        case ev.LotsMerged():
            step.update(into=body.into, quantity=format(body.quantity, "f"))
        case ev.LotTransformed():
            step.update(process=body.process, inputs=list(body.inputs),
                        outputs=[{"lot": o.lot, "product": o.product,
                                  "quantity": format(o.quantity, "f")} for o in body.outputs])
        case ev.LotAdjusted():
            step.update(change=format(body.change, "f"), reason=body.reason.value,
                        note=body.note)
    return step
