"""The JSON form of every event, signed event and entry: defined once, used by every door.

``load_signed_event`` turns outside JSON into a typed :class:`SignedEvent` and insists
that the JSON is already in its one normal form (dumping the typed value gives back the
same JSON), so two byte strings never mean the same statement.
"""

from __future__ import annotations

from typing import Any, NoReturn

from marshmallow import RAISE, Schema, fields, post_load, validate
from marshmallow import ValidationError as MarshmallowError

from ledger.domain import events as ev
from ledger.domain.encoding import event_hash
from ledger.domain.measures import UNITS, Money, Quantity, Share, Valuation
from ledger.errors import EncodingError, ValidationError
from ledger.wire import compiled
from ledger.wire.fields import Base64Bytes, Day, DecimalText, Instant, Text

ID = r"^[a-z0-9][a-z0-9-]{1,62}\Z"
PARTY = r"^[A-Za-z0-9][A-Za-z0-9._:-]{1,63}\Z"
HARVESTER = r"^[A-Za-z0-9][A-Za-z0-9._-]{3,63}\Z"
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
LOT = r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}\Z"  # GS1 AI (10): CSET 82, 1..20
ROLES = ("harvesters", "harvester", "community_fund", "community_association", "cooperative",
         "processor", "trader", "transport", "other")


def _id(**kw: Any) -> fields.String:
    return fields.String(required=True, validate=validate.Regexp(ID, error="expected a lower-case "
                         "identifier such as coop-xapuri"), **kw)


def _lot(**kw: Any) -> fields.String:
    return fields.String(required=True, validate=validate.Regexp(
        LOT, error="expected a lot code of 1 to 20 GS1 AI (10) characters"), **kw)


class Strict(Schema):
    class Meta:
        unknown = RAISE


class MoneySchema(Strict):
    amount = fields.Integer(required=True, strict=True,
                            validate=validate.Range(min=0, max=2**53 - 1))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}\Z"))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Money:
        from ledger.domain.measures import check_currency

        try:
            check_currency(data["currency"])
        except ValidationError as exc:
            raise MarshmallowError({"currency": [exc.message]}) from exc
        return Money(**data)


class ShareSchema(Strict):
    party = fields.String(required=True, validate=validate.Regexp(PARTY))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    share_bp = fields.Integer(required=True, strict=True, validate=validate.Range(1, 10_000))
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(0, 2**53 - 1))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Share:
        return Share(**data)


class ValuationSchema(Strict):
    price = fields.Nested(MoneySchema, required=True)
    split = fields.List(fields.Nested(ShareSchema), required=True,
                        validate=validate.Length(1, 20))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Valuation:
        return Valuation(price=data["price"], split=tuple(data["split"]))


class QuantitySchema(Strict):
    value = DecimalText(required=True)
    unit = fields.String(required=True, validate=validate.OneOf(sorted(UNITS)))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Quantity:
        return Quantity(**data)


class ActorRegisteredSchema(Strict):
    actor_id = _id()
    actor_kind = fields.Enum(ev.ActorKind, by_value=True, required=True)
    name = Text(required=True)
    gln = fields.String(validate=validate.Regexp(r"^[0-9]{13}\Z"))
    public_key = Base64Bytes(required=True, size=32)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.ActorRegistered:
        return ev.ActorRegistered(gln=data.pop("gln", None), **data)


class KeyRotatedSchema(Strict):
    actor_id = _id()
    old_key = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{16}\Z"))
    new_public_key = Base64Bytes(required=True, size=32)
    grace_s = fields.Integer(strict=True, validate=validate.Range(0, 2**53 - 1))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.KeyRotated:
        return ev.KeyRotated(**data)


