"""``trilha report``: the shared-measurement indicators, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import os
import sys
from typing import Any

import click

from cli.context import Context, errors_as_exit, pass_context
from cli.output import pairs, table
from ledger.indicators import Filters, Indicators, indicators_for, verified_share

# Above this many first sales (or yields) the table sums them up per product (or
# transformation); --csv and --json always give every one.
LISTED_ROWS = 50


def _rows(ind: Indicators, detailed: bool) -> list[tuple[str, str, str]]:
    """The report's rows: every first sale and yield when ``detailed`` (CSV) or few."""
    rows: list[tuple[str, str, str]] = []
    for measure, by_product in sorted(ind.volumes.items()):
        for product, quantity in sorted(by_product.items()):
            rows.append((f"volume {measure}", product, format(quantity, "f")))
    if detailed or len(ind.first_sales) <= LISTED_ROWS:
        for sale in ind.first_sales:
            rows.append(("first sale per unit", sale["lot"],
                         f"{sale['price_per_unit']} {sale['currency']} (minimum "
                         f"{sale['reference_min']}, premium total {sale['premium_total']})"))
    else:
        rows += _first_sales_summary(ind.first_sales)
    for season, by_role in sorted(ind.benefits.items()):
        for role, amount in sorted(by_role.items()):
            rows.append((f"benefits {season}", role, str(amount)))
    rows.append(("distinct harvesters", "", str(ind.harvesters)))
    rows.append(("distinct households", "", str(ind.households)))
    if detailed or len(ind.yields) <= LISTED_ROWS:
        for item in ind.yields:
            rows.append(("yield", f"{item['from']} -> {item['to']} #{item['seq']}",
                         f"{item['yield']} (range {item['min']}-{item['max']})"))
    else:
        rows += _yields_summary(ind.yields)
    for name, value in ind.days_to_final_sale.items():
        rows.append(("days harvest to final sale", name, "" if value is None else str(value)))
    for currency, share in ind.farm_gate_share.items():
        rows.append(("community share of final sales", currency,
                     "" if share is None else str(share)))
    return rows


def _first_sales_summary(sales: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Per product and currency: how many first sales, how many below the minimum, the
    range of prices per unit and the premium (or shortfall) in total."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for sale in sales:
        groups.setdefault((sale["product"], sale["currency"]), []).append(sale)
    rows = []
    for (product, currency), group in sorted(groups.items()):
        prices = [sale["price_per_unit"] for sale in group]
        below = sum(1 for sale in group if (sale["premium_total"] or 0) < 0)
        premium = sum(sale["premium_total"] or 0 for sale in group)
        rows.append(("first sales", f"{product} ({currency})",
                     f"{len(group)}, {below} below the minimum; per unit {min(prices)}-"
                     f"{max(prices)}; premium total {premium}"))
    return rows


def _yields_summary(yields: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Per transformation: how many, the range of yields, how many outside the
    catalogue's range."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for item in yields:
        groups.setdefault((item["from"], item["to"], item["process"]), []).append(item)
    rows = []
    for (source, target, process), group in sorted(groups.items()):
        ratios = [item["yield"] for item in group if item["yield"] is not None]
        low, high = group[0]["min"], group[0]["max"]
        outside = sum(1 for r in ratios if (low is not None and r < low)
                      or (high is not None and r > high))
        spread = f"{min(ratios)}-{max(ratios)}" if ratios else "-"
        rows.append(("yields", f"{source} -> {target} ({process})",
                     f"{len(group)}: {spread} (range {low}-{high}), {outside} outside it"))
    return rows


def _json(ind: Indicators) -> dict[str, Any]:
    return {"volumes": {k: {p: format(q, "f") for p, q in v.items()}
                        for k, v in ind.volumes.items()},
            "first_sales": ind.first_sales, "benefits": ind.benefits,
            "distinct_harvesters": ind.harvesters, "distinct_households": ind.households,
            "yields": ind.yields,
            "days_to_final_sale": ind.days_to_final_sale,
            "farm_gate_share": {k: (None if v is None else str(v))
                                for k, v in ind.farm_gate_share.items()},
            "entries": ind.entries}


@click.command()
@click.option("--community")
@click.option("--cooperative", help="An actor id the lots passed through.")
@click.option("--product", help="The harvested product code.")
@click.option("--season")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--csv", "as_csv", is_flag=True, help="CSV on standard output.")
@click.option("--verify", "verify", is_flag=True,
              help="Also re-check the history of every lot sold to a buyer and report the "
                   "share of that volume which verifies completely.")
@pass_context
def report(context: Context, community: str | None, cooperative: str | None,
           product: str | None, season: str | None, start: Any, end: Any,
           as_csv: bool, verify: bool) -> None:
    """Impact indicators computed from the ledger's entries (docs/INDICATORS.md)."""
    with errors_as_exit():
        filters = Filters(community, cooperative, product, season,
                          start.date() if start else None, end.date() if end else None)
        ledger = context.ledger()
        ind = indicators_for(ledger, filters)
        rows = _rows(ind, detailed=as_csv)
        data = _json(ind)
        if verify:
            from cli.setup_commands import vkey_path

            vkey = vkey_path().read_text(encoding="utf-8").strip() \
                if vkey_path().exists() else None
            def progress(done: int, total: int) -> None:
                click.echo(f"\rhistories checked: {done}/{total}", nl=False, err=True)

            checked = verified_share(ledger, ind, vkey, workers=os.cpu_count() or 1,
                                     progress=progress)
            click.echo("", err=True)
            data["verified_share"] = {
                product: {"verified": format(v, "f"), "total": format(total, "f"),
                          "share": None if checked.share(product) is None
                          else str(checked.share(product))}
                for product, (v, total) in checked.by_product.items()}
            data["verified_share_failed_lots"] = checked.failed_lots
            data["verified_share_unanchored_lots"] = checked.unanchored_lots
            rows += [("verified share of volume sold to buyers", product,
                      str(checked.share(product)))
                     for product in sorted(checked.by_product)]
        if as_csv:
            writer = csv.writer(sys.stdout)
            writer.writerow(["indicator", "subject", "value"])
            writer.writerows(rows)
            return

        def human() -> None:
            table(["INDICATOR", "SUBJECT", "VALUE"], rows)
            pairs([("entries behind these figures", sum(len(v) for v in ind.entries.values()))])

        context.emit(data, human)


COMMANDS: list[click.Command] = [report]
