"""The indicators pages: figures from ``ledger.indicators``, charts as inline SVG.

The public page aggregates the whole chain; the workspace shows a member organisation its
own lots with the same figures (:func:`dashboard_context` serves both).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask import abort, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from ledger.domain.measures import UNIT_SYMBOLS
from ledger.indicator_facts import ENTRY_GROUPS
from ledger.indicators import (
    Filters,
    Indicators,
    entries_behind,
    indicators_for,
    verified_share,
)
from ledger.service import Ledger
from web.charts import ROLE_COLOURS, split_bar
from web.dashboards import bp
from web.formatting import money, role_names
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


# A page lists this many first sales (the latest); a large ledger holds hundreds of
# thousands, which no page should carry (``trilha report --csv`` gives them all).
LISTED_FIRST_SALES = 50
# Above this many first sales the chart draws one dot per day: the day's lowest price.
CHART_DOTS = 400
# Entries listed per page behind a figure (a large ledger has hundreds of thousands).
ENTRY_PAGE = 100
# The entries behind each volume chart: which of ``Indicators.entries`` it sums.
MEASURE_ENTRIES = {"harvested": "harvested", "sold at first sale": "first_sales",
                   "sold to buyers": "final_sales", "processed": "processed",
                   "lost": "lost"}


def figure_titles() -> dict[str, str]:
    """Each group of ``Indicators.entries`` by the figure it is behind."""
    return {"harvested": _("Volume harvested"), "processed": _("Volume processed"),
            "lost": _("Volume lost"),
            "first_sales": _("First sales against the minimum price"),
            "benefits": _("The value split at each sale along the chains"),
            "final_sales": _("Value that reached the communities")}


def _ratio(row: dict[str, Any]) -> Decimal:
    return Decimal(row["price_per_unit"]) / Decimal(row["reference_min"]) * 100


def chart_points(rows: list[dict[str, Any]]
                 ) -> tuple[list[tuple[date, Decimal, dict[str, Any]]], bool]:
    """(day, % of the minimum, sale) per dot, and whether dots are per day: every first
    sale with a reference minimum, or, when there are more than CHART_DOTS, each day's
    lowest-priced one (a shortfall is what a reader must not miss)."""
    points = [(date.fromisoformat(r["at"][:10]), _ratio(r), r) for r in rows
              if r.get("reference_min") and r.get("at")]
    if len(points) <= CHART_DOTS:
        return points, False
    lowest: dict[date, tuple[date, Decimal, dict[str, Any]]] = {}
    for point in points:
        if point[0] not in lowest or point[1] < lowest[point[0]][1]:
            lowest[point[0]] = point
    return [lowest[day] for day in sorted(lowest)], True


def price_over_time(points: list[tuple[date, Decimal, dict[str, Any]]], width: int = 360,
                    height: int = 180) -> Markup:
    """First-sale price as a percentage of the reference minimum, over time (the dots of
    :func:`chart_points`); the 100 % line is the minimum. Each dot links to the sale's
    entry."""
    if not points:
        return Markup("")
    ratios = [float(exact) for _day, exact, _row in points]
    low, high = min([*ratios, 80.0]), max([*ratios, 120.0])
    first = min(d for d, _, _ in points).toordinal()
    span = max(max(d for d, _, _ in points).toordinal() - first, 1)
    left, right, top, bottom = 44, 10, 10, 26

    def x(day: date) -> float:
        return left + (day.toordinal() - first) / span * (width - left - right)

    def y(value: float) -> float:
        return top + (high - value) / (high - low) * (height - top - bottom)

    parts = [f'<line x1="{left}" x2="{width - right}" y1="{y(100):.1f}" y2="{y(100):.1f}" '
             f'stroke="#990000" stroke-dasharray="4 3"/>',
             f'<text x="2" y="{y(100) + 4:.1f}" font-size="10">100 %</text>',
             f'<text x="2" y="{y(high) + 8:.1f}" font-size="10">{high:.0f} %</text>',
             f'<text x="2" y="{y(low):.1f}" font-size="10">{low:.0f} %</text>']
    days = sorted({d for d, _, _ in points})
    for day in (days[0], days[-1]):
        parts.append(f'<text x="{x(day):.1f}" y="{height - 6}" font-size="10" '
                     f'text-anchor="middle">{day.isoformat()}</text>')
    for (day, _exact, row), ratio in zip(points, ratios, strict=True):
        colour = "#2f6b3a" if ratio >= 100 else "#990000"
        parts.append(f'<a href="/api/v1/entries/{int(row["seq"])}"><circle cx="{x(day):.1f}" '
                     f'cy="{y(ratio):.1f}" r="5" fill="{colour}"><title>'
                     f'{escape(row["lot"])}: {ratio:.0f} %</title></circle></a>')
    label = escape(_("First-sale price as a percentage of the minimum price, over time"))
    return Markup(f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
                  f'aria-label="{label}">{"".join(parts)}</svg>')


def dashboard_indicators(ledger: Ledger, filters: Filters) -> Indicators:
    """What a dashboard shows: the figures, with the first sales (listed, charted) and the
    final sales (whose histories the verified share checks), without the million other
    rows a detailed report lists (the entries pages read those)."""
    return indicators_for(ledger, filters, detailed=False, with_sales=True)


def dashboard_context(ind: Indicators, ledger: Ledger) -> dict[str, Any]:
    names = {p.code: p.name(str(get_locale()).replace("_", "-"))
             for p in ledger.store.products()}
    measures = {"harvested": _("Volume harvested"),
                "sold at first sale": _("Volume sold at first sale"),
                "sold to buyers": _("Volume sold to buyers"),
                "processed": _("Volume processed"), "lost": _("Volume lost")}
    charts = {}
    chart_entries = {}
    for measure, by_product in sorted(ind.volumes.items()):
        rows = []
        for key, value in sorted(by_product.items()):
            code, unit = key[:-1].rsplit(" (", 1)
            rows.append((names.get(code, code)[:22], value, UNIT_SYMBOLS.get(unit, unit)))
        charts[measures.get(measure, measure)] = bars(rows)
        chart_entries[measures.get(measure, measure)] = MEASURE_ENTRIES.get(measure)
    first_sales = [{**row, "paid": money(int(row["price_per_unit"]), row["currency"]),
                    "minimum": money(row["reference_min"], row["currency"])
                    if row["reference_min"] is not None else None}
                   for row in ind.first_sales[-LISTED_FIRST_SALES:]]
    roles = role_names()
    sale_steps = []
    for position, by_currency in ind.split_by_step.items():
        for currency, by_role in sorted(by_currency.items()):
            total = sum(by_role.values())
            parts = sorted(by_role.items(), key=lambda item: -item[1])
            sale_steps.append({
                "position": position, "currency": currency, "total": money(total, currency),
                "bar": split_bar((role, int(Decimal(amount) * 10_000 / total) if total else 0,
                                  f"{roles.get(role, role)}: {money(amount, currency)}")
                                 for role, amount in parts),
                "parts": [{"role": roles.get(role, role), "amount": money(amount, currency),
                           "colour": ROLE_COLOURS.get(role, "#cccccc"),
                           "percent": f"{Decimal(amount) * 100 / total:.0f}" if total else "0"}
                          for role, amount in parts],
                "community_share": ind.share_by_step.get(position, {}).get(currency)})
    # Histories checked before are reused and new ones checked for at most the budget:
    # re-checking every history behind a large ledger on each view would take minutes.
    checked = verified_share(ledger, ind, current_app.config.get("OPERATOR_VKEY"),
                             reuse=True, budget_s=current_app.config["VERIFY_BUDGET_S"])
    verified = [{"product": names.get(key[:-1].rsplit(" (", 1)[0], key),
                 "share": checked.share(key), "verified": v, "total": total,
                 "unit": UNIT_SYMBOLS.get(key[:-1].rsplit(" (", 1)[1], "")}
                for key, (v, total) in sorted(checked.by_product.items())]
    points, per_day = chart_points(ind.first_sales)
    return {"ind": ind, "charts": charts, "first_sales": first_sales,
            "first_sales_total": len(ind.first_sales),
            "price_chart": price_over_time(points), "price_chart_per_day": per_day,
            "verified": verified,
            "failed_lots": checked.failed_lots, "unchecked_lots": checked.unchecked_lots,
            "oldest_reused": checked.oldest_reused,
            "sale_steps": sale_steps, "chart_entries": chart_entries,
            "entry_counts": ind.entry_counts}


def entries_context(ledger: Ledger, filters: Filters, group: str) -> dict[str, Any]:
    """One page (``?page=``, from 1) of the entries behind a figure, in log order."""
    if group not in ENTRY_GROUPS:
        abort(404, description=f"no figure {group!r}")
    page = request.args.get("page", "1")
    if not page.isdigit() or int(page) < 1:
        abort(400, description=f"page: expected a whole number from 1, got {page!r:.40}")
    start = (int(page) - 1) * ENTRY_PAGE
    seqs, total = entries_behind(ledger, filters, group, start, ENTRY_PAGE)
    return {"group": group, "title": figure_titles()[group], "seqs": seqs,
            "first": start + 1, "total": total, "page": int(page),
            "pages": max(1, -(-total // ENTRY_PAGE))}


def _season_filter() -> tuple[Filters, dict[str, str]]:
    """The public pages' one filter, ``?season=``, and the link arguments that keep it."""
    season = request.args.get("season") or None
    return Filters(season=season), {"season": season} if season else {}


@bp.get("/")
def public() -> Any:
    filters, args = _season_filter()
    ledger = get_ledger()
    context = dashboard_context(dashboard_indicators(ledger, filters), ledger)
    return render_template("dashboards/public.html", season=filters.season,
                           entries_endpoint="dashboards.entries", entries_args=args,
                           **context)


@bp.get("/entries/<group>")
def entries(group: str) -> Any:
    """The entries behind one figure of the public dashboard (same season filter)."""
    filters, args = _season_filter()
    return render_template("dashboards/entries.html", back_endpoint="dashboards.public",
                           back_label=_("Shared measurement"),
                           entries_endpoint="dashboards.entries", entries_args=args,
                           **entries_context(get_ledger(), filters, group))
