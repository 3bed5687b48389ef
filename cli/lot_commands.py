"""Lot events (harvest ... adjust), ``lot show|list`` and ``provenance``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cli import keyring
from cli.batch import read_rows
from cli.context import Context, errors_as_exit, pass_context, t
from cli.output import pairs, table
from ledger.errors import LedgerError, ValidationError
from ledger.operations import BatchInputError, perform, perform_batch, sign_input
from ledger.provenance_view import lot_json
from ledger.wire.events import dump_signed_event

# kind -> (help, options as (name, help, multiple))
FORMS: dict[str, tuple[str, list[tuple[str, str, bool]]]] = {
    "harvest": ("Record a harvest: creates a lot held by the harvesting actor.", [
        ("lot", "Lot code (GS1 AI 10: up to 20 characters).", False),
        ("product", "Catalogue product code, e.g. brazil-nut-in-shell.", False),
        ("quantity", "Quantity, e.g. 412.5 (in the product's unit).", False),
        ("unit", "UN/ECE Rec 20 unit (default: the product's).", False),
        ("season", "Harvest season, e.g. 2025 or 2024/25.", False),
        ("harvest-start", "First harvest day (YYYY-MM-DD).", False),
        ("harvest-end", "Last harvest day (YYYY-MM-DD).", False),
        ("community", "Origin community.", False),
        ("territory", "Territory, e.g. RESEX Chico Mendes.", False),
        ("country", "ISO 3166 country code, e.g. BR.", False),
        ("plot", "Plot reference.", False),
        ("area-ha", "Plot area in hectares.", False),
        ("geometry", "Plot GeoJSON geometry (JSON text or @file).", False),
        ("harvesters", "Pseudonymous harvester references (repeat or comma-separate).", True),
        ("households", "Pseudonymous household references, optional (repeat or "
                       "comma-separate).", True),
        ("price", "Value in major units, e.g. 1509.75.", False),
        ("currency", "ISO 4217 currency, e.g. BRL.", False),
        ("shares", "Benefit share party:role:percent, e.g. hv-group:harvesters:70 (repeat).",
         True),
    ]),
    "dispatch": ("Dispatch a lot to another actor at a price and split.", [
        ("lot", "Lot code.", False), ("to", "Receiving actor.", False),
        ("price", "Price in major units.", False), ("currency", "ISO 4217 currency.", False),
        ("shares", "Benefit share party:role:percent (repeat).", True),
    ]),
    "receive": ("Acknowledge receipt of a dispatched lot and its price: custody moves.", [
        ("lot", "Lot code.", False),
        ("dispatch", "The dispatch event id (default: the lot's pending dispatch).", False),
    ]),
    "refuse": ("Refuse a dispatched lot: it returns to the sender.", [
        ("lot", "Lot code.", False), ("dispatch", "The dispatch event id.", False),
        ("reason", "Why it is refused.", False),
    ]),
    "split": ("Split a lot into children whose quantities sum exactly to it.", [
        ("lot", "Lot code.", False),
        ("children", "LOT=QUANTITY pairs, e.g. BN-1-A=60,BN-1-B=40.", False),
    ]),
    "merge": ("Merge lots of one product into a new lot.", [
        ("lots", "Lots to merge (repeat or comma-separate).", True),
        ("into", "New lot code.", False),
    ]),
    "transform": ("Process lots into new products (yield checked against the catalogue).", [
        ("inputs", "Input lots (repeat or comma-separate).", True),
        ("process", "Process, e.g. shelling-drying.", False),
        ("outputs", "LOT:product:quantity (repeat).", True),
    ]),
    "adjust": ("Record a loss (spoilage, moisture...) from a lot.", [
        ("lot", "Lot code.", False), ("loss", "Quantity lost, e.g. 2.5.", False),
        ("reason", "loss, spoilage, moisture or correction.", False),
        ("note", "What happened.", False),
    ]),
}


def _form_data(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, _, multiple in FORMS[kind][1]:
        key = name.replace("-", "_")
        value = options.get(key)
        if multiple:
            if value:
                data[key] = [part.strip() for item in value for part in item.split(",")
                             if part.strip()]
        elif value is not None:
            if key == "geometry" and value.startswith("@"):
                value = _read_text_file(Path(value[1:]), "geometry")
            data[key] = value
    return data


def _read_text_file(path: Path, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{field}: cannot read {path}: "
                              f"{getattr(exc, 'strerror', None) or exc}", field=field) from exc


def _run_batch(context: Context, kind: str, actor: str, path: Path) -> None:
    rows = read_rows(path)
    ledger = context.ledger()
    signer = keyring.load_signer(actor)
    try:
        with click.progressbar(length=len(rows), label=f"importing {len(rows)} rows",
                               file=sys.stderr) as bar:
            entries = perform_batch(ledger, kind, [row for _, row in rows], actor, signer)
            bar.update(len(rows))
    except BatchInputError as exc:
        for index, problem in exc.problems:
            line = rows[index][0]
            where = f"{problem.field}: " if problem.field and not problem.message.startswith(
                problem.field) else ""
            click.echo(t("{file}: line {line}: {problem}").format(
                file=path.name, line=line, problem=where + problem.message), err=True)
        raise
    except LedgerError as exc:
        failures = getattr(exc, "failures", None)
        if failures:
            for index, problem in failures:
                click.echo(t("{file}: line {line}: {problem}").format(
                    file=path.name, line=rows[index][0], problem=problem.message), err=True)
        raise
    context.emit({"imported": len(entries), "first_seq": entries[0].seq if entries else None},
                 lambda: click.echo(t("imported {count} {kind} events from {file}").format(
                     count=len(entries), kind=kind, file=path.name)))


def _make_command(kind: str) -> click.Command:
    help_text, options = FORMS[kind]

    @pass_context
    def command(context: Context, /, actor: str, batch: Path | None, outbox: Path | None,
                **options: Any) -> None:
        with errors_as_exit():
            if batch is not None:
                _run_batch(context, kind, actor, batch)
                return
            data = _form_data(kind, options)
            ledger = context.ledger()
            signer = keyring.load_signer(actor)
            if outbox is not None:
                signed = sign_input(ledger, kind, data, actor, signer, ledger.clock())
                outbox.mkdir(parents=True, exist_ok=True)
                target = outbox / f"{signed.event.id}.json"
                target.write_text(json.dumps(dump_signed_event(signed), ensure_ascii=False),
                                  encoding="utf-8")
                context.emit({"outbox": str(target), "event": signed.event.id},
                             lambda: click.echo(f"signed {kind} {signed.event.id} into "
                                                f"{target} (run trilha sync to submit)"))
                return
            entry = perform(ledger, kind, data, actor, signer)
            context.emit({"seq": entry.seq, "event": entry.event_id,
                          "entry_hash": entry.hash.hex(), "lots": list(
                              entry.signed.event.lots())},
                         lambda: click.echo(f"{kind}: entry {entry.seq} "
                                            f"({', '.join(entry.signed.event.lots())})"))

    params: list[click.Parameter] = [
        click.Option(["--as", "actor"], required=True, help="Acting actor (whose key signs)."),
        click.Option(["--from", "batch"], type=click.Path(exists=True, dir_okay=False,
                                                          path_type=Path),
                     help="Batch file (CSV, JSON or YAML): every row or none."),
        click.Option(["--outbox"], type=click.Path(file_okay=False, path_type=Path),
                     envvar="TRILHA_OUTBOX",
                     help="Sign into this outbox folder instead of appending (offline)."),
    ]
    for name, help_, multiple in options:
        params.append(click.Option([f"--{name}"], multiple=multiple, help=help_))
    return click.Command(kind, callback=command, params=params, help=help_text)


LOT_EVENT_COMMANDS = [_make_command(kind) for kind in FORMS]


@click.group()
def lot() -> None:
    """Look at lots."""


@lot.command("show")
@click.argument("lot_id")
@pass_context
def lot_show(context: Context, lot_id: str) -> None:
    """Show one lot."""
    with errors_as_exit():
        record = context.ledger().lot(lot_id)
        data = lot_json(record)
        context.emit(data, lambda: pairs((k, v if v is not None else "-")
                                         for k, v in data.items()))


@lot.command("list")
@click.option("--custodian")
@click.option("--product")
@click.option("--status", type=click.Choice(["active", "in_transit", "split", "merged",
                                             "transformed", "exhausted"]))
@click.option("--season")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@pass_context
def lot_list(context: Context, custodian: str | None, product: str | None,
             status: str | None, season: str | None, limit: int) -> None:
    """List lots, newest first."""
    with errors_as_exit():
        records = context.ledger().store.lots(custodian=custodian, product=product,
                                              status=status, season=season, limit=limit)
        context.emit([lot_json(r) for r in records],
                     lambda: table(["LOT", "PRODUCT", "QUANTITY", "CUSTODIAN", "STATUS",
                                    "SEASON"],
                                   [(r.lot_id, r.product, f"{r.quantity} {r.unit}",
                                     r.custodian, r.status.value, r.season or "")
                                    for r in records]))


@click.command()
@click.argument("lot_id")
@pass_context
def provenance(context: Context, lot_id: str) -> None:
    """A lot's upstream tree back to every harvest, its descendants, and a timeline."""
    with errors_as_exit():
        from ledger.provenance_view import describe_entry, provenance_json

        prov = context.ledger().provenance(lot_id)
        data = provenance_json(prov)

        def human() -> None:
            parents: dict[str, list[str]] = {}
            for parent, child in prov.upstream:
                parents.setdefault(child, []).append(parent)

            def walk(node: str, depth: int, render: Callable[[str], str]) -> None:
                click.echo("  " * depth + ("└─ " if depth else "") + render(node))
                for parent in sorted(parents.get(node, [])):
                    walk(parent, depth + 1, render)

            click.echo(t("upstream:"))
            walk(lot_id, 0, lambda node: node)
            if prov.downstream:
                click.echo(t("downstream:") + " "
                           + ", ".join(sorted({c for _, c in prov.downstream})))
            click.echo(t("timeline:"))
            for entry in prov.entries:
                click.echo(f"  {describe_entry(entry)}")

        context.emit(data, human)




COMMANDS: list[click.Command] = [*LOT_EVENT_COMMANDS, lot, provenance]
