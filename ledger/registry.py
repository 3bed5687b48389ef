"""Registering actors, rotating and revoking keys, and loading the product catalogue.

Each is a signed ledger event like any other; these functions only build and sign them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ledger.builders import make_event
from ledger.domain import events as ev
from ledger.domain.catalogue import Product
from ledger.domain.entry import Entry
from ledger.domain.keys import Signer
from ledger.service import Ledger
from ledger.signing import sign_event


def bootstrap(ledger: Ledger, operator_id: str, name: str, signer: Signer,
              products: Sequence[Product], *, at: datetime | None = None) -> list[Entry]:
    """A new ledger's first entries: the operator registers itself, then the catalogue.

    ``at`` dates the statements (default: now); keys are valid from then on.
    """
    body = ev.ActorRegistered(ev.ActorId(operator_id), ev.ActorKind.OPERATOR, name, None,
                              signer.public_key_raw)
    event = make_event(body, operator_id, at or ledger.clock())
    first = ledger.append(sign_event(event, (signer,)))
    return [first, *register_products(ledger, operator_id, signer, products, at=at)]


def register_products(ledger: Ledger, operator_id: str, signer: Signer,
                      products: Sequence[Product], *,
                      at: datetime | None = None) -> list[Entry]:
    """Register the products the ledger does not know yet (idempotent)."""
    new = [p for p in products if ledger.store.product(p.code) is None]
    now = at or ledger.clock()
    return ledger.append_many([
        sign_event(make_event(ev.ProductRegistered(p), operator_id, now), (signer,))
        for p in new]) if new else []


def register_actor(ledger: Ledger, operator_id: str, operator_signer: Signer, actor_id: str,
                   kind: ev.ActorKind, name: str, gln: str | None, actor_signer: Signer, *,
                   at: datetime | None = None) -> Entry:
    """Signed by the operator (authority) and by the new key (proof of possession)."""
    body = ev.ActorRegistered(ev.ActorId(actor_id), kind, name, gln,
                              actor_signer.public_key_raw)
    event = make_event(body, operator_id, at or ledger.clock())
    return ledger.append(sign_event(event, (operator_signer, actor_signer)))


def rotate_key(ledger: Ledger, actor_id: str, old: Signer, new: Signer) -> Entry:
    body = ev.KeyRotated(ev.ActorId(actor_id), old.key_id, new.public_key_raw)
    return ledger.append(sign_event(make_event(body, actor_id, ledger.clock()), (old, new)))


def revoke_key(ledger: Ledger, by_actor: str, by_signer: Signer, actor_id: str, key_id: str,
               reason: str) -> Entry:
    body = ev.KeyRevoked(ev.ActorId(actor_id), key_id, reason)
    return ledger.append(sign_event(make_event(body, by_actor, ledger.clock()), (by_signer,)))
