"""A synthetic but realistic ledger, for benchmarks: many small harvests moving up chains.

Brazil nut from many communities: harvest, sale to a cooperative, occasional losses and
splits, processing into kernels, sale to buyers; plus one export lot merged from 1,000
harvests (a lot with over 1,000 ancestors, the provenance worst case).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.builders import make_event
from ledger.catalogue_file import read_catalogue
from ledger.domain import events as ev
from ledger.domain.keys import Signer
from ledger.domain.measures import Money, Quantity, build_valuation
from ledger.signing import sign_event

EPOCH = datetime(2024, 12, 1, tzinfo=UTC)
SPLIT = (("hv-group", "harvesters", 7000), ("assoc-fund", "community_fund", 2000),
         ("coop-share", "cooperative", 1000))
BIG_LOT_INPUTS = 1000
MEDIUM_LOT_INPUTS = 333  # 333 harvests x 3 entries + the merge: 1,000 upstream entries


@dataclass
class Synthetic:
    """Yields signed events in an order the rules accept; ``now`` advances per event."""

    seed: int = 7
    communities: int = 40
    now: datetime = EPOCH
    signers: dict[str, Signer] = field(default_factory=dict)
    big_lot: str = "EXPORT-1"
    medium_lot: str = "EXPORT-M"

    def _tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def _signed(self, actor: str, body: ev.Body, *extra: Signer) -> ev.SignedEvent:
        return sign_event(make_event(body, actor, self._tick()), (self.signers[actor], *extra))

    def _register(self, actor: str, kind: ev.ActorKind) -> ev.SignedEvent:
        signer = Signer(Ed25519PrivateKey.generate())
        body = ev.ActorRegistered(ev.ActorId(actor), kind, actor.replace("-", " ").title(),
                                  None, signer.public_key_raw)
        self.signers[actor] = signer
        if kind is ev.ActorKind.OPERATOR:
            return self._signed(actor, body)
        return self._signed("operator", body, signer)

    def _harvest(self, lot: str, community: str, kg: int) -> ev.SignedEvent:
        body = ev.LotHarvested(
            lot=ev.LotId(lot), product="brazil-nut-in-shell",
            quantity=Quantity(Decimal(kg), "KGM"), season="2025",
            harvest_start=date(2024, 12, 1), harvest_end=date(2024, 12, 1),
            origin=ev.Origin(community=community, territory="RESEX Chico Mendes",
                             country="BR", plot=None, area_ha=None,
                             geometry={"type": "Point", "coordinates": [-68.5, -10.6]}),
            harvesters=("hv-" + lot.lower().replace("-", "")[:12],),
            valuation=build_valuation(Money(kg * 366, "BRL"), SPLIT))
        return self._signed(community, body)

    def _transfer(self, lot: str, frm: str, to: str, amount: int) -> Iterator[ev.SignedEvent]:
        valuation = build_valuation(Money(amount, "BRL"), SPLIT)
        sent = self._signed(frm, ev.LotDispatched(ev.LotId(lot), ev.ActorId(to), valuation))
        yield sent
        yield self._signed(to, ev.LotReceived(ev.LotId(lot), sent.event.id, valuation))

    def events(self, total: int) -> Iterator[ev.SignedEvent]:
        """At least ``total`` events (it finishes the chain in progress)."""
        rng = random.Random(self.seed)
        count = 0

        def counted(items: Iterator[ev.SignedEvent] | list[ev.SignedEvent]
                    ) -> Iterator[ev.SignedEvent]:
            nonlocal count
            for item in items:
                count += 1
                yield item

        yield from counted([self._register("operator", ev.ActorKind.OPERATOR)])
        yield from counted([self._signed("operator", ev.ProductRegistered(product))
                            for product in read_catalogue()])
        communities = [f"community-{i}" for i in range(self.communities)]
        actors = [(c, ev.ActorKind.COMMUNITY) for c in communities] + [
            ("coop", ev.ActorKind.COOPERATIVE), ("processor", ev.ActorKind.PROCESSOR),
            ("buyer", ev.ActorKind.BUYER)]
        yield from counted([self._register(a, k) for a, k in actors])
        yield from counted(self._big_lot(communities))
        yield from counted(self._medium_lot(communities))
        serial = 0
        while count < total:
            serial += 1
            community = rng.choice(communities)
            kg = rng.randint(80, 600)
            lot = f"BN-{serial:07d}"
            yield from counted([self._harvest(lot, community, kg)])
            yield from counted(self._transfer(lot, community, "coop", kg * 366))
            if rng.random() < 0.2:
                loss = Decimal(rng.randint(1, 5))
                yield from counted([self._signed("coop", ev.LotAdjusted(
                    ev.LotId(lot), -loss, ev.AdjustmentReason.MOISTURE, "drying loss"))])
                kg_left = Decimal(kg) - loss
            else:
                kg_left = Decimal(kg)
            yield from counted(self._transfer(lot, "coop", "processor", kg * 420))
            kernels = (kg_left * Decimal("0.38")).quantize(Decimal("0.001"))
            yield from counted([self._signed("processor", ev.LotTransformed(
                (ev.LotId(lot),), "shelling-drying",
                (ev.Output(ev.LotId(f"K-{serial:07d}"), "brazil-nut-kernel", kernels),)))])
            yield from counted(self._transfer(f"K-{serial:07d}", "processor", "buyer",
                                              kg * 700))

    def harvests(self, prefix: str, count: int) -> Iterator[ev.SignedEvent]:
        """Independent harvests (for concurrent writers), by the first community."""
        for i in range(count):
            yield self._harvest(f"{prefix}{i:06d}", "community-0", 100)

    def _medium_lot(self, communities: list[str]) -> Iterator[ev.SignedEvent]:
        """333 harvests merged into one lot: the page benchmark's 1,000 upstream entries."""
        members = []
        for i in range(MEDIUM_LOT_INPUTS):
            lot = f"MED-{i:03d}"
            community = communities[i % len(communities)]
            yield self._harvest(lot, community, 100)
            yield from self._transfer(lot, community, "coop", 36600)
            members.append(ev.LotId(lot))
        yield self._signed("coop", ev.LotsMerged(tuple(members), ev.LotId(self.medium_lot),
                                                 Decimal(100 * MEDIUM_LOT_INPUTS)))

    def _big_lot(self, communities: list[str]) -> Iterator[ev.SignedEvent]:
        """1,000 harvests merged in ten groups, then into one export lot."""
        groups = []
        for g in range(10):
            members = []
            for i in range(BIG_LOT_INPUTS // 10):
                lot = f"BIG-{g}-{i:03d}"
                community = communities[(g * 100 + i) % len(communities)]
                yield self._harvest(lot, community, 100)
                yield from self._transfer(lot, community, "coop", 36600)
                members.append(ev.LotId(lot))
            merged = ev.LotId(f"BIG-{g}")
            yield self._signed("coop", ev.LotsMerged(tuple(members), merged, Decimal(10000)))
            groups.append(merged)
        yield self._signed("coop", ev.LotsMerged(tuple(groups), ev.LotId(self.big_lot),
                                                 Decimal(100000)))
