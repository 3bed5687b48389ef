"""Every table the app reads is re-derived from the log and compared: a row changed,
deleted or added behind the app's back (raw SQL, as an attacker with the database would,
dropping the write-once triggers first) is named by table and key, by ``trilha verify``
(exit 10) and by the auditor console; an untouched ledger gives no difference."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Connection, text

from cli.main import cli
from ledger.domain import events as ev
from ledger.domain.note import NoteSigner
from ledger.errors import LedgerError
from ledger.indicators import catch_up
from ledger.keystore import generate_private_key
from ledger.state_audit import audit_derived_state
from ledger.storage import audit_reads
from ledger.storage import tables as t
from ledger.storage.verdicts import StoredVerdict, write_verdicts
from tests.builders import World

WRITE_ONCE = ("entries", "merkle_nodes", "lot_links", "lot_events", "entry_steps", "actors",
              "products")


@dataclass
class Chain:
    world: World
    seqs: dict[str, int]  # what -> the seq of the entry that did it
    checkpoint: int

    @property
    def url(self) -> str:
        return self.world.ledger.store.engine.url.render_as_string(hide_password=False)


@pytest.fixture
def chain(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Chain:
    """Harvests, a sale, a split, a merge, processing, a loss and a sale to a buyer; the
    projection folded, a checkpoint signed and a verdict stored on the buyer's lot."""
    monkeypatch.setenv("TRILHA_KEYS_DIR", str(tmp_path / "keys"))  # no operator.vkey
    monkeypatch.setattr(audit_reads, "PAGE", 3)  # every read crosses pages
    seqs = {"harvest": world.harvest("BN-0001", quantity="1000").seq}
    world.harvest("BN-0002", quantity="500")
    world.harvest("BN-0003", quantity="300")
    world.transfer("BN-0001", "assoc-cachoeira", "coop")
    seqs["split"] = world.split("BN-0001", {"BN-0001-A": "600", "BN-0001-B": "400"},
                                by="coop").seq
    seqs["merge"] = world.merge(["BN-0002", "BN-0003"], "M-0001", "800",
                                by="assoc-cachoeira").seq
    world.transfer("BN-0001-A", "coop", "processor")
    seqs["transform"] = world.transform(
        ["BN-0001-A"], [("K-0001", "brazil-nut-kernel", "220")], by="processor").seq
    world.adjust("M-0001", "-12.5", by="assoc-cachoeira")
    world.transfer("K-0001", "processor", "buyer")
    catch_up(world.ledger)
    ledger = world.ledger
    ledger.sign_checkpoint(NoteSigner(ledger.origin, generate_private_key()))
    size = ledger.size()
    write_verdicts(ledger.store.engine, [("K-0001", StoredVerdict(
        "verified", size, datetime.now(UTC).isoformat()))])
    world.harvest("BN-0004")  # after the fold and the checkpoint: behind is not wrong
    return Chain(world, seqs, size)


def tamper(chain: Chain, *statements: tuple[str, dict[str, Any]]) -> None:
    """Run raw SQL behind the app's back, write-once triggers dropped first."""
    store = chain.world.ledger.store
    with store.engine.begin() as connection:
        _drop_triggers(connection, store.is_sqlite)
        for sql, params in statements:
            connection.execute(text(sql), params)


def _drop_triggers(connection: Connection, sqlite: bool) -> None:
    for table in WRITE_ONCE:
        if sqlite:
            for action in ("update", "delete"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
        else:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))


def verify(chain: Chain, *args: str, options: tuple[str, ...] = ()) -> Result:
    return CliRunner().invoke(cli, [*args, "--db", chain.url, "verify", "--workers", "1",
                                    *options], catch_exceptions=False)


def flipped(chain: Chain, level: int, idx: int) -> bytes:
    digest = chain.world.ledger.store.read_nodes([(level, idx)])[(level, idx)]
    return bytes([digest[0] ^ 1]) + digest[1:]


def _key_of(chain: Chain, actor: str) -> str:
    return chain.world.ledger.store.keys_of(actor)[0].key_id


