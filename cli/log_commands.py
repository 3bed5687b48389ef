"""The log itself: checkpoints, proofs, verification, export/import and the benchmark."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from cli.context import EXIT_FINDINGS, Context, errors_as_exit, pass_context, t
from cli.output import pairs
from ledger.domain.note import (
    CHECKPOINT_FORMAT,
    Checkpoint,
    CheckpointRefused,
    NoteVerifier,
    open_checkpoint,
)
from ledger.errors import ConfigurationError, ValidationError
from ledger.service import read_jsonl, run_verification
from ledger.verification import Finding, Report

if TYPE_CHECKING:
    from ledger.state_audit import StateAudit


def _verifier(vkey: str | None) -> NoteVerifier | None:
    from cli.setup_commands import vkey_path

    if vkey is None:
        path = vkey_path()
        if not path.exists():
            return None
        vkey = path.read_text(encoding="utf-8").strip()
    elif Path(vkey).exists():
        vkey = Path(vkey).read_text(encoding="utf-8").strip()
    return NoteVerifier.from_vkey(vkey)


@click.group()
def checkpoint() -> None:
    """Signed checkpoints of the log (C2SP tlog-checkpoint notes)."""


@checkpoint.command("sign")
@pass_context
def checkpoint_sign(context: Context) -> None:
    """Sign the current tree head with the operator key (waiting for a server that is
    signing one at the same moment)."""
    from cli.setup_commands import note_signer
    from ledger.checkpointer import sign_now

    with errors_as_exit():
        ledger = context.ledger()
        note = sign_now(ledger, note_signer(context))
        context.emit({"note": note}, lambda: click.echo(note, nl=False))


@checkpoint.command("show")
@click.option("--size", type=int, default=None, help="A given tree size (default: latest).")
@pass_context
def checkpoint_show(context: Context, size: int | None) -> None:
    """Print a stored checkpoint note."""
    with errors_as_exit():
        stored = context.ledger().store.checkpoint(size)
        if stored is None:
            raise ValidationError("no checkpoint has been signed yet (trilha checkpoint sign)")
        context.emit({"size": stored.size, "root_hash": stored.root_hash.hex(),
                      "note": stored.note, "signed_at": stored.signed_at},
                     lambda: click.echo(stored.note, nl=False))


@click.group()
def proof() -> None:
    """Merkle proofs (RFC 6962) for auditors."""


@proof.command("inclusion")
@click.argument("seq", type=int)
@click.option("--size", type=int, default=None, help="Tree size (default: current).")
@pass_context
def proof_inclusion(context: Context, seq: int, size: int | None) -> None:
    """Inclusion proof of entry SEQ in the tree of the given size."""
    with errors_as_exit():
        p = context.ledger().inclusion_proof(seq, size)
        data = {"seq": p.seq, "tree_size": p.tree_size, "leaf_hash": p.leaf_hash.hex(),
                "path": [h.hex() for h in p.path], "root_hash": p.root_hash.hex()}
        context.emit(data)


@proof.command("consistency")
@click.argument("old_size", type=int)
@click.argument("new_size", type=int, required=False)
@pass_context
def proof_consistency(context: Context, old_size: int, new_size: int | None) -> None:
    """Consistency proof between two tree sizes."""
    with errors_as_exit():
        ledger = context.ledger()
        new = ledger.size() if new_size is None else new_size
        path = ledger.consistency_proof(old_size, new)
        context.emit({"old_size": old_size, "new_size": new,
                      "old_root": ledger.root(old_size).hex(),
                      "new_root": ledger.root(new).hex(), "path": [h.hex() for h in path]})


def _print_report(context: Context, report: Report, state: StateAudit | None = None) -> None:
    data = {"ok": report.ok and (state is None or state.ok), "entries": report.entries,
            "tree_size": report.tree_size,
            "root_hash": report.root_hash.hex(), "checkpoints_checked":
            report.checkpoints_checked, "findings": [
                {"seq": f.seq, "entry_hash": f.entry_hash, "lot": f.lot, "rule": f.rule,
                 "message": f.message} for f in report.findings]}
    if state is not None:
        data["derived_state"] = {
            "ok": state.ok, "rows_checked": state.rows, "differences_not_listed": state.more,
            "entries_per_s": round(state.entries_per_s),
            "differences": [{"table": d.table, "key": d.key, "expected": d.expected,
                             "found": d.found} for d in state.differences]}
    differences = 0 if state is None else len(state.differences) + state.more

    def human() -> None:
        for finding in report.findings:
            click.echo(str(finding))
        for difference in state.differences if state is not None else ():
            click.echo(str(difference))
        if state is not None and state.more:
            click.echo(t("… and {count} more differences").format(count=state.more))
        count = len(report.findings) + differences
        verdict = "OK" if not count else t("{count} findings").format(count=count)
        rows = [(t("entries"), report.entries), (t("root"), report.root_hash.hex()),
                (t("checkpoints checked"), report.checkpoints_checked)]
        if state is not None:
            rows.append((t("derived rows checked"), state.rows))
        pairs([*rows, (t("result"), verdict)])

    context.emit(data, human)
    if not report.ok or differences:
        sys.exit(EXIT_FINDINGS)


@click.command()
@click.option("--jsonl", "jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Verify an exported JSON Lines file instead of the database.")
@click.option("--vkey", default=None, help="Operator verifier key (text or file); default: "
              "the keys folder's operator.vkey.")
@click.option("--checkpoint", "checkpoints", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Signed checkpoint note files to check the log against (with --jsonl).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--derived/--no-derived", default=True, show_default=True,
              help="On a database, also re-derive every table the app reads from the log "
              "and report each row that differs.")
@pass_context
def verify(context: Context, jsonl: Path | None, vkey: str | None,
           checkpoints: tuple[Path, ...], workers: int, derived: bool) -> None:
    """Re-check everything: hashes, links, signatures, rules and signed checkpoints, and
    on a database the tables derived from the log."""
    with errors_as_exit():
        verifier = _verifier(vkey)
        with click.progressbar(length=0, label="verifying", show_pos=True,
                               file=sys.stderr) as bar:
            def progress(done: int) -> None:
                bar.update(done - bar.pos)

            if jsonl is None:
                report = context.ledger().verify(verifier, workers=workers, progress=progress)
            else:
                if checkpoints and verifier is None:
                    raise ConfigurationError("--checkpoint needs the operator's --vkey")
                opened, refused = _open_checkpoint_files(checkpoints, verifier)
                with jsonl.open("rb") as lines:
                    report = run_verification(read_jsonl(lines), opened, workers=workers,
                                              progress=progress)
                report.findings.extend(refused)
        state = _audit_state(context, report) if jsonl is None and derived else None
        _print_report(context, report, state)


def _audit_state(context: Context, report: Report) -> StateAudit:
    """Every table the app reads, re-derived from the log (verify's findings say which
    entries to replay as the verifier did)."""
    from ledger.state_audit import audit_ledger

    with click.progressbar(length=0, label="derived state", show_pos=True,
                           file=sys.stderr) as bar:
        def progress(done: int) -> None:
            bar.update(done - bar.pos)

        return audit_ledger(context.ledger(), report.findings, progress=progress)


def _open_checkpoint_files(paths: tuple[Path, ...], verifier: NoteVerifier | None
                           ) -> tuple[list[Checkpoint], list[Finding]]:
    """The checkpoints that open, and a finding naming each file that does not: a bad
    checkpoint is a finding (exit 10), as in verify-bundle and on a database."""
    opened: list[Checkpoint] = []
    refused: list[Finding] = []
    if verifier is None:
        return opened, refused
    for path in paths:
        try:
            opened.append(open_checkpoint(path.read_text(encoding="utf-8"), verifier))
        except CheckpointRefused as exc:
            refused.append(Finding(None, None, None, exc.rule,
                                   f"checkpoint {path.name}: {exc.message}"))
        except UnicodeDecodeError:
            refused.append(Finding(None, None, None, CHECKPOINT_FORMAT,
                                   f"checkpoint {path.name}: not UTF-8 text"))
    return opened, refused


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "epcis", "eudr-geojson"]),
              default="jsonl", show_default=True)
@click.option("--lot", "lot_id", default=None,
              help="One lot's history (epcis) or plots (eudr-geojson, required).")
@click.option("--base-url", envvar="TRILHA_PUBLIC_BASE_URL", default="http://localhost:8000",
              show_default=True, help="Base of the Trilha URIs in EPCIS documents.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: standard output).")
@pass_context
def export(context: Context, fmt: str, lot_id: str | None, base_url: str,
           output: Path | None) -> None:
    """Export the ledger as JSON Lines (every entry's canonical bytes, one per line), as an
    EPCIS 2.0 document, or a lot's EUDR plots as GeoJSON."""
    with errors_as_exit():
        ledger = context.ledger()
        if fmt in ("epcis", "eudr-geojson"):
            from ledger.epcis import export_epcis
            from ledger.eudr import eudr_geojson_text, export_eudr_geojson

            if fmt == "epcis":
                text = json.dumps(export_epcis(ledger, lot_id, base_url=base_url),
                                  ensure_ascii=False, indent=1) + "\n"
            elif lot_id is None:
                raise ValidationError("--lot: the EUDR export is per lot", field="lot")
            else:
                text = eudr_geojson_text(export_eudr_geojson(ledger, lot_id))
            if output:
                output.write_text(text, encoding="utf-8")
            else:
                click.echo(text, nl=False)
            return
        target: IO[bytes] = output.open("wb") if output else sys.stdout.buffer
        try:
            with click.progressbar(length=ledger.size(), label="exporting",
                                   file=sys.stderr) as bar:
                for line in ledger.export_jsonl():
                    target.write(line)
                    bar.update(1)
        finally:
            if output:
                target.close()


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "epcis"]), default="jsonl",
              show_default=True)
