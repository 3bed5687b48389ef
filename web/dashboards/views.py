"""The public indicators page: figures from ``ledger.indicators``, charts as inline SVG."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from ledger.domain.measures import UNIT_SYMBOLS
from ledger.indicators import Filters, indicators_for
from web.dashboards import bp
from web.public.views import money
from web.services import get_ledger


def bars(rows: list[tuple[str, Decimal, str]], width: int = 320) -> Markup:
    """Horizontal bars, one per (label, value, unit) row, scaled to the largest value."""
    top = max((value for _, value, _ in rows), default=Decimal(0)) or Decimal(1)
    height = 22 * len(rows)
    parts = []
    for i, (label, value, unit) in enumerate(rows):
        w = float(value / top) * (width - 150)
        parts.append(f'<text x="0" y="{i * 22 + 14}" font-size="11">{escape(label)}</text>'
                     f'<rect x="140" y="{i * 22 + 3}" width="{w:.1f}" height="14" '
                     f'fill="#2f6b3a"/><text x="{144 + w:.1f}" y="{i * 22 + 14}" '
                     f'font-size="10">{escape(format(value, "f"))} {escape(unit)}</text>')
    return Markup(f'<svg class="chart" viewBox="0 0 {width + 60} {height}" role="img">'
                  f'{"".join(parts)}</svg>')


@bp.get("/")
def public() -> Any:
    season = request.args.get("season") or None
    ledger = get_ledger()
    ind = indicators_for(ledger, Filters(season=season))
    names = {p.code: p.name(str(get_locale()).replace("_", "-"))
             for p in ledger.store.products()}
    measures = {"harvested": _("Volume harvested"),
                "sold at first sale": _("Volume sold at first sale"),
                "sold to buyers": _("Volume sold to buyers"),
                "processed": _("Volume processed"), "lost": _("Volume lost")}
    charts = {}
    for measure, by_product in sorted(ind.volumes.items()):
        rows = []
        for key, value in sorted(by_product.items()):
            code, unit = key[:-1].rsplit(" (", 1)
            rows.append((names.get(code, code)[:22], value, UNIT_SYMBOLS.get(unit, unit)))
        charts[measures.get(measure, measure)] = bars(rows)
    first_sales = [{**row, "paid": money(int(row["price_per_unit"]), row["currency"]),
                    "minimum": money(row["reference_min"], row["currency"])
                    if row["reference_min"] is not None else None}
                   for row in ind.first_sales]
    return render_template("dashboards/public.html", ind=ind, charts=charts,
                           first_sales=first_sales, season=season)
