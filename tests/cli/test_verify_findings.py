"""verify and verify-bundle agree: a checkpoint they cannot trust is a finding naming it
and exit 10 in both; checkpoints of another origin, bundles with a repeated member name
and notes signed twice by one key are refused; a malformed key is bad input (exit 3)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from ledger.domain.note import Checkpoint, NoteSigner, sign_note
from ledger.keystore import generate_private_key
from ledger.storage.store import StoredCheckpoint
from tests.builders import World


@pytest.fixture
def chain(world: World, tmp_path: Path) -> tuple[World, NoteSigner, Path]:
    """A small chain, a good checkpoint of it, its export and the operator's vkey file."""
    signer = NoteSigner(world.ledger.origin, generate_private_key())
    world.harvest("BN-0001")
    world.transfer("BN-0001", "assoc-cachoeira", "coop")
    (tmp_path / "good.note").write_text(world.ledger.sign_checkpoint(signer))
    (tmp_path / "operator.vkey").write_text(signer.verifier_key())
    with (tmp_path / "log.jsonl").open("wb") as out:
        out.writelines(world.ledger.export_jsonl())
    return world, signer, tmp_path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["--json", *args], catch_exceptions=False)


def findings(result: Result) -> list[tuple[str, str]]:
    data = json.loads(result.stdout)
    return [(f.get("rule", ""), f.get("message", f.get("reason", ""))) for f in data["findings"]]


def bad_notes(world: World, signer: NoteSigner) -> dict[str, str]:
    """Checkpoint notes of the chain's own tree that must not be trusted, by rule."""
    size = world.ledger.size()
    body = Checkpoint(world.ledger.origin, size, world.ledger.root(size)).to_text()
    good = sign_note(body, [signer])
    head, value = good.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(value))
    raw[-1] ^= 1  # the operator's key id, a signature that does not verify
    forged = f"{head} {base64.b64encode(bytes(raw)).decode()}\n"
    return {
        "checkpoint_signature": forged,
        "checkpoint_origin": _same_key_other_origin(world, signer),
        "checkpoint_format": good.replace("\n\n", "\n\nnot a signature line\n", 1),
    }


def _same_key_other_origin(world: World, signer: NoteSigner) -> str:
    """A note the operator's key really signed (so the signature verifies under its
    vkey) whose checkpoint names another origin."""
    size = world.ledger.size()
    return sign_note(Checkpoint("elsewhere.example/log", size,
                                world.ledger.root(size)).to_text(), [signer])


@pytest.mark.parametrize("rule", ["checkpoint_signature", "checkpoint_origin",
                                  "checkpoint_format"])
def test_verify_jsonl_reports_an_untrusted_checkpoint_as_a_finding_exit_10(
        chain: tuple[World, NoteSigner, Path], rule: str) -> None:
    world, signer, tmp = chain
    (tmp / "bad.note").write_text(bad_notes(world, signer)[rule])
    result = invoke("verify", "--workers", "1", "--jsonl", str(tmp / "log.jsonl"),
                    "--vkey", str(tmp / "operator.vkey"), "--checkpoint", str(tmp / "good.note"),
                    "--checkpoint", str(tmp / "bad.note"))
    assert result.exit_code == 10, result.output
    [(found, message)] = findings(result)
    assert found == rule and "bad.note" in message
    assert json.loads(result.stdout)["checkpoints_checked"] == 1  # the good one still counts


@pytest.mark.parametrize("rule", ["checkpoint_signature", "checkpoint_origin"])
def test_verify_on_the_database_names_the_checkpoint_and_its_rule(
        chain: tuple[World, NoteSigner, Path], rule: str, db_url: str) -> None:
    world, signer, tmp = chain
    world.harvest("BN-0002")  # a second tree size, so the bad note is stored beside the good
    size = world.ledger.size()
    note = bad_notes(world, signer)[rule]
    world.ledger.store.add_checkpoint(StoredCheckpoint(size, world.ledger.root(size), note,
                                                       "2025-01-07T00:00:00Z"))
    result = invoke("--db", db_url, "verify", "--workers", "1", "--vkey",
                    str(tmp / "operator.vkey"))
    assert result.exit_code == 10, result.output
    [(found, message)] = findings(result)
    assert found == rule and f"checkpoint of size {size}" in message


def test_verify_bundle_gives_the_same_exit_and_a_finding_for_a_bad_checkpoint(
        chain: tuple[World, NoteSigner, Path], db_url: str) -> None:
    world, signer, tmp = chain
    made = invoke("--db", db_url, "bundle", "BN-0001", "-o", str(tmp / "b.json"))
    assert made.exit_code == 0, made.output
    assert invoke("verify-bundle", str(tmp / "b.json"), "--vkey",
                  str(tmp / "operator.vkey")).exit_code == 0
    bundle = json.loads((tmp / "b.json").read_text())
    bundle["checkpoint"] = bad_notes(world, signer)["checkpoint_signature"]
    (tmp / "b.json").write_text(json.dumps(bundle))
    result = invoke("verify-bundle", str(tmp / "b.json"), "--vkey", str(tmp / "operator.vkey"))
    assert result.exit_code == 10, result.output
    [(_, reason)] = findings(result)
    assert "checkpoint" in reason


def test_verify_bundle_refuses_a_repeated_member_name_with_a_finding(
        chain: tuple[World, NoteSigner, Path], db_url: str) -> None:
    _, _, tmp = chain
    assert invoke("--db", db_url, "bundle", "BN-0001", "-o", str(tmp / "b.json")).exit_code == 0
    text = (tmp / "b.json").read_text()
    # A second "lot" member: one parser reads BN-0001, another OTHER-9.
    (tmp / "dup.json").write_text(text.replace('"lot": "BN-0001"',
                                               '"lot": "BN-0001", "lot": "OTHER-9"', 1))
    result = invoke("verify-bundle", str(tmp / "dup.json"), "--vkey",
                    str(tmp / "operator.vkey"))
    assert result.exit_code == 10, result.output
    [(_, reason)] = findings(result)
    assert reason == "[strict_json] bundle: duplicate key 'lot'"
    (tmp / "nan.json").write_text(text.replace('"lot": "BN-0001"', '"lot": NaN', 1))
    assert invoke("verify-bundle", str(tmp / "nan.json"), "--vkey",
                  str(tmp / "operator.vkey")).exit_code == 10
    for junk in (text[:-20], "[" * 100_000 + "]" * 100_000):  # not JSON; too deep to parse
        (tmp / "junk.json").write_text(junk)
        assert invoke("verify-bundle", str(tmp / "junk.json"), "--vkey",
                      str(tmp / "operator.vkey")).exit_code == 3


def test_a_malformed_verifier_key_is_bad_input_for_both(
        chain: tuple[World, NoteSigner, Path], db_url: str) -> None:
    _, signer, tmp = chain
    assert invoke("--db", db_url, "bundle", "BN-0001", "-o", str(tmp / "b.json")).exit_code == 0
    broken = signer.verifier_key()[:-4] + "AAAA"  # the key id no longer matches the key
    assert invoke("verify-bundle", str(tmp / "b.json"), "--vkey", broken).exit_code == 3
    assert invoke("verify", "--jsonl", str(tmp / "log.jsonl"), "--vkey", broken).exit_code == 3
