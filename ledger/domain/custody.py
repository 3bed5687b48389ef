"""Custody and mass-balance rules for lot events.

Only the current custodian moves a lot; a spent lot is never used again; quantities
are conserved (children sum to the parent, merges to their inputs, yields within the
catalogue's range, losses only as explicit adjustments); custody changes only when the
receiver signs receipt of the price and split the sender dispatched.
"""

from __future__ import annotations

from decimal import Decimal

from ledger.domain.catalogue import Product, Transformation, check_yield
from ledger.domain.events import (
    Event,
    LotAdjusted,
    LotDispatched,
    LotHarvested,
    LotId,
    LotReceived,
    LotRefused,
    LotsMerged,
    LotSplit,
    LotTransformed,
)
from ledger.domain.geo import check_geometry
from ledger.domain.gs1 import check_lot
from ledger.domain.measures import check_valuation
from ledger.domain.state import (
    Effects,
    LedgerView,
    LotRecord,
    LotStatus,
    PendingDispatch,
)
from ledger.errors import RuleViolation, ValidationError


def decide_lot_event(event: Event, view: LedgerView) -> Effects:
    body = event.body
    match body:
        case LotHarvested():
            return _harvested(event, body, view)
        case LotDispatched():
            return _dispatched(event, body, view)
        case LotReceived():
            return _received(event, body, view)
        case LotRefused():
            return _refused(event, body, view)
        case LotSplit():
            return _split(event, body, view)
        case LotsMerged():
            return _merged(event, body, view)
        case LotTransformed():
            return _transformed(event, body, view)
        case LotAdjusted():
            return _adjusted(event, body, view)
    raise RuleViolation("event_kind", f"kind: {event.kind} is not a lot event", field="kind")


def _new_lot_id(lot: LotId, field: str, view: LedgerView) -> None:
    try:
        check_lot(lot)
    except ValidationError as exc:
        raise RuleViolation("lot_code_format", f"{field}: {exc.message}", field=field,
                            lot=lot) from exc
    if view.lot(lot) is not None:
        raise RuleViolation("lot_unique", f"{field}: lot {lot} already exists", field=field,
                            lot=lot)


def _held_lot(event: Event, lot_id: LotId, field: str, view: LedgerView) -> LotRecord:
    """The lot, if it exists, is active and the event's actor holds it."""
    lot = view.lot(lot_id)
    if lot is None:
        raise RuleViolation("lot_exists", f"{field}: lot {lot_id} does not exist",
                            field=field, lot=lot_id)
    if lot.status is not LotStatus.ACTIVE:
        raise RuleViolation("lot_active", f"{field}: lot {lot_id} expected status active, got "
                            f"{lot.status}; a lot is used once", field=field, lot=lot_id)
    if lot.custodian != event.actor:
        raise RuleViolation("custodian_only", f"{field}: only the custodian moves lot {lot_id}: "
                            f"expected {lot.custodian}, got {event.actor}", field=field,
                            lot=lot_id)
    return lot


def _product(code: str, field: str, view: LedgerView, lot: LotId) -> Product:
    product = view.product(code)
    if product is None:
        raise RuleViolation("product_known", f"{field}: expected a catalogue product, got "
                            f"{code!r}", field=field, lot=lot)
    return product


def _positive(value: Decimal, field: str, lot: LotId) -> None:
    if value <= 0:
        raise RuleViolation("quantity_positive", f"{field}: expected a quantity above 0, got "
                            f"{value}", field=field, lot=lot)


