"""Complete histories and the log's clock: every entry names the previous entry of each
lot it touches, so a replay that lacks one entry of a lot's history is caught; append
times never go back; keys stop signing when the log says so."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from alembic.config import Config

from ledger.bundle import build_bundle, verify_bundle
from ledger.domain import events as ev
from ledger.domain.entry import Entry
from ledger.domain.events import lots_named
from ledger.domain.note import NoteSigner
from ledger.domain.sequencing import admit
from ledger.domain.state import MemoryState
from ledger.errors import RuleViolation, SignatureError
from ledger.keystore import generate_private_key
from ledger.lot_history import lot_history
from ledger.service import Ledger
from ledger.storage.engine import MIGRATIONS, WRITE_OPTION
from ledger.verification import verify_log
from ledger.wire.entries import build_entry, load_entry
from tests.builders import FakeClock, World, new_signer


def _chain(world: World) -> dict[str, Entry]:
    """A lot's whole life: harvest, moisture loss, sale, split, processing, final sale."""
    w = world
    made = {"harvest": w.harvest("BN-0001", quantity="1000")}
    made["moisture loss"] = w.adjust("BN-0001", "-20", by="assoc-cachoeira",
                                     reason=ev.AdjustmentReason.MOISTURE)
    made["dispatch"] = w.dispatch("BN-0001", "coop", by="assoc-cachoeira")
    made["receipt"] = w.receive("BN-0001", made["dispatch"], by="coop")
    made["split"] = w.split("BN-0001", {"BN-0001A": "900", "BN-0001B": "80"}, by="coop")
    made["other child's sale"] = w.dispatch("BN-0001B", "buyer", by="coop")
    made["dispatch to processor"] = w.dispatch("BN-0001A", "processor", by="coop")
    made["receipt by processor"] = w.receive("BN-0001A", made["dispatch to processor"],
                                             by="processor")
    made["transform"] = w.transform(["BN-0001A"], [("K-1", "brazil-nut-kernel", "340")],
                                    by="processor")
    made["final dispatch"] = w.dispatch("K-1", "buyer", by="processor")
    made["final receipt"] = w.receive("K-1", made["final dispatch"], by="buyer")
    return made


def test_each_entry_names_the_newest_entry_of_every_lot_it_touches(world: World) -> None:
    made = _chain(world)
    assert made["harvest"].lot_prev == {}  # a lot it creates has no history yet
    loss = made["moisture loss"].lot_prev
    assert loss is not None and loss["BN-0001"].seq == made["harvest"].seq
    assert loss["BN-0001"].hash == made["harvest"].hash
    split = made["split"].lot_prev
    assert split is not None and set(split) == {"BN-0001"}  # the children are new
    assert split["BN-0001"].seq == made["receipt"].seq
    transform = made["transform"].lot_prev
    assert transform is not None and transform["BN-0001A"].seq == made["receipt by processor"].seq
    # lot_prev is in the bytes the entry hash covers, and reads back the same
    again = load_entry(made["transform"].canonical)
    assert again.lot_prev == made["transform"].lot_prev and b'"lot_prev"' in again.canonical
    report = world.ledger.verify()
    assert report.ok, report.findings


def test_the_lots_an_event_names_are_the_lots_it_touches(world: World) -> None:
    """lot_prev is computed from the lots a body names, the heads from the lots the rules
    say it touched: they must be the same lots for every kind of lot event."""
    _chain(world)
    state = MemoryState()
    kinds = set()
    for stored in world.ledger.store.iter_entries():
        entry = load_entry(stored.body)
        effects = admit(entry, state)
        assert set(effects.touched) == set(lots_named(entry.signed.event.body))
        state.apply_entry(entry, effects)
        kinds.add(entry.signed.event.kind.value)
    assert {"lot.harvested", "lot.adjusted", "lot.split", "lot.transformed",
            "lot.received"} <= kinds


Bundle = dict[str, Any]


