"""The product catalogue: what a lot can be, how it can be processed, its minimum price."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ledger.errors import RuleViolation

NAME_FALLBACK = ("pt-BR", "en")


@dataclass(frozen=True, slots=True)
class Transformation:
    """An allowed processing step and its yield range (output / input quantity)."""

    process: str
    to: str
    yield_min: Decimal
    yield_max: Decimal
    source: str


@dataclass(frozen=True, slots=True)
class ReferencePrice:
    amount: int  # minor units per ``per`` unit
    currency: str
    per: str
    source: str
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True, slots=True)
class Product:
    code: str
    species: str
    form: str
    unit: str
    names: tuple[tuple[str, str], ...]  # (language tag, name), sorted: hashable, picklable
    gtin: str | None
    eudr: bool
    transformations: tuple[Transformation, ...]
    reference_min_price: ReferencePrice | None

    def name(self, lang: str) -> str:
        names = dict(self.names)
        for candidate in (lang, lang.replace("_", "-"), lang.split("-")[0], *NAME_FALLBACK):
            if candidate in names:
                return names[candidate]
        return self.code

    def transformation_to(self, product_code: str, process: str) -> Transformation | None:
        for rule in self.transformations:
            if rule.to == product_code and rule.process == process:
                return rule
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code, "species": self.species, "form": self.form, "unit": self.unit,
            "names": dict(self.names), "eudr": self.eudr,
            "transformations": [
                {"process": t.process, "to": t.to, "yield_min": format(t.yield_min, "f"),
                 "yield_max": format(t.yield_max, "f"), "source": t.source}
                for t in self.transformations],
        }
        if self.gtin is not None:
            out["gtin"] = self.gtin
        price = self.reference_min_price
        if price is not None:
            out["reference_min_price"] = {
                "amount": price.amount, "currency": price.currency, "per": price.per,
                "source": price.source,
                **({"valid_from": price.valid_from.isoformat()} if price.valid_from else {}),
                **({"valid_to": price.valid_to.isoformat()} if price.valid_to else {}),
            }
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Product:
        """The inverse of :meth:`to_json` (for data already validated by ProductSchema)."""
        price = data.get("reference_min_price")
        return cls(
            code=data["code"], species=data["species"], form=data["form"], unit=data["unit"],
            names=tuple(sorted(data["names"].items())), gtin=data.get("gtin"),
            eudr=bool(data.get("eudr", False)),
            transformations=tuple(
                Transformation(t["process"], t["to"], Decimal(t["yield_min"]),
                               Decimal(t["yield_max"]), t["source"])
                for t in data.get("transformations", ())),
            reference_min_price=None if price is None else ReferencePrice(
                price["amount"], price["currency"], price["per"], price["source"],
                date.fromisoformat(price["valid_from"]) if price.get("valid_from") else None,
                date.fromisoformat(price["valid_to"]) if price.get("valid_to") else None),
        )


def check_yield(rule: Transformation, input_quantity: Decimal, output_quantity: Decimal) -> None:
    """Output / input must lie within the catalogue's range for this transformation."""
    if input_quantity <= 0:
        raise RuleViolation("yield_out_of_range", "input quantity must be above 0")
    ratio = output_quantity / input_quantity
    if not rule.yield_min <= ratio <= rule.yield_max:
        raise RuleViolation(
            "yield_out_of_range",
            f"yield of {rule.process} to {rule.to} expected between {rule.yield_min} and "
            f"{rule.yield_max}, got {ratio:.4f} ({output_quantity} from {input_quantity})")
