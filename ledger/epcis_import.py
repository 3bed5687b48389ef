"""EPCIS 2.0 import: an EPCIS document (as Trilha exports it) into a new, empty ledger.

The document carries no signatures, so the importing operator creates a key for every
party it names and signs each mapped event as that party: the imported ledger attests
"this is what the EPCIS document said", not the parties' own signatures. Events that do
not map are reported, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.builders import make_event
from ledger.catalogue_file import read_catalogue
from ledger.domain import events as ev
from ledger.domain.gs1 import parse_digital_link
from ledger.domain.keys import Signer
from ledger.domain.measures import Money, Quantity, Share, Valuation
from ledger.epcis import BIZSTEP
from ledger.errors import ConfigurationError, LedgerError
from ledger.registry import bootstrap, register_actor
from ledger.service import Ledger
from ledger.signing import sign_event
from ledger.wire.fields import parse_instant

STEP_OF_BIZSTEP = {uri: kind for kind, uri in BIZSTEP.items()}


@dataclass
class ImportReport:
    imported: int = 0
    unmapped: list[str] = field(default_factory=list)
    signers: dict[str, Signer] = field(default_factory=dict)


def _actor_id(uri: str) -> str:
    """Trilha actor URIs give back the actor id; GS1 party GLNs (/417/) become gln-..."""
    last = unquote(uri.rstrip("/").rsplit("/", 1)[-1]).lower()
    return f"gln-{last}" if "/417/" in uri else last


def _valuation(data: dict[str, Any]) -> Valuation:
    return Valuation(Money(data["price"]["amount"], data["price"]["currency"]),
                     tuple(Share(s["party"], s["role"], s["share_bp"], s["amount"])
                           for s in data["split"]))


def import_epcis(ledger: Ledger, document: dict[str, Any],
                 new_key: Callable[[], Ed25519PrivateKey] = Ed25519PrivateKey.generate
                 ) -> ImportReport:
    if ledger.size() > 0:
        raise ConfigurationError("EPCIS import needs an empty ledger (use a new --db)")
    events = document.get("epcisBody", {}).get("eventList", [])
    gtins = {p.gtin.zfill(14): p.code for p in read_catalogue() if p.gtin}
    report = ImportReport()
    parties = {_actor_id(e["trilha:actor"]) for e in events if "trilha:actor" in e}
    parties |= {_actor_id(d["destination"]) for e in events
                for d in e.get("destinationList", [])}
    start = min((parse_instant(e["eventTime"]) for e in events), default=None)
    if start is None:
        return report
    since = start - timedelta(days=1)
    report.signers["operator"] = operator = Signer(new_key())
    bootstrap(ledger, "operator", "EPCIS import operator", operator, read_catalogue(), at=since)
    for party in sorted(parties - {"operator"}):
        report.signers[party] = Signer(new_key())
        gln = party.removeprefix("gln-") if party.startswith("gln-") else None
        register_actor(ledger, "operator", operator, party, ev.ActorKind.TRADER, party, gln,
                       report.signers[party], at=since)
    lot_of = _LotNames(gtins)
    for event in events:
        try:
            body = _body(event, lot_of)
        except (KeyError, ValueError, LedgerError) as exc:
            report.unmapped.append(f"{event.get('eventID', '?')}: {exc}")
            continue
        if body is None:
            report.unmapped.append(f"{event.get('eventID', '?')}: no Trilha event for "
                                   f"{event.get('type')} {event.get('bizStep')}")
            continue
        actor = _actor_id(event["trilha:actor"])
        signed = sign_event(make_event(body, actor, parse_instant(event["eventTime"]),
                                       event["eventID"].removeprefix("urn:uuid:")),
                            (report.signers[actor],))
        ledger.append(signed)
        report.imported += 1
    return report


class _LotNames:
    def __init__(self, gtins: dict[str, str]) -> None:
        self.gtins = gtins

    def __call__(self, epc_class: str) -> str:
        if "/01/" in epc_class:
            link = parse_digital_link(epc_class)
            if link.lot is None:
                raise ValueError(f"no lot in {epc_class}")
            return link.lot
        return unquote(epc_class.rsplit("/lots/", 1)[1])


def _quantity(item: dict[str, Any]) -> Decimal:
    return Decimal(str(item["quantity"]))


def _body(event: dict[str, Any], lot_of: _LotNames) -> ev.Body | None:
    step = event.get("bizStep")
    if event["type"] == "ObjectEvent":
        item = event["quantityList"][0]
        lot = ev.LotId(lot_of(item["epcClass"]))
        if step == "commissioning":
            ilmd = event["ilmd"]
            count = int(ilmd["trilha:harvesters"])
            return ev.LotHarvested(
                lot=lot, product=ilmd["trilha:product"],
                quantity=Quantity(_quantity(item), item["uom"]), season=ilmd["trilha:season"],
                harvest_start=date.fromisoformat(ilmd["trilha:harvestStart"]),
                harvest_end=date.fromisoformat(ilmd["trilha:harvestEnd"]),
                origin=ev.Origin(ilmd["trilha:community"], ilmd["trilha:territory"],
                                 ilmd["trilha:country"], ilmd.get("trilha:plot"),
                                 Decimal(ilmd["trilha:areaHa"]) if "trilha:areaHa" in ilmd
                                 else None, ilmd.get("trilha:geometry")),
                harvesters=tuple(f"hv-imported-{lot.lower()}-{n}"[:64] for n in range(count)),
                valuation=_valuation(event["trilha:benefitSplit"]))
        if step == "shipping":
            return ev.LotDispatched(lot, ev.ActorId(_actor_id(
                event["destinationList"][0]["destination"])),
                _valuation(event["trilha:benefitSplit"]))
        if step == "receiving":
            dispatch = ev.EventId(event["bizTransactionList"][0]["bizTransaction"]
                                  .removeprefix("urn:uuid:"))
            if event.get("disposition") == "returned":
                return ev.LotRefused(lot, dispatch, "returned (EPCIS import)")
            return ev.LotReceived(lot, dispatch, _valuation(event["trilha:benefitSplit"]))
        if step == "destroying":
            return ev.LotAdjusted(lot, -_quantity(item),
                                  ev.AdjustmentReason(event.get("trilha:reason", "loss")),
                                  "EPCIS import")
        return None
    kind = STEP_OF_BIZSTEP.get(step or "")
    inputs = tuple(ev.LotId(lot_of(i["epcClass"])) for i in event["inputQuantityList"])
    outputs = [(ev.LotId(lot_of(o["epcClass"])), _quantity(o))
               for o in event["outputQuantityList"]]
    if kind == "lot.split":
        return ev.LotSplit(inputs[0], tuple(ev.Portion(lot, q) for lot, q in outputs))
    if kind == "lots.merged":
        return ev.LotsMerged(inputs, outputs[0][0], outputs[0][1])
    if kind == "lot.transformed":
        products = event["trilha:outputProducts"]
        return ev.LotTransformed(inputs, event["trilha:process"], tuple(
            ev.Output(lot, product, q) for (lot, q), product in zip(outputs, products,
                                                                    strict=True)))
    return None
