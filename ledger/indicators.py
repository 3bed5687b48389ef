"""Shared-measurement indicators, computed only from ledger entries (see docs/INDICATORS.md).

The computation replays the ledger's timeline steps in log order, following each lot's
quantity, product, season, community and earliest harvest date through splits, merges
and processing; every figure keeps the entry numbers it came from.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from statistics import median
from typing import Any

from ledger.domain.catalogue import Product
from ledger.gc_pause import paused_gc
from ledger.service import Ledger
from ledger.value_share import COMMUNITY_ROLES


@dataclass(frozen=True, slots=True)
class Filters:
    community: str | None = None
    cooperative: str | None = None  # an actor id the lot passed through
    product: str | None = None  # the product harvested
    season: str | None = None
    start: date | None = None  # statements on or after
    end: date | None = None  # statements on or before


@dataclass(slots=True)
class LotTrace:
    product: str
    quantity: Decimal
    unit: str
    season: str | None
    community_name: str | None
    harvested_product: str
    first_harvest: date
    actors: set[str] = field(default_factory=set)
    sold: bool = False  # has it (or any lot it came from) been sold yet?
    # Community-role payments of every upstream sale, weighted by the share of that sale's
    # lot that flowed into this one (minor units, per currency).
    community: dict[str, Decimal] = field(default_factory=dict)
    sales: int = 0  # sales so far along the chain (the most of any input, after a merge)


@dataclass(slots=True)
class Indicators:
    volumes: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    first_sales: list[dict[str, Any]] = field(default_factory=list)
    benefits: dict[str, dict[str, int]] = field(default_factory=dict)  # season -> role|cur
    harvesters: int = 0
    households: int = 0  # distinct pseudonymous households, where harvests record them
    yields: list[dict[str, Any]] = field(default_factory=list)
    days_to_final_sale: dict[str, float | None] = field(default_factory=dict)
    final_sale_lots: list[str] = field(default_factory=list)
    # (lot, "product (unit)", quantity) of each sale to a buyer, for the verified share
    final_sales: list[tuple[str, str, Decimal]] = field(default_factory=list)
    farm_gate_share: dict[str, Decimal | None] = field(default_factory=dict)  # per currency
    entries: dict[str, list[int]] = field(default_factory=dict)  # indicator -> seqs
    # Per sale position along the chains (1 = first sale, 2 = the next...), per currency:
    # amounts paid to each role, and (community amount carried, price) for the share.
    split_by_step: dict[int, dict[str, dict[str, int]]] = field(default_factory=dict)
    share_by_step: dict[int, dict[str, Decimal]] = field(default_factory=dict)


def _day(text: str) -> date:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def _passes(trace: LotTrace, step: Mapping[str, Any], filters: Filters,
            upstream_of_actor: frozenset[str] = frozenset()) -> bool:
    day = _day(step["at"])
    lot = step["lots"][0]
    return ((filters.community is None or trace.community_name == filters.community)
            and (filters.cooperative is None or filters.cooperative in trace.actors
                 or lot in upstream_of_actor)
            and (filters.product is None or trace.harvested_product == filters.product)
            and (filters.season is None or trace.season == filters.season)
            and (filters.start is None or day >= filters.start)
            and (filters.end is None or day <= filters.end))


def indicators_for(ledger: Ledger, filters: Filters = Filters()) -> Indicators:
    """Every indicator over the whole ledger (one ordered read of the timeline steps)."""
    products = {p.code: p for p in ledger.store.products()}
    kinds: dict[str, str] = {a.actor_id: a.kind.value for a in ledger.store.actors()}
    # One replay builds a trace per lot: hundreds of thousands of objects, none in a
    # cycle, so the collector's full passes over them would only slow the replay down.
    with paused_gc():
        reached: frozenset[str] = frozenset()
        if filters.cooperative is not None:
            reached = lots_upstream_of_actor(ledger.store.iter_steps(), filters.cooperative)
        return compute(ledger.store.iter_steps(), products, kinds, filters, reached)


def lots_upstream_of_actor(steps: Iterable[Mapping[str, Any]], actor: str) -> frozenset[str]:
    """Lots that later passed through ``actor``: the harvests and intermediate lots its
    own lots came from (a first pass, since the forward replay cannot see the future)."""
    parents: dict[str, list[str]] = defaultdict(list)
    touched: set[str] = set()
    for step in steps:
        lots = step["lots"]
        if not lots:
            continue
        if step["actor"] == actor or step.get("to") == actor:
            touched.update(lots)
        kind = step["kind"]
        if kind == "lot.split":
            for child in step["children"]:
                parents[child["lot"]].append(lots[0])
        elif kind == "lots.merged":
            parents[step["into"]].extend(lots[:-1])
        elif kind == "lot.transformed":
            for output in step["outputs"]:
                parents[output["lot"]].extend(step["inputs"])
    seen: set[str] = set()
    stack = list(touched)
    while stack:
        lot = stack.pop()
        if lot not in seen:
            seen.add(lot)
            stack.extend(parents.get(lot, ()))
    return frozenset(seen)


def compute(steps: Iterable[Mapping[str, Any]], products: Mapping[str, Product],
            actor_kinds: Mapping[str, str], filters: Filters = Filters(),
            reached: frozenset[str] = frozenset()) -> Indicators:
    lots: dict[str, LotTrace] = {}
    out = Indicators()
    volumes: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    benefits: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seqs: dict[str, list[int]] = defaultdict(list)
    harvesters: set[str] = set()
    households: set[str] = set()
    pending_sale: dict[str, Mapping[str, Any]] = {}
    days: list[int] = []
    community_in: dict[str, Decimal] = defaultdict(Decimal)
    final_prices: dict[str, int] = defaultdict(int)
    step_split: dict[int, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int)))
    step_community: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    step_prices: dict[tuple[int, str], int] = defaultdict(int)

    def key(trace: LotTrace) -> str:
        return f"{trace.product} ({trace.unit})"

    for step in steps:
        kind, seq, lot_ids = step["kind"], step["seq"], step["lots"]
        if not lot_ids:
            continue  # registrations and key events
        if kind == "lot.harvested":
            trace = LotTrace(step["product"], Decimal(step["quantity"]), step["unit"],
                             step["season"], step["origin"]["community"], step["product"],
                             date.fromisoformat(step["harvest"]["end"]), {step["actor"]})
            lots[lot_ids[0]] = trace
            if _passes(trace, step, filters, reached):
                volumes["harvested"][key(trace)] += trace.quantity
                harvesters.update(step.get("harvester_refs", []))
                households.update(step.get("household_refs", []))
                seqs["harvested"].append(seq)
            continue
        parent = lots.get(lot_ids[0])
        if parent is None:
            continue
        parent.actors.add(step["actor"])
        if kind == "lot.dispatched":
            pending_sale[lot_ids[0]] = step
        elif kind == "lot.received":
            sale = pending_sale.pop(lot_ids[0], None)
            if sale is None:
                continue
            valuation = sale["valuation"]
            currency = valuation["price"]["currency"]
            for share in valuation["split"]:
                if share["role"] in COMMUNITY_ROLES:
                    parent.community[currency] = parent.community.get(currency, Decimal(0)) \
                        + share["amount"]
            parent.sales += 1
            if not _passes(parent, step, filters, reached):
                parent.sold = True
                continue
            position = parent.sales
            for share in valuation["split"]:
                benefits[parent.season or "?"][f"{share['role']} {currency}"] += share["amount"]
                step_split[position][currency][share["role"]] += share["amount"]
            step_community[(position, currency)] += parent.community.get(currency, Decimal(0))
            step_prices[(position, currency)] += valuation["price"]["amount"]
            seqs["benefits"].append(sale["seq"])
            if not parent.sold:
                volumes["sold at first sale"][key(parent)] += parent.quantity
                seqs["first_sales"].extend([sale["seq"], seq])
                out.first_sales.append(_first_sale(lot_ids[0], parent, sale, products))
            parent.sold = True
            if actor_kinds.get(step["actor"]) == "buyer":
                volumes["sold to buyers"][key(parent)] += parent.quantity
                days.append((_day(step["at"]) - parent.first_harvest).days)
                out.final_sale_lots.append(lot_ids[0])
                out.final_sales.append((lot_ids[0], key(parent), parent.quantity))
                community_in[currency] += parent.community.get(currency, Decimal(0))
                final_prices[currency] += valuation["price"]["amount"]
                seqs["final_sales"].extend([sale["seq"], seq])
        elif kind == "lot.refused":
            pending_sale.pop(lot_ids[0], None)
        elif kind == "lot.split":
            for child in step["children"]:
                quantity = Decimal(child["quantity"])
                fraction = quantity / parent.quantity if parent.quantity else Decimal(0)
                lots[child["lot"]] = LotTrace(
                    parent.product, quantity, parent.unit, parent.season, parent.community_name,
                    parent.harvested_product, parent.first_harvest, set(parent.actors),
                    parent.sold, {c: v * fraction for c, v in parent.community.items()},
                    parent.sales)
        elif kind == "lots.merged":
            inputs = [lots[x] for x in lot_ids[:-1] if x in lots]
            lots[step["into"]] = _merged(inputs, Decimal(step["quantity"]), Decimal(1))
        elif kind == "lot.transformed":
            inputs = [lots[x] for x in step["inputs"] if x in lots]
            total_in = sum((t.quantity for t in inputs), Decimal(0))
            if _passes(parent, step, filters, reached):
                volumes["processed"][key(parent)] += total_in
                seqs["processed"].append(seq)
            total_out = sum((Decimal(o["quantity"]) for o in step["outputs"]), Decimal(0))
            for output in step["outputs"]:
                quantity = Decimal(output["quantity"])
                merged = _merged(inputs, quantity, quantity / total_out)
                merged.product = output["product"]
                merged.unit = products[output["product"]].unit \
                    if output["product"] in products else parent.unit
                lots[output["lot"]] = merged
                if _passes(parent, step, filters, reached):
                    out.yields.append(_yield(parent.product, output["product"],
                                             step["process"], total_in, quantity, products,
                                             seq))
        elif kind == "lot.adjusted":
            loss = -Decimal(step["change"])
            if _passes(parent, step, filters, reached):
                volumes["lost"][key(parent)] += loss
                seqs["lost"].append(seq)
            parent.quantity -= loss
    out.volumes = {k: dict(v) for k, v in volumes.items()}
    out.benefits = {k: dict(v) for k, v in benefits.items()}
    out.harvesters = len(harvesters)
    out.households = len(households)
    ordered = sorted(days)
    out.days_to_final_sale = {  # p90 by the nearest-rank method
        "median": float(median(ordered)) if days else None,
        "p90": float(ordered[math.ceil(0.9 * len(ordered)) - 1]) if days else None,
        "lots": float(len(days))}
    out.farm_gate_share = {
        currency: (community_in[currency] / final_prices[currency]).quantize(Decimal("0.0001"))
        for currency in sorted(final_prices) if final_prices[currency]}
    out.entries = dict(seqs)
    out.split_by_step = {k: {c: dict(roles) for c, roles in v.items()}
                         for k, v in sorted(step_split.items())}
    shares: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for (position, currency), price in sorted(step_prices.items()):
        if price:
            shares[position][currency] = (step_community[(position, currency)] / price
                                          ).quantize(Decimal("0.0001"))
    out.share_by_step = dict(shares)
    return out


def _merged(inputs: list[LotTrace], quantity: Decimal, fraction: Decimal) -> LotTrace:
    """A lot made of ``inputs``, carrying ``fraction`` of their embedded payments."""
    first = inputs[0]
    embedded: dict[str, Decimal] = defaultdict(Decimal)
    for trace in inputs:
        for currency, amount in trace.community.items():
            embedded[currency] += amount * fraction
    names = {t.community_name for t in inputs}
    return LotTrace(first.product, quantity, first.unit,
                    first.season if len({t.season for t in inputs}) == 1 else None,
                    first.community_name if len(names) == 1 else None,
                    first.harvested_product, min(t.first_harvest for t in inputs),
                    set().union(*(t.actors for t in inputs)), any(t.sold for t in inputs),
                    dict(embedded), max(t.sales for t in inputs))


def _first_sale(lot: str, trace: LotTrace, sale: Mapping[str, Any],
                products: Mapping[str, Product]) -> dict[str, Any]:
    price = sale["valuation"]["price"]
    product = products.get(trace.product)
    reference = product.reference_min_price if product else None
    per_unit = Decimal(price["amount"]) / trace.quantity
    row: dict[str, Any] = {"lot": lot, "seq": sale["seq"], "at": sale["at"],
                           "product": trace.product, "currency": price["currency"],
                           "price_per_unit": per_unit.quantize(Decimal("0.01")),
                           "reference_min": None, "premium_per_unit": None,
                           "premium_total": None}
    if reference is not None and reference.currency == price["currency"]:
        premium = per_unit - reference.amount
        row.update(reference_min=reference.amount,
                   premium_per_unit=premium.quantize(Decimal("0.01")),
                   premium_total=int((premium * trace.quantity).to_integral_value()))
    return row


def _yield(source: str, target: str, process: str, total_in: Decimal, out: Decimal,
           products: Mapping[str, Product], seq: int) -> dict[str, Any]:
    rule = products[source].transformation_to(target, process) if source in products else None
    ratio = (out / total_in).quantize(Decimal("0.0001")) if total_in else None
    return {"seq": seq, "from": source, "to": target, "process": process, "yield": ratio,
            "min": rule.yield_min if rule else None, "max": rule.yield_max if rule else None}



@dataclass(frozen=True, slots=True)
class VerifiedShare:
    """Of the volume sold to buyers, how much has a history that verifies completely."""

    by_product: dict[str, tuple[Decimal, Decimal]]  # "product (unit)" -> (verified, total)
    failed_lots: list[str]
    unanchored_lots: list[str]

    def share(self, product: str) -> Decimal | None:
        verified, total = self.by_product[product]
        return (verified / total).quantize(Decimal("0.0001")) if total else None


def verified_share(ledger: Ledger, ind: Indicators,
                   operator_vkey: str | None = None) -> VerifiedShare:
    """Re-check the whole upstream history of every lot sold to a buyer, as its public
    page does (hashes, signatures, chain links, inclusion in the latest signed
    checkpoint): its volume counts as verified only if every entry behind it passes."""
    from ledger.lot_check import Verdict, check_lot_history

    by_product: dict[str, tuple[Decimal, Decimal]] = {}
    failed: list[str] = []
    unanchored: list[str] = []
    for lot, product, quantity in ind.final_sales:
        prov = ledger.provenance(lot, with_entries=False)
        seqs = [s["seq"] for s in prov.upstream_steps()]
        verdict = check_lot_history(ledger, seqs, operator_vkey).verdict
        verified, total = by_product.get(product, (Decimal(0), Decimal(0)))
        if verdict is Verdict.VERIFIED:
            verified += quantity
        elif verdict is Verdict.UNANCHORED:
            unanchored.append(lot)
        else:
            failed.append(lot)
        by_product[product] = (verified, total + quantity)
    return VerifiedShare(by_product, failed, unanchored)
