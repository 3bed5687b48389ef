"""The JSON API: signed events from clients (idempotent), proofs and checkpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import cli
from ledger.domain import events as ev
from ledger.domain.note import NoteSigner
from ledger.keystore import encrypt_private_key, generate_private_key
from ledger.wire.events import dump_signed_event
from tests.builders import World


@pytest.fixture(autouse=True)
def _operator_token(client: FlaskClient, tokens: dict[str, str]) -> None:
    # The operator may relay anyone's signed events: these tests are about the core's rules.
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['operator']}"


def adjustment(world: World, note: str = "rats") -> ev.SignedEvent:
    return world.sign("assoc-cachoeira", ev.LotAdjusted(ev.LotId("BN-1"), Decimal("-1"),
                                                        ev.AdjustmentReason.LOSS, note))


def test_a_signed_event_is_accepted_once_and_a_repeat_is_harmless(world: World,
                                                                  client: FlaskClient) -> None:
    world.harvest("BN-1")
    document = dump_signed_event(adjustment(world))
    first = client.post("/api/v1/events", json=document)
    assert first.status_code == 201
    again = client.post("/api/v1/events", json=document)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert world.ledger.lot("BN-1").quantity == Decimal("99")


def test_a_different_event_reusing_an_id_is_a_conflict(world: World,
                                                       client: FlaskClient) -> None:
    world.harvest("BN-1")
    first = adjustment(world)
    client.post("/api/v1/events", json=dump_signed_event(first))
    reused = world.sign("assoc-cachoeira", ev.LotAdjusted(
        ev.LotId("BN-1"), Decimal("-2"), ev.AdjustmentReason.LOSS, "more rats"),
        event_id=first.event.id)
    answer = client.post("/api/v1/events", json=dump_signed_event(reused))
    assert answer.status_code == 409 and answer.get_json()["rule"] == "event_id_unique"


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"event": 1, "signatures": []}',
                                  b'{"event": {}, "signatures": [{}]}', b"{}" * 1000])
def test_hostile_bodies_get_a_4xx_naming_the_problem(client: FlaskClient, body: bytes) -> None:
    answer = client.post("/api/v1/events", data=body, content_type="application/json")
    assert 400 <= answer.status_code < 500
    assert answer.get_json()["message"]


def test_rule_violations_name_the_field_and_rule(world: World, client: FlaskClient) -> None:
    world.harvest("BN-1")
    stolen = world.sign("coop", ev.LotAdjusted(ev.LotId("BN-1"), Decimal("-1"),
                                               ev.AdjustmentReason.LOSS, "mine now"))
    answer = client.post("/api/v1/events", json=dump_signed_event(stolen))
    body = answer.get_json()
    assert answer.status_code == 422
    assert (body["rule"], body["lot"], body["field"]) == ("custodian_only", "BN-1", "body.lot")


def test_checkpoint_and_proofs(world: World, client: FlaskClient) -> None:
    world.harvest("BN-1")
    assert client.get("/api/v1/checkpoint").status_code == 404
    world.ledger.sign_checkpoint(NoteSigner(world.ledger.origin, generate_private_key()))
    note = client.get("/api/v1/checkpoint").get_data(as_text=True)
    assert note.startswith(f"{world.ledger.origin}\n{world.ledger.size()}\n")
    proof = client.get("/api/v1/proofs/inclusion?seq=3").get_json()
    assert proof["tree_size"] == world.ledger.size() and proof["path"]
    assert client.get("/api/v1/proofs/consistency?old=2").get_json()["path"]
    bad = client.get("/api/v1/proofs/inclusion?seq=abc")
    assert bad.status_code == 422 and bad.get_json()["field"] == "seq"
    provenance = client.get("/api/v1/lots/BN-1/provenance").get_json()
    assert provenance["lot"]["lot"] == "BN-1" and provenance["timeline"]


def test_offline_outbox_synced_twice_never_duplicates(world: World, live_server: str,
                                                      tokens: dict[str, str],
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    world.harvest("BN-1")
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "assoc-cachoeira.pem").write_bytes(encrypt_private_key(
        world.signers["assoc-cachoeira"].private_key, b"pw"))
    monkeypatch.setenv("TRILHA_KEYS_DIR", str(keys))
    monkeypatch.setenv("TRILHA_PASSPHRASE", "pw")
    runner = CliRunner()
    outbox = tmp_path / "outbox"
    # The clerk's laptop holds a copy of the ledger; it signs offline into the outbox.
    copy = f"sqlite:///{tmp_path / 'laptop.sqlite'}"
    exported = tmp_path / "ledger.jsonl"
    exported.write_bytes(b"".join(world.ledger.export_jsonl()))
    assert runner.invoke(cli, ["--db", copy, "import", str(exported)]).exit_code == 0
    for loss in ("1", "2"):
        result = runner.invoke(cli, ["--db", copy, "adjust", "--as", "assoc-cachoeira",
                                     "--lot", "BN-1", "--loss", loss, "--reason", "loss",
                                     "--note", "drying", "--outbox", str(outbox)])
        assert result.exit_code == 0, result.output
    world.clock.now = datetime.now(UTC)  # the server's clock: after the laptop signed
    before = world.ledger.size()
    sync = ["--json", "sync", "--to", live_server, "--token", tokens["member"], "--outbox",
            str(outbox)]
    synced = runner.invoke(cli, sync)
    assert synced.exit_code == 0, synced.output
    assert [o["status"] for o in json.loads(synced.stdout)] == ["accepted", "accepted"]
    assert world.ledger.size() == before + 2
    # A second sync (or a retry after a dropped connection) sends nothing twice.
    for sent in (outbox / "sent").glob("*.json"):
        (outbox / sent.name).write_bytes(sent.read_bytes())
    again = runner.invoke(cli, sync)
    assert [o["status"] for o in json.loads(again.stdout)] == ["already", "already"]
    assert world.ledger.size() == before + 2
    assert world.ledger.lot("BN-1").quantity == Decimal("97")


def test_an_event_refused_by_the_server_goes_to_rejected_with_its_reason(
        world: World, live_server: str, tmp_path: Path, tokens: dict[str, str]) -> None:
    world.harvest("BN-1")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    stale = world.sign("assoc-cachoeira", ev.LotAdjusted(ev.LotId("BN-1"), Decimal("-1"),
                                                         ev.AdjustmentReason.LOSS, "late"))
    (outbox / f"{stale.event.id}.json").write_text(json.dumps(dump_signed_event(stale)))
    world.transfer("BN-1", "assoc-cachoeira", "coop")  # meanwhile the lot changed hands
    result = CliRunner().invoke(cli, ["--json", "sync", "--to", live_server, "--token",
                                      tokens["member"], "--outbox", str(outbox)])
    outcome = json.loads(result.stdout)[0]
    assert outcome["status"] == "rejected" and "custodian" in outcome["detail"]
    reason = (outbox / "rejected" / f"{stale.event.id}.reason.txt").read_text()
    assert "only the custodian" in reason


def test_a_dropped_connection_keeps_the_outbox_for_the_next_sync(world: World,
                                                                 tmp_path: Path) -> None:
    world.harvest("BN-1")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    pending = adjustment(world)
    (outbox / f"{pending.event.id}.json").write_text(json.dumps(dump_signed_event(pending)))
    result = CliRunner().invoke(cli, ["--json", "sync", "--to", "http://127.0.0.1:9",
                                      "--outbox", str(outbox)])
    assert result.exit_code == 9 and "run trilha sync again" in result.stderr
    assert json.loads(result.stdout)[0]["status"] == "pending"
    assert (outbox / f"{pending.event.id}.json").exists()


def test_the_openapi_document_validates(client: FlaskClient, app: Flask) -> None:
    import re

    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert "/events" in document["paths"]

    def shape(path: str) -> str:
        return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)

    documented = {(shape(path), method.upper()) for path, item in document["paths"].items()
                  for method in item}
    served = {(shape(rule.rule.removeprefix("/api/v1")), method)
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
              and rule.endpoint != "api.openapi"
              for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    served = {(p.replace("/operations/{}", "/operations/harvest"), m) for p, m in served}
    assert served <= documented, f"undocumented routes: {sorted(served - documented)}"
    signed = document["components"]["schemas"]["SignedEvent"]
    assert set(signed["required"]) == {"event", "signatures"}


def test_the_api_serves_a_lots_proof_bundle(world: World, client: FlaskClient) -> None:
    from ledger.bundle import verify_bundle

    world.harvest("BN-1")
    assert client.get("/api/v1/lots/BN-1/bundle").status_code == 409  # no checkpoint yet
    signer = NoteSigner(world.ledger.origin, generate_private_key())
    world.ledger.sign_checkpoint(signer)
    bundle = client.get("/api/v1/lots/BN-1/bundle").get_json()
    assert verify_bundle(bundle, signer.verifier_key()).ok


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
    st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["lot", "product", "quantity", "price", "currency", "shares", "to",
                         "children", "lots", "into", "inputs", "outputs", "process", "loss",
                         "reason", "note", "event", "signatures", "username", "password",
                         "role", "actor", "season", "harvesters", "country"]) |
        st.text(max_size=8), inner, max_size=6),
    max_leaves=20)
WRITES = ["/api/v1/events", "/api/v1/accounts", "/api/v1/tokens",
          *(f"/api/v1/operations/{kind}" for kind in ("harvest", "dispatch", "receive",
                                                       "refuse", "split", "merge",
                                                       "transform", "adjust"))]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(WRITES), body=JSON_VALUES)
def test_hostile_json_to_any_write_is_a_4xx_and_changes_nothing(
        world: World, client: FlaskClient, tokens: dict[str, str], path: str,
        body: object) -> None:
    before = world.ledger.size()
    for user in ("operator", "member"):
        answer = client.post(path, json=body,
                             headers={"Authorization": f"Bearer {tokens[user]}"})
        assert 400 <= answer.status_code < 500, (path, body, answer.get_data(True))
        assert answer.is_json and answer.get_json()["message"]
    assert world.ledger.size() == before


def test_server_signed_operations_lists_and_checkpoints(world: World, client: FlaskClient,
                                                        tokens: dict[str, str]) -> None:
    member = {"Authorization": f"Bearer {tokens['member']}"}
    harvest = {"lot": "BN-API-1", "product": "brazil-nut-in-shell", "quantity": "120.5",
               "season": "2024", "harvest_start": "2024-11-02", "harvest_end": "2024-12-01",
               "community": "Seringal Cachoeira", "territory": "RESEX Chico Mendes",
               "country": "BR", "harvesters": ["hv-3f9a2c"], "price": "441.03",
               "currency": "BRL", "shares": ["hv-g:harvesters:90", "fund:community_fund:10"]}
    made = client.post("/api/v1/operations/harvest", json=harvest, headers=member)
    assert made.status_code == 201, made.get_json()
    entry = world.ledger.entry(made.get_json()["seq"])
    assert entry.signed.event.actor == "assoc-cachoeira"
    again = client.post("/api/v1/operations/harvest", json=harvest, headers=member)
    assert again.status_code == 422 and again.get_json()["rule"] == "lot_unique"
    sent = client.post("/api/v1/operations/dispatch", headers=member, json={
        "lot": "BN-API-1", "to": "coop", "price": "441.03", "currency": "BRL",
        "shares": "hv-g:harvesters:100"})
    assert sent.status_code == 201
    coop = {"Authorization": f"Bearer {tokens['coop']}"}
    waiting = client.get("/api/v1/pending", headers=coop).get_json()
    assert [item["lot"] for item in waiting["items"]] == ["BN-API-1"]
    assert client.post("/api/v1/operations/receive", json={"lot": "BN-API-1"},
                       headers=coop).status_code == 201
    assert world.ledger.lot("BN-API-1").custodian == "coop"
    world.harvest("BN-API-2")
    first = client.get("/api/v1/lots?limit=1", headers=member).get_json()
    assert len(first["items"]) == 1 and first["next"].endswith("limit=1&offset=1")
    second = client.get(first["next"], headers=member).get_json()
    assert second["items"][0]["lot"] != first["items"][0]["lot"]
    assert client.get("/api/v1/lots?limit=501", headers=member).status_code == 422
    entries = client.get("/api/v1/entries?from=0&limit=3").get_json()
    assert [e["seq"] for e in entries["items"]] == [0, 1, 2]
    assert "from=3" in entries["next"]
    note = client.post("/api/v1/checkpoints",
                       headers={"Authorization": f"Bearer {tokens['operator']}"})
    assert note.status_code == 201 and note.get_data(as_text=True).startswith(
        world.ledger.origin)
    assert world.ledger.latest_checkpoint().size == world.ledger.size()  # type: ignore[union-attr]
