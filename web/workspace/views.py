"""Workspace routes. Each form calls :func:`ledger.operations.perform`, the same path the
CLI and the API take; every rule and its error message come from the core."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from ledger.domain.state import ActorRecord, LotStatus
from ledger.errors import (
    RULE_MEANINGS,
    ConfigurationError,
    Conflict,
    LedgerError,
    RuleViolation,
)
from ledger.indicators import Filters
from ledger.labels import label_info, write_sheet_pdf
from ledger.operations import perform
from ledger.service import Ledger
from web.auth import SessionUser, get_accounts, page_requires
from web.dashboards.views import dashboard_context, dashboard_indicators, entries_context
from web.formatting import quantity, step_verbs
from web.services import get_ledger
from web.workspace import bp
from web.workspace.forms import FORMS, TITLES, error_field

RECEIPT_KINDS = ("receive", "refuse")


def _lang() -> str:
    return str(get_locale()).replace("_", "-")


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//"):
            return target
    return url_for("workspace.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        account = get_accounts().authenticate(request.form.get("username", "").strip(),
                                              request.form.get("password", ""))
        if account is not None:
            login_user(SessionUser(account))
            if request.form.get("next"):
                return redirect(_safe_next(request.form.get("next")))
            start = "workspace.home" if account.can("workspace") else "auditor.status"
            return redirect(url_for(start))
        error = _("Wrong username or password.")
    return render_template("workspace/login.html", error=error,
                           next=request.args.get("next", "")), 401 if error else 200


@bp.post("/logout")
def logout() -> Any:
    logout_user()
    return redirect(url_for("public.index"))


def _my_lots(actor: str) -> list[Any]:
    return get_ledger().store.lots(custodian=actor, status=LotStatus.ACTIVE.value, limit=500)


@bp.get("/")
@page_requires("workspace")
def home() -> Any:
    account = g.account
    ledger = get_ledger()
    actor = account.actor_id
    lots = _my_lots(actor) if actor else []
    pending = ledger.store.lots(pending_to=actor, limit=200) if actor else []
    recent = ledger.store.recent_steps(actor, 15) if actor else []
    products = {p.code: p.name(_lang()) for p in ledger.store.products()}
    actor_record = ledger.store.actor(actor) if actor else None
    return render_template("workspace/home.html", lots=lots, pending=pending, recent=recent,
                           products=products, actor=actor_record, verbs=step_verbs())


def _choices() -> dict[str, list[tuple[str, str]]]:
    """What the lot, actor and product pickers offer this account."""
    ledger = get_ledger()
    actor = g.account.actor_id
    lang = _lang()
    return {
        "lots": [(lot.lot_id, f"{lot.lot_id} · {quantity(lot.quantity, lot.unit)}")
                 for lot in _my_lots(actor)],
        "actors": [(a.actor_id, a.name) for a in ledger.store.actors()
                   if a.actor_id != actor and a.kind.value != "operator"],
        "products": [(p.code, p.name(lang)) for p in ledger.store.products()],
    }


def errors_by_field(error: LedgerError, fields: set[str]) -> dict[str, list[str]]:
    """The core's error, keyed by the form field it names (unnamed ones go on top)."""
    raw = getattr(error, "errors", None) or {error.field or "": [error.message]}
    out: dict[str, list[str]] = {}
    for path, messages in raw.items():
        name = error_field(path) if path else ""
        key = name if name in fields else ""
        out.setdefault(key, []).extend(
            m if key or not path or m.startswith(path) else f"{path}: {m}" for m in messages)
    if isinstance(error, RuleViolation) and "" not in out and error.field not in fields:
        out[""] = [error.message]
    meaning = RULE_MEANINGS.get(error.rule) if isinstance(error, RuleViolation) else None
    if meaning:  # what the rule means, in the clerk's language, under the exact message
        key = error.field if error.field in fields else ""
        out.setdefault(key, []).append(_(meaning))
    return out


