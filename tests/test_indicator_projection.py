"""The indicator projection (facts kept in the database, caught up on read) gives exactly
the figures of the in-memory replay of the whole log, whatever the filters, however the
log grew between reports, and however many processes catch up at once."""

from __future__ import annotations

import multiprocessing
import random
from dataclasses import fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import column, func, select

from ledger.demo import build_demo
from ledger.domain import events as ev
from ledger.domain.measures import Valuation
from ledger.indicators import (
    Filters,
    Indicators,
    catch_up,
    compute,
    indicators_for,
    indicators_from,
)
from ledger.service import Ledger
from ledger.storage import indicator_queries
from ledger.storage import indicator_tables as it
from ledger.storage.indicator_projection import IndicatorProjection
from tests.builders import World, origin, valuation

ACTORS = ["assoc-cachoeira", "coop", "processor", "buyer"]


def replayed(ledger: Ledger, filters: Filters | None = None, *,
             detailed: bool = True, with_sales: bool = False) -> Indicators:
    products = {p.code: p for p in ledger.store.products()}
    kinds = {a.actor_id: a.kind.value for a in ledger.store.actors()}
    return compute(ledger.store.iter_steps(), products, kinds, filters or Filters(),
                   detailed=detailed, with_sales=with_sales)


def assert_same_every_way(ledger: Ledger, filters: Filters) -> None:
    """The detailed report, the summary-only one and the one with its sales listed (the
    dashboards') each equal the replay's."""
    for detailed, with_sales in ((True, False), (False, False), (False, True)):
        assert_same(indicators_for(ledger, filters, detailed=detailed, with_sales=with_sales),
                    replayed(ledger, filters, detailed=detailed, with_sales=with_sales))


def assert_same(projected: Indicators, reference: Indicators) -> None:
    """Equal figure by figure, and written the same (Decimal exponents, key order)."""
    for name in (f.name for f in fields(Indicators)):
        ours, theirs = getattr(projected, name), getattr(reference, name)
        assert ours == theirs, name
        assert repr(ours) == repr(theirs), name


