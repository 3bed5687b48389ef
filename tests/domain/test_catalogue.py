"""The shipped catalogue: complete, with the PGPMBio 2025 prices and working yield checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.catalogue_file import read_catalogue
from ledger.domain.catalogue import Product, check_yield
from ledger.domain.gs1 import check_gtin
from ledger.errors import RuleViolation, ValidationError
from ledger.wire.products import load_catalogue

PRODUCTS = {p.code: p for p in read_catalogue()}


def test_every_required_product_is_there_with_three_names() -> None:
    for code in ("brazil-nut-in-shell", "brazil-nut-kernel", "brazil-nut-oil", "acai-fruit",
                 "acai-pulp", "natural-rubber-cernambi", "copaiba-oil", "andiroba-seed",
                 "andiroba-oil", "babacu-kernel", "baru-nut", "pequi-fruit",
                 "maqui-berry-fresh", "rosehip-fresh"):
        names = dict(PRODUCTS[code].names)
        assert {"en", "pt-BR", "es"} <= names.keys(), code


@pytest.mark.parametrize(("code", "centavos"), [
    ("acai-fruit", 198), ("brazil-nut-in-shell", 366), ("natural-rubber-cernambi", 741),
    ("babacu-kernel", 635), ("andiroba-seed", 286), ("pequi-fruit", 69)])
def test_pgpmbio_2025_minimum_prices(code: str, centavos: int) -> None:
    price = PRODUCTS[code].reference_min_price
    assert price is not None
    assert (price.amount, price.currency, price.per) == (centavos, "BRL", "KGM")
    assert "PGPMBio 2025" in price.source


def test_gtins_have_valid_check_digits_and_only_rubber_is_eudr() -> None:
    for product in PRODUCTS.values():
        if product.gtin:
            check_gtin(product.gtin)
    assert [p.code for p in PRODUCTS.values() if p.eudr] == ["natural-rubber-cernambi"]


def test_yield_checks() -> None:
    rule = PRODUCTS["brazil-nut-in-shell"].transformation_to("brazil-nut-kernel",
                                                            "shelling-drying")
    assert rule is not None
    check_yield(rule, Decimal("1000"), Decimal("380"))
    with pytest.raises(RuleViolation) as caught:
        check_yield(rule, Decimal("1000"), Decimal("600"))
    assert caught.value.rule == "yield_out_of_range" and "0.6000" in caught.value.message


def test_products_round_trip_through_json() -> None:
    for product in PRODUCTS.values():
        assert Product.from_json(product.to_json()) == product
    assert PRODUCTS["acai-fruit"].name("pt-BR") == "Fruto de açaí"
    assert PRODUCTS["acai-fruit"].name("de") == "Fruto de açaí"  # falls back to pt-BR


def test_bad_catalogues_name_the_field() -> None:
    good = PRODUCTS["acai-fruit"].to_json()
    with pytest.raises(ValidationError) as caught:
        load_catalogue([{**good, "gtin": "9520123450015"}])
    assert "[0].gtin" in caught.value.errors
    with pytest.raises(ValidationError) as caught:
        load_catalogue([good])  # acai-pulp, its transformation target, is missing
    assert "unknown product" in caught.value.message
    with pytest.raises(ValidationError):
        load_catalogue([{**good, "unit": "lata"}])