@pytest.fixture
def chain_bundle(world: World) -> tuple[Bundle, NoteSigner, dict[str, Entry]]:
    made = _chain(world)
    world.harvest("OTHER-1")
    signer = NoteSigner(world.ledger.origin, generate_private_key())
    world.ledger.sign_checkpoint(signer)
    return build_bundle(world.ledger, "K-1"), signer, made


HISTORY = ["moisture loss", "dispatch", "receipt", "dispatch to processor",
           "receipt by processor", "final dispatch"]


@pytest.mark.parametrize("dropped", HISTORY)
def test_a_bundle_missing_any_entry_of_a_lot_history_says_which(
        chain_bundle: tuple[Bundle, NoteSigner, dict[str, Entry]], dropped: str) -> None:
    bundle, signer, made = chain_bundle
    assert verify_bundle(bundle, signer.verifier_key()).ok
    seq = made[dropped].seq
    cut = copy.deepcopy(bundle)
    cut["entries"] = [item for item in cut["entries"] if item["seq"] != seq]
    assert len(cut["entries"]) == len(bundle["entries"]) - 1
    report = verify_bundle(cut, signer.verifier_key())
    assert not report.ok
    chain = [f.reason for f in report.findings if "[lot_chain]" in f.reason]
    assert chain, [f.reason for f in report.findings]
    # the first finding names the lot and the entry it expected
    assert "missing" in chain[0] or "newest entry" in chain[0]


def test_a_bundle_says_up_to_which_entry_and_checkpoint_it_is_complete(
        chain_bundle: tuple[Bundle, NoteSigner, dict[str, Entry]]) -> None:
    bundle, signer, made = chain_bundle
    report = verify_bundle(bundle, signer.verifier_key())
    assert report.ok and report.lot_head == made["final receipt"].seq
    assert report.format_1_lot_entries == 0
    assert report.completeness() == (
        f"history complete from each lot's creation to entry {made['final receipt'].seq}, "
        f"as of checkpoint {report.checkpoint_size}")


@pytest.mark.parametrize("dropped", ["harvest", "split", "transform", "final receipt"])
def test_a_bundle_missing_a_creating_or_the_last_entry_does_not_verify_as_whole(
        chain_bundle: tuple[Bundle, NoteSigner, dict[str, Entry]], dropped: str) -> None:
    """A lot whose creating entry is left out does not exist for the replay; the lot's
    own newest entry left out is the one thing a bundle cannot show, and the report then
    says where the history it proves ends."""
    bundle, signer, made = chain_bundle
    cut = copy.deepcopy(bundle)
    cut["entries"] = [i for i in cut["entries"] if i["seq"] != made[dropped].seq]
    report = verify_bundle(cut, signer.verifier_key())
    if dropped == "final receipt":
        assert report.ok and report.lot_head == made["final dispatch"].seq
    else:
        assert not report.ok, dropped


def test_the_other_childs_sale_is_not_part_of_the_history(
        chain_bundle: tuple[Bundle, NoteSigner, dict[str, Entry]]) -> None:
    bundle, _, made = chain_bundle
    seqs = {item["seq"] for item in bundle["entries"]}
    assert made["other child's sale"].seq not in seqs and made["final receipt"].seq in seqs


def test_the_verifier_refuses_a_log_whose_lot_chain_skips_an_entry(world: World) -> None:
    made = _chain(world)
    lines = [stored for stored in world.ledger.store.iter_entries()]
    target = made["split"]
    assert target.lot_prev is not None
    wrong = {lot: type(link)(made["dispatch"].seq, made["dispatch"].hash)
             for lot, link in target.lot_prev.items()}
    forged = build_entry(target.seq, target.prev, target.appended_at, target.signed, wrong)
    entries = [forged if s.seq == target.seq else s for s in lines]
    report = verify_log(_raw(entries))
    rules = {(f.seq, f.rule) for f in report.findings}
    assert (target.seq, "lot_chain") in rules


