"""``trilha label``: QR labels (PNG, SVG and a printable PDF sheet) for lots."""

from __future__ import annotations

from pathlib import Path

import click

from cli.context import Context, errors_as_exit, pass_context
from ledger.domain.measures import UNIT_SYMBOLS
from ledger.labels import LabelInfo, provenance_url, write_labels
from ledger.service import Ledger


def label_info(ledger: Ledger, lot_id: str, base_url: str, lang: str) -> LabelInfo:
    """What a label shows, from the lot, its product and the harvests upstream of it."""
    prov = ledger.provenance(lot_id, with_entries=False)
    lot = prov.lot
    product = ledger.store.product(lot.product)
    upstream = {lot.lot_id} | {parent for parent, _ in prov.upstream}
    harvests = [s for s in prov.steps
                if s["kind"] == "lot.harvested" and s["lots"][0] in upstream]
    communities = sorted({h["origin"]["community"] for h in harvests})
    territories = sorted({h["origin"]["territory"] for h in harvests})
    starts = sorted(h["harvest"]["start"] for h in harvests)
    ends = sorted(h["harvest"]["end"] for h in harvests)
    community = communities[0] if len(communities) == 1 else \
        f"{len(communities)} communities: {', '.join(communities[:2])}"
    dates = "" if not harvests else (starts[0] if starts[0] == ends[-1]
                                     else f"{starts[0]} – {ends[-1]}")
    return LabelInfo(
        lot=lot.lot_id, product_name=product.name(lang) if product else lot.product,
        quantity=f"{lot.quantity.normalize():f} {UNIT_SYMBOLS.get(lot.unit, lot.unit)}",
        community=community, territory="; ".join(territories), harvest_date=dates,
        url=provenance_url(base_url, lot.lot_id, product.gtin if product else None))


@click.command()
@click.argument("lots", nargs=-1, required=True)
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder to write to.")
@click.option("--paper", type=click.Choice(["A4", "Letter"]), default="A4", show_default=True)
@click.option("--base-url", envvar="TRILHA_PUBLIC_BASE_URL", default="http://localhost:8000",
              show_default=True, help="Public address of the lot pages.")
@pass_context
def label(context: Context, lots: tuple[str, ...], out_dir: Path, paper: str,
          base_url: str) -> None:
    """Write a QR code (PNG and SVG) per lot and a printable PDF sheet of labels."""
    with errors_as_exit():
        ledger = context.ledger()
        infos = [label_info(ledger, lot, base_url, context.lang) for lot in lots]
        files = write_labels(infos, out_dir, paper)

        def human() -> None:
            for path in files:
                click.echo(str(path))

        context.emit({"files": [str(f) for f in files], "urls": {i.lot: i.url for i in infos}},
                     human)


COMMANDS: list[click.Command] = [label]
