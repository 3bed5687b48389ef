"""CLI fixtures: an isolated keys folder, passphrase and database per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli

Invoke = Callable[..., Result]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {"TRILHA_KEYS_DIR": str(tmp_path / "keys"), "TRILHA_PASSPHRASE": "correct horse",
           "TRILHA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
           "TRILHA_LANG": "en"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TRILHA_OUTBOX", raising=False)
    yield env


@pytest.fixture
def run(cli_env: dict[str, str]) -> Invoke:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def trilha_bin() -> str:
    import sys

    path = Path(sys.executable).parent / "trilha"
    assert path.exists(), "the trilha command must be installed (pip install -e .)"
    return str(path)


def env_with(cli_env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **cli_env}
