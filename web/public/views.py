"""Routes of the public pages. Every figure comes from the ledger service; nothing is typed in."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from babel.numbers import format_percent
from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale

from ledger.checkpointer import AwaitingCheckpoint
from ledger.domain.gs1 import parse_digital_link
from ledger.domain.measures import UNIT_SYMBOLS
from ledger.errors import NotFound, ValidationError
from ledger.gc_pause import paused_gc
from ledger.lot_check import check_lot_history
from ledger.lot_history import LotHistory, lot_history
from ledger.value_share import community_share
from web import charts
from web.checkpointing import awaiting_response
from web.formatting import money, quantity, role_names, step_kind_names
from web.public import bp
from web.services import get_ledger


def _lang() -> str:
    return str(get_locale()).replace("_", "-")


@bp.get("/")
def index() -> Any:
    code = request.args.get("code", "").strip()
    if code:
        return redirect(url_for("public.lot_page", lot_id=code))
    ledger = get_ledger()
    recent = ledger.store.lots(status="active", limit=8)
    return render_template("public/index.html", recent=recent)


@bp.get("/lots/<path:lot_id>/entries.json")
def lot_entries(lot_id: str) -> Response:
    ledger = get_ledger()
    try:
        history = lot_history(ledger, lot_id)
    except NotFound:
        abort(404)
    # The very bytes the walk checked, not a second read of the table.
    body = [{"seq": e.seq, "entry_hash": e.hash.hex(), "entry": json.loads(e.canonical)}
            for e in history.entries]
    return current_app.response_class(json.dumps(body, ensure_ascii=False, indent=1),
                                      mimetype="application/json")


@bp.get("/lots/<path:lot_id>/bundle.json")
def lot_bundle(lot_id: str) -> Response | tuple[Response, int]:
    from ledger.bundle import build_bundle

    try:
        bundle = build_bundle(get_ledger(), lot_id)
    except AwaitingCheckpoint as exc:  # the page's verifier says "waiting" and asks again
        return awaiting_response(exc)
    return current_app.response_class(json.dumps(bundle, ensure_ascii=False),
                                      mimetype="application/json")


@bp.get("/01/<gtin>/10/<path:lot>")
def digital_link(gtin: str, lot: str) -> Any:
    try:
        link = parse_digital_link(request.path)
    except ValidationError:
        abort(404)
    ledger = get_ledger()
    record = ledger.store.lot(link.lot or "")
    product = ledger.store.product(record.product) if record else None
    if record is None or product is None or product.gtin is None or \
            product.gtin.zfill(14) != link.gtin14:
        return _not_found(link.lot or lot)
    return _render_lot(record.lot_id)


@bp.get("/lots/<path:lot_id>")
def lot_page(lot_id: str) -> Any:
    return _render_lot(lot_id)


def _render_lot(lot_id: str) -> Any:
    # A big history makes tens of thousands of short-lived, acyclic objects: collecting
    # garbage halfway through only adds a slow tail, so it waits for the page to finish.
    with paused_gc():
        return _render_lot_page(lot_id)


def _not_found(lot_id: str) -> Any:
    return render_template("public/not_found.html", lot_id=lot_id), 404


MAX_STEPS_ON_PAGE = 40  # the newest steps in full; older ones summarised, then paged
STEPS_PER_PAGE = 100


def _render_lot_page(lot_id: str) -> Any:
    ledger = get_ledger()
    try:
        # Every figure below comes from the signed entries of the lot's history, walked
        # through their lot chains and replayed by the verifier's rules; the badge
        # re-checks those very entries.
        history = lot_history(ledger, lot_id)
    except NotFound:
        return _not_found(lot_id)
    steps = history.steps()
    # A history whose replay did not make the lot shows the stored row, under a failed
    # badge that names why.
    lot = history.lot or ledger.lot(lot_id)
    lang = _lang()
    product = history.products.get(lot.product)  # its signed registration, replayed
    upstream = history.upstream_lots
    shown = steps[-MAX_STEPS_ON_PAGE:]
    names = _actor_names(history, {s["actor"] for s in shown} | {s.get("to", "") for s in shown})
    harvests = [s for s in steps if s["kind"] == "lot.harvested"]
    share = community_share(lot.lot_id, steps)
    check = check_lot_history(ledger, history.replayed_seqs(),
                              current_app.config.get("OPERATOR_VKEY"), history.problems)
    geometries = [(h["origin"]["community"], h["origin"]["geometry"]) for h in harvests
                  if h["origin"].get("geometry")]
    labels = {}
    if len(upstream) <= 60:
        for node in upstream:
            record = history.lots.get(node)
            if record is not None:
                labels[node] = quantity(record.quantity, record.unit)
    roles = role_names()
    return render_template(
        "public/lot.html", lot=lot, product=product,
        product_name=product.name(lang) if product else lot.product,
        quantity=quantity(lot.quantity, lot.unit),
        steps=[_view_step(s, names, roles) for s in shown],
        earlier=_summary(steps[:-MAX_STEPS_ON_PAGE]) if len(steps) > len(shown) else None,
        step_kinds=step_kind_names(),
        origins=_origins(harvests), names=names, share=share, check=check,
        min_price=_min_price_check(history, harvests, steps),
        map_svg=charts.origin_map(geometries[:200]),
        flow_svg=charts.flow_diagram(lot.lot_id, list(history.links), labels),
        money=money, percent=lambda v: format_percent(v, locale=str(get_locale()),
                                                      decimal_quantization=False),
        custodian=names.get(lot.custodian, lot.custodian),
        operator_vkey=current_app.config.get("OPERATOR_VKEY"),
    )


@bp.get("/lots/<path:lot_id>/steps")
def lot_steps(lot_id: str) -> Any:
    """Every step behind a lot, a page at a time (the lot page shows the newest)."""
    page = request.args.get("page", "1")
    if not page.isdigit() or int(page) < 1 or len(page) > 6:
        abort(404)
    ledger = get_ledger()
    try:
        history = lot_history(ledger, lot_id)
    except NotFound:
        return _not_found(lot_id)
    steps = history.steps()
    pages = max(1, -(-len(steps) // STEPS_PER_PAGE))
    number = int(page)
    if number > pages:
        abort(404)
    chunk = steps[(number - 1) * STEPS_PER_PAGE:number * STEPS_PER_PAGE]
    names = _actor_names(history, {s["actor"] for s in chunk} | {s.get("to", "") for s in chunk})
    roles = role_names()
    return render_template("public/steps.html", lot=history.lot or ledger.lot(lot_id),
                           names=names, page=number,
                           pages=pages, total=len(steps),
                           steps=[_view_step(s, names, roles) for s in chunk])


def _summary(steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the older steps were, in a line: how many of each kind, over which dates."""
    counts: dict[str, int] = {}
    for step in steps:
        counts[step["kind"]] = counts.get(step["kind"], 0) + 1
    return {"count": len(steps), "first": steps[0]["at"][:10], "last": steps[-1]["at"][:10],
            "kinds": counts}


