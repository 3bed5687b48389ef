"""Console routes: read-only over the ledger, for auditor and operator accounts."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, current_app, g, redirect, render_template, stream_with_context, url_for

from ledger.domain.merkle import verify_consistency
from ledger.domain.note import NoteVerifier, open_checkpoint
from ledger.errors import LedgerError
from web.auditor import bp
from web.auditor.runs import Runs
from web.auth import page_requires
from web.services import get_ledger


def _runs() -> Runs:
    runs: Runs | None = current_app.extensions.get("trilha_runs")
    if runs is None:
        runs = current_app.extensions["trilha_runs"] = Runs()
    return runs


def _verifier() -> NoteVerifier | None:
    vkey = current_app.config.get("OPERATOR_VKEY")
    return NoteVerifier.from_vkey(vkey) if vkey else None


@bp.get("/")
@page_requires("audit")
def status() -> Any:
    ledger = get_ledger()
    size, head = ledger.store.head()
    latest = ledger.latest_checkpoint()
    signature = None
    verifier = _verifier()
    if latest is not None:
        if verifier is None:
            signature = ("unknown", "")
        else:
            try:
                open_checkpoint(latest.note, verifier)  # signature and origin
                signature = ("ok", verifier.name)
            except LedgerError as exc:
                signature = ("bad", exc.message)
    return render_template("auditor/status.html", size=size, head=head.hex(), latest=latest,
                           signature=signature, runs=_runs().recent(),
                           witnesses=ledger.store.cosignatures(latest.size) if latest else [])


@bp.post("/verify")
@page_requires("audit")
def start_verification() -> Any:
    run = _runs().start(get_ledger(), _verifier(), g.account.username,
                        int(current_app.config.get("AUDIT_VERIFY_WORKERS", 1)))
    return redirect(url_for("auditor.run", run_id=run.run_id))


@bp.get("/runs/<run_id>")
@page_requires("audit")
def run(run_id: str) -> Any:
    found = _runs().get(run_id)
    if found is None:
        abort(404)
    return render_template("auditor/run.html", run=found, has_verifier=_verifier() is not None)


@bp.get("/checkpoints")
@page_requires("audit")
def checkpoints() -> Any:
    """Every checkpoint, each with the consistency proof from the one before, checked."""
    ledger = get_ledger()
    stored = ledger.store.checkpoints()
    rows = []
    previous = None
    for cp in stored:
        row: dict[str, Any] = {"cp": cp, "proof": None, "consistent": None}
        if previous is not None and previous.size > 0 and cp.size > previous.size:
            proof = ledger.consistency_proof(previous.size, cp.size)
            row["proof"] = [h.hex() for h in proof]
            try:
                verify_consistency(previous.size, cp.size, previous.root_hash, cp.root_hash,
                                   proof)
                row["consistent"] = True
            except LedgerError:
                row["consistent"] = False
        row["from_size"] = previous.size if previous is not None else None
        rows.append(row)
        previous = cp
    rows.reverse()
    return render_template("auditor/checkpoints.html", rows=rows)


@bp.get("/export/<fmt>")
@page_requires("audit")
def export(fmt: str) -> Any:
    ledger = get_ledger()
    if fmt == "jsonl":
        response = current_app.response_class(stream_with_context(ledger.export_jsonl()),
                                              mimetype="application/x-ndjson")
        response.headers["Content-Disposition"] = "attachment; filename=trilha-ledger.jsonl"
        return response
    if fmt == "epcis":
        from ledger.epcis import export_epcis

        document = export_epcis(ledger, None,
                                base_url=current_app.config["PUBLIC_BASE_URL"])
        response = current_app.response_class(
            json.dumps(document, ensure_ascii=False, indent=1),
            mimetype="application/ld+json")
        response.headers["Content-Disposition"] = "attachment; filename=trilha-epcis.jsonld"
        return response
    abort(404)

