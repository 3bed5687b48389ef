"""EPCIS 2.0 import: an EPCIS document (as Trilha exports it) into a new, empty ledger.

The document carries no signatures, so the importing operator creates a key for every
party it names and signs each mapped event as that party: the imported ledger attests
"this is what the EPCIS document said", not the parties' own signatures. Events that do
not map are reported, never dropped silently.

The document is outside input: each event becomes the JSON of a Trilha event and is
read by the very loader the verifier uses (:func:`ledger.wire.events.load_event`), so
what does not have the ledger's shape is reported as not mapped, and all the events are
appended in one transaction, through every rule, or none of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.builders import make_event
from ledger.catalogue_file import read_catalogue
from ledger.domain import events as ev
from ledger.domain.gs1 import parse_digital_link
from ledger.domain.keys import Signer
from ledger.epcis import BIZSTEP
from ledger.errors import ConfigurationError, LedgerError, ValidationError
from ledger.service import BatchRejected, Ledger
from ledger.signing import sign_event
from ledger.wire.events import load_event
from ledger.wire.fields import format_instant

STEP_OF_BIZSTEP = {uri: kind for kind, uri in BIZSTEP.items()}
# What a malformed event can raise while it is read: each makes it "not mapped".
_UNREADABLE = (KeyError, IndexError, TypeError, ValueError, AttributeError,
               ArithmeticError, LedgerError)
MAX_HARVESTERS = 500  # the event schema's bound: a larger count is never a list to build


@dataclass
class ImportReport:
    imported: int = 0
    unmapped: list[str] = field(default_factory=list)
    signers: dict[str, Signer] = field(default_factory=dict)


class ImportRefused(LedgerError):
    """Mapped events that the ledger's rules refused; nothing was appended."""

    code = "import_refused"

    def __init__(self, failures: list[tuple[str, LedgerError]]) -> None:
        first_label, first = failures[0]
        super().__init__(f"{len(failures)} of the events were refused; nothing was imported "
                         f"(first, {first_label}: {first.message})", field=first.field,
                         lot=first.lot)
        self.failures = [(index, exc) for index, (_, exc) in enumerate(failures)]
        self.errors = {label: [exc.message] for label, exc in failures}


def _actor_id(uri: Any) -> str:
    """Trilha actor URIs give back the actor id; GS1 party GLNs (/417/) become gln-..."""
    if not isinstance(uri, str):
        raise ValueError(f"expected a party URI, got {uri!r:.40}")
    last = unquote(uri.rstrip("/").rsplit("/", 1)[-1]).lower()
    return f"gln-{last}" if "/417/" in uri else last


def _instant(value: Any) -> datetime:
    """An EPCIS eventTime with its offset, as a UTC instant."""
    if not isinstance(value, str):
        raise ValueError(f"eventTime: expected a date-time text, got {value!r:.40}")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"eventTime: expected a time zone offset, got {value!r:.40}")
    return parsed.astimezone(UTC)


def _event_list(document: Any) -> list[Any]:
    if not isinstance(document, dict):
        raise ValidationError("document: expected an EPCIS document (a JSON object)",
                              field="document")
    body = document.get("epcisBody", {})
    events = body.get("eventList", []) if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise ValidationError("epcisBody.eventList: expected a list of events",
                              field="epcisBody.eventList")
    return events


def _parties(events: list[Any]) -> set[str]:
    parties: set[str] = set()
    for event in events:
        if not isinstance(event, dict):
            continue
        uris = [event.get("trilha:actor")] + [
            d.get("destination") for d in event.get("destinationList") or []
            if isinstance(d, dict)]
        for uri in uris:
            try:
                parties.add(_actor_id(uri))
            except ValueError:
                continue  # the event itself is reported as not mapped
    return parties


def _start(events: list[Any]) -> datetime | None:
    times = []
    for event in events:
        try:
            times.append(_instant(event["eventTime"]))
        except _UNREADABLE:
            continue
    if not times:
        return None
    start = min(times)
    return start - timedelta(days=1) if start > datetime.min.replace(tzinfo=UTC) + \
        timedelta(days=1) else start


