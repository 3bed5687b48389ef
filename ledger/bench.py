"""``trilha bench``: build a synthetic ledger and measure it against the machine's limits.

Every figure is printed beside the raw rate of the primitive that bounds it (Ed25519
sign and verify, SHA-256 and a bare SQLite insert, measured in the same run), so that
a number reads as a fraction of what this machine can do.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import resource
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.domain.events import SignedEvent
from ledger.service import Ledger
from ledger.synthetic import Synthetic

ENTRY_SIZED = 1100  # bytes: a typical canonical entry


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def raw_rates(samples: int = 3000) -> dict[str, float]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    message = os.urandom(ENTRY_SIZED)
    start = time.perf_counter()
    signatures = [key.sign(message) for _ in range(samples)]
    sign = time.perf_counter() - start
    start = time.perf_counter()
    for signature in signatures:
        public.verify(signature, message)
    verify = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(samples * 10):
        hashlib.sha256(message).digest()
    sha = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        connection = sqlite3.connect(Path(tmp) / "raw.sqlite", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body BLOB)")
        start = time.perf_counter()
        for seq in range(samples):
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO t VALUES (?, ?)", (seq, message))
            connection.execute("COMMIT")
        insert = time.perf_counter() - start
        connection.close()
    return {"ed25519_sign_per_s": _rate(samples, sign),
            "ed25519_verify_per_s": _rate(samples, verify),
            "sha256_entry_sized_per_s": _rate(samples * 10, sha),
            "sqlite_insert_commit_per_s": _rate(samples, insert)}


def percentiles(timings: list[float], prefix: str = "") -> dict[str, float]:
    """p50 and p95 of timings in seconds, as milliseconds (``prefix`` names the clock)."""
    ordered = sorted(timings)
    return {f"{prefix}p50_ms": round(statistics.median(ordered) * 1000, 2),
            f"{prefix}p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2)}


def _timed(action: Callable[[], Any], runs: int) -> dict[str, float]:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return percentiles(timings)


def _concurrent_writer(url: str, events: list[dict[str, Any]], queue: Any) -> None:
    from ledger.wire.events import load_signed_event

    ledger = Ledger.open(url)
    signed = [load_signed_event(doc) for doc in events]
    start = time.perf_counter()
    for item in signed:
        ledger.append(item)
    queue.put((len(signed), time.perf_counter() - start))
    ledger.close()


def _append_in_batches(ledger: Ledger, events: Iterator[SignedEvent], total: int,
                       progress: Callable[[int], None] | None, batch: int = 1000) -> float:
    """Append ``total`` events in batches; return the seconds spent appending only
    (signing the synthetic events is the clients' work, not the ledger's)."""
    done = 0
    appending = 0.0
    while done < total:
        chunk = list(itertools.islice(events, min(batch, total - done)))
        if not chunk:
            break
        start = time.perf_counter()
        ledger.append_many(chunk)
        appending += time.perf_counter() - start
        done += len(chunk)
        if progress:
            progress(done)
    return appending


def run_benchmark(entries: int = 100_000, *, url: str | None = None,
                  progress: Callable[[str, int, int], None] | None = None,
                  page_timer: Callable[[Ledger, str], dict[str, Any]] | None = None,
                  dashboard_timer: Callable[[Ledger], dict[str, Any]] | None = None
                  ) -> dict[str, Any]:
    """Build ``entries`` entries and measure; returns a JSON-ready dict of figures."""
    results: dict[str, Any] = {"entries": entries, "cpus": os.cpu_count(),
                               "raw": raw_rates()}
    with tempfile.TemporaryDirectory() as tmp:
        db_url = url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        ledger = Ledger.open(db_url)
        synthetic = Synthetic()
        stream = synthetic.events(entries + 10_000)
        single = min(2000, max(entries // 20, 200))
        # actors, the big lot (3,011 upstream entries) and the medium one (1,000)
        ledger.append_many(list(itertools.islice(stream, 4100)))

        def report(stage: str) -> Callable[[int], None]:
            return lambda done: progress(stage, done, entries) if progress else None

        # One writer, one signed event per transaction: the honest append figure.
        sample = list(itertools.islice(stream, single))
        start = time.perf_counter()
        for signed in sample:
            ledger.append(signed)
        results["append_one_writer_per_s"] = _rate(len(sample), time.perf_counter() - start)

        # Four writer processes appending at once, each event its own transaction.
        # Harvests by four different communities: independent, so any interleaving holds.
        from ledger.wire.events import dump_signed_event

        per_writer = max(single // 4, 50)
        batches = [[dump_signed_event(e) for e in synthetic.harvests(f"W{n}-", per_writer)]
                   for n in range(4)]
        results["append_four_writers_per_s"] = _four_writers(
            db_url, batches, multiprocessing.get_context("fork"))

        remaining = entries - ledger.size()
        seconds = _append_in_batches(ledger, stream, remaining, report("build"))
        results["append_batched_per_s"] = _rate(remaining, seconds)
        # One writer again, now that every b-tree has the full ledger's depth. The build
        # left gigabytes of dirty pages for the OS to write back; timed while it does,
        # appends measured 740-1,900/s from one run to the next instead of 1,640-1,880.
        sample = list(itertools.islice(stream, single))
        os.sync()
        start = time.perf_counter()
        for signed in sample:
            ledger.append(signed)
        results["append_one_writer_at_full_size_per_s"] = _rate(
            len(sample), time.perf_counter() - start)
        size = ledger.size()
        results["entries"] = size

        results["bytes_per_entry"] = round((ledger.store.size_on_disk() or 0) / size, 1)
        # The provenance read model (graph and ready steps, from indexes): what pages use.
        results["provenance_big_lot"] = _timed(
            lambda: ledger.provenance(synthetic.big_lot, with_entries=False), 30)
        # The same with every signed entry loaded and re-parsed (what a proof bundle needs).
        results["provenance_big_lot_with_signed_entries"] = _timed(
            lambda: ledger.provenance(synthetic.big_lot), 3)
        ancestors = len({p for p, _ in ledger.provenance(synthetic.big_lot,
                                                         with_entries=False).upstream})
        results["provenance_big_lot"]["ancestor_lots"] = ancestors
        results["provenance_big_lot"]["steps"] = len(
            ledger.provenance(synthetic.big_lot, with_entries=False).steps)
        if page_timer is not None:  # the web adapter's figure, measured by the caller
            results["lot_page_big_lot"] = page_timer(ledger, synthetic.big_lot)
            results["lot_page_1000_upstream_entries"] = page_timer(ledger,
                                                                   synthetic.medium_lot)
        results.update(_indicator_figures(ledger, size))
        if dashboard_timer is not None:  # the web adapter's, after the projection is built
            results["dashboard_public"] = dashboard_timer(ledger)
        seqs = itertools.cycle(range(0, size, max(size // 200, 1)))
        results["inclusion_proof"] = _timed(lambda: ledger.inclusion_proof(next(seqs)), 200)

        # The raw rate again on either side: on a shared virtual machine it was seen to
        # move from 5,100 to 8,400 signatures/s within minutes.
        raw_around = [raw_rates(1000)["ed25519_verify_per_s"]]
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        report_ = ledger.verify(workers=2, progress=report("verify"))
        seconds = time.perf_counter() - start
        raw_around.append(raw_rates(1000)["ed25519_verify_per_s"])
        results["verify"] = {
            "ok": report_.ok, "entries_per_s": _rate(report_.entries, seconds),
            "ratio_to_raw_ed25519_verify": round(
                _rate(report_.entries, seconds) / results["raw"]["ed25519_verify_per_s"], 3),
            "raw_ed25519_verify_per_s_before_after": raw_around,
            "ratio_to_raw_ed25519_verify_around": round(
                _rate(report_.entries, seconds) / statistics.mean(raw_around), 3),
            "peak_rss_mb_main": round(resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_growth_mb_main": round(max(0, resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1),
            "peak_rss_mb_workers": round(resource.getrusage(
                resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        }
        results.update(_derived_state_figures(ledger, report_.findings, report))
        ledger.close()
    return results


def _derived_state_figures(ledger: Ledger, findings: Any,
                           report: Callable[[str], Callable[[int], None]]) -> dict[str, Any]:
    """trilha verify's second pass on its own: every derived table re-derived from the log
    and compared (ledger/state_audit.py), in entries replayed per second."""
    from ledger.state_audit import audit_derived_state

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    audit = audit_derived_state(ledger.store, findings, progress=report("derived state"))
    return {"derived_state_check_entries_per_s": round(audit.entries_per_s, 1),
            "derived_state_check": {
                "ok": audit.ok, "differences": len(audit.differences) + audit.more,
                "rows_compared": audit.rows, "seconds": round(audit.seconds, 1),
                "rss_growth_mb_main": round(max(0, resource.getrusage(
                    resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1)}}


def _indicator_figures(ledger: Ledger, size: int, recent: int = 1000) -> dict[str, Any]:
    """The indicator projection: its cold build (every entry but the last ``recent``),
    catching up those ``recent`` entries, then warm reports (whole chain and filtered)."""
    from ledger.indicators import Filters, catch_up, indicators_for

    def seconds(action: Callable[[], Any]) -> float:
        start = time.perf_counter()
        action()
        return time.perf_counter() - start

    def median_of_3(filters: Filters, detailed: bool = False) -> float:
        return round(statistics.median(seconds(
            lambda: indicators_for(ledger, filters, detailed=detailed)) for _ in range(3)), 2)

    return {
        "indicators_cold_build_s": round(seconds(
            lambda: catch_up(ledger, until=max(size - recent, 0))), 2),
        f"indicators_catch_up_{recent}_s": round(seconds(lambda: catch_up(ledger)), 3),
        # The figures, as `trilha report` prints them: sums, summaries and counts.
        "indicators_whole_chain_s": median_of_3(Filters()),
        # The synthetic ledger's one season, one of its 40 communities, the cooperative
        # every chain passes through and the buyer at the end of each (the scope of each
        # is most of the ledger).
        "indicators_filtered_s": {
            "season": median_of_3(Filters(season="2025")),
            "community": median_of_3(Filters(community="community-0")),
            "cooperative_of_every_chain": median_of_3(Filters(cooperative="coop")),
            "buyer_of_every_chain": median_of_3(Filters(cooperative="buyer"))},
        # With every row behind the figures listed too (--csv, --json: about a million).
        "indicators_whole_chain_detailed_s": median_of_3(Filters(), detailed=True),
    }


def _four_writers(url: str, batches: list[list[dict[str, Any]]], ctx: Any) -> float:
    """Append four streams at once from four processes; each stream is causally whole."""
    queue = ctx.Queue()
    processes = [ctx.Process(target=_concurrent_writer, args=(url, batch, queue))
                 for batch in batches]
    start = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - start
    counts = [queue.get()[0] for _ in processes]
    return _rate(sum(counts), elapsed)
