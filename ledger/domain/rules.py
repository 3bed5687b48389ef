"""The ledger's rules: checked on every append, whatever door the event came through.

:func:`decide` takes a signed event, a view of the ledger so far and the append time,
and either raises a specific :class:`~ledger.errors.RuleViolation` (naming the lot, the
field and the rule, expected against actual) or returns the :class:`Effects` to apply.
It does no I/O: the store and the verifier call this same function.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import NoReturn

from ledger.domain import custody
from ledger.domain.encoding import event_signature_message
from ledger.domain.events import (
    ActorId,
    ActorKind,
    ActorRegistered,
    Event,
    EventKind,
    KeyRevoked,
    KeyRotated,
    ProductRegistered,
    SignedEvent,
)
from ledger.domain.keys import check_public_key, key_id_for, verify_signature
from ledger.domain.state import ActorRecord, Effects, KeyRecord, LedgerView
from ledger.errors import ReplayError, RuleViolation, SignatureError

# A statement may be dated at most this far after the moment the log appends it
# (clock skew between a clerk's laptop and the server).
MAX_CLOCK_SKEW = timedelta(minutes=5)
# After a rotation, statements the old key signed before it (a clerk's offline outbox)
# are accepted for this long after the rotation's entry, unless the rotation says
# otherwise (body.grace_s, at most MAX_ROTATION_GRACE); never after a revocation.
DEFAULT_ROTATION_GRACE = timedelta(days=30)
MAX_ROTATION_GRACE = timedelta(days=365)


def check_signature_crypto(signed: SignedEvent) -> None:
    """Every signature verifies over the event digest (stateless; parallelisable)."""
    check_signatures(signed.digest, [(sig.public_key, sig.signature)
                                     for sig in signed.signatures])


def check_signatures(digest: bytes, signatures: Sequence[tuple[bytes, bytes]]) -> None:
    """Every (public key, signature) verifies over the event ``digest``."""
    if not signatures:
        raise SignatureError("signature_missing", "signatures: expected at least one, got none",
                             field="signatures")
    message = event_signature_message(digest)
    for index, (public_key, signature) in enumerate(signatures):
        try:
            verify_signature(public_key, message, signature)
        except SignatureError as exc:
            raise SignatureError("signature_invalid",
                                 f"signatures[{index}]: signature does not verify",
                                 field=f"signatures[{index}]") from exc


def decide(signed: SignedEvent, view: LedgerView, appended_at: datetime, *,
           crypto_checked: bool = False) -> Effects:
    """Check every rule for ``signed`` against ``view``; return what it changes."""
    event = signed.event
    if view.has_event(event.id):
        raise_replay(event)
    if event.at > appended_at + MAX_CLOCK_SKEW:
        raise RuleViolation("statement_in_future",
                            f"at: statement dated {event.at.isoformat()} is later than the "
                            f"append time {appended_at.isoformat()}", field="at")
    if not crypto_checked:
        check_signature_crypto(signed)
    signers = _Signers({key_id_for(sig.public_key): sig.public_key
                        for sig in signed.signatures}, appended_at)
    body = event.body
    match body:
        case ActorRegistered():
            return _actor_registered(event, body, view, signers)
        case KeyRotated():
            return _key_rotated(event, body, view, signers)
        case KeyRevoked():
            return _key_revoked(event, body, view, signers)
        case ProductRegistered():
            _require_operator(event, view, signers)
            if view.product(body.product.code) is not None:
                raise RuleViolation("product_unique", f"body.product.code: product "
                                    f"{body.product.code!r} is already registered",
                                    field="body.product.code")
            return Effects(products=(body.product,))
    _require_actor_signature(event, event.actor, view, signers)
    return custody.decide_lot_event(event, view)


class _Signers:
    """The keys that signed an event (by key id), and when the log appends it."""

    __slots__ = ("appended_at", "keys")

    def __init__(self, keys: dict[str, bytes], appended_at: datetime) -> None:
        self.keys = keys
        self.appended_at = appended_at

    def get(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)

    def items(self) -> Iterable[tuple[str, bytes]]:
        return self.keys.items()


def raise_replay(event: Event) -> NoReturn:
    raise ReplayError("event_id_unique",
                      f"id: event {event.id} was already accepted; an event is accepted once",
                      field="id")


def _key_is_usable(key: KeyRecord, at: datetime, appended_at: datetime) -> str | None:
    """Why ``key`` may not sign a statement dated ``at`` and appended at ``appended_at``,
    or None if it may. Revocation counts by log position, whatever time is claimed;
    rotation by the statement's time, and by position once its grace period is over."""
    if key.revoked:
        return "key was revoked"
    if at < key.not_before:
        return f"statement dated before the key was valid ({key.not_before.isoformat()})"
    if key.not_after is not None and at >= key.not_after:
        return f"statement dated after the key was rotated out ({key.not_after.isoformat()})"
    if key.accept_until is not None and appended_at > key.accept_until:
        return ("key was rotated out and its grace period for statements signed before the "
                f"rotation ended at {key.accept_until.isoformat()}")
    return None


def _require_actor_signature(event: Event, actor_id: ActorId, view: LedgerView,
                             signers: _Signers) -> KeyRecord:
    actor = view.actor(actor_id)
    if actor is None:
        raise RuleViolation("actor_registered",
                            f"actor: expected a registered actor, got unknown {actor_id!r}",
                            field="actor")
    reasons = []
    for key_id, public_key in signers.items():
        key = view.key(key_id)
        if key is None or key.actor_id != actor_id or key.public_key != public_key:
            continue
        why = _key_is_usable(key, event.at, signers.appended_at)
        if why is None:
            return key
        reasons.append(f"key {key_id}: {why}")
    detail = "; ".join(reasons) if reasons else "no signature by any key of this actor"
    raise SignatureError("signer_authorised",
                         f"signatures: expected a valid signature by {actor_id}, {detail}",
                         field="signatures")


