"""Verification runs started from the console: one background thread per run, its
progress readable while it works. Runs live in the process that started them."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from ledger.domain.note import NoteVerifier
from ledger.service import Ledger
from ledger.state_audit import StateAudit, audit_ledger
from ledger.verification import Finding

MAX_KEPT = 20


@dataclass(slots=True)
class Run:
    run_id: str
    started_by: str
    total: int
    started: float = field(default_factory=time.time)
    done: int = 0
    finished: float | None = None
    findings: list[Finding] = field(default_factory=list)
    checkpoints_checked: int = 0
    root_hash: str = ""
    error: str | None = None

    @property
    def seconds(self) -> float:
        return (self.finished or time.time()) - self.started


_LOT_TABLES = frozenset({"lots", "indicator_lots", "indicator_verdicts"})


def state_findings(state: StateAudit) -> list[Finding]:
    """Each difference of the derived-state audit as a finding of the run, its message
    the difference itself (``table key: expected X, found Y``)."""
    found = [Finding(None, None, d.key if d.table in _LOT_TABLES else None, "derived_state",
                     str(d)) for d in state.differences]
    if state.more:
        found.append(Finding(None, None, None, "derived_state",
                             f"… and {state.more} more differences"))
    return found


class Runs:
    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()

    def start(self, ledger: Ledger, verifier: NoteVerifier | None, started_by: str,
              workers: int) -> Run:
        run = Run(secrets.token_hex(8), started_by, ledger.size())

        def progress(done: int) -> None:
            run.done = done

        def work() -> None:
            try:
                report = ledger.verify(verifier, workers=workers, progress=progress)
                run.checkpoints_checked = report.checkpoints_checked
                run.root_hash = report.root_hash.hex()
                # Then every table the pages read, re-derived from the log (a second pass:
                # the progress starts again).
                state = audit_ledger(ledger, report.findings, progress=progress)
                run.findings = [*report.findings, *state_findings(state)]
                run.done = report.entries
            except Exception as exc:  # any failure is shown on the run's page
                run.error = f"{type(exc).__name__}: {exc}"
            finally:
                run.finished = time.time()

        with self._lock:
            self._runs[run.run_id] = run
            for old in sorted(self._runs.values(), key=lambda r: r.started)[:-MAX_KEPT]:
                del self._runs[old.run_id]
        threading.Thread(target=work, name=f"verify-{run.run_id}", daemon=True).start()
        return run

    def get(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    def recent(self) -> list[Run]:
        return sorted(self._runs.values(), key=lambda r: r.started, reverse=True)
