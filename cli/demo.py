"""``trilha demo``: build the demo chain into the ledger and say where to look next."""

from __future__ import annotations

import os
import sys

import click

from cli import keyring
from cli.accounts import open_accounts
from cli.context import Context, errors_as_exit, pass_context, t
from ledger.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, OPERATOR, build_demo, ensure_demo_accounts
from ledger.domain.note import NoteSigner
from ledger.keystore import encrypt_private_key

DEMO_PASSPHRASE = "demo"


@click.command()
@click.option("--base-url", envvar="TRILHA_PUBLIC_BASE_URL", default="http://localhost:8000",
              show_default=True, help="Where the web app will serve the lots.")
@pass_context
def demo(context: Context, base_url: str) -> None:
    """Build the demo ledger (idempotent) and store the demo actors' keys."""
    with errors_as_exit():
        ledger = context.ledger()
        with click.progressbar(length=1, label="building the demo chain",
                               file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            result = build_demo(ledger, progress=progress)
        passphrase = os.environ.get("TRILHA_PASSPHRASE", DEMO_PASSPHRASE).encode()
        keys = keyring.keys_dir()
        keys.mkdir(parents=True, exist_ok=True)
        for actor, signer in result.signers.items():
            path = keyring.key_path(actor)
            if not path.exists():
                path.write_bytes(encrypt_private_key(signer.private_key, passphrase))
                path.chmod(0o600)
        made = ensure_demo_accounts(open_accounts(context), result.signers)
        vkey = NoteSigner(ledger.origin, result.signers[OPERATOR].private_key).verifier_key()
        (keys / "operator.vkey").write_text(vkey + "\n", encoding="utf-8")
        data = {"built": result.built, "entries": ledger.size(), "database": context.db_url,
                "keys": str(keys), "operator_verifier_key": vkey, "lots": result.lots,
                "example": f"{base_url}/lots/BN-K-25-001E",
                "accounts": {"created": made, "usernames": [a[0] for a in DEMO_ACCOUNTS],
                             "password": DEMO_PASSWORD, "login": f"{base_url}/workspace/login"}}

        def human() -> None:
            state = t("built") if result.built else t("already present (nothing changed)")
            click.echo(t("demo ledger {state}: {entries} entries in {db}").format(
                state=state, entries=ledger.size(), db=context.db_url))
            click.echo(t("demo keys in {keys} (passphrase: {passphrase}; demo only)").format(
                keys=keys, passphrase=passphrase.decode()))
            click.echo(t("look next:"))
            for lot, what in (("BN-K-25-001E", t("export kernels, Acre -> Hamburg")),
                              ("ACAI-POLPA-25-01", t("açaí pulp, Igarapé-Miri")),
                              ("RB-XAP-25-M1", t("EUDR rubber, Xapuri")),
                              ("MQ-PGP-25-01S", t("dried maqui, Los Ríos (CLP)"))):
                click.echo(f"  {base_url}/lots/{lot:<18} {what}")
            click.echo("  trilha provenance BN-K-25-001E   " + t("the same chain in the terminal"))
            click.echo("  trilha verify                    " + t("re-check the whole ledger"))
            click.echo(t("workspace: {url} as {users} (password: {password}; demo only)").format(
                url=f"{base_url}/workspace/login",
                users=", ".join(a[0] for a in DEMO_ACCOUNTS), password=DEMO_PASSWORD))

        context.emit(data, human)


COMMANDS: list[click.Command] = [demo]
