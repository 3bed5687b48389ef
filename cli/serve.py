"""``trilha serve``: the web app on this ledger, for development and the demo."""

from __future__ import annotations

import os

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.context import Context, errors_as_exit, pass_context


def _keyring_operator_key() -> Ed25519PrivateKey | None:
    """The keyring's operator key for the checkpointer, if it opens without a prompt
    (a server must not stop to ask; without it the server looks for a server-held key)."""
    from cli import keyring
    from cli.setup_commands import operator_id
    from ledger.errors import LedgerError

    if not os.environ.get("TRILHA_PASSPHRASE") or not keyring.key_path(operator_id()).exists():
        return None
    try:
        return keyring.load_signer(operator_id()).private_key
    except LedgerError as exc:
        click.echo(f"checkpointer: the keyring's operator key does not open: {exc.message}",
                   err=True)
        return None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--checkpoints/--no-checkpoints", default=True, show_default=True,
              help="Sign a checkpoint within TRILHA_CHECKPOINT_INTERVAL_S seconds (default "
                   "10) of new entries, with the operator key (the keyring's, if "
                   "TRILHA_PASSPHRASE opens it, else the operator account's server-held one).")
@pass_context
def serve(context: Context, host: str, port: int, checkpoints: bool) -> None:
    """Serve the web app (public lot pages and API) on the chosen ledger.

    For production run gunicorn against PostgreSQL instead (see the README).
    """
    from werkzeug.serving import run_simple

    from cli.context import ensure_sqlite_parent
    from cli.setup_commands import vkey_path
    from web import create_app
    from web.checkpointing import start_checkpointer

    with errors_as_exit():
        ensure_sqlite_parent(context.db_url)
        config: dict[str, object] = {"DATABASE_URL": context.db_url,
                                     "CHECKPOINTER": checkpoints}
        if vkey_path().exists():
            config["OPERATOR_VKEY"] = vkey_path().read_text(encoding="utf-8").strip()
        if checkpoints:
            config["CHECKPOINT_KEY"] = _keyring_operator_key()
        app = create_app(config)
        if checkpoints:
            start_checkpointer(app)
        click.echo(f"serving {context.db_url} on http://{host}:{port}/", err=True)
        run_simple(host, port, app, threaded=True, use_reloader=False)


COMMANDS: list[click.Command] = [serve]
