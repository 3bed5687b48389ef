"""The fields of each workspace form. Names are the core's input-form fields
(:mod:`ledger.wire.commands`), so an error the core names lands next to its field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: Any
    widget: str = "text"  # text, number, date, textarea, select, lots, actors, products
    hint: Any = ""
    required: bool = True
    choices: tuple[tuple[str, Any], ...] = field(default=())


PRICE = (
    Field("price", _l("Price paid (in major units, e.g. 1524.60)"), "number"),
    Field("currency", _l("Currency"), "select",
          choices=(("BRL", "BRL"), ("CLP", "CLP"), ("PEN", "PEN"), ("BOB", "BOB"),
                   ("USD", "USD"), ("EUR", "EUR"))),
    Field("shares", _l("Benefit split"), "textarea",
          _l("One beneficiary per line: party:role:percent, e.g. hv-group-25:harvesters:85. "
             "Roles: harvesters, community_fund, community_association, cooperative, "
             "processor, trader, transport, other. The percentages must add up to 100.")),
)

FORMS: dict[str, tuple[Field, ...]] = {
    "harvest": (
        Field("lot", _l("New lot code"), hint=_l("Letters, digits and dashes, e.g. "
                                                  "BN-XAP-26-001")),
        Field("product", _l("Product"), "products"),
        Field("quantity", _l("Quantity"), "number",
              _l("In the product's unit (kg for most products)")),
        Field("season", _l("Season"), hint=_l("Year, e.g. 2026, or 2025/26")),
        Field("harvest_start", _l("Harvest started"), "date"),
        Field("harvest_end", _l("Harvest ended"), "date"),
        Field("community", _l("Community")),
        Field("territory", _l("Territory")),
        Field("country", _l("Country (two letters)"), hint="BR, CL, PE, BO"),
        Field("plot", _l("Plot or colocação"), required=False),
        Field("area_ha", _l("Area of the plot (hectares)"), "number", required=False),
        Field("geometry", _l("Plot outline (GeoJSON)"), "textarea",
              _l("A GeoJSON Point or Polygon with longitude, latitude in degrees"),
              required=False),
        Field("harvesters", _l("Harvesters (pseudonymous references)"), "textarea",
              _l("One per line, such as hv-7f3a9c. Never names: they appear on public "
                 "pages.")),
        Field("households", _l("Households (pseudonymous references)"), "textarea",
              _l("One per line, such as hh-2b81c0: the families the harvesters belong to."),
              required=False),
        *PRICE,
    ),
    "dispatch": (
        Field("lot", _l("Lot"), "lots"),
        Field("to", _l("Send to"), "actors"),
        *PRICE,
    ),
    "split": (
        Field("lot", _l("Lot to split"), "lots"),
        Field("children", _l("New lots"), "textarea",
              _l("One per line: LOT=QUANTITY, e.g. BN-K-26-001A=400. The quantities must "
                 "add up to the whole lot.")),
    ),
    "merge": (
        Field("lots", _l("Lots to merge"), "textarea",
              _l("One lot code per line; same product and unit")),
        Field("into", _l("New lot code")),
    ),
    "transform": (
        Field("inputs", _l("Input lots"), "textarea", _l("One lot code per line")),
        Field("process", _l("Process"), hint=_l("As named in the catalogue, e.g. "
                                                 "shelling-drying, pulping, drying")),
        Field("outputs", _l("Output lots"), "textarea",
              _l("One per line: LOT:product:quantity, e.g. "
                 "BN-K-26-001:brazil-nut-kernel:140")),
    ),
    "adjust": (
        Field("lot", _l("Lot"), "lots"),
        Field("loss", _l("Quantity lost"), "number", _l("Positive, in the lot's unit")),
        Field("reason", _l("Reason"), "select",
              choices=(("loss", _l("Loss")), ("spoilage", _l("Spoilage")),
                       ("moisture", _l("Moisture (drying)")),
                       ("correction", _l("Correction of a weighing")))),
        Field("note", _l("Note"), "textarea", _l("What happened, for the auditor")),
    ),
}

TITLES: dict[str, Any] = {
    "harvest": _l("Record a harvest"), "dispatch": _l("Dispatch a lot"),
    "split": _l("Split a lot"), "merge": _l("Merge lots"),
    "transform": _l("Process lots"), "adjust": _l("Record a loss"),
    "receive": _l("Accept a delivery"), "refuse": _l("Refuse a delivery"),
}


# Paths of the signed event (rules checked after the form became an event) -> form fields.
EVENT_PATHS = {
    "harvest.start": "harvest_start", "harvest.end": "harvest_end",
    "valuation.price": "price", "valuation.split": "shares", "valuation": "shares",
    "origin.geometry": "geometry", "origin.area_ha": "area_ha", "origin.plot": "plot",
    "origin.community": "community", "origin.territory": "territory",
    "origin.country": "country", "portions": "children", "change": "loss",
}


def error_field(path: str) -> str:
    """The form field a core error path belongs to: ``shares[1].percent`` -> ``shares``,
    ``body.harvest.end`` -> ``harvest_end``."""
    path = path.removeprefix("body.")
    for prefix, name in EVENT_PATHS.items():
        if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "["):
            return name
    for separator in "[.":
        path = path.split(separator, 1)[0]
    return path
