"""The demo ledger: a realistic multi-season chain built from ``fixtures/demo/chain.yaml``.

Demo keys are derived from public seeds so that the demo is reproducible: they protect
nothing and must never sign anything real. Building is idempotent: a ledger that already
holds the demo is left unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.accounts import Accounts
from ledger.builders import make_event
from ledger.catalogue_file import read_catalogue
from ledger.domain import events as ev
from ledger.domain.keys import Signer
from ledger.domain.note import NoteSigner
from ledger.errors import ConfigurationError
from ledger.operations import prepare_body
from ledger.registry import bootstrap, register_actor
from ledger.service import Ledger
from ledger.signing import sign_event
from ledger.wire.fields import parse_instant

DEMO_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "demo" / "chain.yaml"
OPERATOR = "operator"


def demo_signer(actor_id: str, generation: int = 1) -> Signer:
    """A reproducible demo key (public seed: for the demo only)."""
    seed = hashlib.sha256(f"trilha-demo-key:{actor_id}:{generation}".encode()).digest()
    return Signer(Ed25519PrivateKey.from_private_bytes(seed))


def load_demo(path: Path | None = None) -> dict[str, Any]:
    source = path or DEMO_FILE
    if not source.exists():
        raise ConfigurationError(f"demo data not found at {source} (run from a checkout)")
    loaded: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    return loaded


@dataclass
class DemoResult:
    built: bool
    entries: int
    checkpoints: list[int] = field(default_factory=list)
    lots: list[str] = field(default_factory=list)
    signers: dict[str, Signer] = field(default_factory=dict)


def build_demo(ledger: Ledger, *, path: Path | None = None,
               progress: Callable[[int, int], None] | None = None) -> DemoResult:
    """Build the demo chain into ``ledger`` (empty, or already holding the demo)."""
    data = load_demo(path)
    steps: list[dict[str, Any]] = data["steps"]
    last_lot = next(s["lot"] for s in reversed(steps) if "lot" in s)
    signers = {a["id"]: demo_signer(a["id"]) for a in data["actors"]}
    lots = [s["lot"] for s in steps if s.get("do") == "harvest"]
    if ledger.size() > 0:
        if ledger.store.lot(last_lot) is not None:
            return DemoResult(False, ledger.size(), lots=lots, signers=_current(signers, steps))
        raise ConfigurationError("the ledger already holds other entries; the demo needs an "
                                 "empty ledger (use a new --db file)")
    operator = signers[OPERATOR]
    note_signer = NoteSigner(ledger.origin, operator.private_key)
    since = parse_instant(data["registered_at"])
    bootstrap(ledger, OPERATOR, next(a["name"] for a in data["actors"] if a["id"] == OPERATOR),
              operator, read_catalogue(), at=since)
    for actor in data["actors"]:
        if actor["id"] != OPERATOR:
            register_actor(ledger, OPERATOR, operator, actor["id"], ev.ActorKind(actor["kind"]),
                           actor["name"], actor.get("gln"), signers[actor["id"]], at=since)
    result = DemoResult(True, 0, lots=lots)
    generation: dict[str, int] = {}
    for number, step in enumerate(steps, start=1):
        kind = step["do"]
        if kind == "checkpoint":
            ledger.sign_checkpoint(note_signer)
            result.checkpoints.append(ledger.size())
        elif kind == "rotate-key":
            actor = step["as"]
            generation[actor] = generation.get(actor, 1) + 1
            new = demo_signer(actor, generation[actor])
            rotation = ev.KeyRotated(ev.ActorId(actor), signers[actor].key_id,
                                     new.public_key_raw)
            event = make_event(rotation, actor, parse_instant(step["at"]))
            ledger.append(sign_event(event, (signers[actor], new)))
            signers[actor] = new
        else:
            form = {k: v for k, v in step.items() if k not in ("do", "as", "at")}
            body = prepare_body(ledger, kind, form)
            event = make_event(body, step["as"], parse_instant(step["at"]))
            ledger.append(sign_event(event, (signers[step["as"]],)))
        if progress is not None:
            progress(number, len(steps))
    result.entries = ledger.size()
    result.signers = signers
    return result


def _current(signers: dict[str, Signer], steps: list[dict[str, Any]]) -> dict[str, Signer]:
    """The demo actors' keys after the rotations the demo makes."""
    current = dict(signers)
    generation: dict[str, int] = {}
    for step in steps:
        if step.get("do") == "rotate-key":
            actor = step["as"]
            generation[actor] = generation.get(actor, 1) + 1
            current[actor] = demo_signer(actor, generation[actor])
    return current


# Workspace accounts of the demo (password for all: DEMO_PASSWORD; demo only).
DEMO_PASSWORD = "trilha-demo"
DEMO_ACCOUNTS: tuple[tuple[str, str, str | None], ...] = (
    # username, role, actor
    ("cachoeira", "member", "assoc-cachoeira"),
    ("xapuri", "member", "coop-xapuri"),
    ("usina", "trader", "usina-brasileia"),
    ("nordic", "buyer", "nordic-nuts"),
    ("auditor", "auditor", None),
    ("operator", "operator", OPERATOR),
)


def ensure_demo_accounts(accounts: Accounts, signers: dict[str, Signer]) -> list[str]:
    """Create the demo's accounts, each holding its actor's current key (idempotent)."""
    made = []
    existing = {a.username for a in accounts.all()}
    for username, role, actor in DEMO_ACCOUNTS:
        if username in existing:
            continue
        name = next((a["name"] for a in load_demo()["actors"] if a["id"] == actor), username)
        accounts.create(username, DEMO_PASSWORD, role, display_name=name, actor_id=actor,
                        private_key=signers[actor].private_key if actor else None)
        made.append(username)
    return made
