"""The reach the fold keeps for the cooperative filter (ledger/storage/indicator_reach.py)
is, after every batch, the walk of the lot graph the replay does (cooperative_lots), with
each lot marked as reached from its descendants (up) and from its ancestors (down) —
whatever order touches and links come in, however the log is cut into batches, and
though the store's links run ahead of the fold."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, insert, select

from ledger.indicator_facts import cooperative_lots
from ledger.storage import indicator_tables as it
from ledger.storage import tables as t
from ledger.storage.indicator_reach import extend_reach

ACTORS = ("coop", "buyer", "community")
LOTS = [f"L{n}" for n in range(10)]

# A log: touches (actor, lot) and links (parent, child) between any two lots, the parent
# always the older lot (the graph is acyclic, as lots are).
touch = st.tuples(st.just("touch"), st.sampled_from(ACTORS), st.sampled_from(LOTS))
link = st.tuples(st.just("link"), st.integers(0, 8), st.integers(1, 9)).filter(
    lambda item: item[1] < item[2]).map(lambda item: ("link", LOTS[item[1]], LOTS[item[2]]))
logs = st.lists(st.one_of(touch, link), min_size=1, max_size=40)


def _engine() -> Engine:
    engine = create_engine("sqlite://")
    t.lot_links.create(engine)
    it.reach.create(engine)
    return engine


def _expected(steps: list[tuple[str, str, str]], actor: str) -> dict[str, tuple[bool, bool]]:
    touches = [(who, lot) for kind, who, lot in steps if kind == "touch"]
    links = [(parent, child) for kind, parent, child in steps if kind == "link"]
    handled = {lot for who, lot in touches if who == actor}
    up, down = set(handled), set(handled)
    for _ in LOTS:  # a fixed point: each pass walks one more link
        up |= {parent for parent, child in links if child in up}
        down |= {child for parent, child in links if parent in down}
    assert up | down == cooperative_lots(touches, links, actor)
    return {lot: (lot in up, lot in down) for lot in up | down}


def _stored(engine: Engine, actor: str) -> dict[str, tuple[bool, bool]]:
    r = it.reach.c
    with engine.connect() as connection:
        return {row.lot: (bool(row.up), bool(row.down)) for row in connection.execute(
            select(r.lot, r.up, r.down).where(r.actor == actor))}


@settings(max_examples=300, deadline=None)
@given(log=logs, cuts=st.lists(st.integers(0, 40), max_size=6))
def test_the_reach_after_each_batch_is_the_walk_of_the_folded_graph(
        log: list[tuple[str, str, str]], cuts: list[int]) -> None:
    engine = _engine()
    seen: set[tuple[str, str]] = set()
    rows: list[dict[str, Any]] = []
    for seq, (kind, parent, child) in enumerate(log):
        if kind == "link" and (parent, child) not in seen:  # lot_links keys (parent, child)
            seen.add((parent, child))
            rows.append({"parent": parent, "child": child, "seq": seq})
    with engine.begin() as connection:
        if rows:  # every link stored up front: the store runs ahead of the fold
            connection.execute(insert(t.lot_links), rows)
    bounds = sorted({0, len(log), *(cut for cut in cuts if cut < len(log))})
    for start, end in itertools.pairwise(bounds):
        batch = log[start:end]
        with engine.begin() as connection:
            extend_reach(connection, end,
                         {(who, lot) for kind, who, lot in batch if kind == "touch"},
                         [(parent, child) for kind, parent, child in batch if kind == "link"])
        for actor in ACTORS:
            assert _stored(engine, actor) == _expected(log[:end], actor), (actor, end)