def _fact_key(chain: Chain, lot: str) -> str:
    with chain.world.ledger.store.engine.connect() as connection:
        grp, fact = connection.execute(text(
            "SELECT grp, id FROM indicator_volumes WHERE lot = :lot ORDER BY id"),
            {"lot": lot}).first()  # type: ignore[misc]
    return f"grp={grp},id={fact}"


def _copy_lot(chain: Chain, lot: str, new: str) -> tuple[str, dict[str, Any]]:
    names = [c.name for c in t.lots.columns]
    values = ", ".join(":new" if name == "lot_id" else name for name in names)
    return (f"INSERT INTO lots ({', '.join(names)}) SELECT {values} FROM lots "
            "WHERE lot_id = :lot", {"new": new, "lot": lot})


# Each tampering: what it does to the database, and the (table, key) it must be named by.
Tampering = Callable[[Chain], tuple[str, str]]
CASES: dict[str, Tampering] = {}


def case(name: str) -> Callable[[Tampering], Tampering]:
    def register(fn: Tampering) -> Tampering:
        CASES[name] = fn
        return fn
    return register


@case("lot quantity")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("UPDATE lots SET quantity = '999' WHERE lot_id = 'M-0001'", {}))
    return "lots", "M-0001"


@case("lot custodian")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("UPDATE lots SET custodian = 'buyer' WHERE lot_id = 'BN-0001-B'", {}))
    return "lots", "BN-0001-B"


@case("lot status")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("UPDATE lots SET status = 'active' WHERE lot_id = 'BN-0001'", {}))
    return "lots", "BN-0001"


@case("lot added")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, _copy_lot(chain, "BN-0002", "BN-9999"))
    return "lots", "BN-9999"


@case("lot deleted")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("DELETE FROM lots WHERE lot_id = 'BN-0001-B'", {}))
    return "lots", "BN-0001-B"


@case("lineage deleted")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("DELETE FROM lot_links WHERE parent = 'BN-0002'", {}))
    return "lot_links", "parent=BN-0002,child=M-0001"


@case("lineage added")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("INSERT INTO lot_links (parent, child, seq) VALUES ('BN-0003', 'K-0001', "
                   ":seq)", {"seq": chain.seqs["transform"]}))
    return "lot_links", "parent=BN-0003,child=K-0001"


@case("lot event deleted")
def _(chain: Chain) -> tuple[str, str]:
    seq = chain.seqs["harvest"]
    tamper(chain, ("DELETE FROM lot_events WHERE lot_id = 'BN-0001' AND seq = :s", {"s": seq}))
    return "lot_events", f"lot_id=BN-0001,seq={seq}"


@case("step edited")
def _(chain: Chain) -> tuple[str, str]:
    seq = chain.seqs["harvest"]
    tamper(chain, ("UPDATE entry_steps SET step = replace(step, '\"1000\"', '\"1999\"') "
                   "WHERE seq = :s", {"s": seq}))
    return "entry_steps", str(seq)


@case("step deleted")
def _(chain: Chain) -> tuple[str, str]:
    seq = chain.seqs["split"]
    tamper(chain, ("DELETE FROM entry_steps WHERE seq = :s", {"s": seq}))
    return "entry_steps", str(seq)


@case("merkle node flipped")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("UPDATE merkle_nodes SET hash = :h WHERE level = 1 AND idx = 2",
                   {"h": flipped(chain, 1, 2)}))
    return "merkle_nodes", "level=1,idx=2"


@case("merkle node deleted")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("DELETE FROM merkle_nodes WHERE level = 0 AND idx = 7", {}))
    return "merkle_nodes", "level=0,idx=7"


@case("merkle node added")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("INSERT INTO merkle_nodes (level, idx, hash) VALUES (30, 0, :h)",
                   {"h": bytes(32)}))
    return "merkle_nodes", "level=30,idx=0"


@case("actor renamed")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("UPDATE actors SET name = 'Someone else' WHERE actor_id = 'coop'", {}))
    return "actors", "coop"


@case("key revoked")
def _(chain: Chain) -> tuple[str, str]:
    key = _key_of(chain, "coop")
    tamper(chain, ("UPDATE keys SET revoked = :r WHERE key_id = :k", {"r": True, "k": key}))
    return "keys", key


