"""The authorization matrix: every endpoint for every role, written out by hand here (not
read from the app's own table), so a wrong cell on either side fails."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.builders import World
from tests.web.conftest import bearer, log_in

ROLES = ("anonymous", "operator", "member", "trader", "buyer", "auditor")
EVERYONE = frozenset(ROLES)
ACCOUNTS = EVERYONE - {"anonymous"}

# (method, path, JSON body or None, roles allowed). Bodies of writes are deliberately
# incomplete: an allowed role gets a 4xx naming a field, never 401/403, and nothing lands.
API: list[tuple[str, str, Any, frozenset[str]]] = [
    ("GET", "/api/v1/openapi.json", None, EVERYONE),
    ("GET", "/api/v1/entries?limit=2", None, EVERYONE),
    ("GET", "/api/v1/lots/BN-1", None, EVERYONE),
    ("GET", "/api/v1/lots/BN-1/provenance", None, EVERYONE),
    ("GET", "/api/v1/proofs/inclusion?seq=1", None, EVERYONE),
    ("GET", "/api/v1/me", None, ACCOUNTS),
    ("GET", "/api/v1/lots", None, ACCOUNTS),
    ("GET", "/api/v1/pending", None, frozenset({"member", "trader", "buyer"})),
    ("GET", "/api/v1/accounts", None, frozenset({"operator"})),
    ("POST", "/api/v1/accounts", {"username": "x"}, frozenset({"operator"})),
    ("POST", "/api/v1/events", {}, frozenset({"operator", "member", "trader", "buyer"})),
    ("POST", "/api/v1/operations/harvest", {}, frozenset({"member"})),
    ("POST", "/api/v1/operations/dispatch", {}, frozenset({"member", "trader"})),
    ("POST", "/api/v1/operations/split", {}, frozenset({"member", "trader"})),
    ("POST", "/api/v1/operations/merge", {}, frozenset({"member", "trader"})),
    ("POST", "/api/v1/operations/transform", {}, frozenset({"member", "trader"})),
    ("POST", "/api/v1/operations/adjust", {}, frozenset({"member", "trader"})),
    ("POST", "/api/v1/operations/receive", {}, frozenset({"member", "trader", "buyer"})),
    ("POST", "/api/v1/operations/refuse", {}, frozenset({"member", "trader", "buyer"})),
    ("POST", "/api/v1/checkpoints", None, frozenset({"operator"})),
]

PAGES: list[tuple[str, frozenset[str]]] = [
    ("/", EVERYONE),
    ("/lots/BN-1", EVERYONE),
    ("/dashboards/", EVERYONE),
    ("/workspace/", frozenset({"operator", "member", "trader", "buyer"})),
    ("/workspace/indicators", frozenset({"operator", "member", "trader", "buyer"})),
    ("/workspace/record/harvest", frozenset({"member"})),
    ("/workspace/record/dispatch", frozenset({"member", "trader"})),
    ("/workspace/record/split", frozenset({"member", "trader"})),
    ("/workspace/record/merge", frozenset({"member", "trader"})),
    ("/workspace/record/transform", frozenset({"member", "trader"})),
    ("/workspace/record/adjust", frozenset({"member", "trader"})),
    ("/workspace/receipts", frozenset({"member", "trader", "buyer"})),
    ("/workspace/labels", frozenset({"member", "trader"})),
    ("/auditor/", frozenset({"operator", "auditor"})),
    ("/auditor/checkpoints", frozenset({"operator", "auditor"})),
    ("/auditor/export/jsonl", frozenset({"operator", "auditor"})),
]


@pytest.fixture
def chain(world: World) -> World:
    world.harvest("BN-1")
    return world


@pytest.mark.parametrize("role", ROLES)
def test_api_matrix(role: str, chain: World, client: FlaskClient,
                    tokens: dict[str, str]) -> None:
    headers = {} if role == "anonymous" else bearer(tokens[role])
    wrong = []
    before = chain.ledger.size()
    for method, path, body, allowed in API:
        answer = client.open(path, method=method, json=body, headers=headers)
        denied = answer.status_code in (401, 403)
        if role in allowed and (denied or answer.status_code >= 500):
            wrong.append(f"{method} {path}: {role} should be allowed, got "
                         f"{answer.status_code}")
        if role not in allowed:
            expected = 401 if role == "anonymous" else 403
            if answer.status_code != expected:
                wrong.append(f"{method} {path}: {role} should get {expected}, got "
                             f"{answer.status_code}")
            else:
                assert answer.is_json and answer.get_json()["message"]
    assert not wrong, "\n".join(wrong)
    assert chain.ledger.size() == before  # no denied or malformed write landed


@pytest.mark.parametrize("role", ROLES)
def test_page_matrix(role: str, chain: World, client: FlaskClient) -> None:
    if role != "anonymous":
        log_in(client, role)
    wrong = []
    for path, allowed in PAGES:
        answer = client.get(path)
        if role in allowed:
            if answer.status_code != 200:
                wrong.append(f"{path}: {role} should see it, got {answer.status_code}")
        elif role == "anonymous":
            if answer.status_code != 302 or "/workspace/login" not in answer.location:
                wrong.append(f"{path}: anonymous should be sent to log in, got "
                             f"{answer.status_code}")
        elif answer.status_code != 403:
            wrong.append(f"{path}: {role} should get 403, got {answer.status_code}")
    assert not wrong, "\n".join(wrong)


def test_a_token_acts_only_for_its_own_actor(chain: World, client: FlaskClient,
                                             tokens: dict[str, str]) -> None:
    from decimal import Decimal

    from ledger.domain import events as ev
    from ledger.wire.events import dump_signed_event

    # A valid event signed by the community, pushed with the buyer's token: refused.
    signed = chain.sign("assoc-cachoeira", ev.LotAdjusted(ev.LotId("BN-1"), Decimal("-1"),
                                                          ev.AdjustmentReason.LOSS, "x"))
    answer = client.post("/api/v1/events", json=dump_signed_event(signed),
                         headers=bearer(tokens["buyer"]))
    assert answer.status_code == 403 and "event.actor" in answer.get_json()["message"]
    ok = client.post("/api/v1/events", json=dump_signed_event(signed),
                     headers=bearer(tokens["member"]))
    assert ok.status_code == 201


def test_tokens_are_issued_for_a_password_and_can_be_revoked(chain: World, client: FlaskClient,
                                                             app: Flask) -> None:
    from tests.web.conftest import PASSWORD

    bad = client.post("/api/v1/tokens", json={"username": "member", "password": "nope"})
    assert bad.status_code == 401 and "credentials" in bad.get_json()["message"]
    unknown = client.post("/api/v1/tokens", json={"username": "ghost", "password": "nope"})
    assert unknown.status_code == 401
    issued = client.post("/api/v1/tokens", json={"username": "member", "password": PASSWORD,
                                                 "label": "laptop"})
    assert issued.status_code == 201
    token = issued.get_json()["token"]
    assert token.startswith("trl_") and issued.get_json()["account"]["role"] == "member"
    assert client.get("/api/v1/me", headers=bearer(token)).get_json()["actor"] == \
        "assoc-cachoeira"
    assert client.delete("/api/v1/tokens/current", headers=bearer(token)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    for forged in ("trl_" + "A" * 43, "Bearer", "x" * 5000, ""):
        refused = client.get("/api/v1/me", headers=bearer(forged))
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].lower().startswith("bearer")


def test_login_and_token_endpoints_are_rate_limited(world: World, db_url: str) -> None:
    from web import create_app
    from web.services import EXTENSION

    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "t",
                      "PASSWORD_LOG2_N": 10, "LOGIN_RATE_LIMIT": "3 per minute",
                      "WTF_CSRF_ENABLED": False})
    app.extensions[EXTENSION] = world.ledger
    client = app.test_client()
    codes = [client.post("/workspace/login", data={"username": "a", "password": "b"})
             .status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    codes = [client.post("/api/v1/tokens", json={"username": "a", "password": "b"})
             .status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert client.get("/workspace/login").status_code == 200  # reading is not limited
