"""``trilha serve``: the web app on this ledger, for development and the demo."""

from __future__ import annotations

import click

from cli.context import Context, errors_as_exit, pass_context


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@pass_context
def serve(context: Context, host: str, port: int) -> None:
    """Serve the web app (public lot pages and API) on the chosen ledger.

    For production run gunicorn against PostgreSQL instead (see the README).
    """
    from werkzeug.serving import run_simple

    from cli.context import ensure_sqlite_parent
    from cli.setup_commands import vkey_path
    from web import create_app

    with errors_as_exit():
        ensure_sqlite_parent(context.db_url)
        config = {"DATABASE_URL": context.db_url}
        if vkey_path().exists():
            config["OPERATOR_VKEY"] = vkey_path().read_text(encoding="utf-8").strip()
        app = create_app(config)
        click.echo(f"serving {context.db_url} on http://{host}:{port}/", err=True)
        run_simple(host, port, app, threaded=True, use_reloader=False)


COMMANDS: list[click.Command] = [serve]
