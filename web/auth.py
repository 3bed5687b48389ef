"""Who is asking: session login for pages, bearer tokens for the API, and what each may do.

Permissions come from :data:`ledger.accounts.PERMISSIONS` (one matrix for every door).
Pages use the session cookie (CSRF-protected forms); the API accepts only
``Authorization: Bearer`` tokens, so a browser session can never be used across sites
against it. Login and token issuance are rate limited per client address.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, abort, current_app, g, redirect, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from ledger.accounts import Account, Accounts
from web.services import get_ledger

F = TypeVar("F", bound=Callable[..., Any])
RATE_LIMITED_VIEWS = ("workspace.login", "api.issue_token")


class SessionUser(UserMixin):  # type: ignore[misc]
    def __init__(self, account: Account) -> None:
        self.account = account

    def get_id(self) -> str:
        return str(self.account.account_id)


def get_accounts() -> Accounts:
    accounts: Accounts | None = current_app.extensions.get("trilha_accounts")
    if accounts is None:
        accounts = Accounts(get_ledger(), current_app.config["KEY_PASSPHRASE"].encode(),
                            log2_n=int(current_app.config["PASSWORD_LOG2_N"]))
        current_app.extensions["trilha_accounts"] = accounts
    return accounts


def session_account() -> Account | None:
    if current_user.is_authenticated:
        return cast(SessionUser, current_user).account
    return None


def _load_user(account_id: str) -> SessionUser | None:
    if not account_id.isdigit():
        return None
    account = get_accounts().get(int(account_id))
    return SessionUser(account) if account is not None else None


def init_auth(app: Flask) -> None:
    """Before the blueprints are registered: sessions and CSRF."""
    login = LoginManager(app)
    login.login_view = "workspace.login"
    # "basic", not "strong": a clerk whose address changes (a phone moving between
    # networks, a flaky rural connection) keeps the session instead of losing the form.
    login.session_protection = "basic"

    login.user_loader(_load_user)

    csrf = CSRFProtect(app)
    app.extensions["trilha_csrf"] = csrf

    @app.context_processor
    def _account() -> dict[str, Any]:
        from web.workspace.forms import TITLES

        return {"account": session_account(), "TITLES": TITLES}


def finish_auth(app: Flask) -> None:
    """After the blueprints: the API needs no CSRF token (no cookies); limits on login."""
    app.extensions["trilha_csrf"].exempt(app.blueprints["api"])
    limiter = Limiter(get_remote_address, app=app,
                      storage_uri=app.config["RATELIMIT_STORAGE_URI"])
    for endpoint in RATE_LIMITED_VIEWS:
        limited: Any = limiter.limit(app.config["LOGIN_RATE_LIMIT"], methods=["POST"])(
            app.view_functions[endpoint])
        app.view_functions[endpoint] = limited


def _requires(action: str, find: Callable[[], Account | None],
              unauthenticated: Callable[[], Any]) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            account = find()
            if account is None:
                return unauthenticated()
            if not account.can(action):
                abort(403, description=f"role: a {account.role} account may not {action}")
            g.account = account
            return view(*args, **kwargs)
        return cast(F, wrapper)
    return decorate


def page_requires(action: str) -> Callable[[F], F]:
    """A page for logged-in accounts whose role allows ``action`` (else login, or 403)."""
    return _requires(action, session_account,
                     lambda: redirect(url_for("workspace.login", next=request.full_path)))


def api_requires(action: str) -> Callable[[F], F]:
    """An API route for a bearer token whose role allows ``action`` (401 / 403 otherwise)."""
    return _requires(action, bearer_account, _no_token)


def _no_token() -> Any:
    raise Unauthorized(description="authorization: expected a valid bearer token "
                                   "(Authorization: Bearer trl_...)",
                       www_authenticate=WWWAuthenticate("bearer", {"realm": "trilha"}))


def bearer_account() -> Account | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return get_accounts().for_token(token.strip())