@case("key window")
def _(chain: Chain) -> tuple[str, str]:
    key = _key_of(chain, "processor")
    tamper(chain, ("UPDATE keys SET not_after = '2030-01-01T00:00:00Z' WHERE key_id = :k",
                   {"k": key}))
    return "keys", key


@case("product body")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("UPDATE products SET body = replace(body, 'KGM', 'LTR') "
                   "WHERE code = 'brazil-nut-in-shell'", {}))
    return "products", "brazil-nut-in-shell"


@case("log head moved")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("UPDATE log_head SET size = size - 1", {}))
    return "log_head", "1"


@case("indicator trace")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("UPDATE indicator_lots SET quantity = '1' WHERE lot = 'M-0001'", {}))
    return "indicator_lots", "M-0001"


@case("indicator fact deleted")
def _(chain: Chain) -> tuple[str, str]:
    key = _fact_key(chain, "BN-0003")
    tamper(chain, ("DELETE FROM indicator_volumes WHERE lot = 'BN-0003'", {}))
    return "indicator_volumes", key


@case("indicator reach")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("UPDATE indicator_reach SET down = :f WHERE actor = 'buyer' "
                   "AND lot = 'K-0001'", {"f": False}))
    return "indicator_reach", "actor=buyer,lot=K-0001"


@case("indicator position")
def _(chain: Chain) -> tuple[str, str]:
    tamper(chain, ("UPDATE indicator_position SET next_fact = next_fact + 5", {}))
    return "indicator_position", "1"


@case("verdict on a lot that does not exist")
def _(chain: Chain) -> tuple[str, str]:
    write_verdicts(chain.world.ledger.store.engine, [("BN-7777", StoredVerdict(
        "verified", chain.checkpoint, "2025-01-01T00:00:00Z"))])
    return "indicator_verdicts", "BN-7777"


@case("verdict on a history that no longer verifies")
def _(chain: Chain) -> tuple[str, str]:
    seq = chain.seqs["transform"]
    body = chain.world.ledger.store.entry(seq).body
    tamper(chain, ("UPDATE entries SET body = :b WHERE seq = :s",
                   {"b": body.replace(b'"220"', b'"229"'), "s": seq}))
    return "indicator_verdicts", "K-0001"


@case("verdict beyond its checkpoint")
def _(chain: Chain) -> tuple[str, str]:
    write_verdicts(chain.world.ledger.store.engine, [("BN-0004", StoredVerdict(
        "verified", chain.checkpoint, "2025-01-01T00:00:00Z"))])
    return "indicator_verdicts", "BN-0004"


def test_an_untouched_ledger_has_no_difference(chain: Chain) -> None:
    audit = audit_derived_state(chain.world.ledger.store)
    assert audit.ok, [str(d) for d in audit.differences]
    assert audit.entries == chain.world.ledger.size()
    assert audit.rows > 5 * audit.entries  # every derived table was read
    result = verify(chain, "--json")
    assert result.exit_code == 0, result.output
    state = json.loads(result.stdout)["derived_state"]
    assert state["ok"] and state["differences"] == []
    skipped = verify(chain, "--json", options=("--no-derived",))
    assert skipped.exit_code == 0 and "derived_state" not in json.loads(skipped.stdout)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_table_changed_behind_the_apps_back_is_named_by_table_and_key(
        chain: Chain, name: str) -> None:
    table, key = CASES[name](chain)
    audit = audit_derived_state(chain.world.ledger.store, chain.world.ledger.verify().findings)
    named = {(d.table, d.key) for d in audit.differences}
    assert (table, key) in named, [str(d) for d in audit.differences]
    result = verify(chain)
    assert result.exit_code == 10, result.output
    line = next(line for line in result.output.splitlines()
                if line.startswith(f"{table} {key}: expected "))
    assert ", found " in line


