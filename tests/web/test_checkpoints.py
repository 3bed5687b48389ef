"""The server signs its own checkpoints; writes may wait for theirs; a lot recorded after
the latest checkpoint is "waiting", never "does not verify"."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ledger.checkpointer import Checkpointer
from ledger.domain import events as ev
from ledger.domain.merkle import leaf_hash, verify_inclusion
from ledger.domain.note import Checkpoint, NoteSigner, NoteVerifier, open_note
from ledger.errors import ConfigurationError
from ledger.keystore import generate_private_key
from ledger.wire.events import dump_signed_event
from tests.builders import World
from tests.web.conftest import bearer
from tests.web.test_public import chain
from web import create_app
from web.checkpointing import EXTENSION, start_checkpointer, stop_checkpointer

HARVEST = {"product": "brazil-nut-in-shell", "quantity": "120.5", "season": "2024",
           "harvest_start": "2024-11-02", "harvest_end": "2024-12-01",
           "community": "Seringal Cachoeira", "territory": "RESEX Chico Mendes",
           "country": "BR", "harvesters": ["hv-3f9a2c"], "price": "441.03",
           "currency": "BRL", "shares": ["hv-g:harvesters:90", "fund:community_fund:10"]}


def operator_vkey(world: World) -> str:
    return NoteSigner(world.ledger.origin, world.signers["operator"].private_key).verifier_key()


@pytest.fixture
def signing(app: Flask) -> Iterator[Checkpointer]:
    """The app's own checkpointer, with the operator account's server-held key."""
    app.config["CHECKPOINT_INTERVAL_S"] = 0.05
    checkpointer = start_checkpointer(app)
    yield checkpointer
    stop_checkpointer(app)


# -- configuration -------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", ""])
def test_a_bad_checkpoint_interval_refuses_to_start(monkeypatch: pytest.MonkeyPatch,
                                                    value: str) -> None:
    monkeypatch.setenv("TRILHA_CHECKPOINT_INTERVAL_S", value)
    with pytest.raises(ConfigurationError, match="TRILHA_CHECKPOINT_INTERVAL_S: expected a "
                                                 "number of seconds > 0"):
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})


def test_the_interval_defaults_to_ten_seconds_and_reads_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRILHA_CHECKPOINT_INTERVAL_S", raising=False)
    assert create_app({"TESTING": True}).config["CHECKPOINT_INTERVAL_S"] == 10.0
    monkeypatch.setenv("TRILHA_CHECKPOINT_INTERVAL_S", "2.5")
    assert create_app({"TESTING": True}).config["CHECKPOINT_INTERVAL_S"] == 2.5


def test_the_serving_factory_signs_and_an_app_given_its_config_does_not(
        monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("TRILHA_DATABASE_URL", f"sqlite:///{tmp_path}/ledger.sqlite")
    served = create_app()  # what gunicorn runs: 'web:create_app()'
    assert served.config["CHECKPOINTER"] is True
    assert served.extensions[EXTENSION] is None  # started by a request, not by the factory
    assert create_app({"ENV_NAME": "production", "SECRET_KEY": "s" * 32,
                       "KEY_PASSPHRASE": "k" * 20}).config["CHECKPOINTER"] is False


def test_test_apps_sign_nothing_unless_asked(app: Flask, client: FlaskClient,
                                             world: World) -> None:
    world.harvest("BN-1")
    client.get("/lots/BN-1")
    assert app.extensions[EXTENSION] is None and world.ledger.latest_checkpoint() is None


def test_a_serving_app_starts_one_checkpointer_per_process_on_its_first_request(
        world: World, db_url: str) -> None:
    from web.services import EXTENSION as LEDGER

    app = create_app({"TESTING": True, "CHECKPOINTER": True, "DATABASE_URL": db_url,
                      "CHECKPOINT_INTERVAL_S": 0.05, "CHECKPOINT_KEY":
                      world.signers["operator"].private_key})
    app.extensions[LEDGER] = world.ledger
    assert app.extensions[EXTENSION] is None  # nothing runs before the app serves
    client = app.test_client()
    try:
        client.get("/")
        running = app.extensions[EXTENSION]
        assert running is not None and running.alive
        client.get("/")
        assert app.extensions[EXTENSION] is running
        deadline = time.monotonic() + 5
        while world.ledger.latest_checkpoint() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert world.ledger.latest_checkpoint().size == world.ledger.size()  # type: ignore[union-attr]
    finally:
        stop_checkpointer(app)


def test_without_an_operator_key_nothing_is_signed_and_it_is_said_once(
        app: Flask, client: FlaskClient, world: World,
        caplog: pytest.LogCaptureFixture) -> None:
    # The pages check a key this server does not hold: no key it holds may sign.
    app.config["OPERATOR_VKEY"] = NoteSigner(world.ledger.origin,
                                             generate_private_key()).verifier_key()
    app.config["CHECKPOINT_INTERVAL_S"] = 0.05
    world.harvest("BN-1")
    with caplog.at_level(logging.WARNING):
        checkpointer = start_checkpointer(app)
        time.sleep(0.3)
        stop_checkpointer(app)
    assert checkpointer.signed == [] and world.ledger.latest_checkpoint() is None
    assert len([r for r in caplog.records if "no operator key" in r.getMessage()]) == 1
    html = client.get("/lots/BN-1?lang=en").get_data(as_text=True)
    assert "badge-waiting" in html and "badge-failed" not in html


# -- writes that wait for their checkpoint ------------------------------------------------

def _check_answer(world: World, answer: dict[str, object]) -> None:
    """The answer's checkpoint is the operator's, and the entry is in it."""
    assert answer["in_checkpoint"] is True
    size, seq = answer["checkpoint_size"], answer["seq"]
    assert isinstance(size, int) and isinstance(seq, int) and size > seq
    note = open_note(str(answer["checkpoint"]), [NoteVerifier.from_vkey(operator_vkey(world))])
    checkpoint = Checkpoint.from_text(note.body)
    proof = answer["inclusion_proof"]
    assert isinstance(proof, dict) and proof["tree_size"] == checkpoint.size == size
    verify_inclusion(leaf_hash(world.ledger.entry(seq).hash), seq, size,
                     [bytes.fromhex(h) for h in proof["hashes"]], checkpoint.root_hash)


def test_an_operation_may_wait_for_the_checkpoint_that_holds_it(
        world: World, client: FlaskClient, tokens: dict[str, str],
        signing: Checkpointer) -> None:
    answer = client.post("/api/v1/operations/harvest?wait=checkpoint&wait_s=10",
                         json={**HARVEST, "lot": "BN-W1"}, headers=bearer(tokens["member"]))
    assert answer.status_code == 201, answer.get_json()
    _check_answer(world, answer.get_json())


def test_a_signed_event_and_its_repeat_may_wait_for_their_checkpoint(
        world: World, client: FlaskClient, tokens: dict[str, str],
        signing: Checkpointer) -> None:
    world.harvest("BN-1")
    event = world.sign("assoc-cachoeira", ev.LotAdjusted(ev.LotId("BN-1"), Decimal("-1"),
                                                         ev.AdjustmentReason.LOSS, "rats"))
    document = dump_signed_event(event)
    first = client.post("/api/v1/events?wait=checkpoint", json=document,
                        headers=bearer(tokens["member"]))
    assert first.status_code == 201
    _check_answer(world, first.get_json())
    again = client.post("/api/v1/events?wait=checkpoint", json=document,
                        headers=bearer(tokens["member"]))
    assert again.status_code == 200 and again.get_json()["seq"] == first.get_json()["seq"]
    _check_answer(world, again.get_json())


def test_a_wait_that_times_out_is_still_a_success(world: World, client: FlaskClient,
                                                  tokens: dict[str, str]) -> None:
    started = time.monotonic()
    answer = client.post("/api/v1/operations/harvest?wait=checkpoint&wait_s=0.3",
                         json={**HARVEST, "lot": "BN-W2"}, headers=bearer(tokens["member"]))
    assert 0.3 <= time.monotonic() - started < 2
    body = answer.get_json()
    assert answer.status_code == 201 and body["in_checkpoint"] is False
    assert body["checkpoint_size"] is None and world.ledger.lot("BN-W2")
    plain = client.post("/api/v1/operations/harvest", json={**HARVEST, "lot": "BN-W3"},
                        headers=bearer(tokens["member"]))
    assert set(plain.get_json()) == {"seq", "entry_hash"}  # no wait asked, none reported


@pytest.mark.parametrize("query", ["wait=soon", "wait=checkpoint&wait_s=0",
                                   "wait=checkpoint&wait_s=61", "wait=checkpoint&wait_s=abc",
                                   "wait=checkpoint&wait_s=1e3", "wait=checkpoint&wait_s=-1",
                                   "wait=checkpoint&wait_s=%D9%A1", "wait_s=5"])
def test_a_bad_wait_names_the_parameter_and_appends_nothing(
        world: World, client: FlaskClient, tokens: dict[str, str], query: str) -> None:
    before = world.ledger.size()
    answer = client.post(f"/api/v1/operations/harvest?{query}",
                         json={**HARVEST, "lot": "BN-BAD"}, headers=bearer(tokens["member"]))
    assert answer.status_code == 422
    assert answer.get_json()["field"] == ("wait" if query == "wait=soon" else "wait_s")
    signed = world.sign("assoc-cachoeira", ev.LotAdjusted(ev.LotId("BN-0"), Decimal("-1"),
                                                          ev.AdjustmentReason.LOSS, "x"))
    answer = client.post(f"/api/v1/events?{query}", json=dump_signed_event(signed),
                         headers=bearer(tokens["member"]))
    assert answer.status_code == 422
    assert world.ledger.size() == before


def test_the_openapi_document_describes_the_wait_and_the_waiting_bundle(
        client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    for path in ("/events", "/operations/harvest"):
        post = document["paths"][path]["post"]
        assert {p["name"] for p in post["parameters"]} >= {"wait", "wait_s"}
        assert {"201", "401", "403", "409", "413", "422"} <= set(post["responses"])
    bundle = document["paths"]["/lots/{lot}/bundle"]["get"]["responses"]["409"]
    assert "Retry-After" in bundle["headers"]
    appended = document["components"]["schemas"]["Appended"]["properties"]
    assert {"in_checkpoint", "checkpoint_size", "checkpoint", "inclusion_proof"} <= set(appended)


# -- the lot page and its bundle while waiting ------------------------------------------

WAITING = {"en": "Recorded, waiting for the next checkpoint",
           "pt-BR": "Registrado, aguardando o próximo checkpoint",
           "es": "Registrado, esperando el próximo checkpoint",
           "fr": "Enregistré, en attente du prochain checkpoint"}


def test_a_lot_newer_than_the_checkpoint_is_waiting_then_verified(
        world: World, app: Flask, client: FlaskClient) -> None:
    signer = chain(world)
    app.config["OPERATOR_VKEY"] = signer.verifier_key()
    world.transfer("K-0001", "processor", "buyer")  # after the checkpoint
    covered = world.ledger.latest_checkpoint().size  # type: ignore[union-attr]
    for lang, text in WAITING.items():
        html = client.get("/lots/K-0001", headers={"Accept-Language": lang}).get_data(
            as_text=True)
        assert "badge-waiting" in html and text in html, lang
        assert "badge-failed" not in html
        # The line under the badge never names a checkpoint that lacks the newest entries.
        detail = re.search(r'id="badge-detail">(.*?)</p>', html, re.S)
        assert detail and str(covered) not in detail.group(1), lang
    for url in ("/lots/K-0001/bundle.json", "/api/v1/lots/K-0001/bundle"):
        answer = client.get(url)
        assert answer.status_code == 409 and answer.headers["Retry-After"] == "10"
        assert answer.get_json()["error"] == "awaiting_checkpoint"
    world.ledger.sign_checkpoint(signer)
    html = client.get("/lots/K-0001?lang=en").get_data(as_text=True)
    size = world.ledger.latest_checkpoint().size  # type: ignore[union-attr]
    assert "badge-verified" in html and f"inclusion in signed checkpoint {size}" in html
    assert client.get("/lots/K-0001/bundle.json").status_code == 200


def test_a_lot_before_any_checkpoint_is_waiting_too(world: World,
                                                    client: FlaskClient) -> None:
    world.harvest("BN-1")
    html = client.get("/lots/BN-1?lang=en").get_data(as_text=True)
    assert "badge-waiting" in html and "inclusion in signed checkpoint" not in html
    assert client.get("/lots/BN-1/bundle.json").get_json()["error"] == "awaiting_checkpoint"


def test_the_page_of_a_fresh_lot_verifies_once_the_server_signs(
        world: World, app: Flask, client: FlaskClient, signing: Checkpointer) -> None:
    app.config["OPERATOR_VKEY"] = operator_vkey(world)
    world.harvest("BN-FRESH")
    deadline = time.monotonic() + 5
    html = ""
    while time.monotonic() < deadline:
        html = client.get("/lots/BN-FRESH?lang=en").get_data(as_text=True)
        if "badge-verified" in html:
            break
        assert "badge-waiting" in html
        time.sleep(0.05)
    assert "badge-verified" in html
    assert client.get("/lots/BN-FRESH/bundle.json").status_code == 200
    assert signing.signed and signing.signed[-1] == world.ledger.size()