def import_epcis(ledger: Ledger, document: Any,
                 new_key: Callable[[], Ed25519PrivateKey] = Ed25519PrivateKey.generate
                 ) -> ImportReport:
    if ledger.size() > 0:
        raise ConfigurationError("EPCIS import needs an empty ledger (use a new --db)")
    events = _event_list(document)
    report = ImportReport()
    since = _start(events)
    if since is None:
        for event in events:
            report.unmapped.append(f"{_label(event)}: no valid eventTime")
        return report
    signed, labels = _registrations(report, _parties(events), since, new_key)
    lot_of = _LotNames({p.gtin.zfill(14): p.code for p in read_catalogue() if p.gtin})
    mapped = 0
    for event in events:
        try:
            one = _signed(event, lot_of, report.signers)
        except _UNREADABLE as exc:
            report.unmapped.append(f"{_label(event)}: {_why(exc)}")
            continue
        if one is None:
            report.unmapped.append(f"{_label(event)}: no Trilha event for "
                                   f"{event.get('type')} {event.get('bizStep')}")
            continue
        signed.append(one)
        labels.append(_label(event))
        mapped += 1
    try:
        ledger.append_many(signed)
    except BatchRejected as exc:
        raise ImportRefused([(labels[index], error) for index, error in exc.failures]) \
            from exc
    report.imported = mapped
    return report


def _registrations(report: ImportReport, parties: set[str], since: datetime,
                   new_key: Callable[[], Ed25519PrivateKey]
                   ) -> tuple[list[ev.SignedEvent], list[str]]:
    """The operator, the catalogue and one actor per party, as signed events."""
    report.signers["operator"] = operator = Signer(new_key())
    genesis = ev.ActorRegistered(ev.ActorId("operator"), ev.ActorKind.OPERATOR,
                                 "EPCIS import operator", None, operator.public_key_raw)
    signed = [sign_event(make_event(genesis, "operator", since), (operator,))]
    labels = ["the import operator"]
    for product in read_catalogue():
        signed.append(sign_event(make_event(ev.ProductRegistered(product), "operator",
                                            since), (operator,)))
        labels.append(f"product {product.code}")
    for party in sorted(parties - {"operator"}):
        report.signers[party] = signer = Signer(new_key())
        gln = party.removeprefix("gln-") if party.startswith("gln-") else None
        body = ev.ActorRegistered(ev.ActorId(party), ev.ActorKind.TRADER, party[:200], gln,
                                  signer.public_key_raw)
        signed.append(sign_event(make_event(body, "operator", since), (operator, signer)))
        labels.append(f"party {party[:60]!r}")
    return signed, labels


def _label(event: Any) -> str:
    event_id = event.get("eventID") if isinstance(event, dict) else None
    return str(event_id)[:80] if event_id is not None else "?"


def _why(exc: BaseException) -> str:
    if isinstance(exc, LedgerError):
        return exc.message
    if isinstance(exc, KeyError):
        return f"missing {exc.args[0]!r:.60}"
    return str(exc)[:200] or type(exc).__name__


def _signed(event: Any, lot_of: _LotNames, signers: dict[str, Signer]
            ) -> ev.SignedEvent | None:
    """The Trilha event an EPCIS event says, read and signed as its party; None if it
    has no Trilha counterpart."""
    if not isinstance(event, dict):
        raise ValueError("expected an event object")
    mapped = _body(event, lot_of)
    if mapped is None:
        return None
    kind, body = mapped
    actor = _actor_id(event["trilha:actor"])
    event_id = event["eventID"]
    if not isinstance(event_id, str):
        raise ValueError(f"eventID: expected urn:uuid:..., got {event_id!r:.40}")
    typed = load_event({"id": event_id.removeprefix("urn:uuid:"), "kind": kind,
                        "actor": actor, "at": format_instant(_instant(event["eventTime"])),
                        "body": body})
    if actor not in signers:
        raise ValueError(f"trilha:actor: {actor!r:.40} is not a party of the document")
    return sign_event(typed, (signers[actor],))


class _LotNames:
    def __init__(self, gtins: dict[str, str]) -> None:
        self.gtins = gtins

    def __call__(self, epc_class: Any) -> str:
        if not isinstance(epc_class, str):
            raise ValueError(f"epcClass: expected a URI, got {epc_class!r:.40}")
        if "/01/" in epc_class:
            link = parse_digital_link(epc_class)
            if link.lot is None:
                raise ValueError(f"no lot in {epc_class:.80}")
            return link.lot
        if "/lots/" not in epc_class:
            raise ValueError(f"epcClass: expected a lot URI, got {epc_class:.80}")
        return unquote(epc_class.rsplit("/lots/", 1)[1])


