"""RFC 6962 / 9162 Merkle trees: the public vectors, and proofs built from stored nodes."""

from __future__ import annotations

import base64
import math
from collections.abc import Collection, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.merkle import (
    EMPTY_ROOT,
    CompactRange,
    NodeKey,
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    leaf_hash,
    root_from_reader,
    root_of_leaves,
    verify_consistency,
    verify_inclusion,
)
from ledger.errors import VerificationError
from tests.vectors import VECTORS, files, load_json


class DictReader:
    """An in-memory node store that counts what proofs read."""

    def __init__(self) -> None:
        self.nodes: dict[NodeKey, bytes] = {}
        self.reads: list[int] = []

    def read_nodes(self, keys: Collection[NodeKey]) -> Mapping[NodeKey, bytes]:
        self.reads.append(len(keys))
        return {key: self.nodes[key] for key in keys if key in self.nodes}


def build(leaves: list[bytes]) -> tuple[DictReader, list[bytes]]:
    reader, tree, hashes = DictReader(), CompactRange.empty(), []
    for data in leaves:
        digest = leaf_hash(data)
        hashes.append(digest)
        for level, index, node in tree.append(digest):
            reader.nodes[(level, index)] = node
    return reader, hashes


def b64(text: str) -> bytes:
    return base64.b64decode(text)


INCLUSION = [p for p in files("merkle/inclusion")]
CONSISTENCY = [p for p in files("merkle/consistency")]


@pytest.mark.parametrize("path", INCLUSION, ids=lambda p: str(p.relative_to(VECTORS)))
def test_transparency_dev_inclusion_vectors(path: object) -> None:
    case = load_json(str(path.relative_to(VECTORS)))  # type: ignore[attr-defined]
    args = (b64(case["leafHash"]), case["leafIdx"], case["treeSize"],
            [b64(p) for p in case["proof"] or []], b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=lambda p: str(p.relative_to(VECTORS)))
def test_transparency_dev_consistency_vectors(path: object) -> None:
    case = load_json(str(path.relative_to(VECTORS)))  # type: ignore[attr-defined]
    args = (case["size1"], case["size2"], b64(case["root1"]), b64(case["root2"]),
            [b64(p) for p in case["proof"] or []])
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


REFERENCE = load_json("merkle/reference-proofs.json")
LEAVES = [bytes.fromhex(h) for h in REFERENCE["leaf_inputs_hex"]]


def test_roots_of_the_reference_tree() -> None:
    tree = load_json("merkle/reference-tree.json")
    for size, root in enumerate(tree["root_hex_by_size"]):
        reader, hashes = build(LEAVES[:size])
        assert root_of_leaves(hashes).hex() == root
        assert root_from_reader(size, reader).hex() == root
    assert root_of_leaves([]) == EMPTY_ROOT


@pytest.mark.parametrize("case", REFERENCE["all_inclusion_proofs"],
                         ids=lambda c: f"{c['leaf_index']}-of-{c['tree_size']}")
def test_generated_inclusion_proofs_match_rfc6962(case: dict[str, object]) -> None:
    reader, _ = build(LEAVES)
    proof = inclusion_proof(case["leaf_index"], case["tree_size"], reader)  # type: ignore[arg-type]
    assert [p.hex() for p in proof] == case["proof_hex"]


@pytest.mark.parametrize("case", REFERENCE["all_consistency_proofs"],
                         ids=lambda c: f"{c['size1']}-to-{c['size2']}")
def test_generated_consistency_proofs_match_rfc6962(case: dict[str, object]) -> None:
    reader, _ = build(LEAVES)
    proof = consistency_proof(case["size1"], case["size2"], reader)  # type: ignore[arg-type]
    assert [p.hex() for p in proof] == case["proof_hex"]


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 300), data=st.data())
def test_proofs_from_stored_nodes_verify_and_flips_are_caught(size: int,
                                                              data: st.DataObject) -> None:
    reader, hashes = build([i.to_bytes(4, "big") for i in range(size)])
    root = root_from_reader(size, reader)
    assert root == root_of_leaves(hashes)
    index = data.draw(st.integers(0, size - 1))
    reader.reads.clear()
    proof = inclusion_proof(index, size, reader)
    assert len(reader.reads) == 1 and reader.reads[0] <= 2 * math.ceil(math.log2(size + 1)) + 2
    verify_inclusion(hashes[index], index, size, proof, root)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        flipped = [*proof[:at], bytes([proof[at][0] ^ 1]) + proof[at][1:], *proof[at + 1:]]
        with pytest.raises(VerificationError):
            verify_inclusion(hashes[index], index, size, flipped, root)
        with pytest.raises(VerificationError):
            verify_inclusion(hashes[index], index, size, proof[:-1], root)
    if size > 1:
        with pytest.raises(VerificationError):
            verify_inclusion(hashes[index], (index + 1) % size, size, proof, root)
    old = data.draw(st.integers(1, size))
    old_root = root_of_leaves(hashes[:old])
    verify_consistency(old, size, old_root, root, consistency_proof(old, size, reader))
    if old < size:
        with pytest.raises(VerificationError):
            wrong = bytes([old_root[0] ^ 1]) + old_root[1:]
            verify_consistency(old, size, wrong, root, consistency_proof(old, size, reader))


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 400), data=st.data())
def test_batched_inclusion_proofs_equal_single_ones_from_one_read(size: int,
                                                                  data: st.DataObject) -> None:
    reader, _ = build([i.to_bytes(4, "big") for i in range(size)])
    indices = data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=50))
    reader.reads.clear()
    proofs = inclusion_proofs(indices, size, reader)
    assert len(reader.reads) == 1 and set(proofs) == set(indices)
    for index in indices:
        assert proofs[index] == inclusion_proof(index, size, reader)
    with pytest.raises(VerificationError):
        inclusion_proofs([size], size, reader)


def test_a_missing_stored_node_is_an_error_not_a_wrong_root() -> None:
    reader, _ = build([b"a", b"b", b"c"])
    del reader.nodes[(1, 0)]
    with pytest.raises(VerificationError, match="missing"):
        root_from_reader(3, reader)