def test_the_projection_equals_the_replay_on_the_demo_for_every_filter(db_url: str) -> None:
    ledger = Ledger.open(db_url)  # the demo's statements need the real clock
    build_demo(ledger)
    steps = list(ledger.store.iter_steps())
    harvests = [s for s in steps if s["kind"] == "lot.harvested"]
    days = sorted({s["at"][:10] for s in steps if s["lots"]})
    filters = [Filters(), Filters(end=date(2024, 12, 31)), Filters(start=date(2030, 1, 1))]
    filters += [Filters(community=c) for c in {s["origin"]["community"] for s in harvests}]
    filters += [Filters(product=p) for p in {s["product"] for s in harvests}]
    filters += [Filters(season=s) for s in {s["season"] for s in harvests}]
    filters += [Filters(cooperative=a.actor_id) for a in ledger.store.actors()]
    filters += [Filters(start=date.fromisoformat(d)) for d in days[::3]]
    filters += [Filters(end=date.fromisoformat(d)) for d in days[1::3]]
    filters += [Filters(season="2025", community="Seringal Cachoeira"),
                Filters(cooperative="coop-xapuri", product="brazil-nut-in-shell",
                        start=date.fromisoformat(days[len(days) // 2]))]
    assert indicators_for(ledger).volumes["harvested"]  # the demo has figures to compare
    for chosen in filters:
        assert_same_every_way(ledger, chosen)
    ledger.close()


def _random_valuation(rng: random.Random, amount: int) -> Valuation:
    """A price in BRL or EUR split between one to four roles, in any order."""
    roles = rng.sample(["harvesters", "community_fund", "cooperative", "transport",
                        "community_association"], rng.randint(1, 4))
    cuts = sorted(rng.sample(range(1, 10_000), len(roles) - 1))
    bps = [b - a for a, b in zip([0, *cuts], [*cuts, 10_000], strict=True)]
    return valuation(amount, rng.choice(["BRL", "BRL", "EUR"]),
                     tuple((f"party-{i}", role, bp) for i, (role, bp)
                           in enumerate(zip(roles, bps, strict=True))))


def _random_history(world: World, rng: random.Random, count: int) -> None:
    """Harvests, sales (some refused), splits, merges, losses and processing, at random."""
    ledger = world.ledger
    for _ in range(count):
        serial = ledger.size()  # unique: every new lot's step appends an entry
        world.clock.now += timedelta(hours=rng.randint(1, 40))
        active = ledger.store.lots(status="active", limit=1000)
        action = rng.choice(["harvest", "sell", "sell", "refuse", "split", "merge", "adjust",
                             "transform"])
        if action == "harvest" or not active:
            community = rng.choice(["Seringal Cachoeira", "Porto Alegre", "Rio Anapu"])
            world.harvest(f"H-{serial}", quantity=str(rng.randint(1, 900)),
                          value=_random_valuation(rng, rng.randint(1, 500_000)),
                          origin=origin(community=community))
            continue
        lot = rng.choice(active)
        holder = lot.custodian
        others = [a for a in ACTORS if a != holder]
        if action in ("sell", "refuse"):
            to = rng.choice(others)
            sent = world.dispatch(lot.lot_id, to, by=holder,
                                  value=_random_valuation(rng, rng.randint(0, 900_000)))
            if action == "sell":
                world.receive(lot.lot_id, sent, by=to)
            else:
                world.append(to, ev.LotRefused(ev.LotId(lot.lot_id),
                                               ev.EventId(sent.event_id), "wet sacks"))
        elif action == "split" and lot.quantity >= Decimal("0.01"):
            part = (lot.quantity * Decimal(rng.randint(1, 99)) / 100).quantize(Decimal("0.001"))
            if 0 < part < lot.quantity:
                world.split(lot.lot_id, {f"S-{serial}a": str(part),
                                         f"S-{serial}b": str(lot.quantity - part)}, by=holder)
        elif action == "merge":
            same = [x for x in active if x.custodian == holder and x.product == lot.product
                    and x.unit == lot.unit]
            if len(same) >= 2:
                chosen = rng.sample(same, min(len(same), rng.randint(2, 3)))
                total = sum((x.quantity for x in chosen), Decimal(0))
                world.merge([x.lot_id for x in chosen], f"M-{serial}", str(total), by=holder)
        elif action == "adjust" and lot.quantity > Decimal("0.5"):
            world.adjust(lot.lot_id, str(-Decimal(rng.randint(1, 50)) / 100), by=holder)
        elif action == "transform" and lot.product == "brazil-nut-in-shell":
            out = (lot.quantity * Decimal("0.38")).quantize(Decimal("0.001"))
            if out > 0:
                world.transform([lot.lot_id], [(f"K-{serial}", "brazil-nut-kernel", str(out))],
                                by=holder)


def test_catching_up_between_growing_chunks_equals_one_replay(world: World) -> None:
    rng = random.Random(20261201)
    for _ in range(8):
        _random_history(world, rng, rng.randint(1, 25))
        # Folded in batches of a few steps: each extends the reach kept for the
        # cooperative filters, which must be the walk of the whole graph.
        catch_up(world.ledger, batch=rng.randint(1, 4))
        for chosen in (Filters(), Filters(community="Porto Alegre"), Filters(season="2025"),
                       *(Filters(cooperative=actor) for actor in ACTORS),
                       Filters(start=date(2025, 1, 3), end=date(2025, 1, 20))):
            assert_same_every_way(world.ledger, chosen)
    with world.ledger.store.engine.connect() as connection:
        folded = connection.execute(select(it.position.c.next_seq)).scalar_one()
    assert folded == world.ledger.size()


def _catch_up_in(url: str, batch: int, queue: multiprocessing.Queue[int]) -> None:
    ledger = Ledger.open(url)
    queue.put(catch_up(ledger, batch=batch))
    ledger.close()


def test_two_processes_catching_up_at_once_fold_each_step_once(world: World,
                                                                db_url: str) -> None:
    _random_history(world, random.Random(7), 120)
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[int] = context.Queue()
    workers = [context.Process(target=_catch_up_in, args=(db_url, 3, queue))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert all(worker.exitcode == 0 for worker in workers)
    assert sum(queue.get() for _ in workers) == world.ledger.size()  # no step twice
    assert_same(indicators_for(world.ledger), replayed(world.ledger))
    with world.ledger.store.engine.connect() as connection:
        volumes = connection.execute(select(func.count()).select_from(it.volumes)).scalar_one()
    reference = replayed(world.ledger)
    assert volumes == sum(len(reference.entries.get(group, ()))
                          for group in ("harvested", "processed", "lost")) \
        + len(reference.first_sales) + len(reference.final_sales)


def test_a_report_sees_appends_made_after_the_last_one(world: World) -> None:
    world.harvest("BN-1", quantity="100")
    assert indicators_for(world.ledger).volumes["harvested"] == {
        "brazil-nut-in-shell (KGM)": Decimal("100")}
    world.harvest("BN-2", quantity="40.5")
    world.transfer("BN-2", "assoc-cachoeira", "buyer")
    after = indicators_for(world.ledger)
    assert after.volumes["harvested"] == {"brazil-nut-in-shell (KGM)": Decimal("140.5")}
    assert [lot for lot, _, _ in after.final_sales] == ["BN-2"]
    assert catch_up(world.ledger) == 0  # nothing left to fold


def test_quantities_are_stored_as_exact_millionths_and_more_decimals_are_refused() -> None:
    import pytest

    from ledger.errors import ValidationError
    from ledger.storage.indicator_projection import millionths

    assert millionths(Decimal("412.5")) == (412_500_000, -1)
    assert millionths(Decimal("999999999999.999999")) == (999_999_999_999_999_999, -6)
    assert millionths(Decimal("1470")) == (1_470_000_000, 0)
    with pytest.raises(ValidationError):
        millionths(Decimal("0.0000001"))  # the rules allow 6 decimals at most


def test_the_projection_has_a_column_for_every_role_a_split_may_name() -> None:
    from ledger.wire.events import ROLES

    assert set(ROLES) <= set(it.ROLES)  # a new role needs a migration adding its columns


def test_the_projection_scale_is_the_most_decimals_a_quantity_may_have() -> None:
    import pytest

    from ledger.domain.measures import parse_quantity_text
    from ledger.errors import ValidationError

    assert parse_quantity_text("1." + "9" * it.QUANTITY_DECIMALS)
    with pytest.raises(ValidationError):
        parse_quantity_text("1." + "9" * (it.QUANTITY_DECIMALS + 1))


def test_the_cooperative_filter_is_the_replays_whichever_lots_it_probes(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scope of few lots is probed as such; one of most lots through the lots outside
    it; one of every lot not at all. Each way gives the replay's figures."""
    chosen_tests: list[str] = []
    fill = indicator_queries._fill_scope

    def recording(connection: Any, actor: str) -> Any:
        test = fill(connection, actor)
        chosen_tests.append("all" if test is None else
                            "outside" if "NOT IN" in str(test(column("lot"))) else "inside")
        return test

    monkeypatch.setattr(indicator_queries, "_fill_scope", recording)
    rng = random.Random(4)
    for _ in range(6):
        _random_history(world, rng, rng.randint(5, 30))
        for actor in ACTORS:
            chosen = Filters(cooperative=actor)
            assert_same(indicators_for(world.ledger, chosen), replayed(world.ledger, chosen))
        # A lot only its harvester handles: no other scope is then the whole.
        world.harvest(f"LONE-{len(chosen_tests)}")
        for actor in ACTORS:
            chosen = Filters(cooperative=actor)
            assert_same(indicators_for(world.ledger, chosen), replayed(world.ledger, chosen))
    assert {"all", "outside", "inside"} <= set(chosen_tests), chosen_tests


def test_a_report_read_on_two_connections_is_one_snapshot(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite the lists of sales come from a second connection; if a catch-up lands
    between the two snapshots, the first connection reads them itself."""
    _random_history(world, random.Random(11), 40)
    before = indicators_for(world.ledger)
    assert_same(before, replayed(world.ledger))
    lists = indicator_queries._sales_lists
    seen: list[object] = []

    def catching_up_first(*args: Any) -> Any:
        world.harvest("LATE-1", quantity="7")  # folded by the catch-up below, in between
        world.transfer("LATE-1", "assoc-cachoeira", "coop")
        catch_up(world.ledger)
        seen.append(lists(*args))
        return seen[-1]

    monkeypatch.setattr(indicator_queries, "_sales_lists", catching_up_first)
    totals = IndicatorProjection(world.ledger.store.engine).totals(Filters())
    if world.ledger.store.engine.dialect.name == "sqlite":
        assert seen == [None]  # the second snapshot was newer: not used
    assert_same(indicators_from(totals), before)  # every figure from the first snapshot
    monkeypatch.undo()
    assert_same(indicators_for(world.ledger), replayed(world.ledger))


def test_upgrading_to_the_kept_reach_refolds_the_projection(world: World) -> None:
    """Migration 0005 swaps the handled-lots table for the reach: a projection folded
    before it is emptied and refolds on the next report, to the replay's figures; going
    back down and up again does the same."""
    from alembic import command
    from alembic.config import Config

    from ledger.storage.engine import MIGRATIONS, WRITE_OPTION

    def migrate(revision: str, *, down: bool = False) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)
            connection.commit()

    engine = world.ledger.store.engine
    _random_history(world, random.Random(5), 30)
    catch_up(world.ledger)
    migrate("0004", down=True)
    with engine.connect() as connection:
        assert connection.execute(select(it.position.c.next_seq)).scalar_one() == 0
    migrate("head")
    assert IndicatorProjection(engine).behind() == world.ledger.size()
    for actor in ACTORS:
        assert_same(indicators_for(world.ledger, Filters(cooperative=actor)),
                    replayed(world.ledger, Filters(cooperative=actor)))


def test_a_page_of_entries_behind_a_figure_is_that_slice_of_the_detailed_report(
        world: World) -> None:
    from ledger.errors import ValidationError
    from ledger.indicator_facts import ENTRY_GROUPS
    from ledger.indicators import entries_behind

    _random_history(world, random.Random(11), 80)
    for chosen in (Filters(), Filters(cooperative="coop"), Filters(season="2025"),
                   Filters(community="Porto Alegre")):
        ind = indicators_for(world.ledger, chosen)
        assert ind.entry_counts == {group: len(seqs) for group, seqs in ind.entries.items()}
        for group in ENTRY_GROUPS:
            seqs = ind.entries.get(group, [])
            for start, count in ((0, 100), (0, 3), (1, 3), (3, 4), (len(seqs) - 1, 5),
                                 (len(seqs) + 2, 5)):
                first = max(start, 0)
                assert entries_behind(world.ledger, chosen, group, start, count) == (
                    seqs[first:first + count], len(seqs)), (chosen, group, start)
    with pytest.raises(ValidationError, match="figure"):
        entries_behind(world.ledger, Filters(), "volumes; DROP TABLE", 0, 1)