def test_a_derived_table_tampered_names_what_the_log_says_and_what_was_found(
        chain: Chain) -> None:
    tamper(chain, ("UPDATE lots SET quantity = '999', custodian = 'buyer' "
                   "WHERE lot_id = 'M-0001'", {}))
    [difference] = audit_derived_state(chain.world.ledger.store).differences
    assert str(difference) == ("lots M-0001: expected quantity=787.5, "
                               "custodian=assoc-cachoeira, found quantity=999, custodian=buyer")
    result = verify(chain, "--json")
    assert result.exit_code == 10
    data = json.loads(result.stdout)
    assert not data["ok"] and data["findings"] == []  # the log itself verifies
    assert data["derived_state"]["differences"] == [{
        "table": "lots", "key": "M-0001", "expected": difference.expected,
        "found": difference.found}]


def _changed(column: Any, value: Any) -> Any:
    if value is None:
        return "7" if column.type.python_type is str else 7
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, bytes | memoryview):
        return bytes(32 * [0xAB])
    return value + "x" if len(value) < 3 else "X"


@pytest.mark.parametrize("table, where", [
    (t.lots, "lot_id = 'K-0001'"), (t.keys, "actor_id = 'buyer'"),
    (t.actors, "actor_id = 'buyer'"), (t.products, "code = 'brazil-nut-kernel'"),
    (t.log_head, "id = 1"), (t.lot_links, "parent = 'BN-0001'"),
])
def test_a_change_to_any_column_is_named_whatever_columns_the_table_gains(
        chain: Chain, table: Any, where: str) -> None:
    """Every column the table declares is compared: one added later is covered too."""
    engine = chain.world.ledger.store.engine
    with engine.connect() as connection:
        row = connection.execute(text(f"SELECT * FROM {table.name} WHERE {where}")).mappings() \
            .first()
    assert row is not None
    by_key = " AND ".join(f"{c.name} = :k_{c.name}" for c in table.primary_key.columns)
    key = {f"k_{c.name}": row[c.name] for c in table.primary_key.columns}
    for column in table.columns:
        if column.primary_key:
            continue
        before = row[column.name]
        tamper(chain, (f"UPDATE {table.name} SET {column.name} = :v WHERE {by_key}",
                       {"v": _changed(column, before), **key}))
        audit = audit_derived_state(chain.world.ledger.store)
        assert [d.table for d in audit.differences] == [table.name], column.name
        assert f"{column.name}=" in audit.differences[0].expected, column.name
        tamper(chain, (f"UPDATE {table.name} SET {column.name} = :v WHERE {by_key}",
                       {"v": before, **key}))
    assert audit_derived_state(chain.world.ledger.store).ok


def test_a_missing_log_head_is_named(chain: Chain) -> None:
    tamper(chain, ("DELETE FROM log_head", {}))
    [difference] = audit_derived_state(chain.world.ledger.store).differences
    assert (difference.table, difference.key, difference.found) == ("log_head", "1", "no row")
    report = chain.world.ledger.verify()
    assert [f.rule for f in report.findings] == ["log_head"]


def test_a_dispatch_by_a_non_custodian_after_the_custodian_was_tampered(chain: Chain) -> None:
    """What happens today: the append reads the tampered row and accepts the dispatch;
    verify then refuses that entry (the replay's custodian differs) and the audit names
    the lot row. Whether appends should refuse to run on state failing the audit is the
    lead's call (see the report); if they come to refuse, the refusal is accepted here."""
    world = chain.world
    tamper(chain, ("UPDATE lots SET custodian = 'buyer' WHERE lot_id = 'BN-0001-B'", {}))
    try:
        sent = world.dispatch("BN-0001-B", "coop", by="buyer")
    except LedgerError:
        return  # refused: the better outcome
    report = world.ledger.verify()
    assert sent.seq in {f.seq for f in report.findings}
    audit = audit_derived_state(world.ledger.store, report.findings)
    assert ("lots", "BN-0001-B") in {(d.table, d.key) for d in audit.differences}
    assert verify(chain).exit_code == 10


@pytest.mark.parametrize("table", ["lot_links", "lot_events", "entry_steps"])
def test_the_write_once_tables_refuse_updates_and_deletes(chain: Chain, table: str) -> None:
    engine = chain.world.ledger.store.engine
    statements = [f"UPDATE {table} SET seq = seq + 1000", f"DELETE FROM {table}"]
    if not chain.world.ledger.store.is_sqlite:
        statements.append(f"TRUNCATE {table}")
    for statement in statements:
        with pytest.raises(Exception, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))


