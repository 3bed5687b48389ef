"""``trilha bundle`` and ``trilha verify-bundle``: one lot's proof, made and checked offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cli.context import EXIT_FINDINGS, Context, errors_as_exit, pass_context, t
from ledger.bundle import build_bundle, verify_bundle
from ledger.errors import ConfigurationError, EncodingError


@click.command()
@click.argument("lot_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="Where to write the bundle (JSON).")
@pass_context
def bundle(context: Context, lot_id: str, output: Path) -> None:
    """Write LOT_ID's proof bundle: entries, inclusion proofs and the signed checkpoint."""
    with errors_as_exit():
        document = build_bundle(context.ledger(), lot_id)
        output.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
        context.emit({"bundle": str(output), "entries": len(document["entries"])},
                     lambda: click.echo(f"{output}: {len(document['entries'])} entries"))


@click.command("verify-bundle")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--vkey", required=True,
              help="The operator's verifier key, as text or a file holding it.")
@pass_context
def verify_bundle_command(context: Context, path: Path, vkey: str) -> None:
    """Check a bundle with no database and no network; exit 10 on any finding."""
    with errors_as_exit():
        if Path(vkey).exists():
            vkey = Path(vkey).read_text(encoding="utf-8").strip()
        if "+" not in vkey:
            raise ConfigurationError("--vkey: expected an operator verifier key name+id+key")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise EncodingError(f"{path.name}: not JSON ({exc})") from exc
        report = verify_bundle(document, vkey)
        data = {"ok": report.ok, "lot": report.lot, "entries": report.entries,
                "checkpoint_size": report.checkpoint_size,
                "findings": [{"seq": f.seq, "reason": f.reason} for f in report.findings]}

        def human() -> None:
            for finding in report.findings:
                click.echo(str(finding))
            verdict = "OK" if report.ok else t("{count} findings").format(
                count=len(report.findings))
            click.echo(f"{report.lot}: {report.entries} {t('entries')}, {verdict}")

        context.emit(data, human)
        if not report.ok:
            sys.exit(EXIT_FINDINGS)


COMMANDS: list[click.Command] = [bundle, verify_bundle_command]
