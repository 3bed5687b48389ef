"""The cooperative workspace: forms that sign with server-held keys, CSRF, the core's
errors beside their fields, receipts, labels, and hostile text coming back escaped."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from ledger.domain.state import LotStatus
from tests.builders import World
from tests.web.conftest import csrf_token, log_in

HARVEST = {
    "lot": "BN-WEB-001", "product": "brazil-nut-in-shell", "quantity": "363",
    "season": "2024", "harvest_start": "2024-11-10", "harvest_end": "2024-12-12",
    "community": "Seringal Cachoeira", "territory": "RESEX Chico Mendes", "country": "BR",
    "plot": "", "area_ha": "", "geometry": "",
    "harvesters": "hv-3f9a2c\nhv-81d0e4", "price": "1524.60", "currency": "BRL",
    "shares": "hv-cachoeira-26:harvesters:85\nfund-cachoeira:community_fund:10\n"
              "assoc-cachoeira:community_association:5",
}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def post_form(client: FlaskClient, path: str, data: dict[str, str]) -> object:
    page = client.get(path)
    assert page.status_code == 200
    return client.post(path, data={**data, "csrf_token": csrf_token(page.get_data(True))})


def test_a_member_records_a_harvest_signed_with_its_server_held_key(
        world: World, client: FlaskClient) -> None:
    log_in(client, "member")
    answer = post_form(client, "/workspace/record/harvest", HARVEST)
    assert answer.status_code == 302, answer.get_data(True)  # type: ignore[attr-defined]
    lot = world.ledger.lot("BN-WEB-001")
    assert lot.custodian == "assoc-cachoeira" and lot.quantity == Decimal("363")
    entry = world.ledger.entry(world.ledger.size() - 1)
    assert entry.signed.event.actor == "assoc-cachoeira"
    assert entry.signed.signatures[0].public_key == \
        world.signers["assoc-cachoeira"].public_key_raw
    home = client.get("/workspace/").get_data(as_text=True)
    assert "BN-WEB-001" in home and "Recorded: entry" in home
    assert world.ledger.verify().ok


def test_a_form_without_its_csrf_token_is_refused_and_nothing_lands(
        world: World, client: FlaskClient) -> None:
    log_in(client, "member")
    before = world.ledger.size()
    answer = client.post("/workspace/record/harvest", data=HARVEST)
    assert answer.status_code == 400 and "CSRF" in answer.get_data(as_text=True)
    forged = client.post("/workspace/record/harvest", data={**HARVEST, "csrf_token": "x"})
    assert forged.status_code == 400
    assert world.ledger.size() == before


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"shares": "hv-a:harvesters:85\nfund-a:community_fund:5"}, "shares", "100%"),
    ({"lot": ""}, "lot", "required"),
    ({"quantity": "lots"}, "quantity", "decimal"),
    ({"harvesters": "Maria da Silva"}, "harvesters", "pseudonymous"),
    ({"harvest_end": "2024-11-01"}, "harvest_end", "start"),
    ({"harvest_end": "2025-03-01"}, "harvest_end", "statement date"),
    ({"price": "12.345"}, "price", "2 decimals"),
])
def test_form_errors_come_from_the_core_and_sit_next_to_their_field(
        world: World, client: FlaskClient, change: dict[str, str], field: str,
        words: str) -> None:
    log_in(client, "member")
    before = world.ledger.size()
    answer = post_form(client, "/workspace/record/harvest", {**HARVEST, **change})
    html = answer.get_data(as_text=True)  # type: ignore[attr-defined]
    assert answer.status_code == 422  # type: ignore[attr-defined]
    marker = f'<div class="field-error" id="e-{field}" role="alert"><p>'
    assert marker in html, html[html.find("form-error"):][:400]
    message = html.split(marker, 1)[1].split("</p>", 1)[0]
    assert words in message
    # what the clerk typed is kept, and nothing was appended
    assert 'value="Seringal Cachoeira"' in html
    assert world.ledger.size() == before


def test_a_rule_violation_is_shown_and_leaves_the_ledger_unchanged(
        world: World, client: FlaskClient) -> None:
    world.harvest("BN-1")
    world.transfer("BN-1", "assoc-cachoeira", "coop")
    log_in(client, "member")  # the community no longer holds BN-1
    before = world.ledger.size()
    answer = post_form(client, "/workspace/record/adjust",
                       {"lot": "BN-1", "loss": "1", "reason": "loss", "note": "rats"})
    html = answer.get_data(as_text=True)  # type: ignore[attr-defined]
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert "custodian" in html and world.ledger.size() == before


def test_dispatch_then_the_receiver_accepts_or_refuses(world: World, client: FlaskClient,
                                                       app: Flask) -> None:
    world.harvest("BN-1")
    world.harvest("BN-2")
    log_in(client, "member")
    for lot in ("BN-1", "BN-2"):
        sent = post_form(client, "/workspace/record/dispatch", {
            "lot": lot, "to": "coop", "price": "500.00", "currency": "BRL",
            "shares": "assoc-cachoeira:community_association:100"})
        assert sent.status_code == 302  # type: ignore[attr-defined]
    assert world.ledger.lot("BN-1").status is LotStatus.IN_TRANSIT
    other = app.test_client()
    log_in(other, "coop")
    page = other.get("/workspace/receipts").get_data(as_text=True)
    assert "BN-1" in page and "BN-2" in page
    token = csrf_token(page)
    accepted = other.post("/workspace/record/receive", data={"lot": "BN-1",
                                                             "csrf_token": token})
    assert accepted.status_code == 302
    assert world.ledger.lot("BN-1").custodian == "coop"
    no_reason = other.post("/workspace/record/refuse", data={"lot": "BN-2",
                                                             "csrf_token": token})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_data(as_text=True)
    refused = other.post("/workspace/record/refuse", data={
        "lot": "BN-2", "reason": "wet sacks", "csrf_token": token})
    assert refused.status_code == 302
    assert world.ledger.lot("BN-2").custodian == "assoc-cachoeira"
    assert world.ledger.lot("BN-2").status is LotStatus.ACTIVE


def test_labels_download_as_a_pdf_only_for_lots_in_custody(world: World,
                                                           client: FlaskClient) -> None:
    world.harvest("BN-1")
    world.harvest("BN-9", by="coop")
    log_in(client, "member")
    page = client.get("/workspace/labels").get_data(as_text=True)
    assert "BN-1" in page and "BN-9" not in page
    token = csrf_token(page)
    pdf = client.post("/workspace/labels", data={"lot": "BN-1", "csrf_token": token})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert client.post("/workspace/labels", data={"lot": "BN-9",
                                                  "csrf_token": token}).status_code == 403
    assert client.post("/workspace/labels", data={"csrf_token": token}).status_code == 422


def test_hostile_text_in_every_free_text_field_comes_back_escaped(
        world: World, client: FlaskClient) -> None:
    log_in(client, "member")
    answer = post_form(client, "/workspace/record/harvest", {
        **HARVEST, "community": HOSTILE, "territory": HOSTILE, "plot": HOSTILE})
    assert answer.status_code == 302  # type: ignore[attr-defined]
    post_form(client, "/workspace/record/adjust", {
        "lot": "BN-WEB-001", "loss": "1", "reason": "loss", "note": HOSTILE})
    bad = post_form(client, "/workspace/record/split", {"lot": "BN-WEB-001",
                                                        "children": HOSTILE})
    pages = [client.get(path).get_data(as_text=True) for path in (
        "/lots/BN-WEB-001", "/workspace/", "/workspace/labels", "/dashboards/",
        "/workspace/indicators")]
    pages.append(bad.get_data(as_text=True))  # type: ignore[attr-defined]
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in pages[0]


def test_login_refuses_wrong_passwords_and_never_redirects_off_site(
        world: World, client: FlaskClient) -> None:
    page = client.get("/workspace/login").get_data(as_text=True)
    wrong = client.post("/workspace/login", data={"username": "member", "password": "x",
                                                  "csrf_token": csrf_token(page)})
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.get_data(True)
    from tests.web.conftest import PASSWORD

    for target in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
        answer = client.post("/workspace/login", data={
            "username": "member", "password": PASSWORD, "next": target,
            "csrf_token": csrf_token(page)})
        assert answer.status_code == 302 and answer.location == "/workspace/"


def test_no_page_or_answer_ever_carries_key_material(world: World, client: FlaskClient,
                                                     tokens: dict[str, str]) -> None:
    world.harvest("BN-1")
    log_in(client, "operator")
    bodies = [client.get(p).get_data(as_text=True) for p in (
        "/workspace/", "/auditor/", "/lots/BN-1", "/auditor/checkpoints")]
    bodies.append(client.get("/api/v1/accounts", headers={
        "Authorization": f"Bearer {tokens['operator']}"}).get_data(as_text=True))
    for body in bodies:
        assert "PRIVATE KEY" not in body and "scrypt$" not in body


def test_server_held_keys_are_encrypted_at_rest(world: World, app: Flask) -> None:
    with world.ledger.store.engine.connect() as connection:
        rows = connection.execute(text("SELECT key_pem, password_hash FROM accounts")).all()
    for key_pem, password_hash in rows:
        if key_pem is not None:
            assert b"BEGIN ENCRYPTED PRIVATE KEY" in bytes(key_pem)
        assert password_hash.startswith("scrypt$")


def test_session_cookies_are_secure_in_production(world: World, db_url: str) -> None:
    from web import create_app
    from web.services import EXTENSION

    app = create_app({"ENV_NAME": "production", "DATABASE_URL": db_url,
                      "SECRET_KEY": "s" * 32, "KEY_PASSPHRASE": "k" * 20,
                      "PASSWORD_LOG2_N": 10})
    app.extensions[EXTENSION] = world.ledger
    answer = app.test_client().get("/workspace/login", base_url="https://trilha.example")
    cookie = answer.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


def test_production_refuses_to_start_without_the_key_passphrase(db_url: str) -> None:
    from ledger.errors import ConfigurationError
    from web import create_app

    with pytest.raises(ConfigurationError, match="TRILHA_KEY_PASSPHRASE"):
        create_app({"ENV_NAME": "production", "DATABASE_URL": db_url, "SECRET_KEY": "s"})


def wait_for(client: FlaskClient, location: str) -> str:
    for _ in range(200):
        html = client.get(location).get_data(as_text=True)
        if 'http-equiv="refresh"' not in html:
            return html
        time.sleep(0.05)
    raise AssertionError("the verification run did not finish")


def test_the_auditor_runs_a_verification_and_sees_tampering(world: World,
                                                            client: FlaskClient) -> None:
    from tests.test_verification import drop_triggers

    world.harvest("BN-1")
    world.adjust("BN-1", "-12.5", by="assoc-cachoeira")
    log_in(client, "auditor")
    status = client.get("/auditor/").get_data(as_text=True)
    assert str(world.ledger.size()) in status
    started = client.post("/auditor/verify", data={"csrf_token": csrf_token(status)})
    assert started.status_code == 302
    assert "No findings" in wait_for(client, started.location)
    drop_triggers(world.ledger)
    target = world.ledger.size() - 1
    body = world.ledger.store.entry(target).body.replace(b'"-12.5"', b'"-2.5"')
    with world.ledger.store.engine.begin() as connection:
        connection.execute(text("UPDATE entries SET body = :b WHERE seq = :s"),
                           {"b": body, "s": target})
    again = client.post("/auditor/verify", data={"csrf_token": csrf_token(status)})
    html = wait_for(client, again.location)
    assert 'id="findings"' in html
    row = html.split('id="findings"', 1)[1]
    assert f'<td class="num">{target}</td>' in row


def test_the_auditor_sees_checkpoints_with_checked_consistency_and_exports(
        world: World, client: FlaskClient) -> None:
    from ledger.domain.note import NoteSigner
    from ledger.keystore import generate_private_key

    signer = NoteSigner(world.ledger.origin, generate_private_key())
    world.harvest("BN-1")
    world.ledger.sign_checkpoint(signer)
    world.harvest("BN-2")
    world.ledger.sign_checkpoint(signer)
    log_in(client, "auditor")
    html = client.get("/auditor/checkpoints").get_data(as_text=True)
    assert html.count("consistent with size") == 1 and "NOT consistent" not in html
    exported = client.get("/auditor/export/jsonl")
    assert exported.data == b"".join(world.ledger.export_jsonl())
    epcis = client.get("/auditor/export/epcis")
    assert epcis.status_code == 200 and b"EPCISDocument" in epcis.data


def test_a_rule_error_also_says_what_the_rule_means_in_the_clerks_language(
        world: World, client: FlaskClient) -> None:
    world.harvest("BN-1")
    world.transfer("BN-1", "assoc-cachoeira", "coop")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "pt-BR"
    log_in(client, "member")
    answer = post_form(client, "/workspace/record/adjust",
                       {"lot": "BN-1", "loss": "1", "reason": "loss", "note": "ratos"})
    html = answer.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "custodian" in html  # the exact message, naming the lot, field and rule
    assert "só quem tem a custódia do lote pode movimentá-lo" in html
