"""GS1's own Digital Link vectors (gs1-syntax-engine), on the part Trilha implements.

Trilha builds and parses GTIN-keyed URIs: key 01 with the qualifiers 22, 10 and 21 in the
path. We run every parse vector of that form with default options (no query string, no
other primary keys, no zero-suppressed GTINs), every escape/unescape vector for path
components, and the generate vectors made only of those AIs. Host-syntax vectors (IPv6
zone ids and the like) are left to the URL library and are out of scope here.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from ledger.domain.gs1 import digital_link_uri, encode_component, parse_digital_link
from ledger.errors import ValidationError
from tests.vectors import load_json

VECTORS = load_json("gs1-digital-link/dl-uri-test-vectors.json")
OUT_OF_SCOPE_HOSTS = {1392}


def _in_scope(case: dict[str, object]) -> bool:
    uri = str(case["uri"])
    if "options" in case or "?" in uri or "/01/" not in uri or case["line"] in OUT_OF_SCOPE_HOSTS:
        return False
    after = uri.split("/01/", 1)[1].split("#")[0]
    keys = after.split("/")[1::2]
    return all(k in ("22", "10", "21") for k in keys)


PARSE = [c for c in VECTORS["parse"] if _in_scope(c)]


def _element_values(element: str) -> dict[str, str]:
    body = element.lstrip("^")
    values = {"01": body[2:16]}
    for part in filter(None, body[16:].split("^")):
        values[part[:2]] = part[2:]
    return values


@pytest.mark.parametrize("case", PARSE, ids=lambda c: str(c["line"]))
def test_parse_vectors(case: dict[str, object]) -> None:
    if not case["valid"]:
        with pytest.raises(ValidationError):
            parse_digital_link(str(case["uri"]))
        return
    link = parse_digital_link(str(case["uri"]))
    expected = _element_values(str(case["expect_element_string"]))
    assert link.gtin14 == expected["01"]
    assert (link.cpv, link.lot, link.serial) == (expected.get("22"), expected.get("10"),
                                                 expected.get("21"))


@pytest.mark.parametrize("case", VECTORS["escape"], ids=lambda c: str(c["line"]))
def test_escape_vectors_for_path_components(case: dict[str, str]) -> None:
    assert encode_component(case["input"]) == case["as_path"]


@pytest.mark.parametrize("case", VECTORS["unescape"], ids=lambda c: str(c["line"]))
def test_unescape_vectors_for_path_components(case: dict[str, str]) -> None:
    assert unquote(case["input"]) == case["as_path"]


GENERATE = [c for c in VECTORS["generate"] if c["valid"] and "options" not in c
            and set(re.findall(r"\((\d+)\)", c["ai_data"])) <= {"01", "22", "10", "21"}
            and len(re.findall(r"\((\d+)\)", c["ai_data"])) ==
            len(set(re.findall(r"\((\d+)\)", c["ai_data"])))]


@pytest.mark.parametrize("case", GENERATE, ids=lambda c: str(c["line"]))
def test_generate_vectors(case: dict[str, str]) -> None:
    values = dict(re.findall(r"\((\d+)\)([^(]*)", case["ai_data"]))
    stem = case["stem"] or "https://id.gs1.org"
    uri = digital_link_uri(stem, values["01"], values.get("10"), serial=values.get("21"),
                           cpv=values.get("22"))
    assert uri == case["expect_uri"]


def test_the_subset_is_not_empty() -> None:
    assert len(PARSE) >= 20 and len(GENERATE) >= 3