def _raw(entries: list[Any]) -> list[Any]:
    class Raw:
        def __init__(self, seq: int, body: bytes) -> None:
            self.seq, self.body = seq, body

    return [Raw(e.seq, e.canonical if isinstance(e, Entry) else e.body) for e in entries]


def test_append_times_never_go_back(world: World) -> None:
    first = world.harvest("BN-0001")
    world.clock.now -= timedelta(hours=3)  # the server's clock jumps back
    second = world.harvest("BN-0002", at=first.signed.event.at)
    assert second.appended_at >= first.appended_at
    assert world.ledger.verify().ok


def test_the_verifier_refuses_an_append_time_that_goes_back(world: World) -> None:
    world.harvest("BN-0001")
    world.harvest("BN-0002")
    entries = [load_entry(s.body) for s in world.ledger.store.iter_entries()]
    last, before = entries[-1], entries[-2]
    earlier = build_entry(last.seq, last.prev, before.appended_at - timedelta(seconds=1),
                          last.signed, last.lot_prev)
    report = verify_log(_raw([*entries[:-1], earlier]))
    assert [(f.seq, f.rule) for f in report.findings] == [(last.seq, "appended_at_monotonic")]


def test_a_receipt_is_never_dated_before_its_dispatch(world: World) -> None:
    world.harvest("BN-0001")
    world.clock.now += timedelta(hours=1)
    sent = world.dispatch("BN-0001", "coop", by="assoc-cachoeira")
    body = ev.LotReceived(ev.LotId("BN-0001"), ev.EventId(sent.event_id),
                          sent.signed.event.body.valuation)  # type: ignore[union-attr]
    with pytest.raises(RuleViolation) as caught:
        world.append("coop", body, at=sent.signed.event.at - timedelta(minutes=1))
    assert caught.value.rule == "receipt_after_dispatch" and caught.value.lot == "BN-0001"
    assert world.ledger.lot("BN-0001").status.value == "in_transit"


def _rotate(world: World, actor: str, grace_s: int | None) -> tuple[Any, Any, Entry]:
    old, new = world.signers[actor], new_signer()
    entry = world.append(actor, ev.KeyRotated(ev.ActorId(actor), old.key_id,
                                              new.public_key_raw, grace_s), extra=(new,))
    return old, new, entry


def _loss(world: World, lot: str, at: Any) -> ev.SignedEvent:
    return world.sign("assoc-cachoeira", ev.LotAdjusted(
        ev.LotId(lot), Decimal("-1"), ev.AdjustmentReason.LOSS, "rats"), at=at)


def test_a_rotated_out_key_signs_offline_statements_only_within_the_grace(
        world: World) -> None:
    world.harvest("BN-0001")
    signed_offline_at = world.clock.now - timedelta(seconds=1)
    old, new, _ = _rotate(world, "assoc-cachoeira", 3600)
    world.signers["assoc-cachoeira"] = old
    world.clock.now += timedelta(minutes=30)
    world.ledger.append(_loss(world, "BN-0001", signed_offline_at))  # the outbox survives
    world.clock.now += timedelta(hours=1)
    with pytest.raises(SignatureError, match="grace period"):
        world.ledger.append(_loss(world, "BN-0001", signed_offline_at))
    world.signers["assoc-cachoeira"] = new
    world.adjust("BN-0001", "-1", by="assoc-cachoeira")
    assert world.ledger.verify().ok


def test_the_default_grace_is_thirty_days_and_a_key_rotates_once(world: World) -> None:
    world.harvest("BN-0001")
    backdated = world.clock.now - timedelta(seconds=1)
    old, _, _ = _rotate(world, "assoc-cachoeira", None)
    world.signers["assoc-cachoeira"] = old
    world.clock.now += timedelta(days=29)
    world.ledger.append(_loss(world, "BN-0001", backdated))
    world.clock.now += timedelta(days=2)
    with pytest.raises(SignatureError, match="grace period"):
        world.ledger.append(_loss(world, "BN-0001", backdated))
    other = new_signer()
    with pytest.raises((RuleViolation, SignatureError)):
        world.ledger.append(world.sign("assoc-cachoeira", ev.KeyRotated(
            ev.ActorId("assoc-cachoeira"), old.key_id, other.public_key_raw), extra=(other,),
            at=backdated))


