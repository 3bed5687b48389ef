"""Server time of the public lot page, for ``trilha bench`` (the web's figure)."""

from __future__ import annotations

import statistics
import time
from typing import Any

from ledger.bench import percentiles
from ledger.domain.note import NoteSigner
from ledger.keystore import generate_private_key
from ledger.service import Ledger


def lot_page_timings(ledger: Ledger, lot_id: str, runs: int = 60) -> dict[str, Any]:
    """Render the lot's page ``runs`` times through the whole Flask stack (routing,
    provenance, the badge's re-verification of every upstream entry against a signed
    checkpoint, templates) and report p50/p95 server time in milliseconds."""
    from web import create_app
    from web.services import EXTENSION

    signer = NoteSigner(ledger.origin, generate_private_key())
    latest = ledger.latest_checkpoint()
    if latest is None or latest.size != ledger.size():
        ledger.sign_checkpoint(signer)
    app = create_app({"TESTING": True, "DATABASE_URL": ledger.store.url,
                      "SECRET_KEY": "bench"})
    app.extensions[EXTENSION] = ledger
    client = app.test_client()
    timings: list[float] = []
    cpu: list[float] = []
    status = 0
    warm_up = 25  # a worker in its steady state, as a long-running server is
    for _ in range(runs + warm_up):
        start, start_cpu = time.perf_counter(), time.process_time()
        answer = client.get(f"/lots/{lot_id}", headers={"Accept-Language": "pt-BR"})
        timings.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        status = answer.status_code
    html = answer.get_data(as_text=True)
    # CPU time is what the server itself spent on the request, whatever else the machine
    # was doing; wall time also includes waiting for a busy CPU.
    return {"status": status, "verified_badge": "badge-verified" in html,
            **percentiles(timings[warm_up:]), **percentiles(cpu[warm_up:], "cpu_")}


def dashboard_timings(ledger: Ledger, runs: int = 3) -> dict[str, Any]:
    """Server time of the public dashboard (whole chain) in seconds: the first view and
    the median of ``runs`` more. Each view may spend the verify budget on histories not
    checked before, so until ``trilha report --verify`` has stored every verdict, that
    budget is part of each view."""
    from web import create_app
    from web.services import EXTENSION

    app = create_app({"TESTING": True, "DATABASE_URL": ledger.store.url,
                      "SECRET_KEY": "bench"})
    app.extensions[EXTENSION] = ledger
    client = app.test_client()
    timings: list[float] = []
    status, size = 0, 0
    for _ in range(runs + 1):
        start = time.perf_counter()
        answer = client.get("/dashboards/", headers={"Accept-Language": "pt-BR"})
        timings.append(time.perf_counter() - start)
        status, size = answer.status_code, len(answer.get_data())
    return {"status": status, "first_s": round(timings[0], 2),
            "median_s": round(statistics.median(timings[1:]), 2),
            "verify_budget_s": app.config["VERIFY_BUDGET_S"], "html_kib": size // 1024}
