"""Shared-measurement indicators, computed only from ledger entries (see docs/INDICATORS.md).

A report reads the indicator projection: the facts that replaying each timeline step once
produced (``ledger/indicator_replay.py``), kept in the database and caught up with the
log on every read, then summed by SQL with the filters as WHERE clauses
(``ledger/storage/indicator_queries.py``). :func:`compute` is the same replay over steps
in memory, in one go, summed in Python: the reference the projection must equal. Every
figure keeps the entry numbers it came from.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ledger.domain.catalogue import Product
from ledger.errors import ValidationError
from ledger.gc_pause import paused_gc
from ledger.indicator_facts import ENTRY_GROUPS, Filters, Totals, cooperative_lots, summarise
from ledger.indicator_replay import Catalogue, Replay
from ledger.service import Ledger
from ledger.storage.indicator_projection import IndicatorProjection
from ledger.storage.verdicts import StoredVerdict, read_verdicts, write_verdicts
from ledger.wire.fields import format_instant

__all__ = ["Filters", "Indicators", "VerifiedShare", "catch_up", "compute", "entries_behind",
           "indicators_for", "verified_share"]

NO_FILTERS = Filters()
FOLD_BATCH = 20_000  # steps per catch-up transaction: appends wait for one batch at most


@dataclass(slots=True)
class Indicators:
    """A report's figures. The lists (``first_sales``, ``yields``, ``final_sales``,
    ``entries``) are filled only when it is ``detailed`` (the first and final sales also
    when asked for alone); the summaries and counts beside them always are."""

    volumes: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    first_sales: list[dict[str, Any]] = field(default_factory=list)
    # Per product and currency: sales, below_minimum, lowest/highest_per_unit, premium_total
    first_sale_summary: list[dict[str, Any]] = field(default_factory=list)
    benefits: dict[str, dict[str, int]] = field(default_factory=dict)  # season -> role|cur
    harvesters: int = 0
    households: int = 0  # distinct pseudonymous households, where harvests record them
    yields: list[dict[str, Any]] = field(default_factory=list)
    # Per (from, to, process): count, lowest, highest, min and max (the range), outside
    yield_summary: list[dict[str, Any]] = field(default_factory=list)
    days_to_final_sale: dict[str, float | None] = field(default_factory=dict)
    # (lot, "product (unit)", quantity) of each sale to a buyer, for the verified share
    final_sales: list[tuple[str, str, Decimal]] = field(default_factory=list)
    farm_gate_share: dict[str, Decimal | None] = field(default_factory=dict)  # per currency
    entries: dict[str, list[int]] = field(default_factory=dict)  # indicator -> seqs
    entry_counts: dict[str, int] = field(default_factory=dict)  # indicator -> how many
    detailed: bool = True
    # Per sale position along the chains (1 = first sale, 2 = the next...), per currency:
    # amounts paid to each role, and (community amount carried, price) for the share.
    split_by_step: dict[int, dict[str, dict[str, int]]] = field(default_factory=dict)
    share_by_step: dict[int, dict[str, Decimal]] = field(default_factory=dict)


def indicators_for(ledger: Ledger, filters: Filters = NO_FILTERS, *,
                   detailed: bool = True, with_sales: bool = False) -> Indicators:
    """Every indicator over the whole ledger: the projection, caught up first. Only a
    ``detailed`` report lists every first sale, yield, final sale and entry behind them
    (at a million entries, about a million rows); ``with_sales``, the first and final
    sales alone (what the dashboards show and the verified share checks)."""
    catch_up(ledger)
    # A detailed whole-chain report reads about a million rows into tuples and dicts,
    # none in a cycle: the collector's passes over them would only slow the reading down.
    with paused_gc():
        return indicators_from(IndicatorProjection(ledger.store.engine).totals(
            filters, detailed=detailed, with_sales=with_sales))


def entries_behind(ledger: Ledger, filters: Filters, group: str, start: int, count: int
                   ) -> tuple[list[int], int]:
    """``count`` entries behind one figure (a name of ``ENTRY_GROUPS``), from the
    ``start``-th in the order of ``Indicators.entries``, and how many there are: the
    projection caught up first."""
    if group not in ENTRY_GROUPS:
        raise ValidationError(f"figure: expected one of {', '.join(ENTRY_GROUPS)}, "
                              f"got {group!r:.40}", field="figure")
    catch_up(ledger)
    return IndicatorProjection(ledger.store.engine).entries(filters, group, max(start, 0),
                                                            max(count, 0))


def catch_up(ledger: Ledger, batch: int = FOLD_BATCH, *, until: int | None = None) -> int:
    """Fold into the projection every step it has not folded yet (below the sequence
    number ``until``, if given); return how many.

    Each batch is one transaction holding the projection's lock, which re-reads the
    position under it: processes catching up at once fold each step exactly once.
    """
    projection = IndicatorProjection(ledger.store.engine)
    folded = 0
    if not projection.behind():
        return folded  # the usual case: no lock taken
    # Traces and facts are many small objects in no cycle: the collector can wait.
    with paused_gc():
        while True:
            with projection.folding() as session:
                limit = batch if until is None else min(batch, until - session.next_seq)
                steps = session.next_steps(limit) if limit > 0 else []
                if not steps:
                    break
                replay = Replay(session.catalogue(),
                                session.traces({lot for step in steps for lot in step["lots"]}))
                loaded = frozenset(replay.lots)
                for step in steps:
                    replay.fold(step)
                session.record(replay, loaded, steps[-1]["seq"] + 1)
            folded += len(steps)
    return folded


def compute(steps: Iterable[Mapping[str, Any]], products: Mapping[str, Product],
            actor_kinds: Mapping[str, str], filters: Filters = NO_FILTERS, *,
            detailed: bool = True, with_sales: bool = False) -> Indicators:
    """The indicators of ``steps`` (every step, in log order) replayed in memory."""
    replay = Replay(Catalogue(products, actor_kinds))
    with paused_gc():
        for step in steps:
            replay.fold(step)
        scope = None if filters.cooperative is None else cooperative_lots(
            replay.touches, replay.links, filters.cooperative)
        return indicators_from(summarise(replay.facts, filters, scope, detailed=detailed,
                                         with_sales=with_sales))


def indicators_from(totals: Totals) -> Indicators:
    """The report's figures from the sums of the facts that passed the filters."""
    out = Indicators()
    for measure, key, quantity in totals.volumes:
        out.volumes.setdefault(measure, {})[key] = quantity
    split: dict[int, dict[str, dict[str, int]]] = {}
    for season, position, currency, role, amount in totals.shares:
        by_role = out.benefits.setdefault(season or "?", {})
        label = f"{role} {currency}"
        by_role[label] = by_role.get(label, 0) + amount
        at_step = split.setdefault(position, {}).setdefault(currency, {})
        at_step[role] = at_step.get(role, 0) + amount
    out.split_by_step = dict(sorted(split.items()))
    out.share_by_step, out.farm_gate_share = _community_shares(totals)
    out.first_sales = list(totals.first_sales)
    out.first_sale_summary = list(totals.first_sale_summary)
    out.yields = list(totals.yields)
    out.yield_summary = list(totals.yield_summary)
    out.final_sales = [sale[:3] for sale in totals.final_sales]
    out.days_to_final_sale = totals.days_to_final_sale
    out.harvesters = totals.harvesters
    out.households = totals.households
    out.entries = totals.entries
    out.entry_counts = totals.entry_counts
    out.detailed = totals.detailed
    return out


