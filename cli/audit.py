"""``trilha bundle`` and ``trilha verify-bundle``: one lot's proof, made and checked offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cli.context import EXIT_FINDINGS, Context, errors_as_exit, pass_context, t
from ledger.bundle import BundleFinding, BundleReport, build_bundle, verify_bundle
from ledger.domain.encoding import parse_json
from ledger.domain.note import NoteVerifier
from ledger.errors import ConfigurationError, EncodingError

STRICT_JSON = "strict_json"  # the finding of a document the strict parser refuses


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
        NoteVerifier.from_vkey(vkey)  # a malformed key is bad input (exit 3), as in verify
        report = verify_bundle_bytes(path.read_bytes(), vkey, name=path.name)
        data = {"ok": report.ok, "lot": report.lot, "entries": report.entries,
                "checkpoint_size": report.checkpoint_size, "lot_head": report.lot_head,
                "format_1_lot_entries": report.format_1_lot_entries,
                "completeness": report.completeness() if report.ok else None,
                "findings": [{"seq": f.seq, "reason": f.reason} for f in report.findings]}

        def human() -> None:
            for finding in report.findings:
                click.echo(str(finding))
            verdict = "OK" if report.ok else t("{count} findings").format(
                count=len(report.findings))
            click.echo(f"{report.lot}: {report.entries} {t('entries')}, {verdict}")
            if report.ok:
                click.echo(report.completeness())

        context.emit(data, human)
        if not report.ok:
            sys.exit(EXIT_FINDINGS)


def verify_bundle_bytes(data: bytes, vkey: str, *, name: str = "bundle") -> BundleReport:
    """A bundle file checked as FORMAT.md section 8 says: bytes that are not JSON are bad
    input (:class:`EncodingError`, exit 3); JSON that the strict parser refuses (a member
    name repeated, NaN) is a bundle that does not verify: a finding, since two parsers
    could read two different bundles in it."""
    try:
        lenient = json.loads(data)
    except (ValueError, RecursionError) as exc:  # hostile nesting too: one line, exit 3
        raise EncodingError(f"{name}: not JSON ({exc})") from exc
    try:
        document = parse_json(data, what="bundle")
    except EncodingError as exc:
        report = BundleReport(str(lenient.get("lot", "?")) if isinstance(lenient, dict)
                              else "?")
        report.findings.append(BundleFinding(None, f"[{STRICT_JSON}] {exc.message}"))
        return report
    return verify_bundle(document, vkey)


COMMANDS: list[click.Command] = [bundle, verify_bundle_command]


@click.command()
@click.option("--log", "log_url", required=True, help="The Trilha server to watch.")
@click.option("--vkey", required=True, help="The log operator's verifier key (text or file).")
@click.option("--name", required=True, help="This witness's name, e.g. witness.example/w1.")
@click.option("--key", "key_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="This witness's Ed25519 key (encrypted PKCS#8; TRILHA_PASSPHRASE).")
@click.option("--state", "state_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Where to remember checkpoints (default: keys folder).")
@pass_context
def witness(context: Context, log_url: str, vkey: str, name: str, key_file: Path,
            state_file: Path | None) -> None:
    """Check the log's newest checkpoint against the last one seen, cosign it, post it."""
    import time
    import urllib.request

    from cli import keyring
    from ledger.domain.note import cosign_checkpoint, open_checkpoint
    from ledger.keystore import load_private_key
    from ledger.witness import Seen, WitnessState, check_new_checkpoint

    def get(path: str) -> bytes:
        with urllib.request.urlopen(log_url.rstrip("/") + "/api/v1" + path,
                                    timeout=30) as response:
            return bytes(response.read())

    with errors_as_exit():
        if Path(vkey).exists():
            vkey = Path(vkey).read_text(encoding="utf-8").strip()
        state = WitnessState(state_file or keyring.keys_dir() / "witness-state.json")
        note_text = get("/checkpoint").decode("utf-8")
        checkpoint = open_checkpoint(note_text, NoteVerifier.from_vkey(vkey))
        body = checkpoint.to_text()  # the signed text: parsing is strict, so it round-trips
        previous = state.load(checkpoint.origin)

        def fetch_proof(old: int, new: int) -> list[bytes]:
            data = json.loads(get(f"/proofs/consistency?old={old}&new={new}"))
            return [bytes.fromhex(h) for h in data["path"]]

        check_new_checkpoint(previous, checkpoint, fetch_proof)
        key = load_private_key(key_file.read_bytes(), keyring.passphrase())
        line = cosign_checkpoint(body, name, key, int(time.time()))
        request = urllib.request.Request(
            f"{log_url.rstrip('/')}/api/v1/checkpoints/{checkpoint.size}/cosignatures",
            data=line.encode(), method="POST", headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=30):
            pass
        state.save(checkpoint.origin, Seen(checkpoint.size, checkpoint.root_hash))
        context.emit({"origin": checkpoint.origin, "size": checkpoint.size,
                      "previous_size": previous.size if previous else None, "cosigned": True},
                     lambda: click.echo(f"{checkpoint.origin}: checkpoint {checkpoint.size} "
                                        "is consistent with what this witness saw; cosigned"))


COMMANDS.append(witness)
