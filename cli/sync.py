"""Offline capture: events signed into an outbox folder, submitted later by ``trilha sync``.

Submitting is safe to repeat: the server accepts an event id once and answers a repeat of
the same signed event with the entry it already holds, so a sync interrupted half-way or
run twice never duplicates anything. Accepted files move to ``sent/``, refused ones to
``rejected/`` with the server's reason beside them; on a network failure the rest stay.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from cli.context import Context, errors_as_exit, pass_context
from cli.output import table
from ledger.errors import ConfigurationError, LedgerError, ValidationError
from ledger.wire.commands import parse_input_json

TIMEOUT_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Outcome:
    event: str
    status: str  # accepted, already, rejected, pending
    detail: str


def outbox_files(outbox: Path) -> list[Path]:
    """Pending signed events, oldest statement first (unreadable files first of all, to
    be set aside)."""
    files = [p for p in outbox.glob("*.json") if p.is_file()]

    def statement_time(path: Path) -> str:
        try:
            return str(read_signed(path)["event"]["at"])
        except (LedgerError, KeyError, TypeError):
            return ""

    return sorted(files, key=lambda p: (statement_time(p), p.name))


def read_signed(path: Path) -> Any:
    """An outbox file parsed as strictly as the server will parse it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"{path.name}: cannot read it: {exc.strerror}",
                              field="outbox") from exc
    return parse_input_json(raw, what=path.name)


def post_event(url: str, body: bytes, token: str | None) -> tuple[int, dict[str, Any]]:
    """POST a signed event's bytes, exactly as they were signed into the outbox."""
    request = urllib.request.Request(
        url.rstrip("/") + "/api/v1/events", data=body,
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {token}"} if token else {})},
        method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, _json_answer(response.read())
    except urllib.error.HTTPError as error:
        body_json = _json_answer(error.read())
        return error.code, body_json or {"message": str(error.reason)}


def _json_answer(raw: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        return {}
    return answer if isinstance(answer, dict) else {}


def sync_outbox(outbox: Path, url: str, token: str | None) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for path in outbox_files(outbox):
        try:
            event_id = str(read_signed(path)["event"]["id"])[:64]
        except (LedgerError, KeyError, TypeError) as exc:
            # Never a signed event: the server could only refuse it, so it is set aside
            # (not left to block every later sync).
            reason = exc.message if isinstance(exc, LedgerError) else \
                f"{path.name}: not a signed event (no event.id)"
            _reject(path, outbox, reason)
            outcomes.append(Outcome(path.stem, "rejected", reason))
            continue
        try:
            status, body = post_event(url, path.read_bytes(), token)
        except (urllib.error.URLError, OSError) as exc:
            outcomes.append(Outcome(event_id, "pending", f"connection failed: {exc}"))
            break  # keep this and the rest for the next sync
        if status in (200, 201):
            _move(path, outbox / "sent")
            seq = body.get("seq")
            outcomes.append(Outcome(event_id, "accepted" if status == 201 else "already",
                                    f"entry {seq}"))
        elif 400 <= status < 500 and status not in (401, 403, 429):
            reason = str(body.get("message") or json.dumps(body))
            _reject(path, outbox, reason)
            outcomes.append(Outcome(event_id, "rejected", reason))
        else:
            outcomes.append(Outcome(event_id, "pending",
                                    f"server answered {status}: {body.get('message', '')}"))
            break
    return outcomes


def _reject(path: Path, outbox: Path, reason: str) -> None:
    target = _move(path, outbox / "rejected")
    target.with_suffix(".reason.txt").write_text(reason + "\n", encoding="utf-8")


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    path.replace(target)
    return target


@click.command()
@click.option("--to", "url", envvar="TRILHA_SERVER", required=True,
              help="The Trilha server, e.g. https://trilha.example.org (or TRILHA_SERVER).")
@click.option("--outbox", type=click.Path(file_okay=False, path_type=Path),
              envvar="TRILHA_OUTBOX", required=True, help="Outbox folder (or TRILHA_OUTBOX).")
@click.option("--token", envvar="TRILHA_TOKEN", default=None, help="API token (or TRILHA_TOKEN).")
@pass_context
def sync(context: Context, url: str, outbox: Path, token: str | None) -> None:
    """Submit the events signed offline in the outbox; safe to run again at any time."""
    with errors_as_exit():
        if not outbox.is_dir():
            raise ConfigurationError(f"outbox {outbox} does not exist")
        outcomes = sync_outbox(outbox, url, token)
        context.emit([asdict(o) for o in outcomes],
                     lambda: table(["EVENT", "RESULT", "DETAIL"],
                                   [(o.event, o.status, o.detail) for o in outcomes])
                     if outcomes else click.echo("outbox is empty"))
        if any(o.status == "pending" for o in outcomes):
            raise ConfigurationError("some events are still pending: run trilha sync again "
                                     "when the connection is back")


@click.command("outbox")
@click.option("--outbox", type=click.Path(file_okay=False, path_type=Path),
              envvar="TRILHA_OUTBOX", required=True)
@pass_context
def outbox_list(context: Context, outbox: Path) -> None:
    """List the events waiting in the outbox."""
    with errors_as_exit():
        rows = []
        for path in outbox_files(outbox) if outbox.is_dir() else []:
            try:
                event = read_signed(path)["event"]
                rows.append({"event": str(event["id"]), "kind": str(event["kind"]),
                             "actor": str(event["actor"]), "at": str(event["at"])})
            except (LedgerError, KeyError, TypeError):
                rows.append({"event": path.stem, "kind": "?", "actor": "?",
                             "at": "not a signed event"})
        context.emit(rows, lambda: table(["EVENT", "KIND", "ACTOR", "AT"],
                                         [tuple(r.values()) for r in rows]))


COMMANDS: list[click.Command] = [sync, outbox_list]