class KeyRevokedSchema(Strict):
    actor_id = _id()
    key = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{16}\Z"))
    reason = Text(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.KeyRevoked:
        return ev.KeyRevoked(**data)


class ProductRegisteredSchema(Strict):
    product = fields.Raw(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.ProductRegistered:
        from ledger.wire.products import ProductSchema

        return ev.ProductRegistered(product=ProductSchema().load(data["product"]))


class HarvestPeriodSchema(Strict):
    start = Day(required=True)
    end = Day(required=True)


class OriginSchema(Strict):
    community = Text(required=True)
    territory = Text(required=True)
    country = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}\Z"))
    plot = Text(max_length=64)
    area_ha = DecimalText()
    geometry = fields.Dict()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.Origin:
        # The geometry's shape is a rule (ledger.domain.geo), run by every append and
        # replay through decide(); the schema only says it is an object.
        geometry = data.get("geometry")
        return ev.Origin(community=data["community"], territory=data["territory"],
                         country=data["country"], plot=data.get("plot"),
                         area_ha=data.get("area_ha"), geometry=geometry)


class LotHarvestedSchema(Strict):
    lot = _lot()
    product = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]+\Z"))
    quantity = fields.Nested(QuantitySchema, required=True)
    season = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{4}(/[0-9]{2})?\Z"))
    harvest = fields.Nested(HarvestPeriodSchema, required=True)
    origin = fields.Nested(OriginSchema, required=True)
    harvesters = fields.List(fields.String(validate=validate.Regexp(
        HARVESTER, error="expected a pseudonymous reference such as hv-7f3a9c, not a name")),
        required=True, validate=validate.Length(1, 500))
    valuation = fields.Nested(ValuationSchema, required=True)
    households = fields.List(fields.String(validate=validate.Regexp(
        HARVESTER, error="expected a pseudonymous household reference such as hh-2b81c0, "
                         "not a name")), load_default=None, validate=validate.Length(1, 500))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.LotHarvested:
        period = data.pop("harvest")
        households = data.pop("households")
        return ev.LotHarvested(harvest_start=period["start"], harvest_end=period["end"],
                               harvesters=tuple(data.pop("harvesters")),
                               households=tuple(households) if households else None, **data)


