"""``trilha account``: workspace and API accounts (create, list, key, password, token).

The server-held signing keys are encrypted with ``TRILHA_KEY_PASSPHRASE`` (the same
variable the web app reads); the demo and development fall back to a fixed passphrase
that production refuses.
"""

from __future__ import annotations

import os

import click

from cli import keyring
from cli.context import Context, errors_as_exit, pass_context, t
from cli.output import table
from ledger.accounts import DEVELOPMENT_KEY_PASSPHRASE, Accounts, Role


def open_accounts(context: Context) -> Accounts:
    passphrase = os.environ.get("TRILHA_KEY_PASSPHRASE") or DEVELOPMENT_KEY_PASSPHRASE
    return Accounts(context.ledger(), passphrase.encode())


@click.group()
def account() -> None:
    """Accounts of the web workspace and the API."""


@account.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--actor", "actor_id", default=None, help="The ledger actor it acts for.")
@click.option("--name", "display_name", default=None, help="Name shown in the workspace.")
@click.option("--with-key", is_flag=True,
              help="Hold the actor's key from the local keyring on the server, so the "
                   "web forms can sign (asks for the keyring passphrase).")
@click.password_option("--password", envvar="TRILHA_ACCOUNT_PASSWORD",
                       help="At least 10 characters (prompted; or TRILHA_ACCOUNT_PASSWORD).")
@pass_context
def create(context: Context, username: str, role: str, actor_id: str | None,
           display_name: str | None, with_key: bool, password: str) -> None:
    """Create an account."""
    with errors_as_exit():
        key = keyring.load_signer(actor_id).private_key if with_key and actor_id else None
        made = open_accounts(context).create(username, password, role, actor_id=actor_id,
                                             display_name=display_name, private_key=key)
        context.emit({"username": made.username, "role": made.role.value,
                      "actor": made.actor_id, "server_held_key": made.has_key},
                     lambda: click.echo(t("account {name} created").format(name=username)))


@account.command("list")
@pass_context
def list_accounts(context: Context) -> None:
    """Every account, its role and actor."""
    with errors_as_exit():
        rows = [{"username": a.username, "role": a.role.value, "actor": a.actor_id or "",
                 "server_held_key": a.has_key} for a in open_accounts(context).all()]
        columns = ["username", "role", "actor", "server_held_key"]
        context.emit(rows, lambda: table(columns, [[r[c] for c in columns] for r in rows]))


@account.command("set-key")
@click.argument("username")
@pass_context
def set_key(context: Context, username: str) -> None:
    """Hold the account's actor key (from the local keyring) on the server, encrypted."""
    with errors_as_exit():
        accounts = open_accounts(context)
        actor = accounts.by_username(username).actor_id
        accounts.set_key(username, keyring.load_signer(actor or username).private_key)
        context.emit({"username": username, "server_held_key": True},
                     lambda: click.echo(t("key stored for {name}").format(name=username)))


@account.command("password")
@click.argument("username")
@click.password_option("--password", envvar="TRILHA_ACCOUNT_PASSWORD")
@pass_context
def set_password(context: Context, username: str, password: str) -> None:
    """Set a new password."""
    with errors_as_exit():
        open_accounts(context).set_password(username, password)
        context.emit({"username": username},
                     lambda: click.echo(t("password changed for {name}").format(
                         name=username)))


@account.command("token")
@click.argument("username")
@click.option("--label", default="cli", show_default=True)
@pass_context
def token(context: Context, username: str, label: str) -> None:
    """Issue an API bearer token for the account (shown once; keep it secret)."""
    with errors_as_exit():
        accounts = open_accounts(context)
        issued = accounts.issue_token(accounts.by_username(username), label)
        context.emit({"username": username, "token": issued}, lambda: click.echo(issued))


COMMANDS: list[click.Command] = [account]
