"""The outside form of a catalogue product (YAML/JSON), validated once, here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from ledger.domain.catalogue import Product
from ledger.domain.measures import UNITS
from ledger.errors import ValidationError as LedgerValidationError
from ledger.wire.fields import DecimalText

SLUG = r"^[a-z0-9][a-z0-9-]{1,62}\Z"


class TransformationSchema(Schema):
    class Meta:
        unknown = RAISE

    process = fields.String(required=True, validate=validate.Regexp(SLUG))
    to = fields.String(required=True, validate=validate.Regexp(SLUG))
    yield_min = fields.String(required=True)
    yield_max = fields.String(required=True)
    source = fields.String(required=True, validate=validate.Length(min=3, max=500))

    @validates_schema
    def check_range(self, data: dict[str, Any], **_: Any) -> None:
        field = DecimalText()
        low = field.deserialize(data["yield_min"])
        high = field.deserialize(data["yield_max"])
        if not 0 < low <= high:
            raise ValidationError(f"expected 0 < yield_min <= yield_max, got {low} and {high}",
                                  "yield_min")


class PriceSchema(Schema):
    class Meta:
        unknown = RAISE

    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}\Z"))
    per = fields.String(required=True, validate=validate.OneOf(sorted(UNITS)))
    source = fields.String(required=True, validate=validate.Length(min=3, max=500))
    valid_from = fields.String(validate=validate.Regexp(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"))
    valid_to = fields.String(validate=validate.Regexp(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"))

    @validates_schema
    def check_currency(self, data: dict[str, Any], **_: Any) -> None:
        from ledger.domain.measures import check_currency

        try:
            check_currency(data["currency"])
        except LedgerValidationError as exc:
            raise ValidationError(exc.message, "currency") from exc


class ProductSchema(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=validate.Regexp(SLUG))
    species = fields.String(required=True, validate=validate.Length(min=3, max=120))
    form = fields.String(required=True, validate=validate.Length(min=2, max=60))
    unit = fields.String(required=True, validate=validate.OneOf(sorted(UNITS)))
    names = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.Length(
        min=1, max=120)), required=True)
    gtin = fields.String()
    eudr = fields.Boolean(load_default=False)
    transformations = fields.List(fields.Nested(TransformationSchema), load_default=list)
    reference_min_price = fields.Nested(PriceSchema)

    @validates_schema
    def check(self, data: dict[str, Any], **_: Any) -> None:
        missing = [lang for lang in ("en", "pt-BR", "es") if lang not in data.get("names", {})]
        if missing:
            raise ValidationError(f"expected names in en, pt-BR and es; missing "
                                  f"{', '.join(missing)}", "names")
        if "gtin" in data:
            from ledger.domain.gs1 import check_gtin

            try:
                check_gtin(data["gtin"])
            except LedgerValidationError as exc:
                raise ValidationError(exc.message, "gtin") from exc

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Product:
        return Product.from_json(data)


def load_catalogue(data: Sequence[Any]) -> list[Product]:
    """Validate a whole catalogue: every product, and that transformations point inside it."""
    if not isinstance(data, list):
        raise LedgerValidationError("catalogue: expected a list of products", field="catalogue")
    errors: dict[str, list[str]] = {}
    products: list[Product] = []
    schema = ProductSchema()
    for index, item in enumerate(data):
        try:
            products.append(schema.load(item))
        except ValidationError as exc:
            for name, messages in _flat(exc.messages).items():
                errors[f"[{index}].{name}"] = messages
    codes = {p.code for p in products}
    for index, product in enumerate(products):
        for t in product.transformations:
            if t.to not in codes:
                errors[f"[{index}].transformations"] = [
                    f"{product.code} transforms to unknown product {t.to!r}"]
    if len(codes) != len(products):
        errors["catalogue"] = ["product codes must be unique"]
    if errors:
        first = next(iter(errors))
        raise LedgerValidationError(f"catalogue{first}: {errors[first][0]}", field=first,
                                    errors=errors)
    return products


def _flat(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix or "product": [str(m) for m in messages] if isinstance(messages, list)
            else [str(messages)]}
