"""The indicators' replay, one timeline step at a time (pure: no I/O, no clock).

A :class:`Replay` follows each lot's quantity, product, season, community, earliest
harvest date, sales so far and embedded community payments through splits (children
inherit everything), merges and processing (the new lot keeps a season or community only
if all its inputs share it) and losses, in a :class:`LotTrace` per lot. Given the traces
of the lots a step names, :meth:`Replay.fold` updates them and appends the step's facts
(:mod:`ledger.indicator_facts`). Every rule of docs/INDICATORS.md about what counts, and
with what weight, is written here once; the traces hold no filter, so the facts of a
step are the same whatever a report later asks, and can be kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ledger.domain.catalogue import Product
from ledger.indicator_facts import (
    Dims,
    Fact,
    FinalSale,
    FirstSale,
    PeopleFact,
    SaleFact,
    VolumeFact,
    Yield,
    YieldFact,
)
from ledger.value_share import COMMUNITY_ROLES


@dataclass(frozen=True, slots=True)
class PendingSale:
    """A dispatch waiting for its receipt: a sale only once acknowledged."""

    seq: int
    at: str
    currency: str
    price: int
    shares: tuple[tuple[str, int], ...]  # (role, amount), in the split's order


@dataclass(slots=True)
class LotTrace:
    """What the replay must know of a lot to continue (replay state, not a record)."""

    product: str
    quantity: Decimal
    unit: str
    season: str | None
    community_name: str | None
    harvested_product: str
    first_harvest: date
    sold: bool = False  # has it (or any lot it came from) been sold yet?
    # Community-role payments of every upstream sale, weighted by the share of that sale's
    # lot that flowed into this one (minor units, per currency, unrounded).
    community: dict[str, Decimal] = field(default_factory=dict)
    sales: int = 0  # sales so far along the chain (the most of any input, after a merge)
    pending: PendingSale | None = None

    @property
    def key(self) -> str:
        return f"{self.product} ({self.unit})"


@dataclass(frozen=True, slots=True)
class Catalogue:
    """What the replay looks up: products (immutable once registered) and actor kinds."""

    products: Mapping[str, Product]
    actor_kinds: Mapping[str, str]


def day_of(instant: str) -> date:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).date()


class Replay:
    """Folds steps, in log order, into ``facts``; ``lots`` must hold the trace of every
    existing lot a step names (its ``lots``) before the step is folded."""

    def __init__(self, catalogue: Catalogue, lots: dict[str, LotTrace] | None = None) -> None:
        self.catalogue = catalogue
        self.lots: dict[str, LotTrace] = {} if lots is None else lots
        self.facts: list[Fact] = []
        self.touches: set[tuple[str, str]] = set()  # (actor, lot) handled or sent to
        self.links: list[tuple[str, str]] = []  # (parent, child), as the store's lot_links

    def fold(self, step: Mapping[str, Any]) -> None:
        lot_ids = step["lots"]
        if not lot_ids:
            return  # registrations and key events
        for actor in (step["actor"], step.get("to")):
            if actor is not None:
                self.touches.update((actor, lot) for lot in lot_ids)
        kind = step["kind"]
        if kind == "lot.harvested":
            self._harvested(step)
            return
        parent = self.lots.get(lot_ids[0])
        if parent is None:
            return
        if kind == "lot.dispatched":
            valuation = step["valuation"]
            parent.pending = PendingSale(
                step["seq"], step["at"], valuation["price"]["currency"],
                valuation["price"]["amount"],
                tuple((s["role"], s["amount"]) for s in valuation["split"]))
        elif kind == "lot.received":
            self._received(step, parent)
        elif kind == "lot.refused":
            parent.pending = None  # a refused delivery is no sale
        elif kind == "lot.split":
            self._split(step, parent)
        elif kind == "lots.merged":
            inputs = [self.lots[x] for x in lot_ids[:-1] if x in self.lots]
            self.lots[step["into"]] = _merged(inputs, Decimal(step["quantity"]), Decimal(1))
            self.links.extend((x, step["into"]) for x in lot_ids[:-1])
        elif kind == "lot.transformed":
            self._transformed(step, parent)
        elif kind == "lot.adjusted":
            loss = -Decimal(step["change"])
            self.facts.append(VolumeFact(step["seq"], _dims(parent, step), "lost", parent.key,
                                         loss))
            parent.quantity -= loss

    def _harvested(self, step: Mapping[str, Any]) -> None:
        trace = LotTrace(step["product"], Decimal(step["quantity"]), step["unit"],
                         step["season"], step["origin"]["community"], step["product"],
                         date.fromisoformat(step["harvest"]["end"]))
        self.lots[step["lots"][0]] = trace
        dims = _dims(trace, step)
        self.facts.append(VolumeFact(step["seq"], dims, "harvested", trace.key,
                                     trace.quantity))
        self.facts.append(PeopleFact(step["seq"], dims, tuple(step.get("harvester_refs", ())),
                                     tuple(step.get("household_refs", ()))))

    def _received(self, step: Mapping[str, Any], parent: LotTrace) -> None:
        sale, parent.pending = parent.pending, None
        if sale is None:
            return
        for role, amount in sale.shares:
            if role in COMMUNITY_ROLES:
                parent.community[sale.currency] = parent.community.get(
                    sale.currency, Decimal(0)) + amount
        parent.sales += 1
        dims = _dims(parent, step)
        first = None if parent.sold else _first_sale(dims.lot, parent, sale,
                                                     self.catalogue.products)
        parent.sold = True
        final = None
        if self.catalogue.actor_kinds.get(step["actor"]) == "buyer":
            final = FinalSale(parent.key, parent.quantity,
                              (dims.day - parent.first_harvest).days)
        self.facts.append(SaleFact(step["seq"], sale.seq, dims, parent.sales, sale.currency,
                                   sale.price, parent.community.get(sale.currency, Decimal(0)),
                                   sale.shares, first, final))
        if first is not None:
            self.facts.append(VolumeFact(step["seq"], dims, "sold at first sale", parent.key,
                                         parent.quantity))
        if final is not None:
            self.facts.append(VolumeFact(step["seq"], dims, "sold to buyers", parent.key,
                                         parent.quantity))

    def _split(self, step: Mapping[str, Any], parent: LotTrace) -> None:
        for child in step["children"]:
            quantity = Decimal(child["quantity"])
            fraction = quantity / parent.quantity if parent.quantity else Decimal(0)
            self.lots[child["lot"]] = LotTrace(
                parent.product, quantity, parent.unit, parent.season, parent.community_name,
                parent.harvested_product, parent.first_harvest, parent.sold,
                {c: v * fraction for c, v in parent.community.items()}, parent.sales)
            self.links.append((step["lots"][0], child["lot"]))

    def _transformed(self, step: Mapping[str, Any], parent: LotTrace) -> None:
        products = self.catalogue.products
        inputs = [self.lots[x] for x in step["inputs"] if x in self.lots]
        total_in = sum((t.quantity for t in inputs), Decimal(0))
        dims = _dims(parent, step)
        self.facts.append(VolumeFact(step["seq"], dims, "processed", parent.key, total_in))
        total_out = sum((Decimal(o["quantity"]) for o in step["outputs"]), Decimal(0))
        for output in step["outputs"]:
            quantity = Decimal(output["quantity"])
            merged = _merged(inputs, quantity, quantity / total_out)
            merged.product = output["product"]
            merged.unit = products[output["product"]].unit \
                if output["product"] in products else parent.unit
            self.lots[output["lot"]] = merged
            self.facts.append(YieldFact(dims, _yield(
                parent.product, output["product"], step["process"], total_in, quantity,
                products, step["seq"])))
            self.links.extend((x, output["lot"]) for x in step["inputs"])


def _dims(trace: LotTrace, step: Mapping[str, Any]) -> Dims:
    return Dims(step["lots"][0], trace.community_name, trace.harvested_product, trace.season,
                day_of(step["at"]))


def _merged(inputs: list[LotTrace], quantity: Decimal, fraction: Decimal) -> LotTrace:
    """A lot made of ``inputs``, carrying ``fraction`` of their embedded payments."""
    first = inputs[0]
    embedded: dict[str, Decimal] = {}
    for trace in inputs:
        for currency, amount in trace.community.items():
            embedded[currency] = embedded.get(currency, Decimal(0)) + amount * fraction
    names = {t.community_name for t in inputs}
    return LotTrace(first.product, quantity, first.unit,
                    first.season if len({t.season for t in inputs}) == 1 else None,
                    first.community_name if len(names) == 1 else None,
                    first.harvested_product, min(t.first_harvest for t in inputs),
                    any(t.sold for t in inputs), embedded, max(t.sales for t in inputs))


def _first_sale(lot: str, trace: LotTrace, sale: PendingSale,
                products: Mapping[str, Product]) -> FirstSale:
    product = products.get(trace.product)
    reference = product.reference_min_price if product else None
    per_unit = Decimal(sale.price) / trace.quantity
    if reference is None or reference.currency != sale.currency:
        return FirstSale(lot, sale.seq, sale.at, trace.product, sale.currency,
                         per_unit.quantize(Decimal("0.01")), None, None, None)
    premium = per_unit - reference.amount
    return FirstSale(lot, sale.seq, sale.at, trace.product, sale.currency,
                     per_unit.quantize(Decimal("0.01")), reference.amount,
                     premium.quantize(Decimal("0.01")),
                     int((premium * trace.quantity).to_integral_value()))


def _yield(source: str, target: str, process: str, total_in: Decimal, out: Decimal,
           products: Mapping[str, Product], seq: int) -> Yield:
    rule = products[source].transformation_to(target, process) if source in products else None
    ratio = (out / total_in).quantize(Decimal("0.0001")) if total_in else None
    return Yield(seq, source, target, process, ratio, rule.yield_min if rule else None,
                 rule.yield_max if rule else None)
