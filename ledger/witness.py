"""A witness: remembers every log's checkpoints, checks each new one is consistent with the
last, cosigns it, and raises the alarm on a fork, a rollback or an invalid proof.

The pure decision (:func:`check_new_checkpoint`) is separate from fetching (done by the
caller over HTTP) so that it is tested on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger.domain.encoding import digests_equal
from ledger.domain.merkle import verify_consistency
from ledger.domain.note import Checkpoint
from ledger.errors import LedgerError, VerificationError


class WitnessAlarm(VerificationError):
    """The log showed two histories (fork), went backwards, or proved nothing."""

    code = "witness_alarm"


@dataclass(frozen=True, slots=True)
class Seen:
    size: int
    root_hash: bytes


def check_new_checkpoint(previous: Seen | None, new: Checkpoint,
                         fetch_proof: Callable[[int, int], Sequence[bytes]]) -> None:
    """Raise :class:`WitnessAlarm` unless ``new`` extends what the witness saw before."""
    if previous is None or previous.size == 0:
        return
    seen = f"size {previous.size} root {previous.root_hash.hex()}"
    got = f"size {new.size} root {new.root_hash.hex()}"
    if new.size < previous.size:
        raise WitnessAlarm(f"rollback: the log went back from {seen} to {got}")
    if new.size == previous.size:
        if not digests_equal(new.root_hash, previous.root_hash):
            raise WitnessAlarm(f"fork: two roots for one size: {seen} and {got}")
        return
    try:
        proof = fetch_proof(previous.size, new.size)
        verify_consistency(previous.size, new.size, previous.root_hash, new.root_hash, proof)
    except LedgerError as exc:
        raise WitnessAlarm(f"fork or rewritten history: no valid consistency proof from "
                           f"{seen} to {got} ({exc.message})") from exc


class WitnessState:
    """The last checkpoint seen per log origin, kept in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, origin: str) -> Seen | None:
        if not self.path.exists():
            return None
        entry = json.loads(self.path.read_text(encoding="utf-8")).get(origin)
        return None if entry is None else Seen(entry["size"], bytes.fromhex(entry["root"]))

    def save(self, origin: str, seen: Seen) -> None:
        data = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        data[origin] = {"size": seen.size, "root": seen.root_hash.hex()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        temporary.replace(self.path)