def test_a_revoked_key_is_refused_whatever_time_it_claims(world: World) -> None:
    world.harvest("BN-0001", by="coop")
    before = world.clock.now - timedelta(days=1)
    world.append("operator", ev.KeyRevoked(ev.ActorId("coop"), world.signers["coop"].key_id,
                                           "laptop stolen"))
    backdated = world.sign("coop", ev.LotAdjusted(ev.LotId("BN-0001"), Decimal("-1"),
                                                  ev.AdjustmentReason.LOSS, "x"), at=before)
    with pytest.raises(SignatureError, match="revoked"):
        world.ledger.append(backdated)


def _migrate(ledger: Ledger, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with ledger.store.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)
        conn.commit()


def test_a_format_1_ledger_upgrades_and_chains_from_then_on(ledger: Ledger, clock: FakeClock,
                                                            tmp_path: Any) -> None:
    """A ledger written before lot chains: its entries keep their bytes; after the
    migration the next entries chain each lot from its newest format 1 entry, the whole
    log verifies, and no format 1 entry is accepted after a format 2 one."""
    source = Ledger.open(f"sqlite:///{tmp_path}/source.sqlite", clock=clock)
    world = World.with_chain(source, clock)
    _chain(world)
    old = [load_entry(s.body) for s in source.store.iter_entries()]
    # The same events as a format 1 log: no lot_prev, hash chain rebuilt.
    v1: list[Entry] = []
    prev = bytes(32)
    for e in old:
        entry = build_entry(e.seq, prev, e.appended_at, e.signed, None)
        v1.append(entry)
        prev = entry.hash
    ledger.replicate(v1[:-4])  # stop with K-1... upstream in transit to the processor
    _migrate(ledger, "0006", down=True)
    _migrate(ledger, "head")
    ledger.replicate(v1[-4:-2])
    assert ledger.store.lot("BN-0001A").status.value == "transformed"
    world.ledger = ledger
    fresh = world.dispatch("K-1", "coop", by="processor")
    assert fresh.lot_prev is not None and fresh.lot_prev["K-1"].seq == v1[-3].seq
    report = ledger.verify()
    assert report.ok, report.findings
    late = build_entry(ledger.size(), fresh.hash, fresh.appended_at, v1[-1].signed, None)
    with pytest.raises(RuleViolation) as caught:
        ledger.replicate([late])
    assert caught.value.rule == "entry_format"
    source.close()


def test_a_registry_cached_for_another_ledger_is_not_used(world: World, tmp_path: Any,
                                                          clock: FakeClock) -> None:
    """The page's registry cache is per store and checked against the database: a cache
    left by another ledger (an id() reused, a database reset) is read again."""
    from ledger import lot_history as history_module

    other = Ledger.open(f"sqlite:///{tmp_path}/other.sqlite", clock=clock)
    other_world = World.with_chain(other, clock)
    other_world.harvest("BN-0001")
    stale = history_module._REGISTRY.entries(other)
    _chain(world)
    history_module._REGISTRY.by_store[world.ledger.store] = (len(stale) + 1, stale)
    history = lot_history(world.ledger, "K-1")
    assert history.ok, history.problems
    other.close()


def test_a_key_event_after_the_checkpoint_leaves_the_bundle_as_of_it(
        chain_bundle: tuple[Bundle, NoteSigner, dict[str, Entry]], world: World) -> None:
    _, signer, _ = chain_bundle
    _rotate(world, "processor", None)
    bundle = build_bundle(world.ledger, "K-1")
    report = verify_bundle(bundle, signer.verifier_key())
    assert report.ok, report.findings
    assert max(item["seq"] for item in bundle["entries"]) < report.checkpoint_size  # type: ignore[operator]
