"""The input forms people fill in (CLI flags, batch files, web forms, API requests).

They differ from the signed JSON in being friendlier: a price in major units ("2062.50"),
shares in percent ("70"), lists as comma-separated text. Each schema loads into a plain
dict that :mod:`ledger.operations` turns into a typed event body, resolving what the
ledger knows (the product's unit, the pending dispatch a receipt acknowledges).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from ledger.domain.encoding import parse_json
from ledger.domain.events import AdjustmentReason
from ledger.errors import LedgerError
from ledger.errors import ValidationError as InputError
from ledger.wire.events import HARVESTER, ID, LOT, PARTY, ROLES, UUID
from ledger.wire.fields import Day, DecimalText, Text
from ledger.wire.products import SLUG

_SHARE_TEXT = re.compile(r"(?P<party>[^:]+):(?P<role>[a-z_]+):(?P<percent>[0-9.]+)%?")
# Deeper than any document of the ledger (an entry's MultiPolygon is 9 levels down):
# what recursive code after the parse (schemas, canonical JSON) can never choke on.
MAX_INPUT_DEPTH = 32


def parse_input_json(data: bytes | str, *, what: str) -> Any:
    """Outside JSON (an API body, a batch file, a form's GeoJSON) parsed as strictly as
    the ledger reads its own bytes: no duplicate member names, no NaN or Infinity, and
    at most :data:`MAX_INPUT_DEPTH` levels of nesting; else one :class:`InputError`
    naming ``what``."""
    try:
        value = parse_json(data, what=what)
    except LedgerError as exc:
        raise InputError(exc.message, field=what) from exc
    check_depth(value, what=what)
    return value


def check_depth(value: Any, *, what: str, max_values: int | None = None) -> None:
    """At most :data:`MAX_INPUT_DEPTH` levels of lists and objects (walked without
    recursion, so hostile nesting cannot exhaust the stack here either) and, if given,
    at most ``max_values`` values (for formats whose references repeat a value)."""
    if not isinstance(value, dict | list):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 1
    while stack:
        item, depth = stack.pop()
        if depth > MAX_INPUT_DEPTH:
            raise _too_deep(what)
        children = item.values() if isinstance(item, dict) else item
        seen += len(children)
        if max_values is not None and seen > max_values:
            raise InputError(f"{what}: expected at most {max_values} values", field=what)
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))


def _too_deep(what: str) -> InputError:
    return InputError(f"{what}: expected JSON nested at most {MAX_INPUT_DEPTH} levels deep",
                      field=what)


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        # commas on a command line, semicolons in spreadsheets, lines in a web form
        return [item.strip() for item in re.split(r"[,;\n]", value) if item.strip()]
    return value


# The catalogue's own code format (ledger.wire.products), so that no lookup is ever made
# with text that cannot be a product code.
_PRODUCT_CODE = validate.Regexp(SLUG, error="expected a catalogue product code such as "
                                "brazil-nut-in-shell")


class ShareInput(Schema):
    class Meta:
        unknown = RAISE

    party = fields.String(required=True, validate=validate.Regexp(PARTY))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    percent = DecimalText(required=True)

    @pre_load
    def from_text(self, data: Any, **_: Any) -> Any:
        if isinstance(data, str):
            match = _SHARE_TEXT.fullmatch(data.strip())
            if not match:
                raise ValidationError(f"expected party:role:percent such as "
                                      f"hv-group:harvesters:70, got {data!r:.40}")
            return match.groupdict()
        return data


class PriceInput(Schema):
    """A price in major units of a currency, and who gets which share of it."""

    class Meta:
        unknown = RAISE

    price = DecimalText(required=True)
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}\Z"))
    shares = fields.List(fields.Nested(ShareInput), required=True,
                         validate=validate.Length(1, 20))

    @pre_load
    def shares_from_text(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("shares"), str):
            data = {**data, "shares": _split_list(data["shares"])}
        return data


class HarvestInput(PriceInput):
    lot = fields.String(required=True, validate=validate.Regexp(LOT))
    product = fields.String(required=True, validate=_PRODUCT_CODE)
    quantity = DecimalText(required=True)
    unit = fields.String(load_default=None)
    season = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{4}(/[0-9]{2})?\Z"))
    harvest_start = Day(required=True)
    harvest_end = Day(required=True)
    community = Text(required=True)
    territory = Text(required=True)
    country = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}\Z"))
    plot = Text(load_default=None, max_length=64)
    area_ha = DecimalText(load_default=None)
    # An object (GeoJSON text from a form or flag is parsed first); its shape is the
    # domain's rule geometry_valid, which every append runs.
    geometry = fields.Dict(load_default=None)
    harvesters = fields.List(fields.String(validate=validate.Regexp(
        HARVESTER, error="expected a pseudonymous reference such as hv-7f3a9c, not a name")),
        required=True, validate=validate.Length(1, 500))
    households = fields.List(fields.String(validate=validate.Regexp(
        HARVESTER, error="expected a pseudonymous household reference such as hh-2b81c0, "
                         "not a name")), load_default=None, validate=validate.Length(1, 500))

    @pre_load
    def lists_from_text(self, data: Any, **kwargs: Any) -> Any:
        data = super().shares_from_text(data, **kwargs)
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if v not in ("", None)}
            for name in ("harvesters", "households"):
                if name in data:
                    data[name] = _split_list(data[name])
            if isinstance(data.get("geometry"), str):
                try:
                    data["geometry"] = parse_input_json(data["geometry"], what="geometry")
                except InputError as exc:
                    raise ValidationError({"geometry": [exc.message]}) from exc
        return data


class DispatchInput(PriceInput):
    lot = fields.String(required=True, validate=validate.Regexp(LOT))
    to = fields.String(required=True, validate=validate.Regexp(ID))


class ReceiveInput(Schema):
    class Meta:
        unknown = RAISE

    lot = fields.String(required=True, validate=validate.Regexp(LOT))
    dispatch = fields.String(load_default=None, validate=validate.Regexp(UUID))


class RefuseInput(ReceiveInput):
    reason = Text(required=True)


class PortionInput(Schema):
    class Meta:
        unknown = RAISE

    lot = fields.String(required=True, validate=validate.Regexp(LOT))
    quantity = DecimalText(required=True)


class SplitInput(Schema):
    class Meta:
        unknown = RAISE

    lot = fields.String(required=True, validate=validate.Regexp(LOT))
    # A list, not a mapping: a child named twice stays twice, for the core's rule
    # lots_distinct to refuse, instead of one of them vanishing here.
    children = fields.List(fields.Nested(PortionInput), required=True,
                           validate=validate.Length(1, 1000))

    @pre_load
    def children_from_text(self, data: Any, **_: Any) -> Any:
        # "BN-1-A=60,BN-1-B=40", {"BN-1-A": "60", ...} or a list of {"lot", "quantity"}
        if isinstance(data, dict) and isinstance(data.get("children"), str | dict):
            children = data["children"]
            if isinstance(children, str):
                pairs = [item.split("=", 1) for item in _split_list(children)]
                if any(len(pair) != 2 for pair in pairs):
                    raise ValidationError({"children": ["expected LOT=QUANTITY pairs such "
                                                        "as BN-1-A=60,BN-1-B=40"]})
                children = [{"lot": k.strip(), "quantity": v.strip()} for k, v in pairs]
            else:
                children = [{"lot": k, "quantity": v} for k, v in children.items()]
            data = {**data, "children": children}
        return data


class MergeInput(Schema):
    class Meta:
        unknown = RAISE

    lots = fields.List(fields.String(validate=validate.Regexp(LOT)), required=True,
                       validate=validate.Length(2, 1000))
    into = fields.String(required=True, validate=validate.Regexp(LOT))

    @pre_load
    def lots_from_text(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("lots"), str):
            data = {**data, "lots": _split_list(data["lots"])}
        return data


class OutputInput(Schema):
    class Meta:
        unknown = RAISE

    lot = fields.String(required=True, validate=validate.Regexp(LOT))
    product = fields.String(required=True, validate=_PRODUCT_CODE)
    quantity = DecimalText(required=True)


class TransformInput(Schema):
    class Meta:
        unknown = RAISE

    inputs = fields.List(fields.String(validate=validate.Regexp(LOT)), required=True,
                         validate=validate.Length(1, 1000))
    process = fields.String(required=True)
    outputs = fields.List(fields.Nested(OutputInput), required=True,
                          validate=validate.Length(1, 20))

    @pre_load
    def from_text(self, data: Any, **_: Any) -> Any:
        # outputs as "LOT:product:quantity,..." for the command line
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("inputs"), str):
                data["inputs"] = _split_list(data["inputs"])
            outputs = data.get("outputs")
            if isinstance(outputs, str):
                outputs = _split_list(outputs)
            if isinstance(outputs, list) and any(isinstance(o, str) for o in outputs):
                outs: list[Any] = []
                for item in outputs:
                    if not isinstance(item, str):
                        outs.append(item)
                        continue
                    parts = item.split(":")
                    if len(parts) != 3:
                        raise ValidationError({"outputs": ["expected LOT:product:quantity, got "
                                                           f"{item!r:.40}"]})
                    outs.append({"lot": parts[0], "product": parts[1], "quantity": parts[2]})
                data["outputs"] = outs
        return data


class AdjustInput(Schema):
    class Meta:
        unknown = RAISE

    lot = fields.String(required=True, validate=validate.Regexp(LOT))
    loss = DecimalText(required=True)  # the quantity lost, positive; recorded as a negative change
    reason = fields.Enum(AdjustmentReason, by_value=True, required=True)
    note = Text(required=True, max_length=500)


INPUT_SCHEMAS: dict[str, type[Schema]] = {
    "harvest": HarvestInput,
    "dispatch": DispatchInput,
    "receive": ReceiveInput,
    "refuse": RefuseInput,
    "split": SplitInput,
    "merge": MergeInput,
    "transform": TransformInput,
    "adjust": AdjustInput,
}


def percent_to_basis_points(percent: Decimal) -> int:
    bp = percent * 100
    if bp != bp.to_integral_value():
        raise ValidationError(f"expected a share with at most two decimals of a percent, "
                              f"got {percent}")
    return int(bp)
