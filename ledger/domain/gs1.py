"""GS1 keys and Digital Link URIs: GTIN check digits, lot codes (AI 10), URI build and parse.

Lot codes follow AI (10): 1 to 20 characters of GS1 character set 82. In a Digital Link
path every character outside the URI "unreserved" set is percent-encoded; qualifiers of
a GTIN follow the order 22 (CPV), 10 (lot), 21 (serial).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from ledger.errors import ValidationError

CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
                   "abcdefghijklmnopqrstuvwxyz")
QUALIFIER_ORDER = ("22", "10", "21")
_DIGITS = re.compile(r"^[0-9]+$")


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for the digits before it."""
    if not _DIGITS.match(body):
        raise ValidationError(f"gtin: expected digits, got {body!r:.20}", field="gtin")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def check_gtin(gtin: str, *, field: str = "gtin") -> None:
    if not isinstance(gtin, str) or not _DIGITS.match(gtin) or len(gtin) not in (8, 12, 13, 14):
        raise ValidationError(f"{field}: expected 8, 12, 13 or 14 digits, got {gtin!r:.20}",
                              field=field)
    expected = gtin_check_digit(gtin[:-1])
    if int(gtin[-1]) != expected:
        raise ValidationError(f"{field}: check digit expected {expected}, got {gtin[-1]}",
                              field=field)


def to_gtin14(gtin: str) -> str:
    check_gtin(gtin)
    return gtin.zfill(14)


def check_lot(lot: str, *, field: str = "lot") -> None:
    if not isinstance(lot, str) or not 1 <= len(lot) <= 20:
        raise ValidationError(f"{field}: expected 1 to 20 characters, got {lot!r:.30}",
                              field=field)
    bad = sorted(set(lot) - CSET82)
    if bad:
        raise ValidationError(f"{field}: characters outside GS1 AI (10) set: "
                              f"{''.join(bad)!r}", field=field)


def encode_component(value: str) -> str:
    """Percent-encode everything but the unreserved characters A-Z a-z 0-9 - . _ ~."""
    return quote(value, safe="")


def digital_link_uri(base: str, gtin: str, lot: str | None = None, *,
                     serial: str | None = None, cpv: str | None = None) -> str:
    """``BASE/01/{GTIN-14}[/22/{cpv}][/10/{lot}][/21/{serial}]``, values percent-encoded."""
    uri = f"{base.rstrip('/')}/01/{to_gtin14(gtin)}"
    for ai, value in (("22", cpv), ("10", lot), ("21", serial)):
        if value is not None:
            check_lot(value, field=f"ai{ai}")
            uri += f"/{ai}/{encode_component(value)}"
    return uri


@dataclass(frozen=True, slots=True)
class DigitalLink:
    gtin14: str
    lot: str | None = None
    serial: str | None = None
    cpv: str | None = None


def parse_digital_link(uri_or_path: str) -> DigitalLink:
    """Parse ``.../01/{gtin14}[/22/{cpv}][/10/{lot}][/21/{serial}]`` (a URI or a path)."""
    path = urlsplit(uri_or_path).path if "://" in uri_or_path else uri_or_path.split("?")[0]
    segments = path.split("/")
    try:
        start = segments.index("01")
    except ValueError as exc:
        raise ValidationError("digital link: no /01/ GTIN in the path", field="uri") from exc
    pairs = segments[start:]
    if len(pairs) % 2 or any(not segment for segment in pairs):
        raise ValidationError("digital link: path must alternate AI and value", field="uri")
    gtin = unquote(pairs[1])
    if len(gtin) != 14:
        raise ValidationError(f"digital link: /01/ expects 14 digits, got {gtin!r:.20}",
                              field="gtin")
    check_gtin(gtin)
    values: dict[str, str] = {}
    last = -1
    for ai, raw in zip(pairs[2::2], pairs[3::2], strict=True):
        if ai not in QUALIFIER_ORDER:
            raise ValidationError(f"digital link: /{ai}/ is not a GTIN qualifier", field="uri")
        order = QUALIFIER_ORDER.index(ai)
        if order <= last:
            raise ValidationError("digital link: qualifiers must come in the order 22, 10, 21",
                                  field="uri")
        last = order
        value = unquote(raw)
        check_lot(value, field=f"ai{ai}")
        values[ai] = value
    return DigitalLink(gtin, values.get("10"), values.get("21"), values.get("22"))
