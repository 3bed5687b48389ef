"""Every door of the ledger driven in process, and the verifier's verdict they answer to.

A door is where outside input becomes an appended event: the API (signed events and
server-signed operations), the workspace forms, the CLI's flags and batch files, the
JSON Lines import, the EPCIS import and ``trilha sync`` of an outbox. :class:`Doors` sends
input through each against one test world and says what happened (:class:`Outcome`);
:meth:`Doors.verifier_accepts` says whether ``verify_log`` accepts the log with a given
entry appended to it: the oracle every door is held to.

Input that no JSON library writes (NaN, duplicate member names, 10,000 levels of
nesting) travels as :class:`RawJson` text, rendered verbatim by :func:`render_json`.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import Schema
from marshmallow import ValidationError as MarshmallowError

from cli import keyring
from cli import sync as cli_sync
from cli.batch import read_rows
from cli.context import Context
from cli.lot_commands import FORMS as CLI_FORMS
from cli.lot_commands import _form_data
from cli.main import cli
from ledger.domain.encoding import canonical_bytes, entry_hash_of_bytes, event_hash
from ledger.domain.entry import LotLink
from ledger.domain.events import EventKind, SignedEvent, lots_named
from ledger.domain.state import MemoryState
from ledger.errors import LedgerError, NotFound, ValidationError
from ledger.operations import sign_input
from ledger.service import JsonlEntry
from ledger.verification import Report, verify_log
from ledger.wire import compiled
from ledger.wire import entries as wire_entries
from ledger.wire import events as wire_events
from ledger.wire.commands import parse_input_json
from ledger.wire.entries import build_entry
from ledger.wire.events import load_signed_event
from ledger.wire.fields import format_instant
from tests.builders import World
from web import create_app
from web.auth import get_accounts
from web.services import EXTENSION
from web.workspace.forms import FORMS as WEB_FORMS

PASSWORD = "correct horse battery"
# The accounts of the test world's actors (username = actor id) and their roles.
ROLES = {"operator": "operator", "assoc-cachoeira": "member", "coop": "member",
         "processor": "trader", "buyer": "buyer"}
FORM_DOORS = ("api_operation", "workspace", "cli_flags", "batch_csv", "batch_json",
              "batch_yaml")
EVENT_DOORS = ("api_events", "sync", "jsonl_import")


@dataclass(frozen=True, slots=True)
class RawJson:
    """JSON text put verbatim where a value goes (what no encoder would write)."""

    text: str

    def __repr__(self) -> str:  # hypothesis prints examples: keep 4 MB out of the report
        return f"RawJson({self.text[:60]!r}... {len(self.text)} chars)"


def render_json(value: Any) -> str:
    """JSON text of ``value``, with NaN and Infinity as the bare words Python's parser
    reads, and :class:`RawJson` verbatim."""
    try:  # the common case, fast (a 100,000-point polygon): no RawJson, no NaN
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        pass
    if isinstance(value, RawJson):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{render_json(v)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(render_json(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return json.dumps(value)


def form_text(value: Any) -> str:
    """A value as a person types it into one text field."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "\n".join(form_text(v) for v in value)
    return render_json(value)


@dataclass
class Outcome:
    """What a door did: how many entries it appended and how it answered."""

    door: str
    appended: int
    status: int  # HTTP status, or the CLI's exit code
    message: str = ""
    crashed: BaseException | None = None
    already: bool = False  # an exact repeat answered with the entry already held

    def check_clean_refusal(self) -> None:
        """Refused the way a door must: nothing appended, a 4xx or exit 2..4 (8 for a
        JSON Lines file that does not continue the log), a message, no traceback."""
        assert self.crashed is None, f"{self.door} crashed: {self.crashed!r}"
        assert self.appended == 0, f"{self.door} appended {self.appended}"
        if self.door.startswith(("api", "workspace")):
            assert 400 <= self.status < 500, (self.door, self.status, self.message)
        elif self.door == "sync":
            assert self.status == 0 and self.message, (self.status, self.message)
        else:
            # 5: a signature refused; 2: click's own usage error (an unknown flag)
            allowed = (3, 4, 5, 8) if self.door == "jsonl_import" else (2, 3, 4, 5)
            assert self.status in allowed, (self.door, self.status, self.message)
            assert "Traceback" not in self.message
            lines = [line for line in self.message.splitlines() if line.strip()]
            assert lines, "a refusal says why"
            if self.door in ("cli_flags", "jsonl_import") and self.status != 2:
                # One error line; when several fields are wrong, one indented line each.
                assert lines[0].startswith("error: "), self.message
                assert all(line.startswith("  ") for line in lines[1:]), self.message


