"""Web fixtures: an app on the test ledger, a test client, and a live server for browsers."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from web import create_app
from web.auth import get_accounts
from web.services import EXTENSION

PASSWORD = "correct horse battery"
# username -> (role, actor): one account per role, acting for the test world's actors.
ACCOUNTS = {
    "operator": ("operator", "operator"),
    "member": ("member", "assoc-cachoeira"),
    "coop": ("member", "coop"),
    "trader": ("trader", "processor"),
    "buyer": ("buyer", "buyer"),
    "auditor": ("auditor", None),
}


@pytest.fixture
def app(db_url: str, world: Any) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "test",
                      "KEY_PASSPHRASE": "test-passphrase", "PASSWORD_LOG2_N": 10})
    app.extensions[EXTENSION] = world.ledger  # the same ledger (and clock) as the test
    with app.app_context():
        accounts = get_accounts()
        for username, (role, actor) in ACCOUNTS.items():
            accounts.create(username, PASSWORD, role, actor_id=actor,
                            private_key=world.signers[actor].private_key if actor else None)
    yield app


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    """A bearer token per account (username -> token)."""
    with app.app_context():
        accounts = get_accounts()
        return {name: accounts.issue_token(accounts.by_username(name), "test")
                for name in ACCOUNTS}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    page = client.get("/workspace/login")
    answer = client.post("/workspace/login", data={
        "username": username, "password": password,
        "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert answer.status_code == 302, answer.get_data(as_text=True)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
