"""From what a person filled in to a signed, appended event: the one path for every door.

The CLI (flags and batch files), the web forms and the API all call :func:`prepare_body`
with the same input forms (:mod:`ledger.wire.commands`); the ledger supplies what people
should not have to type (the product's unit, the dispatched price a receipt accepts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError as MarshmallowError

from ledger.builders import make_event
from ledger.domain import events as ev
from ledger.domain.entry import Entry
from ledger.domain.geo import check_geometry
from ledger.domain.keys import Signer
from ledger.domain.measures import (
    BASIS_POINTS_WHOLE,
    Money,
    Quantity,
    Share,
    Valuation,
    build_valuation,
    check_currency,
    currency_exponent,
)
from ledger.domain.state import LotRecord, LotStatus
from ledger.errors import LedgerError, RuleViolation, ValidationError
from ledger.service import Ledger
from ledger.signing import sign_event
from ledger.wire.commands import INPUT_SCHEMAS, percent_to_basis_points
from ledger.wire.events import raise_validation

KINDS = tuple(INPUT_SCHEMAS)


def load_input(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    if kind not in INPUT_SCHEMAS:
        raise ValidationError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}",
                              field="kind")
    try:
        loaded: dict[str, Any] = INPUT_SCHEMAS[kind]().load(dict(data))
    except MarshmallowError as exc:
        raise_validation(exc)
    return loaded


def to_minor_units(price: Decimal, currency: str) -> int:
    check_currency(currency)
    exponent = currency_exponent(currency)
    minor = price.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValidationError(f"price: {currency} has {exponent} decimals, got {price}",
                              field="price")
    return int(minor)


def _valuation(data: Mapping[str, Any]) -> Valuation:
    """The price in minor units and the split in basis points. The amounts follow the
    rounding rule when the shares make 100%; when they do not, the core's rule
    split_sums_to_100_percent refuses the event (one rule, in one place)."""
    price = Money(to_minor_units(data["price"], data["currency"]), data["currency"])
    try:
        parts = [(s["party"], s["role"], percent_to_basis_points(s["percent"]))
                 for s in data["shares"]]
    except MarshmallowError as exc:
        raise ValidationError(f"shares: {exc.messages[0]}", field="shares") from exc
    if sum(bp for _, _, bp in parts) == BASIS_POINTS_WHOLE:
        return build_valuation(price, parts)
    return Valuation(price, tuple(Share(party, role, bp, 0) for party, role, bp in parts))


def prepare_body(ledger: Ledger, kind: str, data: Mapping[str, Any]) -> ev.Body:
    """A typed event body from an input form, with what the ledger knows filled in."""
    d = load_input(kind, data)
    match kind:
        case "harvest":
            if d["geometry"] is not None:
                # The core's own rule, run before the plot is signed and canonicalised
                # (a 100,000-point polygon costs a second of that before append refuses).
                check_geometry(d["geometry"], field="body.origin.geometry")
            product = ledger.store.product(d["product"])
            unit = d["unit"] or (product.unit if product else "KGM")
            origin = ev.Origin(d["community"], d["territory"], d["country"], d["plot"],
                               d["area_ha"], d["geometry"])
            return ev.LotHarvested(
                lot=d["lot"], product=d["product"], quantity=Quantity(d["quantity"], unit),
                season=d["season"], harvest_start=d["harvest_start"],
                harvest_end=d["harvest_end"], origin=origin,
                harvesters=tuple(d["harvesters"]), valuation=_valuation(d),
                households=tuple(d["households"]) if d["households"] else None)
        case "dispatch":
            return ev.LotDispatched(d["lot"], d["to"], _valuation(d))
        case "receive" | "refuse":
            lot = _known_lot(ledger, d["lot"])
            if lot.status is not LotStatus.IN_TRANSIT or lot.pending is None:
                raise RuleViolation("lot_in_transit", f"lot: lot {lot.lot_id} expected status "
                                    f"in_transit, got {lot.status}", field="lot",
                                    lot=lot.lot_id)
            dispatch = d["dispatch"] or lot.pending.dispatch
            if kind == "refuse":
                return ev.LotRefused(d["lot"], dispatch, d["reason"])
            return ev.LotReceived(d["lot"], dispatch, lot.pending.valuation)
        case "split":
            return ev.LotSplit(d["lot"], tuple(ev.Portion(c["lot"], c["quantity"])
                                               for c in d["children"]))
        case "merge":
            # The inputs' sum, as far as the ledger knows them: a lot it does not know
            # is refused by the core's rule lot_exists, naming it.
            known = (ledger.store.lot(lot_id) for lot_id in d["lots"])
            total = sum((lot.quantity for lot in known if lot is not None), Decimal(0))
            return ev.LotsMerged(tuple(d["lots"]), d["into"], total)
        case "transform":
            return ev.LotTransformed(tuple(d["inputs"]), d["process"], tuple(
                ev.Output(o["lot"], o["product"], o["quantity"]) for o in d["outputs"]))
        case "adjust":
            return ev.LotAdjusted(d["lot"], -d["loss"], d["reason"], d["note"])
    raise ValidationError(f"kind: unknown {kind!r}", field="kind")  # pragma: no cover


def _known_lot(ledger: Ledger, lot_id: str) -> LotRecord:
    lot = ledger.store.lot(lot_id)
    if lot is None:  # the core's rule and wording: a receipt names a lot it cannot find
        raise RuleViolation("lot_exists", f"body.lot: lot {lot_id} does not exist",
                            field="body.lot", lot=lot_id)
    return lot


def sign_input(ledger: Ledger, kind: str, data: Mapping[str, Any], actor: str,
               signer: Signer, at: datetime) -> ev.SignedEvent:
    return sign_event(make_event(prepare_body(ledger, kind, data), actor, at), (signer,))


def perform(ledger: Ledger, kind: str, data: Mapping[str, Any], actor: str,
            signer: Signer) -> Entry:
    """Prepare, sign as ``actor`` and append one event."""
    return ledger.append(sign_input(ledger, kind, data, actor, signer, ledger.clock()))


def perform_batch(ledger: Ledger, kind: str, rows: Sequence[Mapping[str, Any]], actor: str,
                  signer: Signer) -> list[Entry]:
    """Every row or none: shape errors of all rows are reported before any append.

    Raises :class:`BatchInputError` listing each bad row (1-based) with its field and rule.
    """
    signed: list[ev.SignedEvent] = []
    problems: list[tuple[int, LedgerError]] = []
    for index, row in enumerate(rows):
        try:
            signed.append(sign_input(ledger, kind, row, actor, signer, ledger.clock()))
        except LedgerError as exc:
            problems.append((index, exc))
    if problems:
        raise BatchInputError(problems)
    return ledger.append_many(signed)


class BatchInputError(ValidationError):
    """Rows of a batch that cannot become events; nothing was appended."""

    def __init__(self, problems: list[tuple[int, LedgerError]]) -> None:
        first_index, first = problems[0]
        super().__init__(f"{len(problems)} rows are invalid; nothing was imported (row "
                         f"{first_index + 1}: {first.message})", field=first.field)
        self.problems = problems
