"""Every command end to end through click's runner, including the error paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Invoke

HARVEST = ["harvest", "--as", "assoc", "--lot", "BN-1", "--product", "brazil-nut-in-shell",
           "--quantity", "363", "--season", "2025", "--harvest-start", "2025-01-10",
           "--harvest-end", "2025-02-12", "--community", "Seringal Cachoeira",
           "--territory", "RESEX Chico Mendes", "--country", "BR", "--harvesters",
           "hv-3f9a2c,hv-81d0e4", "--price", "1524.60", "--currency", "BRL",
           "--shares", "hv-group:harvesters:85", "--shares", "fund:community_fund:10",
           "--shares", "assoc:community_association:5"]


def setup_chain(run: Invoke) -> None:
    assert run("init").exit_code == 0
    for actor, kind in (("assoc", "community"), ("coop", "cooperative"),
                        ("usina", "processor")):
        result = run("actor", "add", actor, "--kind", kind, "--name", f"{actor} name")
        assert result.exit_code == 0, result.output


def test_init_creates_a_ledger_with_catalogue_and_checkpoint(run: Invoke) -> None:
    result = run("--json", "init")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["entries"] == 17  # the operator and 16 products
    assert data["verifier_key"].startswith("trilha.local/log+")
    assert run("init").exit_code == 9  # a second init is refused: configuration error


def test_actor_add_list_show_rotate_revoke(run: Invoke) -> None:
    setup_chain(run)
    listed = json.loads(run("--json", "actor", "list").stdout)
    assert [a["actor"] for a in listed] == ["operator", "assoc", "coop", "usina"]
    rotated = run("actor", "rotate-key", "coop")
    assert rotated.exit_code == 0, rotated.output
    shown = json.loads(run("--json", "actor", "show", "coop").stdout)
    assert len(shown["keys"]) == 2 and shown["keys"][0]["not_after"]
    new_key = shown["keys"][1]["key_id"]
    revoked = run("actor", "revoke", "coop", new_key, "--reason", "laptop stolen")
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(run("--json", "actor", "show", "coop").stdout)["keys"][1]["revoked"]
    assert run("actor", "show", "nobody").exit_code == 6


def test_products_list_show_and_import(run: Invoke, tmp_path: Path) -> None:
    run("init")
    products = json.loads(run("--json", "product", "list").stdout)
    assert any(p["code"] == "acai-fruit" for p in products)
    shown = json.loads(run("--json", "product", "show", "acai-fruit").stdout)
    assert shown["reference_min_price"]["amount"] == 198
    # The flag after the command (how people type it) means the same.
    assert json.loads(run("product", "show", "acai-fruit", "--json").stdout) == shown
    assert json.loads(run("product", "list", "--json").stdout) == products
    assert not run("product", "list").stdout.startswith("[")
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "- {code: cupuacu-pulp, species: Theobroma grandiflorum, form: pulp, unit: KGM, "
        "names: {en: Cupuaçu pulp, pt-BR: Polpa de cupuaçu, es: Pulpa de copoazú}}\n")
    assert "registered 1 new" in run("product", "import", str(extra)).output
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {code: X, species: y, form: z, unit: KGM, names: {en: a}}\n")
    result = run("product", "import", str(bad))
    assert result.exit_code == 3
    assert "[0].code" in result.output and "[0].species" in result.output


def test_the_whole_chain_from_the_command_line(run: Invoke) -> None:
    setup_chain(run)
    result = run(*HARVEST)
    assert result.exit_code == 0, result.output
    assert run("dispatch", "--as", "assoc", "--lot", "BN-1", "--to", "coop", "--price",
               "1524.60", "--currency", "BRL", "--shares", "hv-group:harvesters:100"
               ).exit_code == 0
    assert run("receive", "--as", "coop", "--lot", "BN-1").exit_code == 0
    assert run("split", "--as", "coop", "--lot", "BN-1", "--children",
               "BN-1A=300,BN-1B=63").exit_code == 0
    assert run("adjust", "--as", "coop", "--lot", "BN-1B", "--loss", "3", "--reason",
               "moisture", "--note", "drying").exit_code == 0
    assert run("merge", "--as", "coop", "--lots", "BN-1A,BN-1B", "--into", "BN-M").exit_code == 0
    lot = json.loads(run("--json", "lot", "show", "BN-M").stdout)
    assert lot["quantity"] == "360" and lot["custodian"] == "coop"
    sent = run("dispatch", "--as", "coop", "--lot", "BN-M", "--to", "usina", "--price", "2000",
               "--currency", "BRL", "--shares", "coop:cooperative:100")
    assert sent.exit_code == 0
    assert run("refuse", "--as", "usina", "--lot", "BN-M", "--reason", "too wet").exit_code == 0
    assert json.loads(run("--json", "lot", "show", "BN-M").stdout)["custodian"] == "coop"
    run("dispatch", "--as", "coop", "--lot", "BN-M", "--to", "usina", "--price", "2000",
        "--currency", "BRL", "--shares", "coop:cooperative:100")
    run("receive", "--as", "usina", "--lot", "BN-M")
    result = run("transform", "--as", "usina", "--inputs", "BN-M", "--process",
                 "shelling-drying", "--outputs", "K-1:brazil-nut-kernel:140")
    assert result.exit_code == 0, result.output
    prov = json.loads(run("--json", "provenance", "K-1").stdout)
    assert {link["parent"] for link in prov["upstream"]} >= {"BN-1", "BN-M"}
    human = run("provenance", "K-1").output
    assert "BN-1" in human and "harvested" in human
    listed = json.loads(run("--json", "lot", "list", "--custodian", "usina", "--status",
                            "active").stdout)
    assert [lot["lot"] for lot in listed] == ["K-1"]
    assert run("verify").exit_code == 0


def test_rule_violations_exit_with_one_clear_line(run: Invoke) -> None:
    setup_chain(run)
    run(*HARVEST)
    result = run("dispatch", "--as", "coop", "--lot", "BN-1", "--to", "usina", "--price", "1",
                 "--currency", "BRL", "--shares", "coop:cooperative:100")
    assert result.exit_code == 4
    assert result.output.strip().count("\n") == 0
    assert "only the custodian" in result.output and "Traceback" not in result.output
    result = run("dispatch", "--as", "assoc", "--lot", "BN-1", "--to", "coop", "--price", "1",
                 "--currency", "BRL", "--shares", "a-1:cooperative:60", "--shares",
                 "b-1:harvesters:30")
    assert result.exit_code == 4 and "100%" in result.output
    result = run("harvest", "--as", "assoc", "--lot", "BN-2")
    assert result.exit_code == 3 and "product" in result.output
    result = run("adjust", "--as", "ghost", "--lot", "BN-1", "--loss", "1", "--reason", "loss",
                 "--note", "x")
    assert result.exit_code == 6 and "no key for actor ghost" in result.output


def test_a_csv_with_bad_rows_imports_nothing_and_names_each_row(run: Invoke,
                                                                tmp_path: Path) -> None:
    setup_chain(run)
    header = ("lot,product,quantity,season,harvest_start,harvest_end,community,territory,"
              "country,harvesters,price,currency,shares\n")
    good = ("H-{n},brazil-nut-in-shell,{q},2025,2025-01-10,2025-02-12,Cachoeira,RESEX,BR,"
            "hv-aaaa{n},100.00,BRL,hv-g:harvesters:90;fund:community_fund:10\n")
    bad_file = tmp_path / "season.csv"
    bad_file.write_text(header + good.format(n=1, q="100") + good.format(n=2, q="abc")
                        + good.format(n=3, q="50").replace("2025-02-12", "2025-13-40"))
    result = run("harvest", "--as", "assoc", "--from", str(bad_file))
    assert result.exit_code == 3
    assert "line 3: " in result.output and "quantity" in result.output
    assert "line 4: " in result.output and "harvest_end" in result.output
    assert json.loads(run("--json", "lot", "list").stdout) == []
    good_file = tmp_path / "good.csv"
    good_file.write_text(header + "".join(good.format(n=n, q=str(10 + n)) for n in range(30)))
    result = run("harvest", "--as", "assoc", "--from", str(good_file))
    assert result.exit_code == 0, result.output
    assert len(json.loads(run("--json", "lot", "list", "--limit", "100").stdout)) == 30


def test_batch_json_and_yaml_files(run: Invoke, tmp_path: Path) -> None:
    setup_chain(run)
    row = {"lot": "Y-1", "product": "acai-fruit", "quantity": "42", "season": "2025",
           "harvest_start": "2025-09-01", "harvest_end": "2025-09-01", "community": "Meruú",
           "territory": "Igarapé-Miri", "country": "BR", "harvesters": ["hv-1234"],
           "price": "150", "currency": "BRL", "shares": ["hv-1234:harvester:100"]}
    (tmp_path / "rows.json").write_text(json.dumps([row]))
    assert run("harvest", "--as", "assoc", "--from", str(tmp_path / "rows.json")).exit_code == 0
    import yaml

    (tmp_path / "rows.yaml").write_text(yaml.safe_dump([{**row, "lot": "Y-2"}]))
    assert run("harvest", "--as", "assoc", "--from", str(tmp_path / "rows.yaml")).exit_code == 0


def test_checkpoints_proofs_export_import_and_verify(run: Invoke, tmp_path: Path) -> None:
    setup_chain(run)
    run(*HARVEST)
    note = run("checkpoint", "sign").output
    assert note.startswith("trilha.local/log\n21\n")
    assert run("checkpoint", "show").output == note
    proof = json.loads(run("--json", "proof", "inclusion", "3").stdout)
    assert proof["tree_size"] == 21 and len(proof["path"]) == 5
    cons = json.loads(run("--json", "proof", "consistency", "17", "21").stdout)
    assert cons["path"]
    assert run("proof", "inclusion", "99").exit_code == 3
    exported = tmp_path / "ledger.jsonl"
    assert run("export", "-o", str(exported)).exit_code == 0
    assert len(exported.read_bytes().splitlines()) == 21
    (tmp_path / "cp.note").write_text(note)
    ok = run("verify", "--jsonl", str(exported), "--checkpoint", str(tmp_path / "cp.note"))
    assert ok.exit_code == 0, ok.output
    lines = exported.read_bytes().splitlines(keepends=True)
    tampered = tmp_path / "tampered.jsonl"
    assert b"Seringal" in lines[20]
    tampered.write_bytes(b"".join([*lines[:20], lines[20].replace(b"Seringal", b"Seringai")]))
    bad = run("--json", "verify", "--jsonl", str(tampered), "--checkpoint",
              str(tmp_path / "cp.note"))
    assert bad.exit_code == 10
    # a restored copy: import the export into a fresh database, entry for entry
    copy = f"sqlite:///{tmp_path / 'copy.sqlite'}"
    assert run("--db", copy, "import", str(exported)).exit_code == 0
    assert run("--db", copy, "verify", "--workers", "1").exit_code == 0
    assert run("--db", copy, "import", str(exported)).exit_code == 8  # not a continuation


def test_outbox_signs_offline_without_appending(run: Invoke, tmp_path: Path) -> None:
    setup_chain(run)
    run(*HARVEST)
    outbox = tmp_path / "outbox"
    result = run("adjust", "--as", "assoc", "--lot", "BN-1", "--loss", "2", "--reason",
                 "loss", "--note", "rats", "--outbox", str(outbox))
    assert result.exit_code == 0, result.output
    assert len(list(outbox.glob("*.json"))) == 1
    assert json.loads(run("--json", "lot", "show", "BN-1").stdout)["quantity"] == "363"
    listed = json.loads(run("--json", "outbox", "--outbox", str(outbox)).stdout)
    assert listed[0]["kind"] == "lot.adjusted"


def test_demo_is_idempotent_and_verifies(run: Invoke) -> None:
    first = json.loads(run("--json", "demo").stdout)
    assert first["built"] and first["entries"] == 70
    second = json.loads(run("--json", "demo").stdout)
    assert not second["built"] and second["entries"] == 70
    assert run("verify").exit_code == 0


def test_every_command_has_help(run: Invoke) -> None:
    from cli.main import cli

    for name, command in cli.commands.items():
        assert run(name, "--help").exit_code == 0, name
        for sub in getattr(command, "commands", {}):
            assert run(name, sub, "--help").exit_code == 0, (name, sub)


def test_messages_in_portuguese_and_spanish(run: Invoke) -> None:
    built = run("--lang", "pt-BR", "demo")
    assert "livro-razão de demonstração construído: 70 registros" in built.stdout
    refused = run("--lang", "es", "adjust", "--as", "coop-xapuri", "--lot", "BN-K-25-001E",
                  "--loss", "1", "--reason", "loss", "--note", "x")
    assert refused.exit_code == 4
    assert "solo quien tiene la custodia actual del lote puede moverlo" in refused.stderr
    verified = run("--lang", "pt-BR", "verify")
    assert "checkpoints conferidos" in verified.stdout


def test_accounts_are_created_listed_and_given_tokens(run: Invoke,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    built = json.loads(run("--json", "demo").stdout)
    assert built["accounts"]["password"] == "trilha-demo"
    listed = json.loads(run("--json", "account", "list").stdout)
    by_name = {row["username"]: row for row in listed}
    assert by_name["xapuri"]["actor"] == "coop-xapuri" and by_name["xapuri"]["server_held_key"]
    assert by_name["auditor"]["role"] == "auditor" and not by_name["auditor"]["server_held_key"]
    monkeypatch.setenv("TRILHA_ACCOUNT_PASSWORD", "a long enough password")
    made = run("--json", "account", "create", "clerk", "--role", "member",
               "--actor", "assoc-cachoeira")
    assert made.exit_code == 0, made.output
    again = run("account", "create", "clerk", "--role", "member", "--actor", "assoc-cachoeira")
    assert again.exit_code != 0 and "already taken" in again.stderr
    unknown = run("account", "create", "ghost", "--role", "member", "--actor", "nobody")
    assert unknown.exit_code != 0 and "nobody" in unknown.stderr
    token = json.loads(run("--json", "account", "token", "clerk").stdout)["token"]
    assert token.startswith("trl_")
    monkeypatch.setenv("TRILHA_ACCOUNT_PASSWORD", "short")
    weak = run("account", "password", "clerk")
    assert weak.exit_code != 0 and "at least 10" in weak.stderr
    # a second demo run keeps the accounts (and their keys) as they are
    assert json.loads(run("--json", "demo").stdout)["accounts"]["created"] == []


def test_report_verify_re_checks_every_lot_sold_to_a_buyer(run: Invoke) -> None:
    run("demo")
    data = json.loads(run("--json", "report", "--verify").stdout)
    shares = data["verified_share"]
    assert shares, "the demo sells lots to buyers"
    # every demo sale is covered by a signed checkpoint whose key is in the keys folder
    assert all(row["share"] == "1.0000" for row in shares.values()), shares
    assert data["verified_share_failed_lots"] == []