@bp.route("/record/<kind>", methods=["GET", "POST"])
@page_requires("workspace")
def record(kind: str) -> Any:
    if kind not in FORMS and kind not in RECEIPT_KINDS:
        abort(404)
    if not g.account.can(f"record:{kind}"):
        abort(403)
    fields = FORMS.get(kind, ())
    names = {f.name for f in fields}
    values: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        if kind in RECEIPT_KINDS:
            names = {"lot", "reason"} if kind == "refuse" else {"lot"}
        values = {name: request.form.get(name, "").strip() for name in names}
        data = {k: v for k, v in values.items() if v != ""}
        ledger = get_ledger()
        try:
            signer = get_accounts().signer(g.account)
            entry = perform(ledger, kind, data, g.account.actor_id, signer)
        except (Conflict, ConfigurationError) as exc:
            errors, status = {"": [exc.message]}, 409
        except LedgerError as exc:  # any refusal of the input goes back to the form
            errors, status = errors_by_field(exc, names), 422
        else:
            lots = list(entry.signed.event.lots())
            flash(_("Recorded: entry %(seq)s (%(lots)s).", seq=entry.seq,
                    lots=", ".join(lots)), "ok")
            if kind in RECEIPT_KINDS:
                return redirect(url_for("workspace.receipts"))
            return redirect(url_for("workspace.home"))
        if kind in RECEIPT_KINDS:
            return receipts(errors=errors, failed_lot=values.get("lot")), status
    return render_template("workspace/record.html", kind=kind, title=TITLES[kind],
                           fields=fields, values=values, errors=errors,
                           choices=_choices()), status


@bp.get("/receipts")
@page_requires("record:receive")
def receipts(errors: dict[str, list[str]] | None = None, failed_lot: str | None = None) -> Any:
    ledger = get_ledger()
    pending = ledger.store.lots(pending_to=g.account.actor_id, limit=200)
    products = {p.code: p.name(_lang()) for p in ledger.store.products()}
    senders = {a.actor_id: a.name for a in ledger.store.actors()}
    return render_template("workspace/receipts.html", pending=pending, products=products,
                           senders=senders, errors=errors or {}, failed_lot=failed_lot)


@bp.route("/labels", methods=["GET", "POST"])
@page_requires("labels")
def labels() -> Any:
    lots = _my_lots(g.account.actor_id)
    error = None
    if request.method == "POST":
        chosen = [lot for lot in request.form.getlist("lot") if lot]
        mine = {lot.lot_id for lot in lots}
        if not chosen:
            error = _("Choose at least one lot.")
        elif not set(chosen) <= mine:
            abort(403)
        else:
            ledger = get_ledger()
            base = current_app.config["PUBLIC_BASE_URL"]
            infos = [label_info(ledger, lot, base, _lang()) for lot in chosen]
            paper = "Letter" if request.form.get("paper") == "Letter" else "A4"
            buffer = io.BytesIO()
            write_sheet_pdf(infos, buffer, paper)
            buffer.seek(0)
            return send_file(buffer, mimetype="application/pdf", as_attachment=True,
                             download_name="trilha-labels.pdf")
    return render_template("workspace/labels.html", lots=lots, error=error), \
        422 if error else 200


def _own_actor(ledger: Ledger) -> ActorRecord:
    actor = ledger.store.actor(g.account.actor_id) if g.account.actor_id else None
    if actor is None:
        abort(404, description="this account acts for no actor of the ledger")
    return actor


@bp.get("/indicators")
@page_requires("workspace")
def indicators() -> Any:
    """The member organisation's own figures: lots it handled, upstream and down."""
    ledger = get_ledger()
    actor = _own_actor(ledger)
    # "cooperative" filters on any actor a lot passed through: harvesters' associations,
    # cooperatives, processors and buyers alike see the lots they handled.
    filters = Filters(cooperative=actor.actor_id)
    return render_template("workspace/indicators.html", actor=actor,
                           entries_endpoint="workspace.indicator_entries", entries_args={},
                           **dashboard_context(dashboard_indicators(ledger, filters), ledger))


@bp.get("/indicators/entries/<group>")
@page_requires("workspace")
def indicator_entries(group: str) -> Any:
    """The entries behind one of the member organisation's own figures."""
    ledger = get_ledger()
    actor = _own_actor(ledger)
    return render_template("dashboards/entries.html", back_endpoint="workspace.indicators",
                           back_label=_("Our figures"),
                           entries_endpoint="workspace.indicator_entries", entries_args={},
                           **entries_context(ledger, Filters(cooperative=actor.actor_id),
                                             group))
