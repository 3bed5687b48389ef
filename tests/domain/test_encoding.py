"""Canonical JSON: RFC 8785 vectors, and the fast path held to the reference."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.encoding import b64decode, canonical_bytes, hex_decode, parse_json
from ledger.errors import EncodingError

JCS = Path(__file__).parents[2] / "fixtures" / "vectors" / "jcs"
NAMES = sorted(p.stem for p in (JCS / "input").glob("*.json"))


@pytest.mark.parametrize("name", NAMES)
def test_rfc8785_vector(name: str) -> None:
    value = json.loads((JCS / "input" / f"{name}.json").read_text(encoding="utf-8"))
    expected = (JCS / "output" / f"{name}.json").read_bytes()
    assert canonical_bytes(value) == expected
    assert canonical_bytes(value).hex() == (JCS / "outhex" / f"{name}.txt").read_text().replace(
        " ", "").replace("\n", "").lower()


def _numbers() -> list[tuple[str, str]]:
    lines = (JCS / "numbers-appendix-b.csv").read_text().splitlines()
    return [tuple(line.split(",", 1)) for line in lines if line.strip()]  # type: ignore[misc]


@pytest.mark.parametrize(("bits", "expected"), _numbers())
def test_rfc8785_number_samples(bits: str, expected: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    if not expected:
        with pytest.raises(EncodingError):
            canonical_bytes(value)
    else:
        assert canonical_bytes(value) == expected.encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_fast_path_equals_the_reference(value: object) -> None:
    try:
        reference = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(EncodingError):
            canonical_bytes(value)
        return
    assert canonical_bytes(value) == reference


def test_keys_outside_the_bmp_sort_by_utf16_code_units() -> None:
    value = {"\U0001f600": 1, "\ufb01": 2}
    assert canonical_bytes(value) == rfc8785.dumps(value)
    assert canonical_bytes(value).index("\U0001f600".encode()) < canonical_bytes(value).index(
        "\ufb01".encode())


def test_integers_beyond_2_53_are_refused_not_rounded() -> None:
    with pytest.raises(EncodingError):
        canonical_bytes({"amount": 2**53 + 1})


def test_parse_refuses_duplicate_keys_and_nan() -> None:
    with pytest.raises(EncodingError, match="duplicate key"):
        parse_json(b'{"a":1,"a":2}')
    with pytest.raises(EncodingError, match="NaN"):
        parse_json(b'{"a":NaN}')
    with pytest.raises(EncodingError):
        parse_json(b'{"a":')


def test_base64_and_hex_are_strict() -> None:
    assert b64decode("AAEC", size=3) == b"\x00\x01\x02"
    with pytest.raises(EncodingError, match="expected 4 bytes"):
        b64decode("AAEC", size=4)
    with pytest.raises(EncodingError):
        b64decode("AAE=x")
    with pytest.raises(EncodingError, match="lower-case hex"):
        hex_decode("AB" * 32)
    assert hex_decode("ab" * 32) == b"\xab" * 32
