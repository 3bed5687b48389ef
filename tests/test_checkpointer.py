"""Checkpoints without an operator: the interval, one signer at a time, never a fork."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ledger.checkpointer import (
    KEY_RETRY_S,
    Checkpointer,
    is_operator_key,
    sign_if_due,
    sign_now,
)
from ledger.domain.note import Checkpoint, NoteSigner, NoteVerifier, open_note
from ledger.errors import Conflict
from ledger.keystore import generate_private_key
from ledger.service import Ledger
from ledger.storage.signer_lock import SignerLock
from ledger.wire.fields import parse_instant
from tests.builders import World

INTERVAL = 10.0


def operator_signer(world: World) -> NoteSigner:
    return NoteSigner(world.ledger.origin, world.signers["operator"].private_key)


def signed_at(ledger: Ledger) -> datetime:
    latest = ledger.latest_checkpoint()
    assert latest is not None
    return parse_instant(latest.signed_at)


def check_no_fork(ledger: Ledger, signer: NoteSigner) -> list[int]:
    """Every stored checkpoint is signed by the operator and is the tree of its size."""
    verifier = NoteVerifier.from_vkey(signer.verifier_key())
    sizes = []
    for stored in ledger.store.checkpoints():
        checkpoint = Checkpoint.from_text(open_note(stored.note, [verifier]).body)
        assert checkpoint.size == stored.size
        assert checkpoint.root_hash == ledger.root(stored.size)
        sizes.append(stored.size)
    return sizes


def test_a_grown_log_is_signed_at_once_then_at_most_once_per_interval(world: World) -> None:
    ledger, signer = world.ledger, operator_signer(world)
    lock = SignerLock(ledger.store.engine)
    first = sign_if_due(ledger, signer, world.clock.now, interval_s=INTERVAL, lock=lock)
    assert first.signed == ledger.size() and first.wait_s == INTERVAL
    t0 = signed_at(ledger)
    # Nothing new: nothing to sign, however long it waits.
    idle = sign_if_due(ledger, signer, t0 + timedelta(hours=1), interval_s=INTERVAL, lock=lock)
    assert idle.signed is None and idle.wait_s <= 1.0
    world.harvest("BN-0001")
    early = sign_if_due(ledger, signer, t0 + timedelta(seconds=4), interval_s=INTERVAL,
                        lock=lock)
    assert early.signed is None and early.wait_s == pytest.approx(6.0)
    assert ledger.latest_checkpoint().size == first.signed  # type: ignore[union-attr]
    due = sign_if_due(ledger, signer, t0 + timedelta(seconds=INTERVAL), interval_s=INTERVAL,
                      lock=lock)
    assert due.signed == ledger.size() == first.signed + 1  # type: ignore[operator]
    assert check_no_fork(ledger, signer) == [first.signed, due.signed]


def test_an_entry_after_a_quiet_spell_is_signed_on_the_next_look(world: World) -> None:
    ledger, signer = world.ledger, operator_signer(world)
    lock = SignerLock(ledger.store.engine)
    sign_if_due(ledger, signer, world.clock.now, interval_s=INTERVAL, lock=lock)
    world.harvest("BN-0001")
    later = signed_at(ledger) + timedelta(seconds=INTERVAL * 3)
    assert sign_if_due(ledger, signer, later, interval_s=INTERVAL, lock=lock).signed == \
        ledger.size()


def test_a_clock_that_stepped_back_does_not_stop_the_signing(world: World) -> None:
    ledger, signer = world.ledger, operator_signer(world)
    lock = SignerLock(ledger.store.engine)
    sign_if_due(ledger, signer, world.clock.now, interval_s=INTERVAL, lock=lock)
    world.harvest("BN-0001")
    past = signed_at(ledger) - timedelta(days=1)
    assert sign_if_due(ledger, signer, past, interval_s=INTERVAL, lock=lock).signed == \
        ledger.size()


def test_nothing_is_signed_while_another_signer_holds_the_lock(world: World) -> None:
    ledger, signer = world.ledger, operator_signer(world)
    mine, theirs = SignerLock(ledger.store.engine), SignerLock(ledger.store.engine)
    with theirs.hold() as held:
        assert held
        tick = sign_if_due(ledger, signer, world.clock.now, interval_s=INTERVAL, lock=mine)
        assert tick.signed is None and tick.wait_s <= 1.0
        with pytest.raises(Conflict, match="signer lock"):
            sign_now(ledger, signer, mine, wait_s=0.1)
    assert ledger.latest_checkpoint() is None
    assert sign_now(ledger, signer, mine).startswith(ledger.origin)


def test_only_a_current_operator_key_may_sign(world: World) -> None:
    ledger = world.ledger
    operator, stranger = operator_signer(world), NoteSigner(ledger.origin,
                                                             generate_private_key())
    coop = NoteSigner(ledger.origin, world.signers["coop"].private_key)
    assert is_operator_key(ledger, operator, None)
    assert not is_operator_key(ledger, stranger, None)
    assert not is_operator_key(ledger, coop, None)  # a current key, but not an operator's
    # A configured verifier key decides: the key pages check, and no other.
    assert is_operator_key(ledger, stranger, stranger.verifier_key())
    assert not is_operator_key(ledger, operator, stranger.verifier_key())


def test_without_a_key_it_says_so_once_and_signs_nothing(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    looks = []

    def no_key() -> NoteSigner | None:
        looks.append(1)
        return None

    checkpointer = Checkpointer(world.ledger, no_key, interval_s=0.05)
    with caplog.at_level(logging.WARNING):
        ticks = [checkpointer.tick() for _ in range(3)]
    assert [t.signed for t in ticks] == [None] * 3 and ticks[0].wait_s == KEY_RETRY_S
    assert len(looks) == 1  # looked for again only after KEY_RETRY_S
    warnings = [r for r in caplog.records if "no operator key" in r.getMessage()]
    assert len(warnings) == 1
    assert world.ledger.latest_checkpoint() is None


def test_the_thread_signs_new_entries_within_the_interval(world: World) -> None:
    signer = operator_signer(world)
    checkpointer = Checkpointer(world.ledger, lambda: signer, interval_s=0.2).start()
    try:
        deadline = time.monotonic() + 5
        while world.ledger.latest_checkpoint() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        world.harvest("BN-0001")
        appended = time.monotonic()
        target = world.ledger.size()
        while (world.ledger.latest_checkpoint().size < target  # type: ignore[union-attr]
               and time.monotonic() < deadline):
            time.sleep(0.01)
        waited = time.monotonic() - appended
    finally:
        checkpointer.stop()
    assert world.ledger.latest_checkpoint().size == target  # type: ignore[union-attr]
    assert waited < 0.2 + 0.15  # the interval, and a little scheduling
    assert not checkpointer.alive


COLLISION = -1  # a signature made for a size another signer had signed meanwhile


class NoLock(SignerLock):
    """What the signer would be without its lock (to show the tests can fail)."""

    @contextmanager
    def hold(self) -> Iterator[bool]:
        yield True


def _race(world: World, db_url: str, lock_type: type[SignerLock],
          enough: Callable[[list[int]], bool], max_s: float = 10.0) -> list[int]:
    """Four threads, each on its own ledger (as web workers are), sign as fast as they may
    while the log grows, until ``enough`` of what they signed (or ``max_s``: a loaded
    machine signs less per second); returns every size any of them signed (and COLLISION
    for each signature the database refused to keep beside another of the same size)."""
    signer, stop = operator_signer(world), threading.Event()
    ledgers = [Ledger.open(db_url) for _ in range(4)]
    signed: list[int] = []

    def sign(ledger: Ledger) -> None:
        lock = lock_type(ledger.store.engine)
        while not stop.is_set():
            try:
                tick = sign_if_due(ledger, signer, datetime.now().astimezone(),
                                   interval_s=1e-6, lock=lock)
            except Conflict:  # PostgreSQL refused a second row of a size just signed
                signed.append(COLLISION)
                continue
            if tick.signed is not None:
                signed.append(tick.signed)

    threads = [threading.Thread(target=sign, args=(ledger,)) for ledger in ledgers]
    for thread in threads:
        thread.start()
    deadline, n = time.monotonic() + max_s, 0
    while time.monotonic() < deadline and not enough(list(signed)):
        world.harvest(f"R-{n:04d}")
        n += 1
    stop.set()
    for thread in threads:
        thread.join()
    for ledger in ledgers:
        ledger.close()
    return signed


def test_threads_never_sign_one_size_twice_nor_fork(world: World, db_url: str) -> None:
    signed = _race(world, db_url, SignerLock, lambda signed: len(signed) >= 12)
    assert len(signed) >= 12 and COLLISION not in signed
    assert not [size for size, count in Counter(signed).items() if count > 1]
    assert sorted(signed) == check_no_fork(world.ledger, operator_signer(world))


def test_without_the_lock_the_same_race_signs_sizes_twice(world: World, db_url: str) -> None:
    def twice(signed: list[int]) -> bool:
        return COLLISION in signed or len(set(signed)) < len(signed)

    assert twice(_race(world, db_url, NoLock, twice))


SIGNER = r"""
import os, sys, time
from datetime import datetime
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ledger.checkpointer import sign_if_due
from ledger.domain.note import NoteSigner
from ledger.service import Ledger
from ledger.storage.signer_lock import SignerLock
url, key, stop = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3]
ledger = Ledger.open(url)
signer = NoteSigner(ledger.origin, Ed25519PrivateKey.from_private_bytes(key))
lock = SignerLock(ledger.store.engine)
print("ready", flush=True)
deadline = time.monotonic() + 60  # whatever happens to the test
while time.monotonic() < deadline and not os.path.exists(stop):
    tick = sign_if_due(ledger, signer, datetime.now().astimezone(), interval_s=1e-6, lock=lock)
    if tick.signed is not None:
        print(tick.signed, flush=True)
