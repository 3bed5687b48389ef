"""``trilha label``: QR labels (PNG, SVG and a printable PDF sheet) for lots."""

from __future__ import annotations

from pathlib import Path

import click

from cli.context import Context, errors_as_exit, pass_context
from ledger.labels import label_info, write_labels


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
