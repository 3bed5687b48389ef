"""Turning a typed event into a signed one: the one way events get their bytes and signatures."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.domain.encoding import event_hash, event_signature_message
from ledger.domain.events import Event, Signature, SignedEvent
from ledger.domain.keys import Signer
from ledger.wire.events import dump_event


def sign_event(event: Event, signers: Sequence[Signer]) -> SignedEvent:
    """Sign ``event`` with every signer (e.g. the operator and a new actor's own key)."""
    event_json = dump_event(event)
    digest = event_hash(event_json)
    message = event_signature_message(digest)
    signatures = tuple(Signature(signer.public_key_raw, signer.sign(message))
                       for signer in signers)
    return SignedEvent(event=event, signatures=signatures, event_json=event_json, digest=digest)