@pass_context
def import_(context: Context, path: Path, fmt: str) -> None:
    """Import entries exported by another ledger (JSON Lines: verbatim, verified first), or
    an EPCIS 2.0 document into an empty ledger (its parties' keys go to the keys folder)."""
    with errors_as_exit():
        ledger = context.ledger()
        if fmt == "epcis":
            _import_epcis(context, path)
            return
        from ledger.errors import LedgerError
        from ledger.wire.entries import load_entry

        entries = []
        with path.open("rb") as lines:
            for raw in read_jsonl(lines):
                try:
                    entries.append(load_entry(raw.body))
                except LedgerError as exc:  # which line, in the one line printed
                    raise ValidationError(f"{path.name}: line {raw.seq + 1}: {exc.message}",
                                          field=exc.field) from exc
        count = ledger.replicate(entries)
        context.emit({"imported": count},
                     lambda: click.echo(t("imported {count} entries").format(count=count)))


def _import_epcis(context: Context, path: Path) -> None:
    from cli import keyring
    from ledger.epcis_import import import_epcis
    from ledger.keystore import encrypt_private_key
    from ledger.wire.commands import parse_input_json

    document = parse_input_json(path.read_bytes(), what=path.name)  # strict, bounded depth
    report = import_epcis(context.ledger(), document)
    passphrase = keyring.passphrase(confirm=True) if report.signers else b""
    for actor, signer in report.signers.items():
        target = keyring.key_path(actor)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(encrypt_private_key(signer.private_key, passphrase))
        target.chmod(0o600)

    def human() -> None:
        for problem in report.unmapped:
            click.echo(f"not imported: {problem}")
        click.echo(t("imported {count} entries").format(count=report.imported))

    context.emit({"imported": report.imported, "unmapped": report.unmapped}, human)


@click.command()
@click.option("--entries", default=100_000, show_default=True, type=click.IntRange(5000))
@click.option("--db", "bench_db", default=None, help="Database URL (default: a temporary "
              "SQLite file).")
@pass_context
def bench(context: Context, entries: int, bench_db: str | None) -> None:
    """Build a synthetic ledger and print performance figures (JSON with --json)."""
    from ledger.bench import run_benchmark
    from web.bench import dashboard_timings, lot_page_timings

    def progress(stage: str, done: int, total: int) -> None:
        click.echo(f"\r{stage}: {done}/{total}", nl=False, err=True)

    with errors_as_exit():
        results = run_benchmark(entries, url=bench_db, progress=progress,
                                page_timer=lot_page_timings,
                                dashboard_timer=dashboard_timings)
        click.echo("", err=True)
        click.echo(json.dumps(results, indent=2))


COMMANDS: list[click.Command] = [checkpoint, proof, verify, export, import_, bench]
