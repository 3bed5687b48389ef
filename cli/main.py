"""The ``trilha`` command group. Each command lives in one module listed below."""

from __future__ import annotations

import importlib
import locale
import os

import click

from cli.context import Context, default_database_url

COMMAND_MODULES = (
    "cli.setup_commands",  # init, actor, product
    "cli.lot_commands",  # harvest ... adjust, lot, provenance
    "cli.log_commands",  # checkpoint, proof, verify, export, import, bench
    "cli.sync",  # outbox, sync
    "cli.labels",  # label
    "cli.demo",  # demo
    "cli.audit",  # bundle, verify-bundle, witness
    "cli.report",  # report
    "cli.serve",  # serve
    "cli.accounts",  # account
)
LANGUAGES = ("en", "pt-BR", "es")


def _default_lang() -> str:
    for value in (os.environ.get("TRILHA_LANG"), os.environ.get("LC_ALL"),
                  os.environ.get("LC_MESSAGES"), os.environ.get("LANG"),
                  locale.getlocale()[0]):
        if not value:
            continue
        tag = value.split(".")[0].replace("_", "-")
        if tag.lower().startswith("pt"):
            return "pt-BR"
        if tag.lower().startswith("es"):
            return "es"
    return "en"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_url", envvar="TRILHA_DATABASE_URL", default=None,
              help="Database URL (default: ./trilha.sqlite if present, else "
                   "~/.local/share/trilha/trilha.sqlite). Also TRILHA_DATABASE_URL.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None,
              help="Language of messages (default: from TRILHA_LANG or the locale).")
@click.version_option(package_name="trilha")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, as_json: bool, lang: str | None) -> None:
    """Trilha: a verifiable custody ledger for forest product lots."""
    context = Context(db_url=db_url or default_database_url(), as_json=as_json,
                      lang=lang or _default_lang())
    ctx.obj = context
    ctx.call_on_close(context.close)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(Context).as_json = True  # type: ignore[union-attr]


def _accept_json_after(command: click.Command) -> None:
    """``trilha report --json`` means ``trilha --json report``: people put the flag last."""
    command.params.append(click.Option(["--json"], is_flag=True, expose_value=False,
                                       callback=_set_json,
                                       help="Print machine-readable JSON."))
    for sub in getattr(command, "commands", {}).values():
        _accept_json_after(sub)


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(_name).COMMANDS:
        _accept_json_after(_command)
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="trilha")