def _harvested(event: Event, body: LotHarvested, view: LedgerView) -> Effects:
    _new_lot_id(body.lot, "body.lot", view)
    product = _product(body.product, "body.product", view, body.lot)
    unit = product.unit
    if body.quantity.unit != unit:
        raise RuleViolation("unit_matches_product", f"body.quantity.unit: {body.product} is "
                            f"measured in {unit}, got {body.quantity.unit}",
                            field="body.quantity.unit", lot=body.lot)
    _positive(body.quantity.value, "body.quantity.value", body.lot)
    if body.harvest_start > body.harvest_end:
        raise RuleViolation("harvest_period", "body.harvest.end: expected on or after the start "
                            f"{body.harvest_start}, got {body.harvest_end}",
                            field="body.harvest.end", lot=body.lot)
    if body.harvest_end > event.at.date():
        raise RuleViolation("harvest_period", f"body.harvest.end: expected on or before the "
                            f"statement date {event.at.date()}, got {body.harvest_end}",
                            field="body.harvest.end", lot=body.lot)
    if body.origin.geometry is not None:
        try:
            check_geometry(body.origin.geometry, field="body.origin.geometry")
        except RuleViolation as exc:
            raise RuleViolation(exc.rule, exc.message, field=exc.field, lot=body.lot) from exc
    if product.eudr:
        check_eudr_origin(body)
    check_valuation(body.valuation, lot=body.lot, field="body.valuation")
    lot = LotRecord(body.lot, body.product, body.quantity.value, unit, event.actor,
                    LotStatus.ACTIVE, body.season, body.origin.community)
    return Effects(lots=(lot,), touched=(body.lot,))


EUDR_POINT_MAX_HA = Decimal(4)


def check_eudr_origin(body: LotHarvested) -> None:
    """EU Deforestation Regulation geolocation: a plot as a point only up to 4 ha, else a
    polygon, without holes (Regulation (EU) 2023/1115, art. 2(28) and art. 9(1)(d))."""
    geometry, lot = body.origin.geometry, body.lot
    field = "body.origin.geometry"
    if geometry is None:
        raise RuleViolation("eudr_geolocation", f"{field}: {body.product} is an EUDR "
                            "commodity; the plot's geolocation is required", field=field,
                            lot=lot)
    if geometry["type"] == "Point":
        area = body.origin.area_ha
        if area is None or area > EUDR_POINT_MAX_HA:
            raise RuleViolation("eudr_point_area", f"{field}: a point is allowed only for "
                                f"plots of at most 4 ha, got area_ha {area}; give the plot's "
                                "polygon", field=field, lot=lot)
        return
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" \
        else geometry["coordinates"]
    if any(len(rings) != 1 for rings in polygons):
        raise RuleViolation("eudr_no_holes", f"{field}: EUDR plot polygons must not have "
                            "holes (one ring per polygon)", field=field, lot=lot)


def _dispatched(event: Event, body: LotDispatched, view: LedgerView) -> Effects:
    lot = _held_lot(event, body.lot, "body.lot", view)
    receiver = view.actor(body.to)
    if receiver is None:
        raise RuleViolation("actor_registered", f"body.to: expected a registered actor, got "
                            f"{body.to!r}", field="body.to", lot=body.lot)
    if body.to == event.actor:
        raise RuleViolation("dispatch_to_other", "body.to: a lot is dispatched to another actor",
                            field="body.to", lot=body.lot)
    check_valuation(body.valuation, lot=body.lot, field="body.valuation")
    pending = PendingDispatch(body.to, event.id, body.valuation, event.at)
    moved = lot.with_changes(status=LotStatus.IN_TRANSIT, pending=pending)
    return Effects(lots=(moved,), touched=(body.lot,))


def _pending_for(event: Event, lot_id: LotId, dispatch: str,
                 view: LedgerView) -> tuple[LotRecord, PendingDispatch]:
    lot = view.lot(lot_id)
    if lot is None:
        raise RuleViolation("lot_exists", f"body.lot: lot {lot_id} does not exist",
                            field="body.lot", lot=lot_id)
    pending = lot.pending
    if lot.status is not LotStatus.IN_TRANSIT or pending is None:
        raise RuleViolation("lot_in_transit", f"body.lot: lot {lot_id} expected status "
                            f"in_transit, got {lot.status}", field="body.lot", lot=lot_id)
    if pending.to != event.actor:
        raise RuleViolation("receiver_only", f"actor: lot {lot_id} was dispatched to "
                            f"{pending.to}, got {event.actor}", field="actor", lot=lot_id)
    if pending.dispatch != dispatch:
        raise RuleViolation("dispatch_matches", f"body.dispatch: expected {pending.dispatch}, "
                            f"got {dispatch}", field="body.dispatch", lot=lot_id)
    if event.at < pending.at:
        raise RuleViolation("receipt_after_dispatch", f"at: lot {lot_id} was dispatched at "
                            f"{pending.at.isoformat()}; an answer to it cannot be dated "
                            f"{event.at.isoformat()}", field="at", lot=lot_id)
    return lot, pending


