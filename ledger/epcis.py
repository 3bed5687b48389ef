"""EPCIS 2.0 JSON-LD export of the ledger's lot events, for other traceability systems.

Harvests are ObjectEvents (ADD, commissioning) with lot master data in the ILMD;
dispatches and receipts are shipping and receiving with owning parties and a despatch
advice; refusals are receiving with disposition returned; splits, merges and processing
are TransformationEvents (with Trilha bizStep URIs: CBV 2.0 has no processing step);
losses are destroying/disposed. Lots are GS1 Digital Link class URIs when the product has
a GTIN, else Trilha lot URIs; parties are GLN Digital Links when known, else Trilha
actor URIs. The benefit split and the entry hash travel as ``trilha:`` extensions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

from ledger.domain.catalogue import Product
from ledger.domain.gs1 import digital_link_uri
from ledger.service import Ledger

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
TRILHA_NS = "https://trilha.example/ns/epcis#"
BIZSTEP = {"lot.split": "https://trilha.example/voc/bizstep/splitting",
           "lots.merged": "https://trilha.example/voc/bizstep/merging",
           "lot.transformed": "https://trilha.example/voc/bizstep/processing"}


class _Uris:
    def __init__(self, ledger: Ledger, base: str) -> None:
        self.base = base.rstrip("/")
        self.products: dict[str, Product] = {p.code: p for p in ledger.store.products()}
        self.glns: dict[str, str | None] = {a.actor_id: a.gln for a in ledger.store.actors()}
        self.lot_product: dict[str, str] = {}

    def lot(self, lot_id: str) -> str:
        product = self.products.get(self.lot_product.get(lot_id, ""))
        if product is not None and product.gtin:
            return digital_link_uri("https://id.gs1.org", product.gtin, lot_id)
        return f"{self.base}/lots/{quote(lot_id, safe='')}"

    def party(self, actor_id: str) -> str:
        gln = self.glns.get(actor_id)
        return f"https://id.gs1.org/417/{gln}" if gln else f"{self.base}/actors/{actor_id}"


def _quantity(uris: _Uris, lot: str, quantity: str, unit: str) -> dict[str, Any]:
    return {"epcClass": uris.lot(lot), "quantity": float(Decimal(quantity)), "uom": unit}


def export_epcis(ledger: Ledger, lot_id: str | None = None, *,
                 base_url: str = "http://localhost:8000") -> dict[str, Any]:
    """An EPCISDocument of every lot event, or of one lot's history (``lot_id``)."""
    uris = _Uris(ledger, base_url)
    if lot_id is None:
        steps = list(ledger.store.iter_steps())
    else:
        steps = ledger.provenance(lot_id, with_entries=False).upstream_steps()
    quantities: dict[str, tuple[str, str]] = {}
    events = []
    for step in steps:
        event = _event(step, uris, quantities)
        if event is not None:
            events.append(event)
    return {"@context": [CONTEXT, {"trilha": TRILHA_NS}], "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": steps[-1]["at"] if steps else "1970-01-01T00:00:00Z",
            "epcisBody": {"eventList": events}}


