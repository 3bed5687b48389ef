"""The installed ``trilha`` command as a real process: exit codes, no tracebacks, stdout JSON."""

from __future__ import annotations

import json
import subprocess

from tests.cli.conftest import env_with


def run_bin(trilha_bin: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([trilha_bin, *args], capture_output=True, text=True,
                          env=env_with(env), timeout=300, check=False)


def test_demo_then_verify_as_real_processes(trilha_bin: str, cli_env: dict[str, str]) -> None:
    built = run_bin(trilha_bin, cli_env, "--json", "demo")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["entries"] == 70
    verified = run_bin(trilha_bin, cli_env, "--json", "verify")
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] and report["checkpoints_checked"] == 3


def test_errors_are_one_line_with_a_distinct_exit_code(trilha_bin: str,
                                                       cli_env: dict[str, str]) -> None:
    run_bin(trilha_bin, cli_env, "demo")
    missing = run_bin(trilha_bin, cli_env, "lot", "show", "NOPE")
    assert missing.returncode == 6
    assert missing.stderr == "error: lot NOPE does not exist\n"
    refused = run_bin(trilha_bin, cli_env, "adjust", "--as", "coop-xapuri", "--lot",
                      "BN-K-25-001E", "--loss", "1", "--reason", "loss", "--note", "x")
    assert refused.returncode == 4
    assert "Traceback" not in refused.stderr and refused.stderr.count("\n") == 1


def test_help_lists_every_workflow(trilha_bin: str, cli_env: dict[str, str]) -> None:
    out = run_bin(trilha_bin, cli_env, "--help").stdout
    for command in ("init", "actor", "product", "harvest", "dispatch", "receive", "split",
                    "merge", "transform", "adjust", "lot", "provenance", "checkpoint", "proof",
                    "verify", "export", "import", "sync", "demo", "bench"):
        assert f"  {command}" in out, command
