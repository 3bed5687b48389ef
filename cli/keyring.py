"""Actors' private keys on this machine: encrypted PKCS#8 files, one per actor.

Keys live in ``--keys DIR`` / ``TRILHA_KEYS_DIR`` (default: a ``keys`` folder beside the
default database). The passphrase comes from ``TRILHA_PASSPHRASE`` or a prompt; nothing
is ever written unencrypted.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from ledger.domain.keys import Signer
from ledger.errors import ConfigurationError, NotFound
from ledger.keystore import encrypt_private_key, generate_private_key, load_private_key


def keys_dir() -> Path:
    env = os.environ.get("TRILHA_KEYS_DIR")
    if env:
        return Path(env)
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "trilha" / "keys"


def passphrase(*, confirm: bool = False) -> bytes:
    env = os.environ.get("TRILHA_PASSPHRASE")
    if env:
        return env.encode("utf-8")
    if not os.isatty(0):
        raise ConfigurationError("no passphrase: set TRILHA_PASSPHRASE or run in a terminal")
    text: str = click.prompt("Passphrase for the key", hide_input=True,
                             confirmation_prompt=confirm)
    return text.encode("utf-8")


def key_path(actor_id: str, directory: Path | None = None) -> Path:
    return (directory or keys_dir()) / f"{actor_id}.pem"


def create_key(actor_id: str, directory: Path | None = None, *,
               suffix: str = "") -> tuple[Signer, Path]:
    """A new key for ``actor_id``, written encrypted; refuses to overwrite a key."""
    path = key_path(actor_id + suffix, directory)
    if path.exists():
        raise ConfigurationError(f"a key for {actor_id} already exists at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_private_key()
    pem = encrypt_private_key(key, passphrase(confirm=True))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return Signer(key), path


def load_signer(actor_id: str, directory: Path | None = None) -> Signer:
    path = key_path(actor_id, directory)
    if not path.exists():
        raise NotFound(f"no key for actor {actor_id} in {path.parent} (use --keys or "
                       "TRILHA_KEYS_DIR)")
    return Signer(load_private_key(path.read_bytes(), passphrase()))


def replace_key(actor_id: str, new_pem: bytes, directory: Path | None = None) -> Path:
    """Install a rotated key, keeping the old one beside it as ``.pem.old``."""
    path = key_path(actor_id, directory)
    if path.exists():
        path.replace(path.with_suffix(".pem.old"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(new_pem)
    return path