def _received(event: Event, body: LotReceived, view: LedgerView) -> Effects:
    lot, pending = _pending_for(event, body.lot, body.dispatch, view)
    check_valuation(body.valuation, lot=body.lot, field="body.valuation")
    if body.valuation != pending.valuation:
        raise RuleViolation("receipt_matches_dispatch", "body.valuation: the receiver must "
                            "acknowledge the dispatched price and split exactly",
                            field="body.valuation", lot=body.lot)
    moved = lot.with_changes(custodian=event.actor, status=LotStatus.ACTIVE, pending=None)
    return Effects(lots=(moved,), touched=(body.lot,))


def _refused(event: Event, body: LotRefused, view: LedgerView) -> Effects:
    lot, _ = _pending_for(event, body.lot, body.dispatch, view)
    back = lot.with_changes(status=LotStatus.ACTIVE, pending=None)
    return Effects(lots=(back,), touched=(body.lot,))


def _distinct(ids: tuple[LotId, ...], field: str) -> None:
    if len(set(ids)) != len(ids):
        raise RuleViolation("lots_distinct", f"{field}: each lot may appear once, got "
                            f"{list(ids)}", field=field)


def _split(event: Event, body: LotSplit, view: LedgerView) -> Effects:
    parent = _held_lot(event, body.lot, "body.lot", view)
    if len(body.children) < 2:
        raise RuleViolation("split_children", f"body.children: expected at least 2, got "
                            f"{len(body.children)}", field="body.children", lot=body.lot)
    _distinct(tuple(child.lot for child in body.children), "body.children")
    total = Decimal(0)
    for index, child in enumerate(body.children):
        _new_lot_id(child.lot, f"body.children[{index}].lot", view)
        _positive(child.quantity, f"body.children[{index}].quantity", body.lot)
        total += child.quantity
    if total != parent.quantity:
        raise RuleViolation("split_conserves_quantity", f"body.children: quantities must sum to "
                            f"the parent's {parent.quantity} {parent.unit}, got {total}",
                            field="body.children", lot=body.lot)
    children = tuple(
        LotRecord(child.lot, parent.product, child.quantity, parent.unit, event.actor,
                  LotStatus.ACTIVE, parent.season, parent.community)
        for child in body.children)
    spent = parent.with_changes(status=LotStatus.SPLIT)
    return Effects(lots=(spent, *children),
                   links=tuple((body.lot, child.lot) for child in body.children),
                   touched=(body.lot, *(child.lot for child in body.children)))


def _common(values: list[str | None]) -> str | None:
    return values[0] if len(set(values)) == 1 else None


def _merged(event: Event, body: LotsMerged, view: LedgerView) -> Effects:
    if len(body.lots) < 2:
        raise RuleViolation("merge_inputs", f"body.lots: expected at least 2, got "
                            f"{len(body.lots)}", field="body.lots")
    _distinct(body.lots, "body.lots")
    inputs = [_held_lot(event, lot_id, f"body.lots[{i}]", view)
              for i, lot_id in enumerate(body.lots)]
    first = inputs[0]
    for i, lot in enumerate(inputs[1:], start=1):
        if (lot.product, lot.unit) != (first.product, first.unit):
            raise RuleViolation("merge_same_product", f"body.lots[{i}]: merges only of one "
                                f"product and unit, expected {first.product} in {first.unit}, "
                                f"got {lot.product} in {lot.unit}", field=f"body.lots[{i}]",
                                lot=lot.lot_id)
    _new_lot_id(body.into, "body.into", view)
    total = sum((lot.quantity for lot in inputs), Decimal(0))
    if body.quantity != total:
        raise RuleViolation("merge_conserves_quantity", f"body.quantity: expected the inputs' "
                            f"sum {total} {first.unit}, got {body.quantity}",
                            field="body.quantity", lot=body.into)
    merged = LotRecord(body.into, first.product, total, first.unit, event.actor,
                       LotStatus.ACTIVE, _common([lot.season for lot in inputs]),
                       _common([lot.community for lot in inputs]))
    spent = tuple(lot.with_changes(status=LotStatus.MERGED) for lot in inputs)
    return Effects(lots=(*spent, merged), links=tuple((lot, body.into) for lot in body.lots),
                   touched=(*body.lots, body.into))


