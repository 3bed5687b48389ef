"""Proof bundles verify offline, and every kind of tampering is refused with its reason."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.bundle import build_bundle, verify_bundle
from ledger.checkpointer import AwaitingCheckpoint
from ledger.domain.note import NoteSigner
from ledger.keystore import generate_private_key
from tests.builders import World

Bundle = dict[str, Any]


@pytest.fixture
def signed(world: World) -> tuple[World, NoteSigner]:
    signer = NoteSigner(world.ledger.origin, generate_private_key())
    world.harvest("BN-0001", quantity="1000")
    world.harvest("BN-0002", quantity="500")
    world.transfer("BN-0001", "assoc-cachoeira", "coop")
    world.transfer("BN-0002", "assoc-cachoeira", "coop")
    world.merge(["BN-0001", "BN-0002"], "BN-M1", "1500", by="coop")
    world.split("BN-M1", {"BN-M1-A": "1000", "BN-M1-B": "500"}, by="coop")
    world.transfer("BN-M1-A", "coop", "processor")
    world.transform(["BN-M1-A"], [("K-1", "brazil-nut-kernel", "380")], by="processor")
    world.harvest("OTHER-1")  # unrelated: must not be in K-1's bundle
    world.ledger.sign_checkpoint(signer)
    return world, signer


def test_a_bundle_verifies_with_nothing_but_the_operator_key(
        signed: tuple[World, NoteSigner]) -> None:
    world, signer = signed
    bundle = build_bundle(world.ledger, "K-1")
    report = verify_bundle(json.loads(json.dumps(bundle)), signer.verifier_key())
    assert report.ok, report.findings
    texts = " ".join(item["entry"] for item in bundle["entries"])
    assert "BN-0001" in texts and "OTHER-1" not in texts


def test_a_bundle_needs_a_checkpoint_covering_the_history(world: World) -> None:
    world.harvest("BN-0001")
    with pytest.raises(AwaitingCheckpoint, match="checkpoint sign"):
        build_bundle(world.ledger, "BN-0001")


def _edit_entry(bundle: Bundle, needle: str, old: str, new: str) -> None:
    item = next(i for i in bundle["entries"] if needle in i["entry"])
    item["entry"] = item["entry"].replace(old, new, 1)


TAMPERING: dict[str, Callable[[Bundle], None]] = {
    "quantity": lambda b: _edit_entry(b, '"lot.harvested"', '"1000"', '"2000"'),
    "price": lambda b: _edit_entry(b, '"lot.dispatched"', '"amount":36600', '"amount":46600'),
    "split amount": lambda b: _edit_entry(b, '"lot.dispatched"', '"amount":25620',
                                          '"amount":25621'),
    "signature": lambda b: _edit_entry(b, '"lot.split"', '"signature":"', '"signature":"A'),
    "entry seq": lambda b: b["entries"][-1].update(seq=b["entries"][-1]["seq"] + 1),
    "prev link": lambda b: _edit_entry(b, '"lot.split"', '"prev":"', '"prev":"0'),
    "proof hash": lambda b: b["entries"][3].update(
        proof=["00" * 32, *b["entries"][3]["proof"][1:]]),
    "checkpoint root": lambda b: b.update(checkpoint=b["checkpoint"].replace("\n", "\nx", 1)),
    "dropped entry": lambda b: b["entries"].pop(len(b["entries"]) // 2),
    "reordered entries": lambda b: b["entries"].reverse(),
}


# The reason each kind of tampering must be refused for.
REASONS = {
    "quantity": "inclusion", "price": "inclusion", "split amount": "inclusion",
    "proof hash": "inclusion", "signature": "signature", "entry seq": "seq",
    "prev link": "prev", "checkpoint root": "checkpoint", "reordered entries": "out of order",
    "dropped entry": "[lot_chain]",  # the next entry of that lot names the dropped one
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_tampered_bundles_are_refused_for_the_right_reason(
        signed: tuple[World, NoteSigner], kind: str) -> None:
    world, signer = signed
    bundle = copy.deepcopy(build_bundle(world.ledger, "K-1"))
    TAMPERING[kind](bundle)
    report = verify_bundle(bundle, signer.verifier_key())
    assert not report.ok
    assert any(REASONS[kind] in finding.reason for finding in report.findings), \
        [f.reason for f in report.findings]


def test_a_wrong_operator_key_or_another_checkpoint_is_refused(
        signed: tuple[World, NoteSigner]) -> None:
    world, signer = signed
    bundle = build_bundle(world.ledger, "K-1")
    stranger = NoteSigner(world.ledger.origin, generate_private_key())
    report = verify_bundle(bundle, stranger.verifier_key())
    assert not report.ok and "no signature by a trusted key" in report.findings[0].reason
    world.harvest("LATER-1")
    world.ledger.sign_checkpoint(signer)
    newer = build_bundle(world.ledger, "K-1")
    mixed = {**bundle, "checkpoint": newer["checkpoint"]}  # proofs for another tree size
    report = verify_bundle(mixed, signer.verifier_key())
    assert not report.ok and any("inclusion" in f.reason for f in report.findings)


def test_bundle_and_verify_bundle_commands(signed: tuple[World, NoteSigner], db_url: str,
                                          tmp_path: Path) -> None:
    _, signer = signed
    runner = CliRunner()
    out = tmp_path / "k1.json"
    made = runner.invoke(cli, ["--db", db_url, "bundle", "K-1", "-o", str(out)])
    assert made.exit_code == 0, made.output
    (tmp_path / "operator.vkey").write_text(signer.verifier_key())
    good = runner.invoke(cli, ["verify-bundle", str(out), "--vkey",
                               str(tmp_path / "operator.vkey")])
    assert good.exit_code == 0 and "OK" in good.stdout
    data = json.loads(out.read_text())
    TAMPERING["quantity"](data)
    out.write_text(json.dumps(data))
    bad = runner.invoke(cli, ["verify-bundle", str(out), "--vkey", signer.verifier_key()])
    assert bad.exit_code == 10 and "entry" in bad.stdout