"""


def test_two_processes_never_sign_one_size_twice_nor_fork(world: World, db_url: str,
                                                         tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    signer, stop = operator_signer(world), tmp_path / "stop"
    raw = signer.private_key.private_bytes(serialization.Encoding.Raw,
                                           serialization.PrivateFormat.Raw,
                                           serialization.NoEncryption()).hex()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", SIGNER, db_url, raw, str(stop)],
                              stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    try:
        for proc in procs:  # both are up and signing before the log grows
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        deadline, n = time.monotonic() + 10, 0
        while time.monotonic() < deadline and len(world.ledger.store.checkpoints()) < 12:
            world.harvest(f"P-{n:04d}")
            n += 1
        while time.monotonic() < deadline + 5 and \
                world.ledger.latest_checkpoint().size < world.ledger.size():  # type: ignore[union-attr]
            time.sleep(0.02)
    finally:
        stop.touch()
    signed: list[int] = []
    for proc in procs:
        with proc:
            assert proc.stdout is not None
            out = proc.stdout.read()  # through the buffer readline filled (communicate not)
        assert proc.returncode == 0
        signed.extend(int(line) for line in out.split())
    assert len(signed) >= 12
    assert not [size for size, count in Counter(signed).items() if count > 1]
    assert sorted(signed) == check_no_fork(world.ledger, signer)
    assert world.ledger.latest_checkpoint().size == world.ledger.size()  # type: ignore[union-attr]


def test_a_rotated_out_operator_key_stops_signing(world: World, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    from ledger import checkpointer as module
    from ledger.domain import events as ev
    from tests.builders import new_signer

    monkeypatch.setattr(module, "KEY_RETRY_S", 0.0)  # re-check the key on every pass
    ledger, old = world.ledger, operator_signer(world)

    def held_key() -> NoteSigner | None:  # the server holds only the old key
        return old if is_operator_key(ledger, old, None) else None

    checkpointer = Checkpointer(ledger, held_key, interval_s=1e-6,
                                still_valid=lambda s: is_operator_key(ledger, s, None))
    assert checkpointer.tick().signed == ledger.size()
    new = new_signer()
    world.append("operator", ev.KeyRotated(ev.ActorId("operator"),
                                           world.signers["operator"].key_id,
                                           new.public_key_raw), extra=(new,))
    with caplog.at_level(logging.WARNING):
        tick = checkpointer.tick()
    assert tick.signed is None and ledger.latest_checkpoint().size < ledger.size()  # type: ignore[union-attr]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "no longer current" in messages and "no operator key" in messages
