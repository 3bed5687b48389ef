"""QR labels: every generated code decodes, with an independent decoder, to exactly the URL."""

from __future__ import annotations

from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from ledger.labels import LabelInfo, provenance_url, safe_name, write_labels
from tests.builders import World, origin


def decode(image: Image.Image) -> list[str]:
    return sorted(result.text for result in zxingcpp.read_barcodes(image))


def info(lot: str, url: str) -> LabelInfo:
    return LabelInfo(lot, "Castanha-do-brasil com casca", "363 kg", "Seringal Cachoeira",
                     "RESEX Chico Mendes, Xapuri", "2025-01-10 – 2025-02-12", url)


def test_urls_use_digital_link_with_a_gtin_and_lots_otherwise() -> None:
    assert provenance_url("https://t.example/", "BN/25%&1", "9520123450014") == \
        "https://t.example/01/09520123450014/10/BN%2F25%25%261"
    assert provenance_url("https://t.example", "MQ-1", None) == "https://t.example/lots/MQ-1"


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_every_png_and_pdf_label_decodes_to_exactly_its_url(tmp_path: Path, paper: str) -> None:
    infos = [info(f"BN-{n}/25%&", provenance_url("https://trilha.example", f"BN-{n}/25%&",
                                                  "9520123450014" if n % 2 else None))
             for n in range(10)]  # ten labels: two pages of eight
    files = write_labels(infos, tmp_path, paper)
    for item in infos:
        png = tmp_path / f"{safe_name(item.lot)}.png"
        assert png in files
        assert decode(Image.open(png)) == [item.url]
        svg = png.with_suffix(".svg").read_text()
        assert svg.startswith("<?xml") and "<path" in svg
    pdf = pypdfium2.PdfDocument(str(tmp_path / "labels.pdf"))
    assert len(pdf) == 2
    found: list[str] = []
    for page in pdf:
        found += decode(page.render(scale=3).to_pil())
    assert sorted(found) == sorted(i.url for i in infos)
    text = pdf[0].get_textpage().get_text_range()
    assert "Castanha-do-brasil" in text and "363 kg" in text and "Seringal Cachoeira" in text
    pdf.close()


def test_trilha_label_reads_the_lot_from_the_ledger(world: World, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    db_url: str) -> None:
    world.harvest("BN-0001", origin=origin(community="Seringal Cachoeira"))
    world.harvest("MQ-0001", product="maqui-berry-fresh", origin=origin(country="CL"))
    monkeypatch.setenv("TRILHA_PUBLIC_BASE_URL", "https://trilha.example")
    result = CliRunner().invoke(cli, ["--db", db_url, "--lang", "pt-BR", "label", "BN-0001",
                                      "MQ-0001", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert decode(Image.open(tmp_path / "BN-0001.png")) == [
        "https://trilha.example/01/09520123450014/10/BN-0001"]
    assert decode(Image.open(tmp_path / "MQ-0001.png")) == ["https://trilha.example/lots/MQ-0001"]
    missing = CliRunner().invoke(cli, ["--db", db_url, "label", "NOPE", "-o", str(tmp_path)])
    assert missing.exit_code == 6 and "NOPE" in missing.output
