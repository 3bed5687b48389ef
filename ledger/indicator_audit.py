"""The indicator projection, re-derived from the log for the derived-state audit.

The projection (``ledger/storage/indicator_projection.py``) folds the stored timeline
steps below its position into traces, facts, groups and each actor's reach. This folds
the steps of the signed entries below the same position, the same way (``Replay``,
``FactRows``, ``extend_reach``: the order of batches changes nothing, docs/INDICATORS.md),
and compares every table row by row, so that a fact, a trace or a reach row changed
behind the app's back is named with its key. Traces are kept on disk beyond a few
thousand lots, the reach in a scratch SQLite file: memory stays flat.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from ledger.domain.catalogue import Product
from ledger.domain.state import MemoryState
from ledger.errors import LedgerError
from ledger.indicator_replay import Catalogue, LotTrace, Replay
from ledger.state_audit import Difference, RowsCheck, StateAudit
from ledger.storage import indicator_tables as it
from ledger.storage import tables as t
from ledger.storage.audit_reads import AuditReads
from ledger.storage.engine import fetch_all, run_many
from ledger.storage.indicator_projection import FactRows, _trace_to_row
from ledger.storage.indicator_reach import extend_reach
from ledger.storage.scratch import ScratchFile

FOLD_BATCH = 5000  # steps per fold (catch_up folds 20,000; the result is the same)
TRACES_IN_MEMORY = 20_000  # lots: beyond, the traces go to the scratch file


class _Kinds(Mapping[str, str]):
    """Actor kinds as the replay looks them up, from the audit's replayed state."""

    def __init__(self, state: MemoryState) -> None:
        self._state = state

    def __getitem__(self, actor_id: str) -> str:
        return self._state.actors[actor_id].kind.value

    def __iter__(self) -> Iterator[str]:
        return iter(self._state.actors)

    def __len__(self) -> int:
        return len(self._state.actors)


class ProjectionAudit:
    """Folds the replay's steps below the stored position; compares at the end."""

    def __init__(self, reads: AuditReads, scratch: ScratchFile, state: MemoryState,
                 audit: StateAudit) -> None:
        self.reads = reads
        self.audit = audit
        position = fetch_all(reads.connection, "SELECT next_seq, next_fact FROM "
                             "indicator_position WHERE id = 1", ())
        self.until = int(position[0][0]) if position else 0
        self.log_size = reads.entries_held()
        products: Mapping[str, Product] = state.products
        self.catalogue = Catalogue(products, _Kinds(state))
        self.traces: MutableMapping[str, LotTrace] = {}
        self._scratch = scratch
        self.next_fact = 0
        self.groups: dict[tuple[int, str], int] = {}
        self.pending: list[dict[str, Any]] = []
        self.failed: str | None = None
        self.checks = {table.name: RowsCheck(scratch, table) for table in (
            it.position, it.lot_traces, it.groups, it.reach, *it.FACT_TABLES)}
        # The reach is extended by the projection's own SQL over lot_links: run it on a
        # scratch database holding the replay's links.
        self._dir = tempfile.TemporaryDirectory(prefix="trilha-audit-")
        self._engine = create_engine(f"sqlite:///{Path(self._dir.name) / 'reach.sqlite'}")
        t.lot_links.create(self._engine)
        it.reach.create(self._engine)
        self._reach = self._engine.connect()

    def links(self, seq: int, links: Sequence[tuple[str, str]]) -> None:
        """The links an accepted entry made (before its step's batch is folded)."""
        if links and seq < self.until:
            run_many(self._reach, "INSERT INTO lot_links (parent, child, seq) VALUES "
                     "(?, ?, ?)", [(parent, child, seq) for parent, child in links])

    def fold(self, step: dict[str, Any]) -> None:
        if step["seq"] >= self.until or self.failed is not None:
            return
        if len(self.pending) >= FOLD_BATCH:
            self._fold()  # before this step: every link of the pending ones is in
        self.pending.append(step)

    def _fold(self) -> None:
        steps, self.pending = self.pending, []
        if not steps:
            return
        traces = {lot: trace for lot in {lot for step in steps for lot in step["lots"]}
                  if (trace := self.traces.get(lot)) is not None}
        replay = Replay(self.catalogue, traces)
        try:
            for step in steps:
                replay.fold(step)
            rows = FactRows(self.next_fact, self.groups)
            for fact in replay.facts:
                rows.add(fact)
        except (LedgerError, KeyError, ArithmeticError) as exc:
            self.failed = f"the fold of entry {step['seq']} fails ({exc})"
            return
        if len(self.traces) + len(replay.lots) > TRACES_IN_MEMORY and isinstance(
                self.traces, dict):
            spilled: MutableMapping[str, Any] = self._scratch.mapping("i_traces")
            spilled.update(self.traces)
            self.traces = spilled
        for lot, trace in replay.lots.items():
            self.traces[lot] = trace
            self._expect(it.lot_traces.name, it.lot_traces, _trace_to_row(lot, trace))
        with self._reach.begin():
            extend_reach(self._reach, steps[-1]["seq"] + 1, replay.touches, replay.links)
        self.next_fact = rows.next_id
        for group in rows.new_groups:
            self._expect(it.groups.name, it.groups, group)
        for table, batch in rows.by_table.items():
            for values in batch:
                self._expect(table.name, table, values)

    def _expect(self, name: str, table: Any, values: Sequence[Any]) -> None:
        self.checks[name].expect_tuple(values)

    def finish(self) -> None:
        self._fold()
        self.checks[it.position.name].expect({
            "id": 1, "next_seq": min(self.until, self.log_size), "next_fact": self.next_fact})
        for row in fetch_all(self._reach, "SELECT actor, lot, up, down FROM indicator_reach",
                             ()):
            self._expect(it.reach.name, it.reach, row)

    def compare(self) -> None:
        try:
            if self.failed is not None:
                self.audit.add(Difference(it.position.name, "1",
                                          "a projection the log can be folded into",
                                          self.failed))
            for check in self.checks.values():
                check.read(self.reads)
                check.report(self.audit)
        finally:
            self._reach.close()
            self._engine.dispose()
            self._dir.cleanup()
