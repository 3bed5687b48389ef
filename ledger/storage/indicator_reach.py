"""Each actor's reach, kept at fold time: the lots its cooperative filter keeps.

The filter keeps the lots an actor handled (or was sent), every lot they came from and
every lot made from them (``ledger/indicator_facts.py cooperative_lots``). Walking the lot
graph for that on every report cost a third of a second at a million entries; instead
each fold batch extends the stored reach with what its steps added, and a report reads it.

A lot reached ``UP`` is one the actor handled or an ancestor of one: all its ancestors are
reached ``UP`` too. A lot reached ``DOWN`` is one the actor handled or a descendant of
one: all its descendants are reached ``DOWN`` too. Both only grow, as touches and links
only grow: a touch sets both on its lot; setting ``UP`` walks to the lot's parents,
``DOWN`` to its children, stopping where the flag is already set; and a new link passes
its parent's ``DOWN`` flags to its child and its child's ``UP`` flags to its parent.
Whatever the order, the result is the closure. Links are read from the store's
``lot_links`` below the batch's end, so the reach is exactly that of the folded steps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from ledger.storage.engine import fetch_all, run_many

UP, DOWN = 1, 2
_CHUNK = 900  # parameters per IN list (SQLite's default limit is 999)


def extend_reach(connection: Connection, next_seq: int, touches: Iterable[tuple[str, str]],
                 links: Sequence[tuple[str, str]]) -> None:
    """Extend the stored reach with one fold batch's touches ``(actor, lot)`` and links
    ``(parent, child)``, the batch ending below the sequence number ``next_seq``."""
    update = ReachUpdate(connection, next_seq)
    update.extend(touches, links)
    update.write()


class ReachUpdate:
    """One fold batch's changes to the reach: flags read as needed, written at the end."""

    def __init__(self, connection: Connection, next_seq: int) -> None:
        self.connection = connection
        self.next_seq = next_seq
        self.flags: dict[str, dict[str, int]] = {}  # lot -> actor -> UP | DOWN bits
        self.stored: dict[tuple[str, str], int] = {}  # (actor, lot) -> bits as read

    def extend(self, touches: Iterable[tuple[str, str]],
               links: Sequence[tuple[str, str]]) -> None:
        """Add the batch's touches ``(actor, lot)`` and links ``(parent, child)``."""
        pending = [(actor, lot, UP | DOWN) for actor, lot in touches]
        self._load({lot for _, lot, _ in pending} | {lot for link in links for lot in link})
        for parent, child in links:
            pending += [(actor, child, DOWN) for actor, bits in self.flags[parent].items()
                        if bits & DOWN]
            pending += [(actor, parent, UP) for actor, bits in self.flags[child].items()
                        if bits & UP]
        while pending:
            walk_up: dict[str, set[str]] = defaultdict(set)  # lot -> actors newly UP
            walk_down: dict[str, set[str]] = defaultdict(set)
            for actor, lot, bits in pending:
                have = self.flags[lot].get(actor, 0)
                added = bits & ~have
                if added:
                    self.flags[lot][actor] = have | added
                    if added & UP:
                        walk_up[lot].add(actor)
                    if added & DOWN:
                        walk_down[lot].add(actor)
            parents = self._neighbours(walk_up, "child", "parent")
            children = self._neighbours(walk_down, "parent", "child")
            self._load({lot for lots in (*parents.values(), *children.values())
                        for lot in lots})
            pending = [(actor, parent, UP) for lot, actors in walk_up.items()
                       for parent in parents.get(lot, ()) for actor in actors]
            pending += [(actor, child, DOWN) for lot, actors in walk_down.items()
                        for child in children.get(lot, ()) for actor in actors]

    def write(self) -> None:
        """Store the flags this batch set: new rows inserted, extended ones updated."""
        new, changed = [], []
        for lot, actors in self.flags.items():
            for actor, bits in actors.items():
                before = self.stored.get((actor, lot))
                if before is None:
                    new.append((actor, lot, bool(bits & UP), bool(bits & DOWN)))
                elif before != bits:
                    changed.append((bool(bits & UP), bool(bits & DOWN), actor, lot))
        run_many(self.connection, "INSERT INTO indicator_reach (actor, lot, up, down) "
                 "VALUES (?, ?, ?, ?)", sorted(new))
        run_many(self.connection, "UPDATE indicator_reach SET up = ?, down = ? "
                 "WHERE actor = ? AND lot = ?", changed)

    def _load(self, lots: Collection[str]) -> None:
        missing = sorted(lot for lot in lots if lot not in self.flags)
        for lot in missing:
            self.flags[lot] = {}
        for chunk in _chunks(missing):
            for actor, lot, up, down in self._select(
                    "SELECT actor, lot, up, down FROM indicator_reach WHERE lot IN ({})",
                    chunk):
                bits = (UP if up else 0) | (DOWN if down else 0)
                self.flags[lot][actor] = self.stored[(actor, lot)] = bits

    def _neighbours(self, lots: Collection[str], side: str, other: str
                    ) -> dict[str, list[str]]:
        """For each of ``lots`` on the ``side`` of a folded link, the lots on the other."""
        out: dict[str, list[str]] = defaultdict(list)
        for chunk in _chunks(sorted(lots)):
            for lot, neighbour in self._select(
                    f"SELECT {side}, {other} FROM lot_links WHERE {side} IN ({{}})"
                    f" AND seq < {int(self.next_seq)}", chunk):
                out[lot].append(neighbour)
        return out

    def _select(self, sql: str, values: Sequence[str]) -> list[Any]:
        # Straight to the driver: a cold build reads a million rows here.
        return fetch_all(self.connection, sql.format(", ".join("?" for _ in values)), values)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    return (values[i:i + _CHUNK] for i in range(0, len(values), _CHUNK))
