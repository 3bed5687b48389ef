"""Quantities, money and the benefit-split arithmetic.

Quantities are ``Decimal`` with a UN/ECE Recommendation 20 unit code; money is an
integer number of minor units of an ISO 4217 currency. Floats never appear.

Rounding rule for benefit splits (documented in README and docs/FORMAT.md): shares are
integer basis points summing to 10,000. Each beneficiary first gets
``floor(price * share_bp / 10000)``; the minor units left over (fewer than the number of
beneficiaries) go one each to the beneficiaries with the largest remainders, ties broken
by their order in the split. The result is deterministic and sums exactly to the price.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from babel.numbers import get_currency_precision, list_currencies

from ledger.errors import RuleViolation, ValidationError

# UN/ECE Recommendation 20 codes accepted for lot quantities.
UNITS: Final = {
    "KGM": "kilogram",
    "GRM": "gram",
    "TNE": "tonne",
    "LTR": "litre",
    "MLT": "millilitre",
    "H87": "piece",
}

# How people write each unit after a number.
UNIT_SYMBOLS: Final = {"KGM": "kg", "GRM": "g", "TNE": "t", "LTR": "L", "MLT": "mL",
                       "H87": "pcs"}

BASIS_POINTS_WHOLE: Final = 10_000
MAX_MINOR_UNITS: Final = 2**53 - 1
_DECIMAL_TEXT = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$")
_CURRENCIES: Final = frozenset(list_currencies())


def parse_quantity_text(text: object, *, field: str = "quantity") -> Decimal:
    """Parse a non-negative decimal written as a plain string ("412.5")."""
    if not isinstance(text, str) or not _DECIMAL_TEXT.match(text):
        raise ValidationError(
            f"{field}: expected a decimal string such as \"412.5\" (at most 12 digits and 6 "
            f"decimals, no sign or exponent), got {text!r:.40}",
            field=field,
        )
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guards it
        raise ValidationError(f"{field}: not a decimal", field=field) from exc


def format_quantity(value: Decimal) -> str:
    """The one textual form of a quantity: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point of an ISO 4217 currency (BRL 2, CLP 0)."""
    return int(get_currency_precision(currency))


def check_currency(currency: object, *, field: str = "currency") -> str:
    if not isinstance(currency, str) or currency not in _CURRENCIES or len(currency) != 3:
        raise ValidationError(
            f"{field}: expected an ISO 4217 currency code such as BRL, got {currency!r:.20}",
            field=field,
        )
    return currency


@dataclass(frozen=True, slots=True)
class Quantity:
    value: Decimal
    unit: str

    def __str__(self) -> str:
        return f"{format_quantity(self.value)} {self.unit}"


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __str__(self) -> str:
        exponent = currency_exponent(self.currency)
        major = Decimal(self.amount).scaleb(-exponent)
        return f"{self.currency} {major:,.{exponent}f}"


@dataclass(frozen=True, slots=True)
class Share:
    """One beneficiary's part of a price: who, in what role, what share, how much."""

    party: str
    role: str
    share_bp: int
    amount: int


@dataclass(frozen=True, slots=True)
class Valuation:
    """A price and its benefit split."""

    price: Money
    split: tuple[Share, ...]


def allocate(total: int, shares_bp: Sequence[int]) -> list[int]:
    """Split ``total`` minor units by basis points with the largest-remainder rule."""
    if sum(shares_bp) != BASIS_POINTS_WHOLE:
        raise ValueError("shares must sum to 10000 basis points")
    floors = [total * bp // BASIS_POINTS_WHOLE for bp in shares_bp]
    remainders = [total * bp % BASIS_POINTS_WHOLE for bp in shares_bp]
    left = total - sum(floors)
    order = sorted(range(len(shares_bp)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def check_valuation(valuation: Valuation, *, lot: str | None, field: str = "valuation") -> None:
    """Shares sum to exactly 100% and amounts to exactly the price, by the rounding rule."""
    price = valuation.price
    if not 0 <= price.amount <= MAX_MINOR_UNITS:
        raise RuleViolation("price_range", f"{field}.price.amount: expected 0..2^53-1 minor "
                            f"units, got {price.amount}", field=f"{field}.price.amount", lot=lot)
    if not valuation.split:
        raise RuleViolation("split_empty", f"{field}.split: expected at least one beneficiary, "
                            "got none", field=f"{field}.split", lot=lot)
    parties = [share.party for share in valuation.split]
    if len(set(parties)) != len(parties):
        raise RuleViolation("split_duplicate_party", f"{field}.split: each party may appear "
                            f"once, got {parties}", field=f"{field}.split", lot=lot)
    bps = [share.share_bp for share in valuation.split]
    if any(bp <= 0 for bp in bps):
        raise RuleViolation("split_share_positive", f"{field}.split: every share must be "
                            f"positive, got {bps}", field=f"{field}.split", lot=lot)
    total_bp = sum(bps)
    if total_bp != BASIS_POINTS_WHOLE:
        raise RuleViolation(
            "split_sums_to_100_percent",
            f"{field}.split: shares must sum to 10000 basis points (100%), got {total_bp}",
            field=f"{field}.split", lot=lot)
    expected = allocate(price.amount, bps)
    amounts = [share.amount for share in valuation.split]
    if sum(amounts) != price.amount:
        raise RuleViolation(
            "split_sums_to_price",
            f"{field}.split: amounts must sum to the price {price.amount}, got {sum(amounts)}",
            field=f"{field}.split", lot=lot)
    if amounts != expected:
        raise RuleViolation(
            "split_rounding",
            f"{field}.split: amounts must follow the largest-remainder rule, expected "
            f"{expected}, got {amounts}", field=f"{field}.split", lot=lot)


def build_valuation(price: Money, parts: Sequence[tuple[str, str, int]]) -> Valuation:
    """A valuation from (party, role, basis points) triples, amounts by the rounding rule."""
    amounts = allocate(price.amount, [bp for _, _, bp in parts])
    shares = tuple(Share(party, role, bp, amount)
                   for (party, role, bp), amount in zip(parts, amounts, strict=True))
    return Valuation(price=price, split=shares)
