"""How much of a lot's value reached the communities and harvesters, from its provenance.

Every sale (a dispatch acknowledged by a receipt) upstream of the lot paid some amount to
beneficiaries with community roles (harvesters, community funds and associations). A lot
usually holds only part of an upstream lot (after a split) or several of them (after a
merge), so each upstream sale counts with the *weight* of its lot in this one: the share
of that lot's quantity that flowed, through splits, merges and processing, into this
lot. Amounts stay per currency (no exchange rates are recorded); the share is given
against the latest weighted sale in the same currency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

COMMUNITY_ROLES = frozenset({"harvesters", "harvester", "community_fund",
                             "community_association", "community"})
HARVESTER_ROLES = frozenset({"harvesters", "harvester"})


@dataclass(frozen=True, slots=True)
class CurrencyShare:
    currency: str
    community_amount: int  # minor units, weighted
    harvester_amount: int
    reference_sale: int | None  # the latest weighted sale in this currency
    share: Decimal | None  # community_amount / reference_sale


@dataclass(frozen=True, slots=True)
class ValueShare:
    lot: str
    weights: Mapping[str, Decimal]
    by_currency: tuple[CurrencyShare, ...] = field(default=())


def lot_weights(lot_id: str, steps: Iterable[Mapping[str, Any]]) -> dict[str, Decimal]:
    """The fraction of each upstream lot's quantity that ended up in ``lot_id``."""
    contributes: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)  # parent -> children
    for step in steps:
        kind = step["kind"]
        if kind == "lot.split":
            parent_total = sum((Decimal(c["quantity"]) for c in step["children"]), Decimal(0))
            for child in step["children"]:
                contributes[step["lots"][0]].append(
                    (child["lot"], Decimal(child["quantity"]) / parent_total))
        elif kind == "lots.merged":
            for parent in step["lots"][:-1]:
                contributes[parent].append((step["into"], Decimal(1)))
        elif kind == "lot.transformed":
            total = sum((Decimal(o["quantity"]) for o in step["outputs"]), Decimal(0))
            for parent in step["inputs"]:
                for out in step["outputs"]:
                    contributes[parent].append((out["lot"], Decimal(out["quantity"]) / total))
    weights: dict[str, Decimal] = {}

    def weight(node: str, seen: frozenset[str]) -> Decimal:
        if node == lot_id:
            return Decimal(1)
        if node in weights:
            return weights[node]
        total = sum((share * weight(child, seen | {node})
                     for child, share in contributes.get(node, []) if child not in seen),
                    Decimal(0))
        weights[node] = total
        return total

    nodes = set(contributes) | {lot_id}
    return {node: weight(node, frozenset()) for node in nodes if weight(node, frozenset()) > 0}


def community_share(lot_id: str, steps: Iterable[Mapping[str, Any]]) -> ValueShare:
    """Weighted community and harvester amounts per currency, and their share of the sale."""
    steps = list(steps)
    weights = lot_weights(lot_id, steps)
    community: dict[str, Decimal] = defaultdict(Decimal)
    harvesters: dict[str, Decimal] = defaultdict(Decimal)
    latest_sale: dict[str, tuple[int, Decimal]] = {}
    for step in steps:
        if step["kind"] != "lot.dispatched":
            continue
        lot = step["lots"][0]
        weight = weights.get(lot, Decimal(0))
        if not weight:
            continue
        valuation = step["valuation"]
        currency = valuation["price"]["currency"]
        for share in valuation["split"]:
            if share["role"] in COMMUNITY_ROLES:
                community[currency] += share["amount"] * weight
            if share["role"] in HARVESTER_ROLES:
                harvesters[currency] += share["amount"] * weight
        latest_sale[currency] = (step["seq"], valuation["price"]["amount"] * weight)
    out = []
    for currency in sorted(set(community) | set(latest_sale)):
        sale = latest_sale.get(currency)
        reference = int(sale[1].to_integral_value()) if sale else None
        amount = int(community[currency].to_integral_value())
        share = (Decimal(amount) / reference).quantize(Decimal("0.0001")) \
            if reference else None
        out.append(CurrencyShare(currency, amount,
                                 int(harvesters[currency].to_integral_value()), reference,
                                 share))
    return ValueShare(lot_id, weights, tuple(out))
