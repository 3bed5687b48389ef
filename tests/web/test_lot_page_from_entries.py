"""The lot page shows only what it verified: its figures come from the signed entries of
the lot's history, walked through their lot chains, so tables changed behind the app's
back neither change what a buyer reads nor hide a step of the history."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from ledger.lot_history import lot_history
from tests.builders import World
from tests.web.test_public import chain


def _sql(world: World, statement: str, **params: object) -> None:
    with world.ledger.store.engine.begin() as connection:
        if world.ledger.store.is_sqlite:
            for table in ("lot_links", "lot_events", "entry_steps", "actors", "products"):
                for action in ("update", "delete"):
                    connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
        else:
            for table in ("lot_links", "lot_events", "entry_steps", "actors", "products"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON "
                                        f"{table}"))
        connection.execute(text(statement), params)


TAMPERING: dict[str, Callable[[World], None]] = {
    "lots.quantity": lambda w: _sql(w, "UPDATE lots SET quantity = '9999' WHERE lot_id = "
                                       "'K-0001'"),
    "lots.custodian": lambda w: _sql(w, "UPDATE lots SET custodian = 'buyer' WHERE lot_id "
                                        "= 'K-0001'"),
    "a lot_links row": lambda w: _sql(w, "DELETE FROM lot_links WHERE parent = 'BN-0002'"),
    "a lot_events row": lambda w: _sql(w, "DELETE FROM lot_events WHERE lot_id = 'BN-0002'"),
    "every entry_steps row": lambda w: _sql(w, "UPDATE entry_steps SET step = '{}'"),
    "a product's body": lambda w: _sql(w, "UPDATE products SET body = replace(replace(body, "
                                          "'PGPMBio', 'FAKE'), 'Brazil nut', 'FAKE')"),
    "an actor's name": lambda w: _sql(w, "UPDATE actors SET name = 'Fake Community' WHERE "
                                         "actor_id = 'assoc-cachoeira'"),
}


@pytest.mark.parametrize("table", sorted(TAMPERING))
def test_tables_changed_behind_the_apps_back_do_not_change_the_page(
        world: World, client: FlaskClient, table: str) -> None:
    chain(world)
    before = client.get("/lots/K-0001", headers={"Accept-Language": "en"})
    TAMPERING[table](world)
    after = client.get("/lots/K-0001", headers={"Accept-Language": "en"})
    html = after.get_data(as_text=True)
    assert "badge-verified" in html
    assert "570 kg" in html and "9999" not in html and "Fake Community" not in html
    assert "FAKE" not in html and "PGPMBio" in html
    assert "BN-0002" in html and html.count("Seringal Cachoeira") == \
        before.get_data(as_text=True).count("Seringal Cachoeira")
    history = lot_history(world.ledger, "K-0001")
    assert history.ok and history.lot is not None
    assert history.lot.custodian == "processor" and str(history.lot.quantity) == "570"
    assert {"BN-0001", "BN-0002", "BN-M1"} <= history.upstream_lots


def test_a_lot_row_that_hides_the_newest_entries_fails_the_badge(
        world: World, client: FlaskClient) -> None:
    chain(world)
    world.adjust("K-0001", "-10", by="processor")
    transform = next(s for s in world.ledger.store.iter_entries() if s.kind == "lot.transformed")
    _sql(world, "UPDATE lots SET updated_seq = :seq, head_hash = :hash, quantity = '570' "
                "WHERE lot_id = 'K-0001'", seq=transform.seq, hash=transform.entry_hash)
    html = client.get("/lots/K-0001", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "badge-verified" not in html and "badge-failed" in html
    assert "touches it" in html


def test_a_lot_row_naming_a_forged_head_fails_the_badge(world: World,
                                                        client: FlaskClient) -> None:
    chain(world)
    _sql(world, "UPDATE lots SET head_hash = :hash WHERE lot_id = 'K-0001'", hash=b"\x01" * 32)
    html = client.get("/lots/K-0001", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "badge-failed" in html and "hash differs" in html


def test_a_changed_entry_on_the_way_fails_the_badge(world: World, client: FlaskClient) -> None:
    chain(world)
    harvest = next(s for s in world.ledger.store.iter_entries()
                   if s.kind == "lot.harvested" and b"BN-0002" in s.body)
    _sql(world, "DROP TRIGGER IF EXISTS entries_no_update" if world.ledger.store.is_sqlite
         else "DROP TRIGGER IF EXISTS entries_append_only ON entries")
    _sql(world, "UPDATE entries SET body = :body WHERE seq = :seq",
         body=harvest.body.replace(b'"500"', b'"900"'), seq=harvest.seq)
    html = client.get("/lots/K-0001", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "badge-verified" not in html and "badge-failed" in html


@pytest.mark.parametrize("code", ["%00", "BN%00X", "A" * 30, "%F0%9F%8C%B0"])
def test_a_code_no_lot_can_have_is_not_found(world: World, client: FlaskClient,
                                             code: str) -> None:
    for path in (f"/lots/{code}", f"/lots/{code}/steps", f"/lots/{code}/entries.json",
                 f"/lots/{code}/bundle.json"):
        assert client.get(path).status_code == 404, path
