"""GeoJSON geometry of harvest plots: the shape rule every append and every replay runs.

A plot is a Point, Polygon or MultiPolygon of at most :data:`MAX_POSITIONS` positions in
WGS 84 degrees; polygon rings are closed and simple (GEOS decides, through shapely, in
O(n log n): a hand-written pairwise test took 6 s on a 5,000-point ring).
"""

from __future__ import annotations

from typing import Any

from shapely.geometry import LinearRing

from ledger.errors import RuleViolation

GEOMETRY_TYPES = ("Point", "Polygon", "MultiPolygon")
MAX_POSITIONS = 5000
RULE = "geometry_valid"


def _refuse(field: str, message: str) -> RuleViolation:
    return RuleViolation(RULE, f"{field}: {message}", field=field)


def _position(value: Any, field: str) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in value)):
        raise _refuse(field, f"expected a [longitude, latitude] pair of numbers, got "
                             f"{value!r:.60}")
    # Compared as they are: float() of an integer of 400 digits raises OverflowError.
    lon, lat = value
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _refuse(field, f"expected longitude in -180..180 and latitude in -90..90, "
                             f"got {value!r:.60}")
    return float(lon), float(lat)


def _ring(value: Any, field: str) -> None:
    if not isinstance(value, list) or len(value) < 4:
        raise _refuse(field, "a polygon ring needs at least 4 positions")
    ring = [_position(p, f"{field}[{i}]") for i, p in enumerate(value)]
    if ring[0] != ring[-1]:
        raise _refuse(field, "a polygon ring must be closed (first position equal to the last)")
    if len(set(ring)) < 3 or not LinearRing(ring).is_simple:
        raise _refuse(field, "the ring crosses or touches itself")


def check_geometry(geometry: Any, *, field: str = "geometry") -> None:
    """A Point, Polygon or MultiPolygon with valid, closed, simple rings, or
    :class:`RuleViolation` ``geometry_valid`` naming the field path."""
    if not isinstance(geometry, dict) or set(geometry) != {"type", "coordinates"}:
        raise _refuse(field, "expected a GeoJSON geometry object with only type and "
                             "coordinates")
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind not in GEOMETRY_TYPES:
        raise _refuse(f"{field}.type", f"expected one of {', '.join(GEOMETRY_TYPES)}, "
                                       f"got {kind!r:.30}")
    if _count_positions(coords, MAX_POSITIONS + 1) > MAX_POSITIONS:
        raise _refuse(field, f"at most {MAX_POSITIONS} positions")
    if kind == "Point":
        _position(coords, f"{field}.coordinates")
        return
    polygons = [coords] if kind == "Polygon" else coords
    if not isinstance(polygons, list) or not polygons:
        raise _refuse(f"{field}.coordinates", "expected a list of polygons")
    for p, polygon in enumerate(polygons):
        where = f"{field}.coordinates" + ("" if kind == "Polygon" else f"[{p}]")
        if not isinstance(polygon, list) or not polygon:
            raise _refuse(where, "expected a list of rings")
        for r, ring in enumerate(polygon):
            _ring(ring, f"{where}[{r}]")


def _count_positions(value: Any, stop: int) -> int:
    """Leaves of nested lists, counted without recursion (hostile nesting cannot blow the
    stack) and stopping at ``stop``."""
    count, stack = 0, [value]
    while stack and count < stop:
        item = stack.pop()
        if isinstance(item, list):
            if item and not isinstance(item[0], list):
                count += 1
            else:
                stack.extend(item)
    return count