def _community_shares(totals: Totals) -> tuple[dict[int, dict[str, Decimal]],
                                               dict[str, Decimal | None]]:
    """Σ community amounts carried ÷ Σ prices: per sale position, and at final sales."""
    by_step: dict[int, dict[str, Decimal]] = {}
    for (position, currency), (community, price) in sorted(totals.at_step.items()):
        if price:
            by_step.setdefault(position, {})[currency] = _ratio(community, price)
    farm_gate: dict[str, Decimal | None] = {
        currency: _ratio(community, price)
        for currency, (community, price) in sorted(totals.at_final.items()) if price}
    return by_step, farm_gate


def _ratio(community: Decimal, price: int) -> Decimal:
    return (community / price).quantize(Decimal("0.0001"))


@dataclass(frozen=True, slots=True)
class VerifiedShare:
    """Of the volume sold to buyers, how much has a history that verifies completely."""

    by_product: dict[str, tuple[Decimal, Decimal]]  # "product (unit)" -> (verified, total)
    failed_lots: list[str]
    unanchored_lots: list[str]
    unchecked_lots: list[str] = field(default_factory=list)  # the time budget ran out
    oldest_reused: str | None = None  # when the oldest verdict reused was reached

    def share(self, product: str) -> Decimal | None:
        verified, total = self.by_product[product]
        return (verified / total).quantize(Decimal("0.0001")) if total else None


