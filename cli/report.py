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

# Above this many first sales or yields the table sums them up per product and per
# transformation; --csv and --json always give every one.
LISTED_ROWS = 50


def _rows(ind: Indicators) -> list[tuple[str, str, str]]:
    """The report's rows: every first sale and yield if the report lists them (CSV, or
    few), else their summaries per product and per transformation."""
    rows: list[tuple[str, str, str]] = []
    for measure, by_product in sorted(ind.volumes.items()):
        for product, quantity in sorted(by_product.items()):
            rows.append((f"volume {measure}", product, format(quantity, "f")))
    if ind.detailed:
        for sale in ind.first_sales:
            rows.append(("first sale per unit", sale["lot"],
                         f"{sale['price_per_unit']} {sale['currency']} (minimum "
                         f"{sale['reference_min']}, premium total {sale['premium_total']})"))
    else:
        rows += [("first sales", f"{row['product']} ({row['currency']})",
                  f"{row['sales']}, {row['below_minimum']} below the minimum; per unit "
                  f"{row['lowest_per_unit']}-{row['highest_per_unit']}; premium total "
                  f"{row['premium_total']}") for row in ind.first_sale_summary]
    for season, by_role in sorted(ind.benefits.items()):
        for role, amount in sorted(by_role.items()):
            rows.append((f"benefits {season}", role, str(amount)))
    rows.append(("distinct harvesters", "", str(ind.harvesters)))
    rows.append(("distinct households", "", str(ind.households)))
    if ind.detailed:
        for item in ind.yields:
            rows.append(("yield", f"{item['from']} -> {item['to']} #{item['seq']}",
                         f"{item['yield']} (range {item['min']}-{item['max']})"))
    else:
        rows += [("yields", f"{row['from']} -> {row['to']} ({row['process']})",
                  f"{row['count']}: " + ("-" if row["lowest"] is None else
                                         f"{row['lowest']}-{row['highest']}")
                  + f" (range {row['min']}-{row['max']}), {row['outside']} outside it")
                 for row in ind.yield_summary]
    for name, value in ind.days_to_final_sale.items():
        rows.append(("days harvest to final sale", name, "" if value is None else str(value)))
    for currency, share in ind.farm_gate_share.items():
        rows.append(("community share of final sales", currency,
                     "" if share is None else str(share)))
    return rows


def _few_listed(ind: Indicators) -> bool:
    """Whether the table lists each first sale and yield rather than summing them up."""
    sales = sum(int(row["sales"]) for row in ind.first_sale_summary)
    return max(sales, sum(int(row["count"]) for row in ind.yield_summary)) <= LISTED_ROWS


def _json(ind: Indicators) -> dict[str, Any]:
    return {"volumes": {k: {p: format(q, "f") for p, q in v.items()}
                        for k, v in ind.volumes.items()},
            "first_sales": ind.first_sales, "first_sale_summary": ind.first_sale_summary,
            "benefits": ind.benefits,
            "distinct_harvesters": ind.harvesters, "distinct_households": ind.households,
            "yields": ind.yields, "yield_summary": ind.yield_summary,
            "days_to_final_sale": ind.days_to_final_sale,
            "farm_gate_share": {k: (None if v is None else str(v))
                                for k, v in ind.farm_gate_share.items()},
            "entries": ind.entries, "entry_counts": ind.entry_counts}


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
        # The table needs only the figures; CSV and JSON list every row behind them, and
        # the verified share every final sale (at a million entries: seconds more).
        ind = indicators_for(ledger, filters,
                             detailed=as_csv or verify or context.as_json)
        if not ind.detailed and _few_listed(ind):
            ind = indicators_for(ledger, filters, detailed=True)
        rows = _rows(ind)
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
            pairs([("entries behind these figures", sum(ind.entry_counts.values()))])

        context.emit(data, human)


COMMANDS: list[click.Command] = [report]
