"""What every command shares: which ledger, output format, language, and error exits."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from ledger.errors import (
    ConfigurationError,
    Conflict,
    EncodingError,
    LedgerError,
    NotFound,
    RuleViolation,
    SignatureError,
    ValidationError,
    VerificationError,
)
from ledger.service import Ledger

DEFAULT_DB_FILE = "trilha.sqlite"

# Distinct exit codes, so scripts can tell what went wrong (documented in the README).
EXIT_CODES: dict[type[LedgerError], int] = {
    ValidationError: 3,
    EncodingError: 3,
    RuleViolation: 4,
    SignatureError: 5,
    NotFound: 6,
    Conflict: 7,
    VerificationError: 8,
    ConfigurationError: 9,
}
EXIT_FINDINGS = 10  # verify found problems
EXIT_OTHER = 1

F = TypeVar("F", bound=Callable[..., Any])


def default_database_url(cwd: Path | None = None) -> str:
    """TRILHA_DATABASE_URL, else ./trilha.sqlite if it exists, else the user's data dir."""
    env = os.environ.get("TRILHA_DATABASE_URL")
    if env:
        return env
    here = (cwd or Path.cwd()) / DEFAULT_DB_FILE
    if here.exists():
        return f"sqlite:///{here}"
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'trilha' / DEFAULT_DB_FILE}"


def ensure_sqlite_parent(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@dataclass
class Context:
    db_url: str
    as_json: bool = False
    lang: str = "en"
    _ledger: Ledger | None = field(default=None, repr=False)

    def ledger(self) -> Ledger:
        if self._ledger is None:
            ensure_sqlite_parent(self.db_url)
            self._ledger = Ledger.open(self.db_url)
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def emit(self, data: Any, human: Callable[[], None] | None = None) -> None:
        """Print ``data`` as JSON with --json, else call ``human`` (or print it plainly)."""
        if self.as_json or human is None:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        else:
            human()


pass_context = click.make_pass_decorator(Context)


def exit_code_for(error: LedgerError) -> int:
    failures = getattr(error, "failures", None)
    if failures:  # a batch refused as a whole exits as its first refusal would
        return exit_code_for(failures[0][1])
    for kind in type(error).__mro__:
        if kind in EXIT_CODES:
            return EXIT_CODES[kind]
    return EXIT_OTHER


def fail(error: LedgerError, lang: str | None = None) -> NoReturn:
    """One clear line on stderr, a distinct exit code, never a traceback."""
    from cli.i18n import rule_hint, translate

    lang = lang or _current_lang()
    hint = rule_hint(getattr(error, "rule", None), lang)
    suffix = f" ({hint})" if hint else ""
    click.echo(f"{translate('error', lang)}: {error.message}{suffix}", err=True)
    extra = getattr(error, "errors", None) or {}
    if len(extra) > 1:  # every field that is wrong, not just the first
        for field_name, messages in extra.items():
            click.echo(f"  {field_name}: {'; '.join(messages)}", err=True)
    sys.exit(exit_code_for(error))


def _current_lang() -> str:
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Context) if ctx else None
    return obj.lang if obj else "en"


def t(message: str) -> str:
    """``message`` in the language of the running command."""
    from cli.i18n import translate

    return translate(message, _current_lang())


@contextmanager
def errors_as_exit() -> Iterator[None]:
    try:
        yield
    except LedgerError as error:
        fail(error)