def _require_operator(event: Event, view: LedgerView, signers: _Signers) -> None:
    actor = view.actor(event.actor)
    if actor is None or actor.kind is not ActorKind.OPERATOR:
        raise RuleViolation("operator_only",
                            f"actor: only an operator may make a {event.kind} statement, "
                            f"got {event.actor!r}", field="actor")
    _require_actor_signature(event, event.actor, view, signers)


def _check_new_key(raw: bytes, field: str, view: LedgerView,
                   signers: _Signers) -> str:
    check_public_key(raw)
    key_id = key_id_for(raw)
    if view.key(key_id) is not None:
        raise RuleViolation("key_unique", f"{field}: key {key_id} is already registered",
                            field=field)
    if signers.get(key_id) != raw:
        raise SignatureError("proof_of_possession",
                             f"signatures: expected a signature by the new key {key_id}",
                             field="signatures")
    return key_id


def _actor_registered(event: Event, body: ActorRegistered, view: LedgerView,
                      signers: _Signers) -> Effects:
    if not view.has_actors():
        # Genesis: the first statement is the operator registering itself.
        if body.actor_kind is not ActorKind.OPERATOR or event.actor != body.actor_id:
            raise RuleViolation("genesis_operator",
                                "body: the first entry must be an operator registering "
                                f"itself, got {body.actor_kind} {body.actor_id!r}",
                                field="body.actor_kind")
    else:
        _require_operator(event, view, signers)
        if view.actor(body.actor_id) is not None:
            raise RuleViolation("actor_unique",
                                f"body.actor_id: actor {body.actor_id!r} is already registered",
                                field="body.actor_id")
    key_id = _check_new_key(body.public_key, "body.public_key", view, signers)
    actor = ActorRecord(body.actor_id, body.actor_kind, body.name, body.gln)
    key = KeyRecord(key_id, body.actor_id, body.public_key, not_before=event.at)
    return Effects(actors=(actor,), keys=(key,))


def _key_rotated(event: Event, body: KeyRotated, view: LedgerView,
                 signers: _Signers) -> Effects:
    if event.actor != body.actor_id:
        raise RuleViolation("own_keys_only", f"body.actor_id: an actor rotates only its own "
                            f"keys, expected {event.actor!r}, got {body.actor_id!r}",
                            field="body.actor_id")
    old = view.key(body.old_key)
    if old is None or old.actor_id != body.actor_id:
        raise RuleViolation("key_known", f"body.old_key: expected a key of {body.actor_id}, "
                            f"got {body.old_key!r}", field="body.old_key")
    if signers.get(old.key_id) != old.public_key:
        raise SignatureError("signed_by_old_key", f"signatures: expected a signature by the "
                             f"old key {old.key_id}", field="signatures")
    why = _key_is_usable(old, event.at, signers.appended_at)
    if why is not None:
        raise SignatureError("signer_authorised", f"body.old_key: {why}", field="body.old_key")
    if old.not_after is not None:
        raise RuleViolation("key_not_rotated", f"body.old_key: key {old.key_id} was already "
                            "rotated out", field="body.old_key")
    grace = DEFAULT_ROTATION_GRACE if body.grace_s is None else timedelta(seconds=body.grace_s)
    if grace > MAX_ROTATION_GRACE:
        raise RuleViolation("rotation_grace", f"body.grace_s: at most "
                            f"{int(MAX_ROTATION_GRACE.total_seconds())}, got {body.grace_s}",
                            field="body.grace_s")
    new_id = _check_new_key(body.new_public_key, "body.new_public_key", view, signers)
    retired = KeyRecord(old.key_id, old.actor_id, old.public_key, old.not_before,
                        not_after=event.at, revoked=old.revoked,
                        accept_until=signers.appended_at + grace)
    new = KeyRecord(new_id, body.actor_id, body.new_public_key, not_before=event.at)
    return Effects(keys=(retired, new))


def _key_revoked(event: Event, body: KeyRevoked, view: LedgerView,
                 signers: _Signers) -> Effects:
    key = view.key(body.key)
    if key is None or key.actor_id != body.actor_id:
        raise RuleViolation("key_known", f"body.key: expected a key of {body.actor_id}, "
                            f"got {body.key!r}", field="body.key")
    if key.revoked:
        raise RuleViolation("key_not_revoked", f"body.key: key {body.key} is already revoked",
                            field="body.key")
    actor = view.actor(event.actor)
    if event.actor != body.actor_id and (actor is None or actor.kind is not ActorKind.OPERATOR):
        raise RuleViolation("own_keys_only", "actor: a key is revoked by its actor or by an "
                            f"operator, got {event.actor!r}", field="actor")
    _require_actor_signature(event, event.actor, view, signers)
    revoked = KeyRecord(key.key_id, key.actor_id, key.public_key, key.not_before,
                        not_after=key.not_after, revoked=True, accept_until=key.accept_until)
    return Effects(keys=(revoked,))


__all__ = ["DEFAULT_ROTATION_GRACE", "MAX_CLOCK_SKEW", "MAX_ROTATION_GRACE", "EventKind",
           "check_signature_crypto", "decide"]
