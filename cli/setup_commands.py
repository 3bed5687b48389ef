"""``trilha init``, ``trilha actor ...`` and ``trilha product ...``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cli import keyring
from cli.batch import read_document
from cli.context import Context, errors_as_exit, pass_context
from cli.output import pairs, table
from ledger.catalogue_file import read_catalogue
from ledger.domain.events import ActorKind
from ledger.domain.note import NoteSigner
from ledger.errors import ConfigurationError, NotFound
from ledger.registry import bootstrap, register_actor, register_products, revoke_key, rotate_key
from ledger.wire.products import load_catalogue

DEFAULT_OPERATOR = "operator"


def operator_id() -> str:
    return os.environ.get("TRILHA_OPERATOR", DEFAULT_OPERATOR)


def vkey_path() -> Path:
    return keyring.keys_dir() / "operator.vkey"


def note_signer(context: Context) -> NoteSigner:
    signer = keyring.load_signer(operator_id())
    return NoteSigner(context.ledger().origin, signer.private_key)


@click.command()
@click.option("--operator", "operator", default=None, help="Operator actor id (default: operator).")
@click.option("--name", default="Trilha operator", show_default=True, help="Operator's name.")
@pass_context
def init(context: Context, operator: str | None, name: str) -> None:
    """Create a new ledger: database, operator key, catalogue and a first checkpoint."""
    with errors_as_exit():
        ledger = context.ledger()
        op = operator or operator_id()
        if ledger.size() > 0:
            raise ConfigurationError(f"the ledger at {context.db_url} already has "
                                     f"{ledger.size()} entries; init only starts new ledgers")
        signer, path = keyring.create_key(op)
        bootstrap(ledger, op, name, signer, read_catalogue())
        note = ledger.sign_checkpoint(NoteSigner(ledger.origin, signer.private_key))
        vkey = NoteSigner(ledger.origin, signer.private_key).verifier_key()
        vkey_path().write_text(vkey + "\n", encoding="utf-8")
        context.emit({"database": context.db_url, "operator": op, "key": str(path),
                      "verifier_key": vkey, "entries": ledger.size(), "checkpoint": note},
                     lambda: pairs([("database", context.db_url), ("operator", op),
                                    ("operator key", path), ("verifier key", vkey),
                                    ("entries", ledger.size())]))


@click.group()
def actor() -> None:
    """Register actors and manage their keys."""


@actor.command("add")
@click.argument("actor_id")
@click.option("--kind", type=click.Choice([k.value for k in ActorKind]), required=True)
@click.option("--name", required=True)
@click.option("--gln", default=None, help="GS1 Global Location Number (13 digits).")
@pass_context
def actor_add(context: Context, actor_id: str, kind: str, name: str, gln: str | None) -> None:
    """Register ACTOR_ID with a new key (signed by the operator and the new key)."""
    with errors_as_exit():
        ledger = context.ledger()
        op = operator_id()
        operator_signer = keyring.load_signer(op)
        signer, path = keyring.create_key(actor_id)
        try:
            entry = register_actor(ledger, op, operator_signer, actor_id, ActorKind(kind), name,
                                   gln, signer)
        except Exception:
            path.unlink(missing_ok=True)  # the key of an actor the ledger refused is useless
            raise
        context.emit({"actor": actor_id, "key_id": signer.key_id, "seq": entry.seq},
                     lambda: click.echo(f"registered {actor_id} ({kind}) with key "
                                        f"{signer.key_id} at entry {entry.seq}"))


@actor.command("list")
@pass_context
def actor_list(context: Context) -> None:
    """List registered actors."""
    with errors_as_exit():
        actors = context.ledger().store.actors()
        context.emit([{"actor": a.actor_id, "kind": a.kind.value, "name": a.name,
                       "gln": a.gln} for a in actors],
                     lambda: table(["ACTOR", "KIND", "NAME", "GLN"],
                                   [(a.actor_id, a.kind.value, a.name, a.gln or "")
                                    for a in actors]))


@actor.command("show")
@click.argument("actor_id")
@pass_context
def actor_show(context: Context, actor_id: str) -> None:
    """Show an actor and its keys."""
    with errors_as_exit():
        ledger = context.ledger()
        found = ledger.store.actor(actor_id)
        if found is None:
            raise NotFound(f"actor {actor_id} does not exist")
        keys = ledger.store.keys_of(actor_id)
        data = {"actor": found.actor_id, "kind": found.kind.value, "name": found.name,
                "gln": found.gln, "keys": [{
                    "key_id": k.key_id, "not_before": k.not_before.isoformat(),
                    "not_after": k.not_after.isoformat() if k.not_after else None,
                    "revoked": k.revoked} for k in keys]}

        def human() -> None:
            pairs([("actor", found.actor_id), ("kind", found.kind.value),
                   ("name", found.name), ("gln", found.gln or "-")])
            table(["KEY", "FROM", "UNTIL", "REVOKED"],
                  [(k.key_id, k.not_before.isoformat(),
                    k.not_after.isoformat() if k.not_after else "", "yes" if k.revoked else "")
                   for k in keys])

        context.emit(data, human)


@actor.command("rotate-key")
@click.argument("actor_id")
@pass_context
def actor_rotate(context: Context, actor_id: str) -> None:
    """Replace ACTOR_ID's key: signed by the old and the new key."""
    with errors_as_exit():
        ledger = context.ledger()
        old = keyring.load_signer(actor_id)
        new, path = keyring.create_key(actor_id, suffix=".new")
        try:
            entry = rotate_key(ledger, actor_id, old, new)
        except Exception:
            path.unlink(missing_ok=True)
            raise
        keyring.replace_key(actor_id, path.read_bytes())
        path.unlink()
        context.emit({"actor": actor_id, "old_key": old.key_id, "new_key": new.key_id,
                      "seq": entry.seq},
                     lambda: click.echo(f"rotated {actor_id}: {old.key_id} -> {new.key_id} "
                                        f"at entry {entry.seq}"))