class LotDispatchedSchema(Strict):
    lot = _lot()
    to = _id()
    valuation = fields.Nested(ValuationSchema, required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.LotDispatched:
        return ev.LotDispatched(**data)


class LotReceivedSchema(Strict):
    lot = _lot()
    dispatch = fields.String(required=True, validate=validate.Regexp(UUID))
    valuation = fields.Nested(ValuationSchema, required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.LotReceived:
        return ev.LotReceived(**data)


class LotRefusedSchema(Strict):
    lot = _lot()
    dispatch = fields.String(required=True, validate=validate.Regexp(UUID))
    reason = Text(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.LotRefused:
        return ev.LotRefused(**data)


class PortionSchema(Strict):
    lot = _lot()
    quantity = DecimalText(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.Portion:
        return ev.Portion(**data)


class LotSplitSchema(Strict):
    lot = _lot()
    children = fields.List(fields.Nested(PortionSchema), required=True,
                           validate=validate.Length(1, 1000))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.LotSplit:
        return ev.LotSplit(lot=data["lot"], children=tuple(data["children"]))


class LotsMergedSchema(Strict):
    lots = fields.List(_lot(), required=True, validate=validate.Length(1, 1000))
    into = _lot()
    quantity = DecimalText(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.LotsMerged:
        return ev.LotsMerged(lots=tuple(data["lots"]), into=data["into"],
                             quantity=data["quantity"])


class OutputSchema(Strict):
    lot = _lot()
    product = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]+\Z"))
    quantity = DecimalText(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.Output:
        return ev.Output(**data)


class LotTransformedSchema(Strict):
    inputs = fields.List(_lot(), required=True, validate=validate.Length(1, 1000))
    process = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]+\Z"))
    outputs = fields.List(fields.Nested(OutputSchema), required=True,
                          validate=validate.Length(1, 20))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.LotTransformed:
        return ev.LotTransformed(inputs=tuple(data["inputs"]), process=data["process"],
                                 outputs=tuple(data["outputs"]))


class LotAdjustedSchema(Strict):
    lot = _lot()
    change = DecimalText(required=True, signed=True)
    reason = fields.Enum(ev.AdjustmentReason, by_value=True, required=True)
    note = Text(required=True, max_length=500)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.LotAdjusted:
        return ev.LotAdjusted(**data)


BODY_SCHEMAS: dict[ev.EventKind, type[Schema]] = {
    ev.EventKind.ACTOR_REGISTERED: ActorRegisteredSchema,
    ev.EventKind.KEY_ROTATED: KeyRotatedSchema,
    ev.EventKind.KEY_REVOKED: KeyRevokedSchema,
    ev.EventKind.PRODUCT_REGISTERED: ProductRegisteredSchema,
    ev.EventKind.LOT_HARVESTED: LotHarvestedSchema,
    ev.EventKind.LOT_DISPATCHED: LotDispatchedSchema,
    ev.EventKind.LOT_RECEIVED: LotReceivedSchema,
    ev.EventKind.LOT_REFUSED: LotRefusedSchema,
    ev.EventKind.LOT_SPLIT: LotSplitSchema,
    ev.EventKind.LOTS_MERGED: LotsMergedSchema,
    ev.EventKind.LOT_TRANSFORMED: LotTransformedSchema,
    ev.EventKind.LOT_ADJUSTED: LotAdjustedSchema,
}
# Schemas are stateless once built; building them per call dominates the cost.
_BODY_INSTANCES: dict[ev.EventKind, Schema] = {}


class EnvelopeSchema(Strict):
    id = fields.String(required=True, validate=validate.Regexp(UUID, error="expected a "
                       "lower-case UUID"))
    kind = fields.Enum(ev.EventKind, by_value=True, required=True)
    actor = _id()
    at = Instant(required=True)
    body = fields.Dict(required=True)


class SignatureSchema(Strict):
    public_key = Base64Bytes(required=True, size=32)
    signature = Base64Bytes(required=True, size=64)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ev.Signature:
        return ev.Signature(**data)


class SignedEnvelopeSchema(Strict):
    event = fields.Dict(required=True)
    signatures = fields.List(fields.Nested(SignatureSchema), required=True,
                             validate=validate.Length(1, 4))


_ENVELOPE = EnvelopeSchema()
_SIGNED = SignedEnvelopeSchema()
_SIGNATURE = SignatureSchema()


def _body_schema(kind: ev.EventKind) -> Schema:
    schema = _BODY_INSTANCES.get(kind)
    if schema is None:
        schema = _BODY_INSTANCES[kind] = BODY_SCHEMAS[kind]()
    return schema


def raise_validation(exc: MarshmallowError, prefix: str = "") -> NoReturn:
    """Re-raise a marshmallow error as the ledger's ValidationError, fields flattened."""
    flat = _flatten(exc.messages, prefix)
    first_field, first_messages = next(iter(flat.items()))
    raise ValidationError(f"{first_field}: {first_messages[0]}", field=first_field,
                          errors=flat) from exc


def _flatten(messages: Any, prefix: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}[{key}]" if isinstance(key, int) else (
                f"{prefix}.{key}" if prefix else str(key))
            if key == "_schema":
                name = prefix or "document"
            out.update(_flatten(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "document"] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            out.update(_flatten(value, f"{prefix}[{index}]"))
    else:
        out[prefix or "document"] = [str(messages)]
    return out


def load_event(data: Any) -> ev.Event:
    """Outside JSON (an unsigned event) to a typed :class:`Event`, in normal form only."""
    if not isinstance(data, dict):
        raise ValidationError("event: expected a JSON object", field="event")
    try:
        envelope = compiled.load(_ENVELOPE, data)
    except MarshmallowError as exc:
        raise_validation(exc, "")
    kind = envelope["kind"]
    try:
        body = compiled.load(_body_schema(kind), envelope["body"])
    except MarshmallowError as exc:
        raise_validation(exc, "body")
    event = ev.Event(id=envelope["id"], kind=kind, actor=envelope["actor"], at=envelope["at"],
                     body=body)
    if dump_event(event) != data:
        raise ValidationError("event: not in normal form (a field is written in a way that "
                              "dumps differently, e.g. optional fields set to null)",
                              field="event")
    return event


def dump_event(event: ev.Event) -> dict[str, Any]:
    body = compiled.dump(_body_schema(event.kind), _body_for_dump(event.body))
    return {
        "id": event.id,
        "kind": event.kind.value,
        "actor": event.actor,
        "at": _ENVELOPE.fields["at"].serialize("at", {"at": event.at}),
        "body": _drop_none(body),
    }


def _body_for_dump(body: ev.Body) -> Any:
    match body:
        case ev.LotHarvested():
            out = {f: getattr(body, f) for f in ("lot", "product", "quantity", "season",
                                                 "origin", "harvesters", "valuation",
                                                 "households")}
            out["harvest"] = {"start": body.harvest_start, "end": body.harvest_end}
            return out
        case ev.ProductRegistered():
            return {"product": body.product.to_json()}
    return body


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def load_signed_event(data: Any, *, digest: bytes | None = None) -> ev.SignedEvent:
    """Outside JSON ``{"event": ..., "signatures": [...]}`` to a typed signed event.

    ``digest``: the event's digest when the caller has already computed it from these
    very values (an entry's byte-level check does); otherwise it is computed here.
    """
    if not isinstance(data, dict):
        raise ValidationError("signed event: expected a JSON object", field="document")
    try:
        envelope = compiled.load(_SIGNED, data)
    except MarshmallowError as exc:
        raise_validation(exc, "")
    event = load_event(envelope["event"])
    if digest is None:
        try:
            digest = event_hash(envelope["event"])
        except EncodingError as exc:
            raise ValidationError(f"event: {exc.message}", field="event") from exc
    return ev.SignedEvent(event=event, signatures=tuple(envelope["signatures"]),
                          event_json=envelope["event"], digest=digest)


def dump_signed_event(signed: ev.SignedEvent) -> dict[str, Any]:
    return {
        "event": signed.event_json,
        "signatures": [compiled.dump(_SIGNATURE, sig) for sig in signed.signatures],
    }
