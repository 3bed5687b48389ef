"""Storage integrity: append-only triggers, serialized concurrent appends, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from ledger.service import Ledger
from tests.builders import World, check_tree_matches


@pytest.mark.parametrize("statement", [
    "UPDATE entries SET kind = 'x' WHERE seq = 0",
    "DELETE FROM entries WHERE seq = 0",
    "UPDATE merkle_nodes SET hash = hash WHERE level = 0",
    "DELETE FROM merkle_nodes",
    "UPDATE actors SET name = 'Fake Community' WHERE actor_id = 'assoc-cachoeira'",
    "DELETE FROM actors WHERE actor_id = 'buyer'",
    "UPDATE products SET body = body",
    "DELETE FROM products",
])
def test_the_database_itself_refuses_to_rewrite_history(world: World, statement: str) -> None:
    with pytest.raises(DatabaseError, match="append-only"), \
            world.ledger.store.engine.begin() as connection:
        connection.execute(text(statement))
    assert world.ledger.verify().ok


def test_truncate_is_refused_on_postgresql(world: World) -> None:
    if world.ledger.store.is_sqlite:
        pytest.skip("SQLite has no TRUNCATE; DELETE is covered above")
    with pytest.raises(DatabaseError, match="append-only"), \
            world.ledger.store.engine.begin() as connection:
        connection.execute(text("TRUNCATE entries CASCADE"))


def test_merkle_nodes_agree_with_entries_after_batches(world: World) -> None:
    for i in range(37):
        world.harvest(f"BN-{i:04d}")
    check_tree_matches(world.ledger)


APPENDER = r"""
import sys
from ledger.service import Ledger
from tests.builders import World, FakeClock
from ledger.domain import events as ev
from ledger.domain.keys import Signer
from cryptography.hazmat.primitives.serialization import load_pem_private_key
url, actor, keyfile, prefix, count = sys.argv[1:6]
ledger = Ledger.open(url)
signer = Signer(load_pem_private_key(open(keyfile, 'rb').read(), None))
world = World(ledger, FakeClock())
world.signers[actor] = signer
for i in range(int(count)):
    world.clock.now = __import__('datetime').datetime.now(__import__('datetime').UTC)
    world.harvest(f"{prefix}{i:04d}", by=actor)
    print(f"{prefix}{i:04d}", flush=True)
"""


def _spawn(url: str, world: World, tmp_path: Path, prefix: str, count: int,
           actor: str = "assoc-cachoeira") -> subprocess.Popen[str]:
    from cryptography.hazmat.primitives import serialization

    keyfile = tmp_path / f"{actor}.pem"
    if not keyfile.exists():
        pem = world.signers[actor].private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        keyfile.write_bytes(pem)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    return subprocess.Popen([sys.executable, "-c", APPENDER, url, actor, str(keyfile), prefix,
                             str(count)], stdout=subprocess.PIPE, text=True, env=env)


def test_eight_processes_appending_make_one_gap_free_chain(world: World, db_url: str,
                                                          tmp_path: Path) -> None:
    before = world.ledger.size()
    procs = [_spawn(db_url, world, tmp_path, f"P{n}-", 25) for n in range(8)]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0
        assert len(out.split()) == 25
    assert world.ledger.size() == before + 8 * 25
    seqs = [stored.seq for stored in world.ledger.store.iter_entries()]
    assert seqs == list(range(before + 200))
    report = world.ledger.verify()
    assert report.ok, report.findings[:3]
    check_tree_matches(world.ledger)


def test_a_writer_killed_mid_batch_loses_nothing_it_acknowledged(world: World, db_url: str,
                                                                 tmp_path: Path) -> None:
    acknowledged: list[str] = []
    for round_ in range(6):
        proc = _spawn(db_url, world, tmp_path, f"K{round_}-", 400)
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        # Let it acknowledge a few appends, then kill it without warning mid-stream.
        while len(acknowledged) < (round_ + 1) * 3 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line:
                acknowledged.append(line.strip())
        time.sleep(0.01 * round_)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        acknowledged.extend(line.strip() for line in out.splitlines())
    for lot in acknowledged:
        assert world.ledger.lot(lot).lot_id == lot
    report = world.ledger.verify()
    assert report.ok, report.findings[:3]
    check_tree_matches(world.ledger)


def test_threads_appending_concurrently_do_not_fork_the_chain(world: World) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def harvest(n: int) -> None:
        world.harvest(f"T-{n:04d}")

    before = world.ledger.size()
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(harvest, range(60)))
    assert world.ledger.size() == before + 60
    assert world.ledger.verify().ok


def test_reopening_a_ledger_keeps_its_history(db_url: str, world: World) -> None:
    world.harvest("BN-0001")
    size = world.ledger.size()
    again = Ledger.open(db_url)
    assert again.size() == size
    assert again.lot("BN-0001").quantity == world.ledger.lot("BN-0001").quantity
    again.close()
