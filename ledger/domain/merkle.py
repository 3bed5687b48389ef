"""RFC 6962 / RFC 9162 Merkle trees: hashing, proofs from stored nodes, and verification.

Storage keeps only complete-subtree nodes: node ``(level, index)`` is the root of the
complete subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 holds
the leaf hashes. Any RFC 6962 subtree is either such a node or a right-edge subtree
whose hash folds its power-of-two decomposition, so a proof needs O(log n) nodes, which
are read in one batch. Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Mapping, Sequence
from typing import Final, Protocol

from ledger.errors import VerificationError

NodeKey = tuple[int, int]
HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()


class NodeReader(Protocol):
    def read_nodes(self, keys: Collection[NodeKey]) -> Mapping[NodeKey, bytes]: ...


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_below(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_keys(start: int, end: int) -> list[NodeKey]:
    """Aligned complete nodes covering [start, end), largest first."""
    keys: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Right fold H(h0, H(h1, ... hk)): the RFC 6962 hash of a right-edge subtree."""
    result = hashes[-1]
    for digest in reversed(hashes[:-1]):
        result = node_hash(digest, result)
    return result


def _read_many(reader: NodeReader,
               groups: Sequence[Sequence[tuple[int, int]]]) -> list[list[bytes]]:
    """The hash of every range of every group, from one batched read of stored nodes."""
    needed = {key for ranges in groups for start, end in ranges
              for key in _range_keys(start, end)}
    nodes = reader.read_nodes(needed)
    missing = needed - nodes.keys()
    if missing:
        raise VerificationError(f"merkle: {len(missing)} stored nodes are missing, e.g. "
                                f"{sorted(missing)[0]}")
    return [[_fold([nodes[key] for key in _range_keys(start, end)]) for start, end in ranges]
            for ranges in groups]


def _read(reader: NodeReader, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    return _read_many(reader, [ranges])[0]


def frontier_keys(size: int) -> list[NodeKey]:
    return _range_keys(0, size)


def root_from_reader(size: int, reader: NodeReader) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return _read(reader, [(0, size)])[0]


def root_of_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """The root over leaf hashes, computed from scratch (tests, small bundles)."""
    tree = CompactRange.empty()
    for digest in leaf_hashes:
        tree.append(digest)
    return tree.root()


class CompactRange:
    """The right frontier of a tree: the roots of its power-of-two decomposition."""

    __slots__ = ("_hashes", "size")

    def __init__(self, size: int, hashes: list[bytes]) -> None:
        self.size = size
        self._hashes = hashes  # largest subtree first, one per set bit of size

    @classmethod
    def empty(cls) -> CompactRange:
        return cls(0, [])

    @classmethod
    def from_reader(cls, size: int, reader: NodeReader) -> CompactRange:
        keys = frontier_keys(size)
        nodes = reader.read_nodes(keys)
        try:
            return cls(size, [nodes[key] for key in keys])
        except KeyError as exc:
            raise VerificationError(f"merkle: frontier node {exc.args[0]} is missing") from exc

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return every complete node it creates, the leaf included."""
        index = self.size
        created = [(0, index, leaf)]
        digest = leaf
        level = 0
        while (index >> level) & 1:  # merge with the equal-sized subtree to the left
            digest = node_hash(self._hashes.pop(), digest)
            level += 1
            created.append((level, index >> level, digest))
        self._hashes.append(digest)
        self.size += 1
        return created

    def root(self) -> bytes:
        return _fold(self._hashes) if self._hashes else EMPTY_ROOT

    def hashes(self) -> list[bytes]:
        """A copy of the frontier hashes, largest subtree first."""
        return list(self._hashes)


def _path(index: int, start: int, end: int) -> list[tuple[int, int]]:
    if end - start == 1:
        return []
    k = _largest_power_below(end - start)
    if index < start + k:
        return [*_path(index, start, start + k), (start + k, end)]
    return [*_path(index, start + k, end), (start, start + k)]


def _subproof(m: int, start: int, end: int, whole: bool) -> list[tuple[int, int]]:
    if m == end - start:
        return [] if whole else [(start, end)]
    k = _largest_power_below(end - start)
    if m <= k:
        return [*_subproof(m, start, start + k, whole), (start + k, end)]
    return [*_subproof(m - k, start + k, end, False), (start, start + k)]


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    if not 0 <= index < size:
        raise VerificationError(f"inclusion: expected index below {size}, got {index}")
    return _read(reader, _path(index, 0, size))


def inclusion_proofs(indices: Sequence[int], size: int,
                     reader: NodeReader) -> dict[int, list[bytes]]:
    """Inclusion proofs of many leaves in one tree, sharing one batched read of nodes."""
    for index in indices:
        if not 0 <= index < size:
            raise VerificationError(f"inclusion: expected index below {size}, got {index}")
    ordered = sorted(set(indices))
    paths = _read_many(reader, [_path(index, 0, size) for index in ordered])
    return dict(zip(ordered, paths, strict=True))


def consistency_proof(old_size: int, new_size: int, reader: NodeReader) -> list[bytes]:
    if not 0 <= old_size <= new_size:
        raise VerificationError(f"consistency: expected 0 <= old <= new, got {old_size} and "
                                f"{new_size}")
    if old_size in (0, new_size):
        return []
    return _read(reader, _subproof(old_size, 0, new_size, True))


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{what}: expected {HASH_SIZE} bytes, got {len(value)}")


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> None:
    _check_hash(leaf, "leaf hash")
    _check_hash(root, "root")
    for position, item in enumerate(proof):
        _check_hash(item, f"proof[{position}]")
    if not 0 <= index < size:
        raise VerificationError(f"inclusion: expected index below {size}, got {index}")
    fn, sn, digest = index, size - 1, leaf
    for item in proof:
        if sn == 0:
            raise VerificationError("inclusion: proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            digest = node_hash(item, digest)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            digest = node_hash(digest, item)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion: proof is shorter than the tree is deep")
    if not hmac.compare_digest(digest, root):
        raise VerificationError("inclusion: computed root does not match")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    # The order of checks follows transparency-dev/merkle, whose vectors pin it down.
    if old_size > new_size:
        raise VerificationError(f"consistency: old size {old_size} is above new size "
                                f"{new_size}")
    if old_size < 1:
        raise VerificationError(f"consistency: expected an old size of at least 1, got "
                                f"{old_size}")
    if old_size == new_size:
        if proof:
            raise VerificationError("consistency: expected an empty proof for equal sizes")
        if not hmac.compare_digest(old_root, new_root):
            raise VerificationError("consistency: equal sizes but different roots")
        return
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    for position, item in enumerate(proof):
        _check_hash(item, f"proof[{position}]")
    if not proof:
        raise VerificationError("consistency: empty proof for different sizes")
    items = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new
        items.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = items[0]
    for item in items[1:]:
        if sn == 0:
            raise VerificationError("consistency: proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(item, fr)
            sr = node_hash(item, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, item)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency: proof is too short")
    if not hmac.compare_digest(fr, old_root):
        raise VerificationError("consistency: old root does not match")
    if not hmac.compare_digest(sr, new_root):
        raise VerificationError("consistency: new root does not match")
