"""The public lot page: what a buyer sees after scanning a label."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text

from ledger.domain import events as ev
from ledger.domain.note import NoteSigner
from ledger.keystore import generate_private_key
from tests.builders import World, origin


def chain(world: World) -> NoteSigner:
    world.harvest("BN-0001", quantity="1000")
    world.harvest("BN-0002", quantity="500")
    world.transfer("BN-0001", "assoc-cachoeira", "coop")
    world.transfer("BN-0002", "assoc-cachoeira", "coop")
    world.merge(["BN-0001", "BN-0002"], "BN-M1", "1500", by="coop")
    world.transfer("BN-M1", "coop", "processor")
    world.transform(["BN-M1"], [("K-0001", "brazil-nut-kernel", "570")], by="processor")
    signer = NoteSigner(world.ledger.origin, generate_private_key())
    world.ledger.sign_checkpoint(signer)
    return signer


def test_the_lot_page_shows_the_chain_split_share_and_a_passing_badge(
        world: World, client: FlaskClient) -> None:
    chain(world)
    page = client.get("/lots/K-0001", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Brazil nut kernels" in html and "570 kg" in html
    assert "badge-verified" in html
    for lot in ("BN-0001", "BN-0002", "BN-M1"):
        assert lot in html
    assert "Seringal Cachoeira" in html and "RESEX Chico Mendes" in html
    assert "reached communities and harvesters" in html
    assert "reference minimum" in html  # Brazil nut in shell has a PGPMBio minimum
    assert "<svg class=\"flow\"" in html and "<svg class=\"bar\"" in html
    assert "<svg class=\"map\"" in html


def test_the_digital_link_form_opens_the_same_lot(world: World, client: FlaskClient) -> None:
    chain(world)
    page = client.get("/01/09520123450014/10/BN-0002")
    assert page.status_code == 200 and "BN-0002" in page.get_data(as_text=True)
    wrong_gtin = client.get("/01/09520123450021/10/BN-0002")  # kernels' GTIN, not nuts'
    assert wrong_gtin.status_code == 404


def test_an_unknown_lot_gets_a_friendly_404_in_the_visitors_language(
        client: FlaskClient) -> None:
    page = client.get("/lots/NOPE-1", headers={"Accept-Language": "pt-BR,pt;q=0.9"})
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "Lote não encontrado" in html and "NOPE-1" in html


def test_languages_switch_by_query_and_header(world: World, client: FlaskClient) -> None:
    chain(world)
    assert "Cada etapa" in client.get("/lots/K-0001?lang=es").get_data(as_text=True)
    assert "Chaque étape" in client.get(
        "/lots/K-0001", headers={"Accept-Language": "fr-FR"}).get_data(as_text=True)
    assert "Amêndoa de castanha-do-brasil" in client.get(
        "/lots/K-0001?lang=pt_BR").get_data(as_text=True)


def test_no_harvester_reference_or_personal_data_on_public_pages(world: World,
                                                                 client: FlaskClient) -> None:
    chain(world)
    html = client.get("/lots/K-0001").get_data(as_text=True)
    assert "hv-7f3a9c" not in html and "hv-0b12de" not in html  # only counts are shown
    assert "2 harvesters" in html


def test_a_tampered_database_makes_the_badge_fail(world: World, client: FlaskClient) -> None:
    chain(world)
    ledger = world.ledger
    with ledger.store.engine.begin() as connection:
        if ledger.store.is_sqlite:
            connection.execute(text("DROP TRIGGER entries_no_update"))
        else:
            connection.execute(text("DROP TRIGGER entries_append_only ON entries"))
    seq = next(s["seq"] for s in ledger.provenance("K-0001", with_entries=False).steps
               if s["kind"] == "lot.harvested")
    body = ledger.store.entry(seq).body.replace(b'"1000"', b'"9000"')
    with ledger.store.engine.begin() as connection:
        connection.execute(text("UPDATE entries SET body = :b WHERE seq = :s"),
                           {"b": body, "s": seq})
    html = client.get("/lots/K-0001").get_data(as_text=True)
    assert "badge-failed" in html and f"entry {seq}" in html


PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_html_in_free_text_fields_comes_back_escaped(world: World, client: FlaskClient) -> None:
    world.register("evil-buyer", ev.ActorKind.BUYER, PAYLOAD)
    world.harvest("X-1", origin=origin(community=PAYLOAD, territory=PAYLOAD))
    world.adjust("X-1", "-1", by="assoc-cachoeira")
    world.transfer("X-1", "assoc-cachoeira", "evil-buyer")
    response = client.get("/lots/X-1")
    html = response.get_data(as_text=True)
    assert PAYLOAD not in html and "<script>alert" not in html
    assert "&lt;script&gt;" in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_raw_entries_are_downloadable(world: World, client: FlaskClient) -> None:
    chain(world)
    entries: list[dict[str, Any]] = client.get("/lots/K-0001/entries.json").get_json()
    assert entries and all(len(e["entry_hash"]) == 64 for e in entries)
    assert {e["entry"]["seq"] for e in entries} == {e["seq"] for e in entries}


def test_the_start_page_finds_a_lot_by_code(world: World, client: FlaskClient) -> None:
    chain(world)
    assert client.get("/").status_code == 200
    found = client.get("/?code=K-0001")
    assert found.status_code == 302 and found.headers["Location"].endswith("/lots/K-0001")


def test_a_big_lot_page_stays_small_and_every_step_is_one_click_away(
        world: World, client: FlaskClient) -> None:
    lots = []
    for n in range(30):
        lot = f"BN-{n:04d}"
        world.harvest(lot, quantity="10")
        world.transfer(lot, "assoc-cachoeira", "coop")
        lots.append(lot)
    world.merge(lots, "BN-BIG", "300", by="coop")
    html = client.get("/lots/BN-BIG", headers={"Accept-Language": "en"}).get_data(True)
    assert html.count('<li class="step ') == 40
    summary = html.split("earlier steps", 1)[1].split("</p>", 1)[0]
    assert "51 earlier steps" in html, summary
    assert "harvests × 17, sales × 17, receipts × 17" in summary, summary
    assert "30 harvests" in html  # one origin line for the community, not thirty
    assert "2 harvesters" in html  # distinct pseudonyms, not 30 x 2
    first = client.get("/lots/BN-BIG/steps", headers={"Accept-Language": "en"})
    assert first.status_code == 200 and "Page 1 of 1 (91 steps" in first.get_data(True)
    assert first.get_data(True).count('<li class="step ') == 91
    assert client.get("/lots/BN-BIG/steps?page=2").status_code == 404
    assert client.get("/lots/BN-BIG/steps?page=-1").status_code == 404
    assert client.get("/lots/NOPE/steps").status_code == 404
