"""Log entries: a signed event sequenced by the log, hash-chained to the one before.

Format 2 entries also chain each lot's history: ``lot_prev`` names, for every lot the
event touches that existed before it, the newest earlier entry touching that lot. A lot's
history is then a chain of its own inside the log, and a page or bundle that leaves an
entry of it out no longer links (docs/FORMAT.md, "Entry and chain").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ledger.domain.encoding import HASH_SIZE
from ledger.domain.events import SignedEvent

GENESIS_PREV: Final = bytes(HASH_SIZE)


@dataclass(frozen=True, slots=True)
class LotLink:
    """The newest entry touching a lot: where the lot's own chain continues from."""

    seq: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class Entry:
    """An accepted event: ``hash`` covers ``canonical``, which covers everything else."""

    seq: int
    prev: bytes
    appended_at: datetime
    signed: SignedEvent
    canonical: bytes
    hash: bytes
    # None: a format 1 entry, written before lot chains existed (docs/FORMAT.md)
    lot_prev: Mapping[str, LotLink] | None = None

    @property
    def event_id(self) -> str:
        return self.signed.event.id