def _event(step: dict[str, Any], uris: _Uris, quantities: dict[str, tuple[str, str]]
           ) -> dict[str, Any] | None:
    kind, lots = step["kind"], step["lots"]
    if not lots:
        return None  # registrations are master data, not events
    common: dict[str, Any] = {"eventTime": step["at"], "eventTimeZoneOffset": "+00:00",
                              "eventID": f"urn:uuid:{step['event']}",
                              "trilha:entryHash": step["entry_hash"],
                              "trilha:actor": uris.party(step["actor"])}
    if "valuation" in step:
        common["trilha:benefitSplit"] = step["valuation"]
    if kind == "lot.harvested":
        lot = lots[0]
        uris.lot_product[lot] = step["product"]
        quantities[lot] = (step["quantity"], step["unit"])
        origin = step["origin"]
        event = {"type": "ObjectEvent", **common, "action": "ADD", "bizStep": "commissioning",
                 "disposition": "active",
                 "quantityList": [_quantity(uris, lot, step["quantity"], step["unit"])],
                 "readPoint": {"id": f"{uris.base}/places/{quote(origin['community'])}"},
                 "ilmd": {"trilha:community": origin["community"],
                          "trilha:territory": origin["territory"],
                          "trilha:country": origin["country"],
                          "trilha:harvestStart": step["harvest"]["start"],
                          "trilha:harvestEnd": step["harvest"]["end"],
                          "trilha:season": step["season"],
                          "trilha:product": step["product"],
                          "trilha:harvesters": step["harvesters"]}}
        for name, key in (("trilha:geometry", "geometry"), ("trilha:plot", "plot"),
                          ("trilha:areaHa", "area_ha")):
            if origin.get(key) is not None:
                event["ilmd"][name] = origin[key]
        return event
    lot = lots[0]
    held = quantities.get(lot)
    quantity_list = [_quantity(uris, lot, *held)] if held else []
    if kind in ("lot.dispatched", "lot.received", "lot.refused"):
        receiving = kind != "lot.dispatched"
        event = {"type": "ObjectEvent", **common, "action": "OBSERVE",
                 "bizStep": "receiving" if receiving else "shipping",
                 "disposition": {"lot.dispatched": "in_transit", "lot.received": "in_progress",
                                 "lot.refused": "returned"}[kind],
                 "quantityList": quantity_list,
                 "bizTransactionList": [{"type": "desadv", "bizTransaction":
                                         f"urn:uuid:{step.get('dispatch', step['event'])}"}]}
        if kind == "lot.dispatched":
            event["sourceList"] = [{"type": "owning_party", "source": uris.party(step["actor"])}]
            event["destinationList"] = [{"type": "owning_party",
                                         "destination": uris.party(step["to"])}]
        return event
    if kind == "lot.adjusted":
        loss = str(-Decimal(step["change"]))
        unit = held[1] if held else "KGM"
        if held:
            quantities[lot] = (str(Decimal(held[0]) - Decimal(loss)), unit)
        return {"type": "ObjectEvent", **common, "action": "OBSERVE", "bizStep": "destroying",
                "disposition": "disposed", "quantityList": [_quantity(uris, lot, loss, unit)],
                "trilha:reason": step["reason"]}
    return _transformation(step, uris, quantities, common)


def _transformation(step: dict[str, Any], uris: _Uris, quantities: dict[str, tuple[str, str]],
                    common: dict[str, Any]) -> dict[str, Any]:
    kind = step["kind"]
    if kind == "lot.split":
        inputs = [step["lots"][0]]
        outputs = [(c["lot"], c["quantity"], None) for c in step["children"]]
    elif kind == "lots.merged":
        inputs = step["lots"][:-1]
        outputs = [(step["into"], step["quantity"], None)]
    else:
        inputs = step["inputs"]
        outputs = [(o["lot"], o["quantity"], o["product"]) for o in step["outputs"]]
    unit = next((quantities[i][1] for i in inputs if i in quantities), "KGM")
    input_list = [_quantity(uris, i, *quantities[i]) for i in inputs if i in quantities]
    output_list = []
    for out_lot, quantity, product in outputs:
        source_product = uris.lot_product.get(inputs[0], "")
        uris.lot_product[out_lot] = product or source_product
        known = uris.products.get(product) if product else None
        out_unit = known.unit if known else unit
        quantities[out_lot] = (quantity, out_unit)
        output_list.append(_quantity(uris, out_lot, quantity, out_unit))
    event = {"type": "TransformationEvent", **common, "bizStep": BIZSTEP[kind],
             "inputQuantityList": input_list, "outputQuantityList": output_list}
    if kind == "lot.transformed":
        event["trilha:process"] = step["process"]
        event["trilha:outputProducts"] = [o["product"] for o in step["outputs"]]
    return event
