"""Pictures as inline SVG, built on the server: no script, no network, escaped text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

ROLE_COLOURS = {
    "harvesters": "#2f6b3a", "harvester": "#2f6b3a", "community_fund": "#6aa84f",
    "community_association": "#93c47d", "community": "#93c47d", "cooperative": "#b45f06",
    "processor": "#7f6000", "trader": "#3d85c6", "transport": "#999999", "other": "#cccccc",
}


def _positions(geometry: Mapping[str, Any]) -> list[list[list[float]]]:
    """Rings of a geometry as lists of [lon, lat]; a Point is a one-position ring."""
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        return [[coords]]  # type: ignore[list-item]
    if kind == "Polygon":
        return [coords[0]] if coords else []
    if kind == "MultiPolygon":
        return [polygon[0] for polygon in coords or []]
    return []


def origin_map(geometries: Sequence[tuple[str, Mapping[str, Any]]], width: int = 320,
               height: int = 200) -> Markup:
    """Plot outlines and points, projected (equirectangular) into a small box."""
    rings = [(label, ring) for label, g in geometries for ring in _positions(g)]
    points = [p for _, ring in rings for p in ring]
    if not points:
        return Markup("")
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    span = max(max(lons) - min(lons), max(lats) - min(lats), 0.004)
    cx, cy = (max(lons) + min(lons)) / 2, (max(lats) + min(lats)) / 2
    scale = min(width, height) * 0.8 / span

    def xy(p: Sequence[float]) -> str:
        return f"{width / 2 + (p[0] - cx) * scale:.1f},{height / 2 - (p[1] - cy) * scale:.1f}"

    shapes = []
    for label, ring in rings:
        title = f"<title>{escape(label)}</title>"
        if len(ring) == 1:
            x, y = xy(ring[0]).split(",")
            shapes.append(f'<circle cx="{x}" cy="{y}" r="6" fill="#b45f06">{title}</circle>')
        else:
            pts = " ".join(xy(p) for p in ring)
            shapes.append(f'<polygon points="{pts}" fill="#6aa84f" fill-opacity="0.45" '
                          f'stroke="#2f6b3a" stroke-width="2">{title}</polygon>')
    return Markup(f'<svg class="map" viewBox="0 0 {width} {height}" role="img" '
                  f'aria-label="{escape("plots")}"><rect width="{width}" height="{height}" '
                  f'fill="#eef3e8"/>{"".join(shapes)}</svg>')


def split_bar(parts: Iterable[tuple[str, int, str]], width: int = 300) -> Markup:
    """A stacked horizontal bar: (role, basis points, label) per beneficiary."""
    x = 0.0
    rects = []
    for role, bp, label in parts:
        w = width * bp / 10_000
        colour = ROLE_COLOURS.get(role, "#cccccc")
        rects.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="18" fill="{colour}">'
                     f'<title>{escape(label)}</title></rect>')
        x += w
    return Markup(f'<svg class="bar" viewBox="0 0 {width} 18" preserveAspectRatio="none" '
                  f'role="img" aria-hidden="true">{"".join(rects)}</svg>')


def flow_diagram(lot_id: str, links: Sequence[tuple[str, str]],
                 labels: Mapping[str, str]) -> Markup:
    """Lots as boxes in columns by depth from the harvests, links as lines: the chain."""
    parents: dict[str, list[str]] = {}
    for parent, child in links:
        parents.setdefault(child, []).append(parent)
    depth: dict[str, int] = {}

    def level(node: str) -> int:
        if node not in depth:
            depth[node] = 1 + max((level(p) for p in parents.get(node, [])), default=-1)
        return depth[node]

    nodes = {lot_id, *(p for p, _ in links), *(c for _, c in links)}
    columns: dict[int, list[str]] = {}
    for node in sorted(nodes):
        columns.setdefault(level(node), []).append(node)
    if len(nodes) > 60:  # huge merges: show the columns' sizes instead of every box
        columns = {d: ns[:8] + ([f"+{len(ns) - 8}"] if len(ns) > 8 else [])
                   for d, ns in columns.items()}
    box_w, box_h, gap_x, gap_y = 150, 38, 40, 12
    width = len(columns) * (box_w + gap_x)
    height = max(len(ns) for ns in columns.values()) * (box_h + gap_y) + gap_y
    place = {node: (d * (box_w + gap_x) + 4, i * (box_h + gap_y) + gap_y)
             for d, ns in columns.items() for i, node in enumerate(ns)}
    parts = []
    for parent, child in links:
        if parent in place and child in place:
            (x1, y1), (x2, y2) = place[parent], place[child]
            parts.append(f'<line x1="{x1 + box_w}" y1="{y1 + box_h / 2}" x2="{x2}" '
                         f'y2="{y2 + box_h / 2}" stroke="#8a5a2b" stroke-width="2"/>')
    for node, (x, y) in place.items():
        fill = "#2f6b3a" if node == lot_id else "#fbfaf6"
        ink = "#ffffff" if node == lot_id else "#1d2a1f"
        parts.append(
            f'<g><rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="{fill}" '
            f'stroke="#2f6b3a"/><text x="{x + 8}" y="{y + 16}" font-size="12" '
            f'font-weight="bold" fill="{ink}">{escape(node)}</text><text x="{x + 8}" '
            f'y="{y + 31}" font-size="10" fill="{ink}">{escape(labels.get(node, ""))}</text>'
            f'</g>')
    return Markup(f'<svg class="flow" viewBox="0 0 {width} {height}" role="img" '
                  f'aria-label="{escape(lot_id)}">{"".join(parts)}</svg>')