def test_the_audit_replays_refused_entries_as_the_verifier_does(chain: Chain) -> None:
    """An entry the verifier refuses (its signature no longer verifies) changes nothing
    in the replay: the rows it made are then differences, named beside the finding."""
    seq = chain.seqs["merge"]
    body = chain.world.ledger.store.entry(seq).body
    tamper(chain, ("UPDATE entries SET body = :b WHERE seq = :s",
                   {"b": body.replace(b'"800"', b'"900"'), "s": seq}))
    report = chain.world.ledger.verify()
    assert seq in {f.seq for f in report.findings}
    named = {(d.table, d.key) for d in audit_derived_state(
        chain.world.ledger.store, report.findings).differences}
    assert {("lots", "M-0001"), ("lot_links", "parent=BN-0002,child=M-0001"),
            ("entry_steps", str(seq))} <= named


def _run_to_the_end(client: Any) -> str:
    answer = client.post("/auditor/verify", data={"csrf_token": _csrf(client)})
    assert answer.status_code == 302
    for _ in range(200):
        page = client.get(answer.headers["Location"]).get_data(as_text=True)
        if "refreshes itself" not in page:
            return str(page)
        import time

        time.sleep(0.05)
    raise AssertionError("the run did not finish")


def _csrf(client: Any) -> str:
    from tests.web.conftest import csrf_token

    return csrf_token(client.get("/auditor/").get_data(as_text=True))


@pytest.fixture
def auditor(chain: Chain, db_url: str) -> Iterator[Any]:
    from web import create_app
    from web.auth import get_accounts
    from web.services import EXTENSION

    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "test",
                      "KEY_PASSPHRASE": "test-passphrase", "PASSWORD_LOG2_N": 10})
    app.extensions[EXTENSION] = chain.world.ledger
    with app.app_context():
        get_accounts().create("auditor", "correct horse battery", "auditor")
    client = app.test_client()
    from tests.web.conftest import log_in

    log_in(client, "auditor")
    yield client


def test_the_auditor_console_names_each_difference(chain: Chain, auditor: Any) -> None:
    assert "No findings" in _run_to_the_end(auditor)
    tamper(chain, ("UPDATE lots SET custodian = 'buyer' WHERE lot_id = 'BN-0001-B'", {}),
           ("DELETE FROM lot_links WHERE parent = 'BN-0002'", {}))
    page = _run_to_the_end(auditor)
    assert "No findings" not in page
    assert "lots BN-0001-B: expected custodian=coop, found custodian=buyer" in page
    assert "lot_links parent=BN-0002,child=M-0001: expected a row (seq=" in page


def test_a_registration_changes_no_lot_table(chain: Chain) -> None:
    """Registrations derive actors and keys only (a sanity check of the expectations)."""
    world = chain.world
    world.register("trader-2", ev.ActorKind.TRADER, "Another trader")
    assert audit_derived_state(world.ledger.store).ok


def test_a_value_of_another_type_is_a_difference_not_a_crash(chain: Chain) -> None:
    """SQLite keeps whatever is written: text in an integer, binary or boolean column."""
    if not chain.world.ledger.store.is_sqlite:
        pytest.skip("PostgreSQL refuses values of another type")
    key = _key_of(chain, "buyer")
    tamper(chain, ("UPDATE lots SET updated_seq = 'soon', head_hash = 'abc' "
                   "WHERE lot_id = 'K-0001'", {}),
           ("UPDATE keys SET revoked = 'no' WHERE key_id = :k", {"k": key}),
           ("UPDATE lot_links SET seq = 2.5 WHERE parent = 'BN-0001'", {}))
    differences = {(d.table, d.key): d for d in audit_derived_state(
        chain.world.ledger.store).differences}
    assert "updated_seq=str 'soon'" in differences["lots", "K-0001"].found
    assert "revoked=str 'no'" in differences["keys", key].found
    assert differences["lot_links", "parent=BN-0001,child=BN-0001-A"].found \
        == "seq=float 2.5"
