"""Hostile and edge values for the doors (issue 13): named, so a failure says which."""

from __future__ import annotations

import math
from typing import Any

from tests.doors import RawJson

POINT = {"type": "Point", "coordinates": [-68.512345, -10.654321]}
SQUARE = {"type": "Polygon", "coordinates": [[[-68.5, -10.6], [-68.4, -10.6], [-68.4, -10.5],
                                              [-68.5, -10.5], [-68.5, -10.6]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}


def huge_polygon() -> dict[str, Any]:
    """A simple ring of 100,000 points (only its size is wrong), with no integral
    coordinate (which would send JCS down its slow path)."""
    ring = [[round(-68.1234567 + 0.01 * math.cos(2 * math.pi * i / 100_000), 7),
             round(-10.1234567 + 0.01 * math.sin(2 * math.pi * i / 100_000), 7)]
            for i in range(100_000)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


_OVER = [[-68.0 - 0.001 * math.cos(2 * math.pi * i / 5001) + 1e-7,
          -10.0 - 0.001 * math.sin(2 * math.pi * i / 5001) + 1e-7] for i in range(5000)]
DEEP = RawJson('{"type": "Point", "coordinates": ' + "[" * 10_000 + "]" * 10_000 + "}")

# Plot geometries that no door may accept, each named for the report.
HOSTILE_GEOMETRY: dict[str, Any] = {
    "self-crossing polygon": BOWTIE,
    "latitude -100.6": {"type": "Point", "coordinates": [-60.1, -100.6]},
    "coordinate 1e308": {"type": "Point", "coordinates": [1e308, 1]},
    "coordinate NaN": {"type": "Point", "coordinates": [math.nan, 1]},
    "coordinate Infinity": {"type": "Point", "coordinates": [math.inf, 1]},
    "coordinate beyond 64 bits": {"type": "Point", "coordinates": [2**70, 1]},
    "coordinate of 400 digits": {"type": "Point", "coordinates": [10**400, 1]},
    "unknown geometry type": {"type": "Circle", "coordinates": [1, 2]},
    "geometry a list": [1, 2],
    "geometry a number": 5,
    "geometry text that is not JSON": "POINT (1 2)",
    "extra member": {**POINT, "crs": "EPSG:4326"},
    "5,001 points (one over the limit)": {"type": "Polygon",
                                          "coordinates": [[*_OVER, _OVER[0]]]},
    "10,000 levels of nesting": DEEP,
    "ring not closed": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
    "ring of three positions": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
    "duplicate member names": RawJson('{"type": "Point", "type": "Polygon", '
                                      '"coordinates": [1, 2]}'),
}
# Harvest fields that no door may accept.
# Harvest fields that no door may accept. Those a door reads its own way (geometry as an
# object or as text, lists, numbers written as text, control characters) go through
# every door; the rest meet the same code once parsed, and go through one web door and
# one CLI door (the property test samples every door for them too).
HOSTILE_HARVEST: dict[str, dict[str, Any]] = {
    **{f"geometry: {name}": {"geometry": value} for name, value in HOSTILE_GEOMETRY.items()},
    "NUL in a text": {"community": "Seringal\x00Cachoeira"},
    "control character": {"territory": "RESEX\x1b[31m"},
    "over-long text": {"community": "x" * 100_000},
    "Unicode digit": {"quantity": "²"},
    "Arabic-Indic digits": {"quantity": "١٢٣"},
    "integer beyond 64 bits": {"quantity": str(2**64 + 1)},
    "7 decimals": {"quantity": "1.1234567"},
    "shares of 99.99%": {"shares": ["hv-g:harvesters:89.99", "fund:community_fund:10"]},
    "shares of 100.01%": {"shares": ["hv-g:harvesters:90.01", "fund:community_fund:10"]},
    "lot code of 21 characters": {"lot": "L" * 21},
    "lot code with #": {"lot": "BN#1"},
    "impossible date": {"harvest_end": "2024-02-30"},
    "NUL in the product": {"product": "brazil-nut\x00-in-shell"},
}
HOSTILE_HARVEST_RULES: dict[str, dict[str, Any]] = {
    "zero quantity": {"quantity": "0"},
    "negative quantity": {"quantity": "-1"},
    "a share of 0%": {"shares": ["hv-g:harvesters:100", "fund:community_fund:0"]},
    "a thousandth of a percent": {"shares": ["hv-g:harvesters:89.999",
                                             "fund:community_fund:10.001"]},
    "unknown product": {"product": "cupuacu-butter"},
    "date in the future": {"harvest_end": "2030-01-01"},
    "end before start": {"harvest_start": "2024-12-02", "harvest_end": "2024-12-01"},
    "price finer than the currency": {"price": "441.035"},
    "unknown currency": {"currency": "ZZZ"},
    "three-letter country": {"country": "BRA"},
    "full-width season": {"season": "２０２４"},
    "a harvester's name": {"harvesters": ["Maria da Silva"]},
    "EUDR product without its plot": {"product": "natural-rubber-cernambi"},
}


MOVEMENTS = ("dispatch", "receive", "refuse", "split", "merge", "transform", "adjust")
HOSTILE_OTHER_KINDS: list[tuple[str, dict[str, Any]]] = [
    ("dispatch", {"to": "nobody"}), ("dispatch", {"to": "assoc-cachoeira"}),
    ("dispatch", {"shares": ["hv-g:harvesters:99.99"]}), ("dispatch", {"price": "-1"}),
    ("receive", {"lot": "NO-SUCH-LOT"}), ("receive", {"dispatch": "not-a-uuid"}),
    ("refuse", {"reason": "\x00"}),
    ("split", {"children": "X-1=60,X-1=40"}), ("split", {"children": "X-1=100"}),
    ("split", {"children": "X-1=60,X-2=39"}), ("split", {"children": "X-1=1e2,X-2=0"}),
    ("split", {"children": [{"lot": ["x"], "quantity": "1"}]}),
    ("merge", {"lots": ["NO-SUCH-LOT", "NOR-THIS"]}), ("merge", {"into": "L" * 21}),
    ("transform", {"outputs": ["K-9:brazil-nut-kernel:90"]}),  # yield 0.9: out of range
    ("transform", {"process": "alchemy"}), ("transform", {"outputs": "K-9:kernel"}),
    ("adjust", {"loss": "0"}), ("adjust", {"loss": "1000"}), ("adjust", {"reason": "theft"}),
    ("adjust", {"loss": "²"}), ("adjust", {"note": "a" * 501}),
]



# -- pools the property tests draw from: valid, edge and hostile values, by field -------

MULTI = {"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"]]}
TEXT = ["Seringal Cachoeira", "Ação Ñandú", "", " ", "x\n", "a\x00b", "\x1b[31m", "\u2028",
        "x" * 201, "²", "١٢٣", "😀", "<script>alert(1)</script>", "a" * 200]
GENERIC: list[Any] = [None, 0, -1, 2**64 + 1, 1.5, math.nan, math.inf, True, [], {}, ["x"],
                      {"a": 1}, RawJson("[" * 40 + "]" * 40), RawJson('{"a": 1, "a": 2}')]
QUANTITIES = ["120.5", "100", "0", "-1", "1.1234567", "1.123456", "1e3", "²", "١٢", "NaN",
              "Infinity", "999999999999", "9999999999999", "0.000001", " 1", "1\n", "1,5",
              "007", "+1", "39.5", "60.5", 2**70, 12.5]
DATES = ["2024-11-02", "2024-02-30", "2025-13-01", "2030-01-01", "9999-12-31", "2024-1-1",
         "2024-02-29", "2025-01-06", "2025-01-07", "0001-01-01", "2024-11-02\n", "²⁰²⁴-01-01"]
SHARES: list[Any] = [
    ["hv-g:harvesters:100"], ["hv-g:harvesters:99.99"], ["hv-g:harvesters:100.01"],
    ["a-1:harvesters:50", "b-1:cooperative:49.99"], ["a-1:harvesters:50", "b-1:trader:50.01"],
    ["a-1:harvesters:33.33", "b-1:cooperative:33.33", "c-1:trader:33.34"],
    ["a-1:harvesters:0", "b-1:cooperative:100"], ["a-1:harvesters:33.333", "b-1:other:66.667"],
    "a-1:harvesters:60;b-1:cooperative:40", ["a-1:bogus:100"], ["a-1:harvesters:50",
                                                               "a-1:cooperative:50"],
    ["x:harvesters:100\n"], [":harvesters:100"], ["a-1:harvesters:1e2"],
    ["a-1:harvesters:²"], ["a-1:harvesters:100%"], [f"a-{n}:other:5" for n in range(20)],
    [f"a-{n}:other:1" for n in range(100)]]
POOLS: dict[str, list[Any]] = {
    "lot": ["BN/1?%", "BN#1", "L" * 21, "L" * 20, "bn 1", "Ç-1", "BN-1\n", "H-1", "S-1"],
    "into": ["BN/2?%", "L" * 21, "M-NEW", "S-1", ""],
    "quantity": QUANTITIES, "loss": QUANTITIES,
    "price": ["441.03", "0", "0.001", "1.23", "999999999999.99", "-5", "1e2", "١", "1.5"],
    "currency": ["BRL", "CLP", "ZZZ", "brl", "BRL\n", "JPY", "KWD", "XXX"],
    "shares": SHARES, "harvest_start": DATES, "harvest_end": DATES,
    "product": ["brazil-nut-in-shell", "acai-fruit", "brazil-nut-kernel", "cupuacu-butter",
                "Brazil-Nut", "brazil-nut\x00", "açaí", "natural-rubber-cernambi"],
    "unit": ["KGM", "LTR", "kg", "H87", "KGM\n", "XYZ"],
    "season": ["2024", "2024/25", "24", "2024\n", "２０２４"],
    "country": ["BR", "CL", "BRA", "br", "BR\n", "ZZ"],
    "geometry": [*HOSTILE_GEOMETRY.values(), POINT, SQUARE, MULTI,
                 '{"type": "Point", "coordinates": [-68.5, -10.6]}'],
    "area_ha": ["3.5", "4", "5", "-1", "0", "1e2", "12"],
    "harvesters": [["hv-3f9a2c"], [], ["Maria da Silva"], ["hv-3f9a2c\n"], ["hv-1"],
                   ["hv-" + "a" * 70], "hv-aaaa,hv-bbbb", ["hv-aaaa", "hv-aaaa"]],
    "households": [["hh-2b81c0"], [], ["Família Silva"], "hh-aaaa;hh-bbbb"],
    "to": ["coop", "buyer", "nobody", "assoc-cachoeira", "COOP", "coop\n", "operator"],
    "reason": ["loss", "spoilage", "moisture", "correction", "theft", "too wet", ""],
    "note": TEXT, "community": TEXT, "territory": TEXT, "plot": TEXT,
    "dispatch": ["00000000-0000-4000-8000-000000000000", "not-a-uuid", ""],
    "process": ["shelling-drying", "pressing", "alchemy", "", "Shelling-Drying"],
    "children": ["X-1=60,X-2=40", "X-1=100", "X-1=60,X-1=40", "X-1=1e2,X-2=0", "=,=",
                 [{"lot": "X-1", "quantity": "50"}, {"lot": "X-2", "quantity": "50"}],
                 {"X-1": "50", "X-2": "50"}],
    "lots": [["S-1"], ["S-1", "S-1"], ["NO-SUCH-LOT", "S-2"], "S-1,S-2", []],
    "inputs": [["S-1"], ["S-1", "S-1"], ["NO-SUCH-LOT"], []],
    "outputs": [["K-1:brazil-nut-kernel:40"], ["K-1:brazil-nut-kernel:90"], "K-1:kernel",
                ["K-1:acai-pulp:40"], ["K-1:brazil-nut-kernel:40", "K-1:brazil-nut-kernel:1"]],
}
# Signed-event members, by the name of the member a value goes under.
EVENT_POOLS: dict[str, list[Any]] = {
    "value": QUANTITIES, "quantity": QUANTITIES, "change": ["-1", "0", "-0", "1", "-1e2",
                                                            "-0.0000001", "-1.5"],
    "amount": [0, -1, 2**53, 2**64 + 1, 1.5, math.nan, "100", 36600],
    "share_bp": [0, 1, 9999, 10001, -1, 10000, 7000],
    "at": ["2025-01-06T12:00:00Z", "2030-01-01T00:00:00Z", "2025-02-30T00:00:00Z",
           "2025-01-06T12:00:00.5Z", "2025-01-06 12:00:00Z", "2025-01-06T12:00:00+00:00"],
    "id": ["not-a-uuid", "00000000-0000-4000-8000-00000000000A", ""],
    "actor": ["coop", "nobody", "assoc-cachoeira", "operator", "COOP"],
    "kind": ["lot.harvested", "lot.adjusted", "lot.unknown", "actor.registered"],
    "geometry": POOLS["geometry"], "lot": POOLS["lot"], "product": POOLS["product"],
    "unit": POOLS["unit"], "currency": POOLS["currency"], "start": DATES, "end": DATES,
    "public_key": ["", "AAAA", "A" * 43 + "=", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="],
    "signature": ["", "AAAA", "A" * 86 + "=="],
    "reason": POOLS["reason"], "note": TEXT, "community": TEXT,
}