class Doors:
    """The doors of one test world's ledger, and the verifier's view of its log."""

    def __init__(self, world: World, app: Flask, tmp_path: Path) -> None:
        self.world = world
        self.ledger = world.ledger
        self.app = app
        self.tmp_path = tmp_path
        self.runner = CliRunner()
        self.clients: dict[str, FlaskClient] = {}
        self.tokens: dict[str, str] = {}
        self.bodies: list[bytes] = []
        self._state = MemoryState()
        self.counter = 0
        self.documents_sent: list[Any] = []
        with app.app_context():
            accounts = get_accounts()
            for actor, role in ROLES.items():
                account = accounts.create(actor, PASSWORD, role, actor_id=actor,
                                          private_key=world.signers[actor].private_key)
                self.tokens[actor] = accounts.issue_token(account, "doors")

    # -- the log as the verifier sees it ---------------------------------------------------

    def head(self) -> tuple[int, bytes]:
        return self.ledger.store.head()

    def refresh(self) -> None:
        """Read the entries appended since the last look and fold them into the
        verifier's state (see :meth:`verifier_accepts`): what candidates are judged on.
        Each must verify; :meth:`verify_all` replays the whole log from entry 0."""
        start = len(self.bodies)
        self.bodies += [stored.body for stored in self.ledger.store.iter_entries(start)]
        if start < len(self.bodies):
            problems = self._fold(start, self._state)
            assert not problems, problems

    def _fold(self, start: int, state: MemoryState,
              extra: bytes | None = None) -> list[str]:
        """Fold the log's entries from ``start`` (and ``extra`` after them) into ``state``
        through verify_log; the problems it finds, or that their seq and prev make."""
        bodies = [*self.bodies[start:], *([] if extra is None else [extra])]
        report = verify_log([JsonlEntry(seq, body) for seq, body in
                             enumerate(bodies, start)], state=state)
        # The stream starts at position 0 for verify_log: these two say only that.
        problems = [str(f) for f in report.findings
                    if f.rule not in ("seq_contiguous", "chain_link")]
        prev = entry_hash_of_bytes(self.bodies[start - 1]).hex() if start else "0" * 64
        for seq, body in enumerate(bodies, start):
            try:
                document = json.loads(body)
                placed = document["seq"] == seq and document["prev"] == prev
            except (ValueError, KeyError, TypeError):
                placed = bool(problems)  # not an entry at all: verify_log said why
            if not placed:
                problems.append(f"entry {seq}: seq or prev do not continue the log")
            prev = entry_hash_of_bytes(body).hex()
        return problems

    def verify_all(self) -> Report:
        """verify_log over the whole log, from entry 0: the ground truth, at teardown."""
        self.refresh()
        return verify_log(JsonlEntry(seq, body) for seq, body in enumerate(self.bodies))

    def verifier_accepts(self, line: bytes | None) -> bool:
        """Does the verifier accept the log with ``line`` as its next entry? (None: an
        event no entry can carry, such as one JCS cannot encode.)

        verify_log is a fold over the log, and the log before ``line`` verified (each
        entry was folded as it came): so its verdict on the log with ``line`` is its
        verdict on ``line`` from a copy of the state the log left, once ``line``'s seq and
        prev continue the log. TRILHA_DOOR_FULL_ORACLE=1 replays the whole log instead."""
        if line is None:
            return False
        if os.environ.get("TRILHA_DOOR_FULL_ORACLE"):
            self.refresh()
            bodies = [*self.bodies, line]
            return verify_log(JsonlEntry(seq, body) for seq, body in enumerate(bodies)).ok
        self.refresh()
        return not self._fold(len(self.bodies), _copy_state(self._state), line)

    def entry_line(self, signed: SignedEvent | Any, appended_at: datetime) -> bytes | None:
        """The bytes the log would write for ``signed`` (a typed signed event or outside
        JSON) as its next entry, with the lot_prev the log sets; None if JCS cannot."""
        self.refresh()
        if not isinstance(signed, SignedEvent):
            try:
                signed = load_signed_event(signed)
            except LedgerError:
                return self._raw_entry_line(signed, appended_at)
        size, head = self._next_place()
        heads = self._state.lot_heads  # the verifier's view of each lot's newest entry
        lot_prev: dict[str, LotLink] = {lot: heads[lot] for lot in dict.fromkeys(
            lots_named(signed.event.body)) if lot in heads}
        try:
            return build_entry(size, head, appended_at, signed, lot_prev).canonical
        except LedgerError:
            return None

    def _next_place(self) -> tuple[int, bytes]:
        """(seq, prev) of the log's next entry, from the entries already read."""
        return len(self.bodies), entry_hash_of_bytes(self.bodies[-1])

    def _raw_entry_line(self, document: Any, appended_at: datetime) -> bytes | None:
        self.refresh()
        size, head = self._next_place()
        entry = {"seq": size, "prev": head.hex(), "appended_at": format_instant(appended_at),
                 "lot_prev": {}, "signed_event": document}
        try:
            return canonical_bytes(entry)
        except LedgerError:
            return None

    def next_at(self, calls: int = 1) -> datetime:
        """What the world's clock will say after ``calls`` more readings."""
        return self.world.clock.now + self.world.clock.step * calls

    def fresh_lot(self, prefix: str = "D") -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    # -- doors that take an input form ---------------------------------------------------

    def form_meaning(self, door: str, kind: str, form: dict[str, Any]) -> dict[str, Any]:
        """The input form the door hands to ledger.operations, parsed the door's own way;
        raises the door's LedgerError when it cannot parse it."""
        if door == "api_operation":
            value = parse_input_json(render_json(form).encode(), what="body")
            assert isinstance(value, dict)
            return value
        if door == "workspace":
            texts = {name: form_text(value).strip() for name, value in form.items()
                     if self.reads(door, kind, name)}
            return {k: v for k, v in texts.items() if v != ""}
        if door == "cli_flags":
            options = {name.replace("-", "_") for name, _, _ in CLI_FORMS[kind][1]}
            unknown = sorted(set(form) - options)
            if unknown:  # click refuses a flag the command does not have (exit 2)
                raise ValidationError(f"no such option --{unknown[0]}", field=unknown[0])
            return _form_data(kind, self._cli_options(kind, form))
        path = self._batch_file(door, form)
        return read_rows(path)[0][1]

    def reads(self, door: str, kind: str, name: str) -> bool:
        """Does ``door``'s form of ``kind`` have a field ``name`` at all?"""
        if door == "workspace":
            receipts = {"receive": {"lot"}, "refuse": {"lot", "reason"}}
            return name in (receipts[kind] if kind in receipts
                            else {f.name for f in WEB_FORMS[kind]})
        return True

    def oracle_for_form(self, door: str, kind: str, actor: str, form: dict[str, Any]) -> bool:
        """Would the verifier accept the log with the event this form means?"""
        try:
            data = self.form_meaning(door, kind, form)
            signed = sign_input(self.ledger, kind, data, actor, self.world.signers[actor],
                                self.next_at(1))
        except LedgerError:
            return False  # no event: nothing a verifier could accept
        line = self.entry_line(signed, self.next_at(2))
        if line is not None:  # the entry the append path will read back, compiled
            check_compiled_agrees(json.loads(line))
        return self.verifier_accepts(line)

    def record(self, door: str, kind: str, actor: str, form: dict[str, Any]) -> Outcome:
        before = self.head()[0]
        try:
            status, message = getattr(self, f"_{door}")(kind, actor, form)
        except Exception as exc:  # a crash is what the tests look for: keep it
            return Outcome(door, self.head()[0] - before, 500, repr(exc), crashed=exc)
        return Outcome(door, self.head()[0] - before, status, message)

    def _api_operation(self, kind: str, actor: str, form: dict[str, Any]) -> tuple[int, str]:
        answer = self._client(None).post(
            f"/api/v1/operations/{kind}", data=render_json(form).encode(),
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.tokens[actor]}"})
        body = answer.get_json(silent=True) or {}
        assert answer.is_json, answer.get_data(as_text=True)[:300]
        return answer.status_code, str(body.get("message", ""))

    def _workspace(self, kind: str, actor: str, form: dict[str, Any]) -> tuple[int, str]:
        answer = self._client(actor).post(
            f"/workspace/record/{kind}", data={k: form_text(v) for k, v in form.items()})
        if answer.status_code == 302:
            return 302, ""
        page = answer.get_data(as_text=True)
        alerts = re.findall(r'role="alert">(.*?)</div>', page, flags=re.S)
        return answer.status_code, html.unescape(re.sub(r"<[^>]+>", " ", " ".join(alerts)))

    def _client(self, actor: str | None) -> FlaskClient:
        key = actor or ""
        if key not in self.clients:
            client = self.app.test_client()
            if actor is not None:
                answer = client.post("/workspace/login",
                                     data={"username": actor, "password": PASSWORD})
                assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
            self.clients[key] = client
        return self.clients[key]

    def _cli_options(self, kind: str, form: dict[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for name, _, multiple in CLI_FORMS[kind][1]:
            key = name.replace("-", "_")
            value = form.get(key)
            if multiple:
                items = value if isinstance(value, list) else ([] if value is None else [value])
                options[key] = tuple(form_text(item) for item in items)
            else:
                options[key] = None if value is None else form_text(value)
        return options

    def _cli_args(self, kind: str, actor: str, form: dict[str, Any]) -> list[str]:
        multiple = {name.replace("-", "_"): many for name, _, many in CLI_FORMS[kind][1]}
        args = [kind, "--as", actor]
        for key, value in form.items():
            if value is None:
                continue
            option = "--" + key.replace("_", "-")
            if multiple.get(key) and isinstance(value, list):
                for item in value:
                    args += [option, form_text(item)]
            else:
                args += [option, form_text(value)]
        return args

    def _cli_flags(self, kind: str, actor: str, form: dict[str, Any]) -> tuple[int, str]:
        return self.invoke(self._cli_args(kind, actor, form))

    def _batch_file(self, door: str, form: dict[str, Any]) -> Path:
        self.counter += 1
        suffix = door.removeprefix("batch_")
        path = self.tmp_path / f"rows-{self.counter}.{suffix}"
        if suffix == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(list(form))
            writer.writerow([";".join(form_text(v) for v in value) if isinstance(value, list)
                             else "" if value is None else form_text(value)
                             for value in form.values()])
            path.write_text(out.getvalue(), encoding="utf-8")
        elif suffix == "yaml" and _plain(form):
            dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: fast
            path.write_text(yaml.dump([form], Dumper=dumper, allow_unicode=True),
                            encoding="utf-8")
        else:  # JSON, and YAML of what YAML cannot say plainly (JSON is YAML's flow style)
            path.write_text(render_json([form]), encoding="utf-8")
        return path

    def _batch(self, kind: str, actor: str, form: dict[str, Any], door: str) -> tuple[int, str]:
        return self.invoke([kind, "--as", actor, "--from", str(self._batch_file(door, form))])

    def _batch_csv(self, kind: str, actor: str, form: dict[str, Any]) -> tuple[int, str]:
        return self._batch(kind, actor, form, "batch_csv")

    def _batch_json(self, kind: str, actor: str, form: dict[str, Any]) -> tuple[int, str]:
        return self._batch(kind, actor, form, "batch_json")

    def _batch_yaml(self, kind: str, actor: str, form: dict[str, Any]) -> tuple[int, str]:
        return self._batch(kind, actor, form, "batch_yaml")

    def invoke(self, args: list[str]) -> tuple[int, str]:
        result: Result = self.runner.invoke(cli, args, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stderr or result.output

    # -- doors that take signed events or entries ------------------------------------------

    def submit(self, door: str, document: Any, *, line: bytes | None = None) -> Outcome:
        """Send a signed event (API, sync) or, for the JSON Lines import, ``line``."""
        before = self.head()[0]
        try:
            if door == "api_events":
                status, message, already = self._api_events(document)
            elif door == "sync":
                status, message, already = self._sync(document)
            else:
                assert line is not None
                status, message = self._import_line(line)
                already = False
        except Exception as exc:
            return Outcome(door, self.head()[0] - before, 500, repr(exc), crashed=exc)
        return Outcome(door, self.head()[0] - before, status, message, already=already)

    def _api_events(self, document: Any) -> tuple[int, str, bool]:
        answer = self._client(None).post(
            "/api/v1/events", data=render_json(document).encode(),
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.tokens['operator']}"})
        assert answer.is_json, answer.get_data(as_text=True)[:300]
        body = answer.get_json()
        return answer.status_code, str(body.get("message", "")), answer.status_code == 200

    def _sync(self, document: Any) -> tuple[int, str, bool]:
        self.counter += 1
        outbox = self.tmp_path / f"outbox-{self.counter}"
        outbox.mkdir()
        (outbox / "event.json").write_text(render_json(document), encoding="utf-8")
        code, _ = self.invoke(["--json", "sync", "--to", "http://trilha.test", "--outbox",
                               str(outbox), "--token", self.tokens["operator"]])
        reasons = list((outbox / "rejected").glob("*.reason.txt"))
        message = reasons[0].read_text(encoding="utf-8") if reasons else ""
        already = bool(list((outbox / "sent").glob("*.json"))) and not reasons
        return code, message, already

    def _import_line(self, line: bytes) -> tuple[int, str]:
        self.counter += 1
        path = self.tmp_path / f"entries-{self.counter}.jsonl"
        path.write_bytes(line + b"\n")
        return self.invoke(["import", str(path)])


def _copy_state(state: MemoryState) -> MemoryState:
    """A copy a verification may change (records are frozen: the mappings suffice)."""
    return MemoryState(actors=dict(state.actors), keys=dict(state.keys),
                       products=dict(state.products), lots=dict(state.lots),
                       events=dict(state.events), lot_heads=dict(state.lot_heads),
                       last_append=state.last_append, first_chained=state.first_chained)


def _plain(value: Any) -> bool:
    """Only what YAML writes and reads back as itself: text, finite numbers, lists, maps."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def sign_document(document: dict[str, Any], world: World, actor: str) -> dict[str, Any]:
    """``document`` (a signed event's JSON) with its event signed again by ``actor``'s
    key, if JCS can encode the event; else as it is."""
    event = document.get("event")
    if not isinstance(event, dict):
        return document
    try:
        digest = event_hash(event)
    except LedgerError:
        return document
    from ledger.domain.encoding import b64encode, event_signature_message

    signer = world.signers[actor]
    signature = signer.sign(event_signature_message(digest))
    return {**document, "signatures": [{"public_key": b64encode(signer.public_key_raw),
                                        "signature": b64encode(signature)}]}


def make_doors(world: World, db_url: str, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Doors:
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "test",
                      "KEY_PASSPHRASE": "test-passphrase", "PASSWORD_LOG2_N": 10,
                      "WTF_CSRF_ENABLED": False})
    app.extensions[EXTENSION] = world.ledger  # the same ledger (and clock) as the test
    doors = Doors(world, app, tmp_path)
    # The CLI on the world's ledger (its clock, so appended_at never goes back) with the
    # world's keys; sync posts to the app in process instead of over a socket.
    monkeypatch.setattr(Context, "ledger", lambda self: world.ledger)
    monkeypatch.setattr(keyring, "load_signer", _world_signer(world))
    monkeypatch.setattr(cli_sync, "post_event", _in_process_post(doors))
    monkeypatch.setenv("TRILHA_LANG", "en")
    monkeypatch.setenv("TRILHA_KEYS_DIR", str(tmp_path / "keys"))  # trilha actor add
    monkeypatch.setenv("TRILHA_PASSPHRASE", "correct horse")
    monkeypatch.delenv("TRILHA_OUTBOX", raising=False)
    return doors


def _world_signer(world: World) -> Any:
    def load(actor_id: str, directory: Path | None = None) -> Any:
        if actor_id not in world.signers:
            raise NotFound(f"no key for actor {actor_id}")
        return world.signers[actor_id]
    return load


def _in_process_post(doors: Doors) -> Any:
    def post(url: str, body: bytes, token: str | None) -> tuple[int, dict[str, Any]]:
        answer = doors._client(None).post(
            "/api/v1/events", data=body,
            content_type="application/json", headers={"Authorization": f"Bearer {token}"})
        return answer.status_code, answer.get_json(silent=True) or {}
    return post


def iter_pairs(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON value (keys and indexes), the root excluded."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from iter_pairs(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index)
            yield from iter_pairs(item, (*path, index))


def _answer(load: Any, document: Any) -> tuple[str, Any]:
    try:
        return "ok", load(document)
    except MarshmallowError as exc:
        return "refused", exc.messages


def check_compiled_agrees(document: Any) -> int:
    """The compiled loaders (ledger.wire.compiled) answer every part of ``document`` as
    the schema each stands for: the same value, or the schema's own refusal. Returns how
    many parts the compiled path answered by itself."""
    parts: list[tuple[Schema, Any]] = []
    if isinstance(document, dict) and isinstance(document.get("signed_event"), dict):
        parts.append((wire_entries._ENTRY, document))
        document = document["signed_event"]
    if isinstance(document, dict):
        parts.append((wire_events._SIGNED, document))
        event = document.get("event")
        if isinstance(event, dict):
            parts.append((wire_events._ENVELOPE, event))
            kinds = {kind.value: kind for kind in EventKind}
            if isinstance(event.get("body"), dict) and event.get("kind") in kinds:
                schema = wire_events._body_schema(kinds[event["kind"]])
                parts.append((schema, event["body"]))
        signatures = document.get("signatures")
        if isinstance(signatures, list):
            parts += [(wire_events._SIGNATURE, s) for s in signatures if isinstance(s, dict)]
    answered = 0
    for schema, part in parts:
        plain = _answer(schema.load, part)
        assert _answer(lambda d, s=schema: compiled.load(s, d), part) == plain, \
            type(schema).__name__
        fast = compiled.loader(schema)
        if fast is None:
            continue
        try:
            value = fast(part)
        except Exception:  # declined: the schema answers (held equal just above)
            continue
        assert plain == ("ok", value), type(schema).__name__
        answered += 1
    return answered
