"""Test builders with sane defaults: a small world of actors, products and lots."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.builders import make_event
from ledger.catalogue_file import read_catalogue
from ledger.domain import events as ev
from ledger.domain.encoding import digests_equal
from ledger.domain.entry import Entry
from ledger.domain.keys import Signer
from ledger.domain.measures import Money, Quantity, Valuation, build_valuation
from ledger.domain.merkle import CompactRange, leaf_hash
from ledger.errors import VerificationError
from ledger.service import Ledger
from ledger.signing import sign_event

START = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: datetime = START
    step: timedelta = timedelta(seconds=1)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def new_signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def valuation(amount: int = 36600, currency: str = "BRL",
              parts: tuple[tuple[str, str, int], ...] = (("hv-group-1", "harvesters", 7000),
                                                         ("fund-assoc", "community_fund", 2000),
                                                         ("coop", "cooperative", 1000))
              ) -> Valuation:
    return build_valuation(Money(amount, currency), parts)


def origin(**overrides: Any) -> ev.Origin:
    values: dict[str, Any] = {
        "community": "Seringal Cachoeira", "territory": "RESEX Chico Mendes", "country": "BR",
        "plot": "plot-7", "area_ha": Decimal("3.5"),
        "geometry": {"type": "Point", "coordinates": [-68.512345, -10.654321]},
    }
    values.update(overrides)
    return ev.Origin(**values)


@dataclass
class World:
    """A ledger with an operator, a community, a cooperative, a processor and a buyer."""

    ledger: Ledger
    clock: FakeClock
    signers: dict[str, Signer] = field(default_factory=dict)

    @classmethod
    def with_chain(cls, ledger: Ledger, clock: FakeClock) -> World:
        world = cls(ledger, clock)
        world.register("operator", ev.ActorKind.OPERATOR, "Trilha operator")
        world.register("assoc-cachoeira", ev.ActorKind.COMMUNITY, "Associação Cachoeira")
        world.register("coop", ev.ActorKind.COOPERATIVE, "Cooperativa Xapuri")
        world.register("processor", ev.ActorKind.PROCESSOR, "Usina de beneficiamento")
        world.register("buyer", ev.ActorKind.BUYER, "European buyer")
        products = [ev.ProductRegistered(product)
                    for product in read_catalogue()]
        ledger.append_many([world.sign("operator", body) for body in products])
        return world

    def sign(self, actor: str, body: ev.Body, *, extra: tuple[Signer, ...] = (),
             at: datetime | None = None, event_id: str | None = None) -> ev.SignedEvent:
        event = make_event(body, actor, at or self.clock.now, event_id)
        return sign_event(event, (self.signers[actor], *extra))

    def append(self, actor: str, body: ev.Body, **kwargs: Any) -> Entry:
        return self.ledger.append(self.sign(actor, body, **kwargs))

    def register(self, actor_id: str, kind: ev.ActorKind, name: str) -> Entry:
        signer = new_signer()
        body = ev.ActorRegistered(ev.ActorId(actor_id), kind, name, None,
                                  signer.public_key_raw)
        by = actor_id if kind is ev.ActorKind.OPERATOR and not self.signers else "operator"
        self.signers[actor_id] = signer
        extra = () if by == actor_id else (signer,)
        return self.append(by, body, extra=extra)

    def harvest(self, lot: str = "BN-0001", *, by: str = "assoc-cachoeira",
                product: str = "brazil-nut-in-shell", quantity: str = "100",
                unit: str = "KGM", value: Valuation | None = None, **kwargs: Any) -> Entry:
        body = ev.LotHarvested(
            lot=ev.LotId(lot), product=product, quantity=Quantity(Decimal(quantity), unit),
            season="2025", harvest_start=date(2025, 1, 2), harvest_end=date(2025, 1, 5),
            origin=kwargs.pop("origin", origin()), harvesters=("hv-7f3a9c", "hv-0b12de"),
            valuation=value or valuation(), households=kwargs.pop("households", None))
        return self.append(by, body, **kwargs)

    def dispatch(self, lot: str, to: str, *, by: str, value: Valuation | None = None) -> Entry:
        return self.append(by, ev.LotDispatched(ev.LotId(lot), ev.ActorId(to),
                                                value or valuation()))

    def receive(self, lot: str, dispatch: Entry, *, by: str,
                value: Valuation | None = None) -> Entry:
        body = dispatch.signed.event.body
        assert isinstance(body, ev.LotDispatched)
        return self.append(by, ev.LotReceived(ev.LotId(lot), ev.EventId(dispatch.event_id),
                                              value or body.valuation))

    def transfer(self, lot: str, frm: str, to: str, value: Valuation | None = None) -> Entry:
        sent = self.dispatch(lot, to, by=frm, value=value)
        return self.receive(lot, sent, by=to)

    def split(self, lot: str, parts: dict[str, str], *, by: str) -> Entry:
        children = tuple(ev.Portion(ev.LotId(k), Decimal(v)) for k, v in parts.items())
        return self.append(by, ev.LotSplit(ev.LotId(lot), children))

    def merge(self, lots: list[str], into: str, quantity: str, *, by: str) -> Entry:
        return self.append(by, ev.LotsMerged(tuple(ev.LotId(x) for x in lots), ev.LotId(into),
                                             Decimal(quantity)))

    def transform(self, inputs: list[str], outputs: list[tuple[str, str, str]],
                  process: str = "shelling-drying", *, by: str) -> Entry:
        outs = tuple(ev.Output(ev.LotId(lot), product, Decimal(q))
                     for lot, product, q in outputs)
        return self.append(by, ev.LotTransformed(tuple(ev.LotId(x) for x in inputs), process,
                                                 outs))

    def adjust(self, lot: str, change: str, *, by: str,
               reason: ev.AdjustmentReason = ev.AdjustmentReason.LOSS) -> Entry:
        return self.append(by, ev.LotAdjusted(ev.LotId(lot), Decimal(change), reason,
                                              "sacks got wet in the boat"))


def check_tree_matches(ledger: Ledger) -> None:
    """Raise if the stored Merkle nodes disagree with a tree rebuilt from the entries."""
    tree = CompactRange.empty()
    for stored in ledger.store.iter_entries():
        tree.append(leaf_hash(stored.entry_hash))
    if not digests_equal(tree.root(), ledger.root()):
        raise VerificationError("stored merkle nodes disagree with the entries")
