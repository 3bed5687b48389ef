"""EUDR due-diligence geolocation: the plots behind a lot, as a GeoJSON FeatureCollection.

Each harvest upstream of the lot becomes a Feature with the plot's geometry (coordinates
rounded to 6 decimal places, about 0.1 m; JSON does not print trailing zeros), the
production period, the country of production, the area and the commodity. Harvest-time
rules (``ledger.domain.custody.check_eudr_origin``) already guarantee points only for
plots of 4 ha or less, polygons without holes and rings that do not cross themselves.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ledger.errors import ValidationError
from ledger.service import Ledger


def _round(value: Any) -> Any:
    if isinstance(value, list):
        return [_round(v) for v in value]
    return round(float(value), 6)


_COORD = re.compile(r'"@coord:(-?[0-9.]+)"')


def eudr_geojson_text(document: dict[str, Any]) -> str:
    """The GeoJSON text with every coordinate written with exactly six decimals (JSON
    numbers would drop trailing zeros, and the regulation asks for six decimal places)."""
    def mark(value: Any) -> Any:
        if isinstance(value, list):
            return [mark(v) for v in value]
        return f"@coord:{value:.6f}"

    marked = {**document, "features": [
        {**f, "geometry": {**f["geometry"], "coordinates": mark(f["geometry"]["coordinates"])}}
        for f in document["features"]]}
    return _COORD.sub(r"\1", json.dumps(marked, ensure_ascii=False, indent=1)) + "\n"


def export_eudr_geojson(ledger: Ledger, lot_id: str) -> dict[str, Any]:
    prov = ledger.provenance(lot_id, with_entries=False)
    harvests = [s for s in prov.upstream_steps() if s["kind"] == "lot.harvested"]
    features = []
    for step in harvests:
        product = ledger.store.product(step["product"])
        if product is None or not product.eudr:
            continue
        origin = step["origin"]
        geometry = origin["geometry"]
        features.append({
            "type": "Feature",
            "geometry": {"type": geometry["type"], "coordinates": _round(geometry["coordinates"])},
            "properties": {
                "ProductionPlace": origin.get("plot") or origin["community"],
                "ProducerCountry": origin["country"],
                "Area": origin.get("area_ha"),
                "ProductionStart": step["harvest"]["start"],
                "ProductionEnd": step["harvest"]["end"],
                "Commodity": product.species, "Product": product.code,
                "Quantity": step["quantity"], "Unit": step["unit"],
                "Lot": step["lots"][0], "Community": origin["community"],
                "TrilhaEntry": step["entry_hash"],
            },
        })
    if not features:
        raise ValidationError(f"lot {lot_id}: no EUDR commodity was harvested upstream of it",
                              field="lot", lot=lot_id)
    return {"type": "FeatureCollection", "features": features}
