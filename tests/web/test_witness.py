"""A witness cosigns consistent checkpoints and raises the alarm on forks and rollbacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from ledger.domain.note import Checkpoint, NoteSigner, cosigner_vkey
from ledger.keystore import encrypt_private_key, generate_private_key
from ledger.witness import Seen, WitnessAlarm, check_new_checkpoint
from tests.builders import World

NAME = "witness.example/w1"


@pytest.fixture
def setup(world: World, app: Any, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> tuple[World, NoteSigner, Path]:
    operator = NoteSigner(world.ledger.origin, generate_private_key())
    key = generate_private_key()
    (tmp_path / "witness.pem").write_bytes(encrypt_private_key(key, b"pw"))
    monkeypatch.setenv("TRILHA_PASSPHRASE", "pw")
    app.config["WITNESS_VKEYS"] = [cosigner_vkey(NAME, key)]
    world.harvest("BN-1")
    world.ledger.sign_checkpoint(operator)
    return world, operator, tmp_path


def run_witness(url: str, operator: NoteSigner, tmp: Path) -> Result:
    return CliRunner().invoke(cli, ["--json", "witness", "--log", url, "--vkey",
                                    operator.verifier_key(), "--name", NAME, "--key",
                                    str(tmp / "witness.pem"), "--state",
                                    str(tmp / "state.json")])


def test_consistent_checkpoints_are_cosigned_and_posted(
        setup: tuple[World, NoteSigner, Path], live_server: str) -> None:
    world, operator, tmp = setup
    first = run_witness(live_server, operator, tmp)
    assert first.exit_code == 0, first.output
    size = world.ledger.size()
    assert world.ledger.store.cosignatures(size)[0][0] == NAME
    world.harvest("BN-2")
    world.ledger.sign_checkpoint(operator)
    second = run_witness(live_server, operator, tmp)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["previous_size"] == size


def _remember(tmp: Path, origin: str, size: int, root: bytes) -> None:
    (tmp / "state.json").write_text(json.dumps({origin: {"size": size, "root": root.hex()}}))


def test_a_log_that_went_backwards_raises_the_alarm(
        setup: tuple[World, NoteSigner, Path], live_server: str) -> None:
    world, operator, tmp = setup
    _remember(tmp, world.ledger.origin, world.ledger.size() + 5, bytes(32))
    result = run_witness(live_server, operator, tmp)
    assert result.exit_code == 8 and "rollback" in result.stderr
    assert f"size {world.ledger.size() + 5}" in result.stderr


def test_a_rewritten_history_raises_the_alarm(
        setup: tuple[World, NoteSigner, Path], live_server: str) -> None:
    world, operator, tmp = setup
    # The witness saw, at an earlier size, a root this log cannot prove it extends.
    _remember(tmp, world.ledger.origin, 3, bytes([7]) * 32)
    result = run_witness(live_server, operator, tmp)
    assert result.exit_code == 8 and "fork or rewritten history" in result.stderr
    _remember(tmp, world.ledger.origin, world.ledger.size(), bytes([7]) * 32)
    same_size = run_witness(live_server, operator, tmp)
    assert same_size.exit_code == 8 and "fork: two roots for one size" in same_size.stderr


def test_the_decision_is_pure() -> None:
    new = Checkpoint("log", 10, bytes(32))
    check_new_checkpoint(None, new, lambda old, size: [])
    with pytest.raises(WitnessAlarm, match="rollback"):
        check_new_checkpoint(Seen(11, bytes(32)), new, lambda old, size: [])
    with pytest.raises(WitnessAlarm, match="rewritten"):
        check_new_checkpoint(Seen(4, bytes(32)), new, lambda old, size: [bytes(32)])


def test_cosignatures_from_unknown_witnesses_are_refused(
        setup: tuple[World, NoteSigner, Path], client: Any) -> None:
    world, _, _ = setup
    answer = client.post(f"/api/v1/checkpoints/{world.ledger.size()}/cosignatures",
                         data="\u2014 stranger AAAA\n")
    assert answer.status_code == 422 and answer.get_json()["field"] == "cosignature"
