"""GS1 keys and Digital Link URIs for labels."""

from __future__ import annotations

import pytest

from ledger.domain.gs1 import (
    check_gtin,
    check_lot,
    digital_link_uri,
    gtin_check_digit,
    parse_digital_link,
)
from ledger.errors import ValidationError


def test_check_digits() -> None:
    assert gtin_check_digit("952012345001") == 4
    check_gtin("9520123450014")
    with pytest.raises(ValidationError, match="check digit expected 4, got 5"):
        check_gtin("9520123450015")


def test_lot_codes_follow_ai_10() -> None:
    check_lot("BN-XAP-25/001")
    for bad in ("", "x" * 21, "lote com espaço", "açaí"):
        with pytest.raises(ValidationError):
            check_lot(bad)


def test_digital_link_round_trip_with_percent_encoding() -> None:
    uri = digital_link_uri("https://trilha.example/", "9520123450014", "BN/25%1")
    assert uri == "https://trilha.example/01/09520123450014/10/BN%2F25%251"
    link = parse_digital_link(uri)
    assert (link.gtin14, link.lot) == ("09520123450014", "BN/25%1")


def test_qualifiers_must_come_in_order() -> None:
    with pytest.raises(ValidationError, match="order"):
        parse_digital_link("/01/09520123450014/21/S1/10/L1")
    with pytest.raises(ValidationError):
        parse_digital_link("/01/9520123450014/10/L1")  # 13 digits: not GTIN-14
