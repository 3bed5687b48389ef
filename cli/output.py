"""Plain-text tables and progress bars for people at a terminal."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import click


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print an aligned table (no colour: it must read on any terminal and in a log)."""
    text_rows = [[("" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in text_rows)]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in text_rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def pairs(items: Iterable[tuple[str, object]]) -> None:
    items = list(items)
    width = max((len(k) for k, _ in items), default=0)
    for key, value in items:
        click.echo(f"{key.ljust(width)}  {value}")