def _decimal_text(value: Any) -> str:
    """An EPCIS quantity (a JSON number) as the decimal text of a Trilha quantity; the
    event schema then says whether it is one (at most 12 digits and 6 decimals)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"quantity: expected a number, got {value!r:.40}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"quantity: expected a finite number, got {value}")
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    return str(value)


def _harvester_refs(lot: str, count: Any) -> list[str]:
    if isinstance(count, bool) or not isinstance(count, int) \
            or not 1 <= count <= MAX_HARVESTERS:
        raise ValueError(f"trilha:harvesters: expected a count from 1 to {MAX_HARVESTERS}, "
                         f"got {count!r:.20}")
    return [f"hv-imported-{lot.lower()}-{n}"[:64] for n in range(count)]


def _body(event: dict[str, Any], lot_of: _LotNames) -> tuple[str, dict[str, Any]] | None:
    step = event.get("bizStep")
    if event["type"] == "ObjectEvent":
        item = event["quantityList"][0]
        lot = lot_of(item["epcClass"])
        quantity = _decimal_text(item["quantity"])
        split = event.get("trilha:benefitSplit")
        if step == "commissioning":
            return "lot.harvested", _harvest(event["ilmd"], lot, quantity, item["uom"], split)
        if step == "shipping":
            to = _actor_id(event["destinationList"][0]["destination"])
            return "lot.dispatched", {"lot": lot, "to": to, "valuation": split}
        if step == "receiving":
            dispatch = event["bizTransactionList"][0]["bizTransaction"]
            dispatch = dispatch.removeprefix("urn:uuid:")
            if event.get("disposition") == "returned":
                return "lot.refused", {"lot": lot, "dispatch": dispatch,
                                       "reason": "returned (EPCIS import)"}
            return "lot.received", {"lot": lot, "dispatch": dispatch, "valuation": split}
        if step == "destroying":
            return "lot.adjusted", {"lot": lot, "change": f"-{quantity}",
                                    "reason": event.get("trilha:reason", "loss"),
                                    "note": "EPCIS import"}
        return None
    kind = STEP_OF_BIZSTEP.get(step) if isinstance(step, str) else None
    if kind is None:
        return None
    inputs = [lot_of(i["epcClass"]) for i in event["inputQuantityList"]]
    outputs = [(lot_of(o["epcClass"]), _decimal_text(o["quantity"]))
               for o in event["outputQuantityList"]]
    if kind == "lot.split":
        return kind, {"lot": inputs[0],
                      "children": [{"lot": lot, "quantity": q} for lot, q in outputs]}
    if kind == "lots.merged":
        return kind, {"lots": inputs, "into": outputs[0][0], "quantity": outputs[0][1]}
    products = event["trilha:outputProducts"]
    if not isinstance(products, list) or len(products) != len(outputs):
        raise ValueError("trilha:outputProducts: expected one product per output")
    return kind, {"inputs": inputs, "process": event["trilha:process"], "outputs": [
        {"lot": lot, "product": product, "quantity": q}
        for (lot, q), product in zip(outputs, products, strict=True)]}


def _harvest(ilmd: dict[str, Any], lot: str, quantity: str, unit: Any,
             valuation: Any) -> dict[str, Any]:
    origin: dict[str, Any] = {"community": ilmd["trilha:community"],
                              "territory": ilmd["trilha:territory"],
                              "country": ilmd["trilha:country"]}
    for name, key in (("trilha:plot", "plot"), ("trilha:geometry", "geometry")):
        if name in ilmd:
            origin[key] = ilmd[name]
    if "trilha:areaHa" in ilmd:
        origin["area_ha"] = _decimal_text(ilmd["trilha:areaHa"])
    return {"lot": lot, "product": ilmd["trilha:product"],
            "quantity": {"value": quantity, "unit": unit}, "season": ilmd["trilha:season"],
            "harvest": {"start": ilmd["trilha:harvestStart"],
                        "end": ilmd["trilha:harvestEnd"]},
            "origin": origin, "harvesters": _harvester_refs(lot, ilmd["trilha:harvesters"]),
            "valuation": valuation}