@actor.command("revoke")
@click.argument("actor_id")
@click.argument("key_id")
@click.option("--reason", required=True)
@click.option("--by", "by_actor", default=None,
              help="Who revokes (the actor itself, or the operator; default: operator).")
@pass_context
def actor_revoke(context: Context, actor_id: str, key_id: str, reason: str,
                 by_actor: str | None) -> None:
    """Revoke KEY_ID of ACTOR_ID: nothing it signs is accepted any more."""
    with errors_as_exit():
        by = by_actor or operator_id()
        entry = revoke_key(context.ledger(), by, keyring.load_signer(by), actor_id, key_id,
                           reason)
        context.emit({"actor": actor_id, "key_id": key_id, "seq": entry.seq},
                     lambda: click.echo(f"revoked key {key_id} of {actor_id} at entry "
                                        f"{entry.seq}"))


@click.group()
def product() -> None:
    """The product catalogue."""


@product.command("list")
@click.option("--lang", "lang", default=None, help="Language of names.")
@pass_context
def product_list(context: Context, lang: str | None) -> None:
    """List catalogue products."""
    with errors_as_exit():
        products = context.ledger().store.products()
        language = lang or context.lang
        context.emit([p.to_json() for p in products],
                     lambda: table(["CODE", "NAME", "UNIT", "GTIN", "MIN PRICE"],
                                   [(p.code, p.name(language), p.unit, p.gtin or "",
                                     _min_price(p)) for p in products]))


def _min_price(p: object) -> str:
    from ledger.domain.measures import Money

    price = getattr(p, "reference_min_price", None)
    if price is None:
        return ""
    return f"{Money(price.amount, price.currency)}/{price.per}"


@product.command("show")
@click.argument("code")
@pass_context
def product_show(context: Context, code: str) -> None:
    """Show one product with its transformations and reference price."""
    with errors_as_exit():
        found = context.ledger().store.product(code)
        if found is None:
            raise NotFound(f"product {code} is not in the catalogue")
        context.emit(found.to_json())


@product.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def product_import(context: Context, path: Path) -> None:
    """Register the products of a catalogue YAML/JSON file that the ledger lacks."""
    with errors_as_exit():
        op = operator_id()
        products = load_catalogue(read_document(path))  # the file read as batch files are
        entries = register_products(context.ledger(), op, keyring.load_signer(op), products)
        context.emit({"registered": len(entries)},
                     lambda: click.echo(f"registered {len(entries)} new products"))


COMMANDS: list[click.Command] = [init, actor, product]
