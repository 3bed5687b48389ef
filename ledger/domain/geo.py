"""GeoJSON geometry of harvest plots and territories: shape checks and simple measures."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Any

from ledger.errors import ValidationError

GEOMETRY_TYPES = ("Point", "Polygon", "MultiPolygon")
MAX_POSITIONS = 5000


def _position(value: Any, field: str) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in value)):
        raise ValidationError(f"{field}: expected a [longitude, latitude] pair of numbers, "
                              f"got {value!r:.60}", field=field)
    lon, lat = float(value[0]), float(value[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError(f"{field}: expected longitude in -180..180 and latitude in "
                              f"-90..90, got {value}", field=field)
    return lon, lat


def _ring(value: Any, field: str) -> list[tuple[float, float]]:
    if not isinstance(value, list) or len(value) < 4:
        raise ValidationError(f"{field}: a polygon ring needs at least 4 positions",
                              field=field)
    ring = [_position(p, f"{field}[{i}]") for i, p in enumerate(value)]
    if ring[0] != ring[-1]:
        raise ValidationError(f"{field}: a polygon ring must be closed (first position equal "
                              "to the last)", field=field)
    if _self_intersects(ring):
        raise ValidationError(f"{field}: the ring crosses itself", field=field)
    return ring


def _segments_cross(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float],
                    d: tuple[float, float]) -> bool:
    def orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    d1, d2 = orient(c, d, a), orient(c, d, b)
    d3, d4 = orient(a, b, c), orient(a, b, d)
    return ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4)


def _self_intersects(ring: Sequence[tuple[float, float]]) -> bool:
    edges = list(pairwise(ring))
    for i, (a, b) in enumerate(edges):
        for j in range(i + 2, len(edges)):
            if i == 0 and j == len(edges) - 1:
                continue  # first and last edges share the closing vertex
            c, d = edges[j]
            if _segments_cross(a, b, c, d):
                return True
    return False


def check_geometry(geometry: Any, *, field: str = "geometry") -> None:
    """A Point, Polygon or MultiPolygon with valid, closed, simple rings."""
    if not isinstance(geometry, dict) or set(geometry) != {"type", "coordinates"}:
        raise ValidationError(f"{field}: expected a GeoJSON geometry with only type and "
                              "coordinates", field=field)
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind not in GEOMETRY_TYPES:
        raise ValidationError(f"{field}.type: expected one of {', '.join(GEOMETRY_TYPES)}, "
                              f"got {kind!r:.30}", field=f"{field}.type")
    if sum(1 for _ in positions(geometry)) > MAX_POSITIONS:
        raise ValidationError(f"{field}: at most {MAX_POSITIONS} positions", field=field)
    if kind == "Point":
        _position(coords, f"{field}.coordinates")
        return
    polygons = [coords] if kind == "Polygon" else coords
    if not isinstance(polygons, list) or not polygons:
        raise ValidationError(f"{field}.coordinates: expected a list of polygons",
                              field=f"{field}.coordinates")
    for p, polygon in enumerate(polygons):
        where = f"{field}.coordinates" + ("" if kind == "Polygon" else f"[{p}]")
        if not isinstance(polygon, list) or not polygon:
            raise ValidationError(f"{where}: expected a list of rings", field=where)
        for r, ring in enumerate(polygon):
            _ring(ring, f"{where}[{r}]")


def positions(geometry: dict[str, Any]) -> Iterator[list[float]]:
    """Every [lon, lat] position of a geometry, without validating it."""
    def walk(value: Any) -> Iterator[list[float]]:
        if isinstance(value, list) and value and all(
                isinstance(c, int | float) and not isinstance(c, bool) for c in value):
            yield value
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)

    yield from walk(geometry.get("coordinates"))
