"""Verification finds tampering made behind the application's back, at the entry touched."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from ledger.domain.encoding import canonical_bytes, entry_hash_of_bytes
from ledger.domain.merkle import leaf_hash, root_of_leaves
from ledger.domain.note import Checkpoint, NoteSigner, NoteVerifier
from ledger.errors import VerificationError
from ledger.keystore import generate_private_key
from ledger.service import Ledger, read_jsonl, run_verification
from tests.builders import FakeClock, World


def small_history(world: World) -> None:
    world.harvest("BN-0001", quantity="1000")
    world.harvest("BN-0002", quantity="500")
    world.transfer("BN-0001", "assoc-cachoeira", "coop")
    world.split("BN-0001", {"BN-0001-A": "600", "BN-0001-B": "400"}, by="coop")
    world.transfer("BN-0001-A", "coop", "processor")
    world.transform(["BN-0001-A"], [("K-0001", "brazil-nut-kernel", "220")], by="processor")
    world.adjust("BN-0002", "-12.5", by="assoc-cachoeira")


def drop_triggers(ledger: Ledger) -> None:
    with ledger.store.engine.begin() as connection:
        if ledger.store.is_sqlite:
            for name in ("entries_no_update", "entries_no_delete"):
                connection.execute(text(f"DROP TRIGGER {name}"))
        else:
            connection.execute(text("DROP TRIGGER entries_append_only ON entries"))


def test_an_honest_ledger_verifies(world: World) -> None:
    small_history(world)
    signer = NoteSigner(world.ledger.origin, generate_private_key())
    world.ledger.sign_checkpoint(signer)
    world.harvest("BN-0003")
    world.ledger.sign_checkpoint(signer)
    report = world.ledger.verify(NoteVerifier.from_vkey(signer.verifier_key()))
    assert report.ok, report.findings
    assert report.entries == world.ledger.size()
    assert report.checkpoints_checked == 2


def test_flipping_a_byte_of_an_entry_is_reported_at_that_entry(world: World) -> None:
    small_history(world)
    drop_triggers(world.ledger)
    target = 12
    body = world.ledger.store.entry(target).body
    index = body.index(b'"12.5"') if b'"12.5"' in body else len(body) // 2
    tampered = body[:index + 1] + b"9" + body[index + 2:]
    with world.ledger.store.engine.begin() as connection:
        connection.execute(text("UPDATE entries SET body = :b WHERE seq = :s"),
                           {"b": tampered, "s": target})
    report = world.ledger.verify()
    assert not report.ok
    assert target in {finding.seq for finding in report.findings}


def test_a_rewritten_entry_breaks_the_signed_checkpoint(world: World) -> None:
    small_history(world)
    signer = NoteSigner(world.ledger.origin, generate_private_key())
    world.ledger.sign_checkpoint(signer)
    drop_triggers(world.ledger)
    last = world.ledger.size() - 1
    stored = world.ledger.store.entry(last)
    with world.ledger.store.engine.begin() as connection:
        connection.execute(text("DELETE FROM entries WHERE seq = :s"), {"s": last})
    report = world.ledger.verify(NoteVerifier.from_vkey(signer.verifier_key()))
    rules = {finding.rule for finding in report.findings}
    assert "checkpoint_beyond_log" in rules and "log_head" in rules
    del stored


def test_verifying_an_exported_jsonl_file_gives_the_same_result(world: World,
                                                                tmp_path: Path) -> None:
    small_history(world)
    data = b"".join(world.ledger.export_jsonl())
    report = run_verification(read_jsonl(io.BytesIO(data)), [], workers=2)
    assert report.ok and report.entries == world.ledger.size()
    lines = data.splitlines(keepends=True)
    swapped = b"".join([*lines[:10], lines[11], lines[10], *lines[12:]])
    report = run_verification(read_jsonl(io.BytesIO(swapped)), [], workers=1)
    assert {10, 11} <= {finding.seq for finding in report.findings}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    url = f"sqlite:///{tmp_path_factory.mktemp('hist') / 'l.sqlite'}"
    clock = FakeClock()
    ledger = Ledger.open(url, clock=clock)
    world = World.with_chain(ledger, clock)
    small_history(world)
    lines = [line.rstrip(b"\n") for line in ledger.export_jsonl()]
    ledger.close()
    return lines


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_single_byte_change_is_reported_at_that_entry(exported: list[bytes],
                                                          data: st.DataObject) -> None:
    seq = data.draw(st.integers(0, len(exported) - 1))
    body = exported[seq]
    position = data.draw(st.integers(0, len(body) - 1))
    new_byte = data.draw(st.integers(0, 255).filter(lambda b: b != body[position]
                                                    and b not in (10, 13)))
    tampered = body[:position] + bytes([new_byte]) + body[position + 1:]
    lines = [*exported[:seq], tampered, *exported[seq + 1:]]
    # An auditor holds a signed checkpoint of the honest log: it pins the last entry too.
    honest_root = root_of_leaves([leaf_hash(entry_hash_of_bytes(line)) for line in exported])
    checkpoint = Checkpoint("trilha.test/log", len(exported), honest_root)
    report = run_verification(read_jsonl(lines), [checkpoint], workers=1)
    assert seq in {finding.seq for finding in report.findings}


def test_verification_state_on_disk_gives_the_same_findings(world: World,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    import ledger.service

    small_history(world)
    in_memory = world.ledger.verify(workers=1)
    monkeypatch.setattr(ledger.service, "SCRATCH_THRESHOLD", 0)
    on_disk = world.ledger.verify(workers=1)
    assert on_disk.ok and on_disk.entries == in_memory.entries
    assert on_disk.root_hash == in_memory.root_hash


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["set", "del", "get", "has", "len"]),
                          st.sampled_from([f"k{n}" for n in range(8)]), st.integers()),
                max_size=60))
def test_the_write_back_scratch_mapping_agrees_with_a_dict(
        operations: list[tuple[str, str, int]]) -> None:
    from ledger.storage.scratch import ScratchFile

    scratch = ScratchFile()
    try:
        _agrees_with_a_dict(scratch.mapping("lots", cache_size=2, flush_every=3), operations)
        # A saturated filter (64 bits) says "maybe" to everything: the file must answer.
        _agrees_with_a_dict(scratch.mapping("full", cache_size=2, flush_every=3,
                                            bloom_bits=64), operations)
    finally:
        scratch.close()


def _agrees_with_a_dict(mapping: MutableMapping[str, int],
                        operations: list[tuple[str, str, int]]) -> None:
    model: dict[str, int] = {}
    for op, key, value in operations:
        if op == "set":
            mapping[key] = model[key] = value
        elif op == "del" and key in model:
            del mapping[key]
            del model[key]
        elif op == "get":
            assert mapping.get(key) == model.get(key)
        elif op == "has":
            assert (key in mapping) == (key in model)
        else:
            assert len(mapping) == len(model)
    assert sorted(mapping) == sorted(model)
    assert {k: mapping[k] for k in mapping} == model


def test_the_bloom_filter_never_forgets_a_key() -> None:
    from ledger.storage.scratch import BloomFilter

    bloom = BloomFilter(1 << 12)
    keys = [f"event-{n}" for n in range(2000)]
    for key in keys[:1000]:
        bloom.add(key)
    assert all(key in bloom for key in keys[:1000])
    # Half full, it still rules out most keys it never saw (that is what it is for).
    assert sum(key in bloom for key in keys[1000:]) < 800
    with pytest.raises(ValueError, match="power of two"):
        BloomFilter(1000)


def test_scratch_mapping_behaves_like_a_dict() -> None:
    from ledger.storage.scratch import ScratchFile

    scratch = ScratchFile()
    try:
        mapping = scratch.mapping("lots", cache_size=2)
        for n in range(10):
            mapping[f"k{n}"] = {"n": n}
        assert mapping["k0"] == {"n": 0} and "k9" in mapping and "x" not in mapping
        mapping["k0"] = {"n": 100}
        assert mapping["k0"] == {"n": 100} and len(mapping) == 10
        del mapping["k1"]
        assert "k1" not in mapping and sorted(mapping)[:2] == ["k0", "k2"]
        with pytest.raises(KeyError):
            mapping["k1"]
    finally:
        scratch.close()


def test_without_an_operator_key_the_recorded_roots_are_still_compared(world: World) -> None:
    small_history(world)
    world.ledger.sign_checkpoint(NoteSigner("trilha.test/log", generate_private_key()))
    world.harvest("BN-0003")
    world.ledger.sign_checkpoint(NoteSigner("trilha.test/log", generate_private_key()))
    report = world.ledger.verify()
    assert report.ok and report.checkpoints_checked == 2
    # a recorded root changed behind the ledger's back (its append-only trigger dropped)
    with world.ledger.store.engine.begin() as connection:
        if world.ledger.store.is_sqlite:
            connection.execute(text("DROP TRIGGER checkpoints_no_update"))
        else:
            connection.execute(text("DROP TRIGGER checkpoints_append_only ON checkpoints"))
        size = connection.execute(text("SELECT min(size) FROM checkpoints")).scalar_one()
        connection.execute(text("UPDATE checkpoints SET root_hash = :r WHERE size = :s"),
                           {"r": b"\x01" * 32, "s": size})
    tampered = world.ledger.verify()
    assert [f.rule for f in tampered.findings] == ["checkpoint_root"]


def _rewritten(line: bytes, change: object) -> bytes:
    """The entry with ``change(document)`` applied, re-encoded canonically (so only the
    meaning differs: the bytes pass the canonical check)."""
    document = json.loads(line)
    change(document)  # type: ignore[operator]
    return canonical_bytes(document)


def _findings_at(lines: list[bytes], seq: int, workers: int) -> set[str]:
    report = run_verification(read_jsonl(lines), [], workers=workers)
    return {finding.rule for finding in report.findings if finding.seq == seq}


def _flip_signature(document: dict[str, Any]) -> None:
    signature = document["signed_event"]["signatures"][0]
    raw = bytearray(base64.b64decode(signature["signature"]))
    raw[5] ^= 1
    signature["signature"] = base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("workers", [1, 2])
def test_each_kind_of_damage_is_named_by_the_check_that_owns_it(exported: list[bytes],
                                                                workers: int) -> None:
    seq = 5
    cases: dict[str, object] = {
        # Byte level (worker): a signature that does not verify over the event digest.
        "signature_invalid": _flip_signature,
        # Schema level (main process): a signature that is not even base64.
        "validation_error": lambda d: d["signed_event"]["signatures"][0].update(
            signature="not base64!"),
        # Both: the schema's refusal comes first, as load_entry gives it.
        "validation_error ": lambda d: (_flip_signature(d),
                                        d["signed_event"]["event"].update(kind="lot.eaten")),
    }
    for rule, change in cases.items():
        lines = [*exported[:seq], _rewritten(exported[seq], change), *exported[seq + 1:]]
        found = _findings_at(lines, seq, workers)
        assert rule.strip() in found, (rule, found)
        assert "signature_invalid" not in found or rule == "signature_invalid"
    # Bytes that are not canonical are refused before any meaning is read.
    spaced = exported[seq].replace(b'{"appended_at"', b'{ "appended_at"', 1)
    lines = [*exported[:seq], spaced, *exported[seq + 1:]]
    assert "encoding_error" in _findings_at(lines, seq, workers)


def _drop_entry_and_node_triggers(world: World) -> None:
    with world.ledger.store.engine.begin() as connection:
        if world.ledger.store.is_sqlite:
            for name in ("merkle_nodes_no_update", "entries_no_update"):
                connection.execute(text(f"DROP TRIGGER {name}"))
        else:
            for name in ("merkle_nodes", "entries"):
                connection.execute(text(f"DROP TRIGGER {name}_append_only ON {name}"))


@pytest.mark.parametrize("changed", ["a leaf", "an inner node", "an entry's bytes"])
def test_no_checkpoint_is_signed_over_a_tree_the_entries_do_not_give(world: World,
                                                                      changed: str) -> None:
    """The signer (the server's own, every few seconds) extends the last signed tree with
    the bytes of the entries since; a node they made, or their bytes, changed behind its
    back make it refuse rather than sign a root trilha verify would reject or proofs that
    would not verify."""
    signer = NoteSigner(world.ledger.origin, generate_private_key())
    small_history(world)
    world.ledger.sign_checkpoint(signer)
    signed_size = world.ledger.size()
    for i in range(5):
        world.harvest(f"LATE-{i}")
    _drop_entry_and_node_triggers(world)
    with world.ledger.store.engine.begin() as connection:
        if changed == "an entry's bytes":
            body = world.ledger.store.entry(signed_size + 2).body
            connection.execute(text("UPDATE entries SET body = :b WHERE seq = :s"),
                               {"b": body.replace(b"LATE-2", b"LATE-9"), "s": signed_size + 2})
        else:
            level, idx = (0, signed_size + 1) if changed == "a leaf" else (1, signed_size // 2 + 1)
            connection.execute(text("UPDATE merkle_nodes SET hash = :h WHERE level = :l AND "
                                    "idx = :i"), {"h": b"\x07" * 32, "l": level, "i": idx})
    world.ledger.store.frontier = None
    before = world.ledger.store.checkpoint()
    with pytest.raises(VerificationError, match="nothing signed"):
        world.ledger.sign_checkpoint(signer)
    assert world.ledger.store.checkpoint() == before


def test_a_node_below_the_last_checkpoint_changed_does_not_move_the_signed_root(
        world: World) -> None:
    signer = NoteSigner(world.ledger.origin, generate_private_key())
    small_history(world)
    world.ledger.sign_checkpoint(signer)
    world.harvest("LATE-1")
    _drop_entry_and_node_triggers(world)
    with world.ledger.store.engine.begin() as connection:
        connection.execute(text("UPDATE merkle_nodes SET hash = :h WHERE level = 0 AND "
                                "idx = 0"), {"h": b"\x07" * 32})
    world.ledger.sign_checkpoint(signer)
    rebuilt = root_of_leaves([leaf_hash(s.entry_hash) for s in world.ledger.store.iter_entries()])
    latest = world.ledger.store.checkpoint()
    assert latest is not None and latest.root_hash == rebuilt


def test_the_signed_root_is_the_one_the_nodes_give_when_untouched(world: World) -> None:
    signer = NoteSigner(world.ledger.origin, generate_private_key())
    small_history(world)
    world.ledger.sign_checkpoint(signer)
    world.harvest("LATE-1")
    world.ledger.sign_checkpoint(signer)
    latest = world.ledger.store.checkpoint()
    assert latest is not None and latest.root_hash == world.ledger.root()
    assert world.ledger.verify(NoteVerifier.from_vkey(signer.verifier_key())).ok
