"""Server time of the public lot page, for ``trilha bench`` (the web's figure)."""

from __future__ import annotations

import time
from typing import Any

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
    timings = []
    status = 0
    warm_up = 25  # a worker in its steady state, as a long-running server is
    for _ in range(runs + warm_up):
        start = time.perf_counter()
        answer = client.get(f"/lots/{lot_id}", headers={"Accept-Language": "pt-BR"})
        timings.append(time.perf_counter() - start)
        status = answer.status_code
    timings = sorted(timings[warm_up:])
    html = answer.get_data(as_text=True)
    return {"status": status, "verified_badge": "badge-verified" in html,
            "p50_ms": round(timings[len(timings) // 2] * 1000, 1),
            "p95_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.95))] * 1000,
                            1)}
