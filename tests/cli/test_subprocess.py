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


def test_serve_answers_on_localhost(trilha_bin: str, cli_env: dict[str, str]) -> None:
    import socket
    import time
    import urllib.request

    run_bin(trilha_bin, cli_env, "demo")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([trilha_bin, "serve", "--port", str(port)], env=env_with(cli_env),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lots/BN-K-25-001E",
                                            timeout=5) as response:
                    html = response.read().decode()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("trilha serve did not answer")
        assert "badge-verified" in html  # the demo's operator key is configured by serve
        assert "checkpoint signature not checked" not in html
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_bench_prints_its_figures_as_json(trilha_bin: str, cli_env: dict[str, str]) -> None:
    result = run_bin(trilha_bin, cli_env, "bench", "--entries", "5000", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["entries"] >= 5000 and figures["verify"]["ok"]
    for key in ("append_one_writer_per_s", "append_one_writer_at_full_size_per_s",
                "append_four_writers_per_s", "append_batched_per_s",
                "bytes_per_entry", "provenance_big_lot", "inclusion_proof", "raw"):
        assert key in figures
    assert figures["provenance_big_lot"]["ancestor_lots"] >= 1000
    for page in ("lot_page_big_lot", "lot_page_1000_upstream_entries"):
        assert figures[page]["status"] == 200 and figures[page]["verified_badge"]
        assert figures[page]["cpu_p95_ms"] > 0 and figures[page]["p95_ms"] > 0
    assert figures["indicators_whole_chain_s"] >= 0
    assert figures["dashboard_public"]["status"] == 200
    assert figures["dashboard_public"]["median_s"] > 0
    assert set(figures["indicators_filtered_s"]) == {
        "season", "community", "cooperative_of_every_chain", "buyer_of_every_chain"}
