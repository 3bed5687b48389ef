"""The rules of the log itself, beside the rules of the event it sequences.

:func:`admit` is what every append and every replay runs on an entry: first the entry's
place in the log (its append time never goes back, and, format 2, its ``lot_prev`` names,
for exactly the lots the event touches that existed before it, the newest earlier entry
touching each), then the event's rules (:func:`ledger.domain.rules.decide`). That last rule
is what makes a lot's history complete: a replay that lacks one entry of a lot's chain
(a bundle, a page) meets an entry naming a predecessor it never saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ledger.domain.entry import Entry, LotLink
from ledger.domain.events import lots_named
from ledger.domain.rules import decide
from ledger.domain.state import Effects, LedgerView
from ledger.errors import RuleViolation


def lot_prev_for(lots: Iterable[str], view: LedgerView) -> dict[str, LotLink]:
    """What the log writes as an entry's ``lot_prev``: each existing lot's newest entry."""
    links: dict[str, LotLink] = {}
    for lot_id in lots:
        head = view.lot_head(lot_id)
        if head is not None:
            links[lot_id] = head
    return links


def check_sequencing(entry: Entry, view: LedgerView) -> None:
    """The entry's place in the log: append time, format and each touched lot's chain."""
    last = view.last_appended_at()
    if last is not None and entry.appended_at < last:
        raise RuleViolation("appended_at_monotonic",
                            f"appended_at: expected at or after the previous entry's "
                            f"{last.isoformat()}, got {entry.appended_at.isoformat()}",
                            field="appended_at")
    if entry.lot_prev is None:
        first = view.chained_from()
        if first is not None:
            raise RuleViolation("entry_format",
                                f"lot_prev: entries from {first} on are format 2 and name "
                                "each touched lot's previous entry; this one names none",
                                field="lot_prev")
        return
    check_lot_chain(entry.lot_prev, lots_named(entry.signed.event.body), view)


def check_lot_chain(lot_prev: Mapping[str, LotLink], touched: Iterable[str],
                    view: LedgerView) -> None:
    expected = lot_prev_for(dict.fromkeys(touched), view)
    for lot_id, head in expected.items():
        named = lot_prev.get(lot_id)
        if named is None:
            raise RuleViolation("lot_chain",
                                f"lot_prev.{lot_id}: the lot's newest entry is {head.seq}; "
                                "the entry names none", field=f"lot_prev.{lot_id}", lot=lot_id)
        if named.seq != head.seq or named.hash != head.hash:
            missing = (f"; entries of lot {lot_id} between {head.seq} and {named.seq} are "
                       "missing" if named.seq > head.seq else "")
            raise RuleViolation("lot_chain",
                                f"lot_prev.{lot_id}: names entry {named.seq} "
                                f"({named.hash.hex()[:16]}…), but the lot's newest entry is "
                                f"{head.seq} ({head.hash.hex()[:16]}…){missing}",
                                field=f"lot_prev.{lot_id}", lot=lot_id)
    for lot_id, named in lot_prev.items():
        if lot_id not in expected:
            raise RuleViolation("lot_chain",
                                f"lot_prev.{lot_id}: names entry {named.seq}, but the event "
                                "touches no existing lot of that id (or its history before "
                                "that entry is not here)", field=f"lot_prev.{lot_id}",
                                lot=lot_id)


def admit(entry: Entry, view: LedgerView, *, crypto_checked: bool = False) -> Effects:
    """Every rule for ``entry`` against ``view``: what every append and replay runs.

    The entry's place is checked first, so that a replay missing an entry of a lot's
    chain is told so (``lot_chain``) rather than the mass balance that then fails."""
    check_sequencing(entry, view)
    return decide(entry.signed, view, entry.appended_at, crypto_checked=crypto_checked)
