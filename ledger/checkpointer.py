"""Signed checkpoints without an operator at the keyboard.

A checkpointer signs the tree head whenever the log has grown past the latest signed
checkpoint: at most one checkpoint per interval, and an entry waits at most one interval
for a checkpoint that covers it. After a checkpoint at time c the next one is due at
c + interval if the log grew meanwhile; an idle log is looked at every second (or every
interval, if shorter), so an entry arriving after a quiet spell is signed at once.

Any number of checkpointers (threads, web workers, processes) may run on one database:
a signer signs only under the signer lock (:mod:`ledger.storage.signer_lock`) and looks
at the head and the latest checkpoint again once it holds it, so each size is signed
once and the checkpoints never fork. :func:`sign_if_due` is one pass, with the time
passed in, so tests need no sleeping; :class:`Checkpointer` runs passes in a thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ledger.domain.events import ActorKind
from ledger.domain.note import Checkpoint, NoteSigner, parse_note
from ledger.errors import Conflict, LedgerError
from ledger.service import Ledger, utc_now
from ledger.storage.signer_lock import SignerLock
from ledger.storage.store import StoredCheckpoint
from ledger.wire.fields import parse_instant

DEFAULT_INTERVAL_S = 10.0
IDLE_POLL_S = 1.0  # how often an idle log is looked at (and so the latency after a lull)
KEY_RETRY_S = 60.0  # how often a checkpointer without a key looks for one again
MIN_SLEEP_S = 0.01  # never spin, whatever a pass says
MANUAL_WAIT_S = 5.0  # how long a manual signing waits for the automatic signer to finish


class AwaitingCheckpoint(Conflict):
    """A lot's history has entries that no signed checkpoint covers yet: not a failure,
    the next checkpoint will (try again in a few seconds)."""

    code = "awaiting_checkpoint"


@dataclass(frozen=True, slots=True)
class Tick:
    signed: int | None  # the tree size this pass signed, if it signed
    wait_s: float  # when to look again


def due_in(size: int, latest: StoredCheckpoint | None, now: datetime,
           interval_s: float) -> float | None:
    """Seconds until a checkpoint of a log of ``size`` entries is due (0.0: now), or
    None when the latest checkpoint already covers the log."""
    if size == 0 or (latest is not None and latest.size >= size):
        return None
    if latest is None:
        return 0.0
    age = (now - parse_instant(latest.signed_at)).total_seconds()
    if age < 0:  # the clock stepped back, or another host's runs ahead: never starve
        return 0.0
    return max(0.0, interval_s - age)


def sign_if_due(ledger: Ledger, signer: NoteSigner, now: datetime, *, interval_s: float,
                lock: SignerLock) -> Tick:
    """One pass: sign a checkpoint if one is due and this process wins the signer lock."""
    idle = min(interval_s, IDLE_POLL_S)
    wait = due_in(ledger.size(), ledger.latest_checkpoint(), now, interval_s)
    if wait is None or wait > 0:
        return Tick(None, idle if wait is None else wait)
    with lock.hold() as held:
        if not held:  # another signer is at it; its checkpoint resets the interval
            return Tick(None, idle)
        # Another signer may have signed between the first look and the lock.
        wait = due_in(ledger.size(), ledger.latest_checkpoint(), now, interval_s)
        if wait is None or wait > 0:
            return Tick(None, idle if wait is None else wait)
        note = ledger.sign_checkpoint(signer)
    return Tick(Checkpoint.from_text(parse_note(note)[0]).size, interval_s)


def sign_now(ledger: Ledger, signer: NoteSigner, lock: SignerLock | None = None, *,
             wait_s: float = MANUAL_WAIT_S) -> str:
    """Sign the current tree head now (an operator's command), under the same lock as
    the automatic signer (the ledger's own by default): waits up to ``wait_s`` for it to
    finish its own signing."""
    lock = lock or SignerLock(ledger.store.engine)
    deadline = time.monotonic() + wait_s
    while True:
        with lock.hold() as held:
            if held:
                return ledger.sign_checkpoint(signer)
        if time.monotonic() >= deadline:
            raise Conflict(f"checkpoint: another signer held the signer lock for {wait_s:g} s; "
                           "try again")
        time.sleep(0.05)


def is_operator_key(ledger: Ledger, signer: NoteSigner, operator_vkey: str | None) -> bool:
    """Whether ``signer`` may sign this log's checkpoints: its verifier key is the one
    pages check (``operator_vkey``) when one is configured, else it is a current key of
    an operator actor of the ledger (as ``trilha init`` and the demo make it)."""
    if operator_vkey:
        return signer.verifier_key() == operator_vkey.strip()
    public = signer.private_key.public_key().public_bytes_raw()
    for actor in ledger.store.actors():
        if actor.kind is ActorKind.OPERATOR:
            for key in ledger.store.keys_of(actor.actor_id):
                if key.public_key == public and key.not_after is None and not key.revoked:
                    return True
    return False


class Checkpointer:
    """Runs :func:`sign_if_due` in a daemon thread until stopped.

    ``find_signer`` returns the operator's note signer, or None when this server holds
    no usable key: then nothing is signed, that is logged once, and the key is looked
    for again every minute (an operator may store one meanwhile). ``still_valid`` is
    asked every minute whether the key found may still sign (a rotation or revocation
    of the operator's key ends it).
    """

    def __init__(self, ledger: Ledger, find_signer: Callable[[], NoteSigner | None], *,
                 interval_s: float = DEFAULT_INTERVAL_S, lock: SignerLock | None = None,
                 clock: Callable[[], datetime] = utc_now,
                 log: logging.Logger | None = None,
                 still_valid: Callable[[NoteSigner], bool] | None = None) -> None:
        self.ledger = ledger
        self.find_signer = find_signer
        self.still_valid = still_valid
        self.interval_s = interval_s
        self.lock = lock or SignerLock(ledger.store.engine)
        self.clock = clock
        self.log = log or logging.getLogger(__name__)
        self.pid = os.getpid()  # a forked child must start its own (threads do not fork)
        self.signed: list[int] = []  # sizes this checkpointer signed, oldest first
        self._signer: NoteSigner | None = None
        self._next_key_look = 0.0
        self._told_no_key = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> Tick:
        """One pass; never raises (a lost database or a bad key is logged, then retried)."""
        try:
            signer = self._current_signer()
            if signer is None:
                return Tick(None, KEY_RETRY_S)
            tick = sign_if_due(self.ledger, signer, self.clock(), interval_s=self.interval_s,
                               lock=self.lock)
        except Exception as exc:  # the loop must outlive any one failure
            self.log.warning("checkpointer: could not sign a checkpoint: %s",
                             exc.message if isinstance(exc, LedgerError) else exc)
            return Tick(None, self.interval_s)
        if tick.signed is not None:
            self.signed.append(tick.signed)
            self.log.info("checkpointer: signed checkpoint of size %d", tick.signed)
        return tick

    def _current_signer(self) -> NoteSigner | None:
        now = time.monotonic()
        if now < self._next_key_look:
            return self._signer
        self._next_key_look = now + KEY_RETRY_S  # also if what follows raises
        if self._signer is not None:
            if self.still_valid is None or self.still_valid(self._signer):
                return self._signer
            self.log.warning("checkpointer: the operator key this server signed with is no "
                             "longer current (rotated or revoked); looking for another")
        self._signer = self.find_signer()
        if self._signer is None and not self._told_no_key:
            self._told_no_key = True
            self.log.warning(
                "checkpointer: no operator key on this server, so no checkpoint is signed "
                "automatically and new lots stay 'waiting for the next checkpoint' (give "
                "the operator account a server-held key that matches TRILHA_OPERATOR_VKEY, "
                "or run trilha checkpoint sign)")
        elif self._signer is not None and self._told_no_key:
            self._told_no_key = False
            self.log.warning("checkpointer: found an operator key; signing resumes")
        return self._signer

    def run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(max(self.tick().wait_s, MIN_SLEEP_S))

    def start(self) -> Checkpointer:
        self._thread = threading.Thread(target=self.run, name="trilha-checkpointer",
                                        daemon=True)
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and \
            self.pid == os.getpid()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout_s)
