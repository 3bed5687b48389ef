"""EPCIS 2.0 export: valid against GS1's JSON Schema with format checking switched on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from ledger.demo import build_demo
from ledger.epcis import export_epcis
from ledger.service import Ledger

EPCIS = Path(__file__).resolve().parents[1] / "fixtures" / "gs1" / "epcis"
SCHEMA = json.loads((EPCIS / "EPCIS-JSON-Schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft7Validator(SCHEMA, format_checker=Draft7Validator.FORMAT_CHECKER)


def errors(document: Any) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(document)]


def test_the_format_checker_really_checks_uris_and_dates() -> None:
    assert not VALIDATOR.is_valid({"type": "ObjectEvent", "eventTime": "yesterday",
                                   "eventTimeZoneOffset": "+00:00", "action": "ADD",
                                   "epcList": ["not a uri"]})


@pytest.mark.parametrize("path", sorted((EPCIS / "invalid").glob("*.json")),
                         ids=lambda p: p.name)
def test_gs1s_invalid_documents_are_rejected(path: Path) -> None:
    assert errors(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    ledger = Ledger.open(f"sqlite:///{tmp_path_factory.mktemp('epcis') / 'demo.sqlite'}")
    build_demo(ledger)
    return ledger


def test_the_whole_demo_exports_as_a_valid_epcis_document(demo: Ledger) -> None:
    document = export_epcis(demo)
    assert errors(document) == []
    events = document["epcisBody"]["eventList"]
    kinds = {(e["type"], e.get("bizStep")) for e in events}
    assert ("ObjectEvent", "commissioning") in kinds and ("ObjectEvent", "shipping") in kinds
    assert ("ObjectEvent", "receiving") in kinds and ("ObjectEvent", "destroying") in kinds
    assert ("TransformationEvent", "https://trilha.example/voc/bizstep/processing") in kinds
    harvest = next(e for e in events if e.get("bizStep") == "commissioning")
    assert harvest["quantityList"][0]["uom"] == "KGM"
    assert harvest["ilmd"]["trilha:community"] and len(harvest["trilha:entryHash"]) == 64


def test_one_lots_history_exports_with_digital_link_classes(demo: Ledger) -> None:
    document = export_epcis(demo, "BN-K-25-001E")
    assert errors(document) == []
    events = document["epcisBody"]["eventList"]
    classes = {q["epcClass"] for e in events for q in e.get("quantityList", [])}
    assert "https://id.gs1.org/01/09520123450021/10/BN-K-25-001E" in classes
    shipping = [e for e in events if e.get("bizStep") == "shipping"]
    assert shipping[-1]["destinationList"][0]["destination"].endswith("/actors/nordic-nuts")
    assert any(e["trilha:benefitSplit"]["price"]["currency"] == "EUR" for e in shipping)


def test_trilha_export_format_epcis(world: object, db_url: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    world.harvest("BN-1")  # type: ignore[attr-defined]
    out = tmp_path / "epcis.json"
    result = CliRunner().invoke(cli, ["--db", db_url, "export", "--format", "epcis", "-o",
                                      str(out)])
    assert result.exit_code == 0, result.output
    assert errors(json.loads(out.read_text())) == []


def _comparable(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in event.items() if k != "trilha:entryHash"}
            for event in document["epcisBody"]["eventList"]]


def test_export_import_export_round_trips_everything_that_maps(demo: Ledger,
                                                               tmp_path: Path) -> None:
    from ledger.epcis_import import import_epcis

    exported = export_epcis(demo)
    copy = Ledger.open(f"sqlite:///{tmp_path / 'copy.sqlite'}")
    report = import_epcis(copy, json.loads(json.dumps(exported)))
    assert report.unmapped == []
    assert report.imported == len(exported["epcisBody"]["eventList"])
    again = export_epcis(copy)
    assert _comparable(again) == _comparable(exported)
    assert copy.verify(workers=1).ok
    copy.close()


def test_events_that_do_not_map_are_reported(tmp_path: Path) -> None:
    from ledger.epcis_import import import_epcis

    document = json.loads((EPCIS.parent.parent.parent / "fixtures" / "gs1" / "epcis"
                           / "EPCIS-JSON-Schema.json").read_text())  # not a document
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert import_epcis(ledger, document).imported == 0
    foreign = {"epcisBody": {"eventList": [{
        "type": "ObjectEvent", "eventTime": "2025-01-01T00:00:00Z", "action": "OBSERVE",
        "bizStep": "inspecting", "eventID": "urn:uuid:00000000-0000-4000-8000-00000000000a",
        "trilha:actor": "https://x.example/actors/coop",
        "quantityList": [{"epcClass": "https://x.example/lots/L-1", "quantity": 1.0}]}]}}
    report = import_epcis(ledger, foreign)
    assert report.imported == 0 and "inspecting" in report.unmapped[0]
    ledger.close()


def test_trilha_import_format_epcis(demo: Ledger, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    monkeypatch.setenv("TRILHA_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("TRILHA_PASSPHRASE", "pw")
    source = tmp_path / "demo.epcis.json"
    source.write_text(json.dumps(export_epcis(demo)))
    copy = f"sqlite:///{tmp_path / 'copy.sqlite'}"
    result = CliRunner().invoke(cli, ["--db", copy, "--json", "import", "--format", "epcis",
                                      str(source)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["unmapped"] == []
    assert (tmp_path / "keys" / "coop-xapuri.pem").exists() is False  # a GLN party
    assert (tmp_path / "keys" / "gln-9520000000017.pem").exists()
    again = CliRunner().invoke(cli, ["--db", copy, "import", "--format", "epcis", str(source)])
    assert again.exit_code == 9  # not an empty ledger
