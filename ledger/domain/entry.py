"""Log entries: a signed event sequenced by the log, hash-chained to the one before."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ledger.domain.encoding import HASH_SIZE
from ledger.domain.events import SignedEvent

GENESIS_PREV: Final = bytes(HASH_SIZE)


@dataclass(frozen=True, slots=True)
class Entry:
    """An accepted event: ``hash`` covers ``canonical``, which covers everything else."""

    seq: int
    prev: bytes
    appended_at: datetime
    signed: SignedEvent
    canonical: bytes
    hash: bytes

    @property
    def event_id(self) -> str:
        return self.signed.event.id