def _transformed(event: Event, body: LotTransformed, view: LedgerView) -> Effects:
    if not body.inputs or not body.outputs:
        raise RuleViolation("transform_shape", "body: a transformation needs inputs and outputs",
                            field="body.inputs")
    _distinct(body.inputs, "body.inputs")
    _distinct(tuple(out.lot for out in body.outputs), "body.outputs")
    inputs = [_held_lot(event, lot_id, f"body.inputs[{i}]", view)
              for i, lot_id in enumerate(body.inputs)]
    source = inputs[0]
    for i, lot in enumerate(inputs[1:], start=1):
        if lot.product != source.product:
            raise RuleViolation("transform_same_input", f"body.inputs[{i}]: inputs must be one "
                                f"product, expected {source.product}, got {lot.product}",
                                field=f"body.inputs[{i}]", lot=lot.lot_id)
    product = _product(source.product, "body.inputs", view, source.lot_id)
    total_in = sum((lot.quantity for lot in inputs), Decimal(0))
    created = []
    # Outputs of one product share its yield range: their sum must lie within it (twenty
    # outputs each at the top of the range would otherwise make mass from nothing).
    by_product: dict[str, tuple[Transformation, Decimal, int]] = {}
    for i, out in enumerate(body.outputs):
        field = f"body.outputs[{i}]"
        _new_lot_id(out.lot, f"{field}.lot", view)
        _positive(out.quantity, f"{field}.quantity", out.lot)
        target = _product(out.product, f"{field}.product", view, out.lot)
        rule = product.transformation_to(out.product, body.process)
        if rule is None:
            raise RuleViolation("transformation_allowed", f"{field}.product: the catalogue does "
                                f"not allow {source.product} -> {out.product} by "
                                f"{body.process!r}", field=f"{field}.product", lot=out.lot)
        _, so_far, _ = by_product.get(out.product, (rule, Decimal(0), i))
        by_product[out.product] = (rule, so_far + out.quantity, i)
        created.append(LotRecord(out.lot, out.product, out.quantity,
                                 target.unit, event.actor, LotStatus.ACTIVE,
                                 _common([lot.season for lot in inputs]),
                                 _common([lot.community for lot in inputs])))
    for rule, quantity, last in by_product.values():
        field = f"body.outputs[{last}].quantity"
        try:
            check_yield(rule, total_in, quantity)
        except RuleViolation as exc:
            raise RuleViolation(exc.rule, f"{field}: {exc.message}", field=field,
                                lot=body.outputs[last].lot) from exc
    spent = tuple(lot.with_changes(status=LotStatus.TRANSFORMED) for lot in inputs)
    links = tuple((lot, out.lot) for lot in body.inputs for out in body.outputs)
    return Effects(lots=(*spent, *created), links=links,
                   touched=(*body.inputs, *(out.lot for out in body.outputs)))


def _adjusted(event: Event, body: LotAdjusted, view: LedgerView) -> Effects:
    lot = _held_lot(event, body.lot, "body.lot", view)
    if body.change >= 0:
        raise RuleViolation("adjustment_is_loss", f"body.change: expected a negative change "
                            f"(losses only), got {body.change}", field="body.change",
                            lot=body.lot)
    remaining = lot.quantity + body.change
    if remaining < 0:
        raise RuleViolation("adjustment_within_lot", f"body.change: cannot remove more than the "
                            f"lot's {lot.quantity} {lot.unit}, got {body.change}",
                            field="body.change", lot=body.lot)
    status = LotStatus.EXHAUSTED if remaining == 0 else LotStatus.ACTIVE
    return Effects(lots=(lot.with_changes(quantity=remaining, status=status),),
                   touched=(body.lot,))
