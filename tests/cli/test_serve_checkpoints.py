"""Real servers sign their own checkpoints: ``trilha serve``, and gunicorn with several
workers on one database (one signer at a time across them)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger.domain.note import Checkpoint, NoteSigner, NoteVerifier, open_note
from ledger.service import Ledger
from tests.builders import World
from tests.cli.conftest import Invoke, env_with
from tests.cli.test_commands import HARVEST, setup_chain


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_until(predicate: object, seconds: float) -> float:
    """Seconds it took until ``predicate()`` held (fails the test after ``seconds``)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if predicate():  # type: ignore[operator]
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


def tree_size(base: str) -> int:
    status, note = get(f"{base}/api/v1/checkpoint")
    return int(note.split("\n")[1]) if status == 200 else -1


@contextmanager
def server(args: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    """A server process, its standard error written to ``log`` (a pipe could fill up)."""
    with log.open("w") as errors:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_serve_signs_new_entries_within_the_interval(trilha_bin: str, run: Invoke,
                                                     cli_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    setup_chain(run)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**env_with(cli_env), "TRILHA_CHECKPOINT_INTERVAL_S": "0.3"}
    with server([trilha_bin, "serve", "--port", str(port)], env, tmp_path / "serve.log"):
        wait_until(lambda: get(f"{base}/")[0] == 200, 30)
        ledger = Ledger.open(cli_env["TRILHA_DATABASE_URL"])
        try:
            wait_until(lambda: tree_size(base) == ledger.size(), 5)  # the actors added
            assert run(*HARVEST).exit_code == 0  # another process appends, not the server
            took = wait_until(lambda: tree_size(base) == ledger.size(), 5)
            status, _ = get(f"{base}/lots/BN-1/bundle.json")
            # An operator may still sign by hand: it waits for the server's signer lock.
            assert run("checkpoint", "sign").exit_code == 0
        finally:
            ledger.close()
    assert took < 0.3 + 0.5 and status == 200
    assert "checkpointer" not in (tmp_path / "serve.log").read_text()  # no warning


def test_serve_without_an_operator_key_says_so_once_and_pages_wait(
        trilha_bin: str, run: Invoke, cli_env: dict[str, str], tmp_path: Path) -> None:
    setup_chain(run)
    assert run(*HARVEST).exit_code == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in env_with(cli_env).items() if k != "TRILHA_PASSPHRASE"}
    env["TRILHA_CHECKPOINT_INTERVAL_S"] = "0.1"
    log = tmp_path / "serve.log"
    with server([trilha_bin, "serve", "--port", str(port)], env, log):
        wait_until(lambda: get(f"{base}/")[0] == 200, 30)
        time.sleep(0.5)
        status, html = get(f"{base}/lots/BN-1?lang=en")
        bundle_status, bundle = get(f"{base}/lots/BN-1/bundle.json")
    assert log.read_text().count("checkpointer: no operator key on this server") == 1
    assert status == 200 and "badge-waiting" in html and "badge-failed" not in html
    assert bundle_status == 409 and json.loads(bundle)["error"] == "awaiting_checkpoint"


def test_serve_refuses_a_bad_interval_in_one_line(trilha_bin: str,
                                                  cli_env: dict[str, str]) -> None:
    env = {**env_with(cli_env), "TRILHA_CHECKPOINT_INTERVAL_S": "0"}
    done = subprocess.run([trilha_bin, "serve", "--port", str(free_port())], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 9 and "Traceback" not in done.stderr
    assert done.stderr == ("error: TRILHA_CHECKPOINT_INTERVAL_S: expected a number of "
                           "seconds > 0, got '0'; refusing to start\n")


GUNICORN = shutil.which("gunicorn", path=str(Path(sys.executable).parent))


def test_gunicorn_workers_sign_one_checkpoint_at_a_time(db_url: str, world: World,
                                                        tmp_path: Path) -> None:
    """Three workers, each with its own checkpointer, while the log grows: every size
    signed once, by the operator key, and no worker ever failed to store one."""
    assert GUNICORN is not None, "gunicorn is a test dependency: pip install -e '.[test]'"
    from ledger.accounts import Accounts

    accounts = Accounts(world.ledger, b"gunicorn-test", log2_n=10)
    accounts.create("operator", "correct horse battery", "operator", actor_id="operator",
                    private_key=world.signers["operator"].private_key)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = env_with({"TRILHA_DATABASE_URL": db_url, "TRILHA_KEY_PASSPHRASE": "gunicorn-test",
                    "TRILHA_CHECKPOINT_INTERVAL_S": "0.2", "PYTHONPATH": str(
                        Path(__file__).parents[2])})
    assert GUNICORN is not None
    log = tmp_path / "gunicorn.log"
    # With --preload the app is made before the fork: its workers must still each start
    # a checkpointer of their own (one backend each way, to keep the test short).
    preload = ["--preload"] if world.ledger.store.is_sqlite else []
    with server([GUNICORN, "--workers", "3", *preload, "--bind", f"127.0.0.1:{port}",
                 "web:create_app()"], env, log):
        wait_until(lambda: get(f"{base}/api/v1/checkpoint")[0] in (200, 404), 60)
        for _ in range(15):  # reach the workers, so that each starts its checkpointer
            get(f"{base}/api/v1/checkpoint")
        deadline, n = time.monotonic() + 1.0, 0
        while time.monotonic() < deadline:
            world.harvest(f"G-{n:04d}")
            n += 1
            if n % 10 == 0:
                get(f"{base}/")
        wait_until(lambda: tree_size(base) == world.ledger.size(), 5)
    assert "checkpointer" not in log.read_text()  # no failed signing, no missing key
    verifier = NoteVerifier.from_vkey(NoteSigner(
        world.ledger.origin, world.signers["operator"].private_key).verifier_key())
    sizes = []
    for stored in world.ledger.store.checkpoints():
        checkpoint = Checkpoint.from_text(open_note(stored.note, [verifier]).body)
        assert checkpoint.root_hash == world.ledger.root(stored.size)
        sizes.append(stored.size)
    assert len(sizes) >= 3 and sizes[-1] == world.ledger.size()