def _origins(harvests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Harvests grouped by community and territory (a big lot has hundreds of them)."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for h in harvests:
        origin = h["origin"]
        key = (origin["community"], origin["territory"], origin["country"])
        group = groups.setdefault(key, {"community": key[0], "territory": key[1],
                                        "country": key[2], "harvests": 0, "refs": set(),
                                        "homes": set(),
                                        "start": h["harvest"]["start"],
                                        "end": h["harvest"]["end"]})
        group["harvests"] += 1
        # distinct people (by pseudonym): the same harvester often brings several lots
        group["homes"].update(h.get("household_refs") or ())
        group["refs"].update(h.get("harvester_refs") or
                             (f"{h['seq']}#{i}" for i in range(h["harvesters"])))
        group["start"] = min(group["start"], h["harvest"]["start"])
        group["end"] = max(group["end"], h["harvest"]["end"])
    for group in groups.values():
        group["harvesters"] = len(group.pop("refs"))
        group["households"] = len(group.pop("homes"))
    return sorted(groups.values(), key=lambda g: (-g["harvests"], g["community"]))


def _actor_names(history: LotHistory, ids: set[str]) -> dict[str, str]:
    """Names as the actors' signed registrations give them (the replay's)."""
    return {actor_id: history.actors.get(actor_id, actor_id) for actor_id in ids if actor_id}


def _view_step(step: Mapping[str, Any], names: Mapping[str, str],
               roles: Mapping[str, str]) -> dict[str, Any]:
    view = dict(step)
    view["actor_name"] = names.get(step["actor"], step["actor"])
    valuation = step.get("valuation")
    if valuation:
        currency = valuation["price"]["currency"]
        view["price_text"] = money(valuation["price"]["amount"], currency)
        view["shares"] = [
            {"role": roles.get(s["role"], s["role"]), "party": s["party"],
             "percent": format_percent(Decimal(s["share_bp"]) / 10000,
                                       locale=str(get_locale()), decimal_quantization=False),
             "amount": money(s["amount"], currency)} for s in valuation["split"]]
        view["bar"] = charts.split_bar(
            (s["role"], s["share_bp"], f"{roles.get(s['role'], s['role'])}: "
             f"{money(s['amount'], currency)}") for s in valuation["split"])
    if "quantity" in step and "unit" in step:
        view["quantity_text"] = quantity(step["quantity"], step["unit"])
    if step["kind"] == "lot.transformed":
        view["outputs_text"] = ", ".join(f"{o['lot']} ({o['quantity']})"
                                         for o in step["outputs"])
    return view


def _min_price_check(history: LotHistory, harvests: Sequence[Mapping[str, Any]],
                     steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For each harvest lot: its first sale's price per unit against the catalogue minimum."""
    out = []
    first_sales: dict[str, Mapping[str, Any]] = {}
    for step in steps:
        if step["kind"] == "lot.dispatched":
            first_sales.setdefault(step["lots"][0], step)
    for harvest in harvests:
        product = history.products.get(harvest["product"])
        reference = product.reference_min_price if product else None
        if reference is None:
            continue
        lot = harvest["lots"][0]
        sale = first_sales.get(lot)
        if sale is None:
            continue
        price = sale["valuation"]["price"]
        if price["currency"] != reference.currency:
            continue
        per_unit = Decimal(price["amount"]) / Decimal(harvest["quantity"])
        # amounts stay numbers here; the page formats only the rows it shows
        out.append({"lot": lot, "paid_minor": int(per_unit.to_integral_value()),
                    "minimum_minor": reference.amount, "currency": reference.currency,
                    "unit": UNIT_SYMBOLS.get(reference.per, reference.per),
                    "met": per_unit >= reference.amount, "source": reference.source})
    return out