def verified_share(ledger: Ledger, ind: Indicators, operator_vkey: str | None = None, *,
                   reuse: bool = False, budget_s: float | None = None,
                   clock: Callable[[], float] = time.monotonic, workers: int = 1,
                   progress: Callable[[int, int], None] | None = None) -> VerifiedShare:
    """Re-check the whole upstream history of every lot sold to a buyer, as its public
    page does (hashes, signatures, chain links, inclusion in the latest signed
    checkpoint): its volume counts as verified only if every entry behind it passes.

    Every verdict reached is stored. With ``reuse`` (the dashboards: at a million entries
    re-checking every history takes minutes), a history that verified before counts as
    verified without being read again, and one that was not yet all in a signed
    checkpoint is re-checked once a newer checkpoint exists; failed histories and lots
    never checked are checked. ``budget_s`` caps the time spent checking: the lots left
    are listed as unchecked and their volume is not counted as verified. Without
    ``reuse`` every history is re-read from its stored bytes (``trilha report --verify``),
    which is what catches a database changed behind the ledger's back. With no budget,
    many lots are checked by ``workers`` processes; ``progress(done, total)`` follows."""
    from ledger.lot_check import Verdict

    engine = ledger.store.engine
    stored = read_verdicts(engine) if reuse else {}
    latest = ledger.latest_checkpoint()
    latest_size = None if latest is None else latest.size
    verdicts: dict[str, Verdict] = {}
    wanted: dict[str, None] = {}  # lots to check, in order, once each
    oldest: str | None = None
    for lot, _, _ in ind.final_sales:
        before = stored.get(lot)
        if before is not None and (before.verdict == Verdict.VERIFIED or (
                before.verdict == Verdict.UNANCHORED and before.checkpoint_size == latest_size)):
            verdicts[lot] = Verdict(before.verdict)
            oldest = before.checked_at if oldest is None else min(oldest, before.checked_at)
        else:
            wanted[lot] = None
    deadline = None if budget_s is None else clock() + budget_s
    reached = _check_histories(ledger, list(wanted), operator_vkey, deadline, clock,
                               workers, progress)
    verdicts.update((lot, Verdict(found.verdict)) for lot, found in reached)
    by_product: dict[str, tuple[Decimal, Decimal]] = {}
    lists: dict[Verdict | None, list[str]] = {Verdict.FAILED: [], Verdict.UNANCHORED: [],
                                              None: []}
    for lot, product, quantity in ind.final_sales:
        verdict = verdicts.get(lot)
        verified, total = by_product.get(product, (Decimal(0), Decimal(0)))
        if verdict is Verdict.VERIFIED:
            verified += quantity
        else:
            lists[verdict].append(lot)
        by_product[product] = (verified, total + quantity)
    write_verdicts(engine, reached)
    return VerifiedShare(by_product, lists[Verdict.FAILED], lists[Verdict.UNANCHORED],
                         lists[None], oldest)


PARALLEL_FROM = 2_000  # lots: fewer are checked in this process (a pool costs ~0.2 s)
_CHUNK = 250  # lots per task given to a worker


def _check_histories(ledger: Ledger, lots: list[str], operator_vkey: str | None,
                     deadline: float | None, clock: Callable[[], float], workers: int,
                     progress: Callable[[int, int], None] | None
                     ) -> list[tuple[str, StoredVerdict]]:
    reached: list[tuple[str, StoredVerdict]] = []
    if deadline is None and workers > 1 and len(lots) >= PARALLEL_FROM:
        chunks = [lots[i:i + _CHUNK] for i in range(0, len(lots), _CHUNK)]
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_open_worker_ledger,
                                 initargs=(ledger.store.url,)) as pool:
            for found in pool.map(_check_chunk, chunks, itertools.repeat(operator_vkey)):
                reached += found
                if progress is not None:
                    progress(len(reached), len(lots))
        return reached
    for lot in lots:
        if deadline is not None and clock() >= deadline:
            break
        reached.append(_check_history(ledger, lot, operator_vkey))
        if progress is not None and (len(reached) % _CHUNK == 0 or len(reached) == len(lots)):
            progress(len(reached), len(lots))
    return reached


def _check_history(ledger: Ledger, lot: str, operator_vkey: str | None
                   ) -> tuple[str, StoredVerdict]:
    from ledger.lot_check import check_lot_history

    prov = ledger.provenance(lot, with_entries=False)
    check = check_lot_history(ledger, [s["seq"] for s in prov.upstream_steps()],
                              operator_vkey)
    return lot, StoredVerdict(check.verdict.value, check.checkpoint_size,
                              format_instant(datetime.now(UTC)))


_worker_ledger: list[Ledger] = []  # a worker process's own connection to the ledger


def _open_worker_ledger(url: str) -> None:
    _worker_ledger.append(Ledger.open(url))


def _check_chunk(lots: list[str], operator_vkey: str | None
                 ) -> list[tuple[str, StoredVerdict]]:
    return [_check_history(_worker_ledger[0], lot, operator_vkey) for lot in lots]
