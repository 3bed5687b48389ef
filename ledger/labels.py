"""QR labels for lot sacks: PNG and SVG codes, and a printable PDF sheet of labels.

The QR carries the lot's public provenance URL: a GS1 Digital Link URI when the product
has a GTIN, else ``BASE/lots/{lot}``. Error correction level H (30% of the code may be
lost) because labels on jute sacks get scuffed, wet and folded in boats and warehouses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_H
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from ledger.domain.gs1 import check_lot, digital_link_uri
from ledger.domain.measures import UNIT_SYMBOLS
from ledger.service import Ledger

PAPERS = {"A4": A4, "Letter": LETTER}
COLUMNS, ROWS = 2, 4  # eight labels a sheet, about 95 x 65 mm each on A4
MARGIN = 12 * mm  # wide enough for any office printer, and for scissors


@dataclass(frozen=True, slots=True)
class LabelInfo:
    lot: str
    product_name: str
    quantity: str
    community: str
    territory: str
    harvest_date: str
    url: str


def provenance_url(base_url: str, lot: str, gtin: str | None) -> str:
    check_lot(lot)
    if gtin:
        return digital_link_uri(base_url, gtin, lot)
    return f"{base_url.rstrip('/')}/lots/{quote(lot, safe='')}"


def _qr(url: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_H, box_size=10, border=4)
    code.add_data(url)
    code.make(fit=True)
    return code


def safe_name(lot: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", lot)


def write_png(info: LabelInfo, path: Path) -> Path:
    _qr(info.url).make_image().save(str(path))
    return path


def write_svg(info: LabelInfo, path: Path) -> Path:
    image = _qr(info.url).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    image.save(str(path))
    return path


def write_sheet_pdf(infos: Sequence[LabelInfo], path: Path | BinaryIO,
                    paper: str = "A4") -> Path | BinaryIO:
    """The printable sheet, to a file path or a binary stream (the web download)."""
    width, height = PAPERS[paper]
    pdf = canvas.Canvas(str(path) if isinstance(path, Path) else path,
                        pagesize=(width, height))
    pdf.setTitle("Trilha lot labels")
    cell_w = (width - 2 * MARGIN) / COLUMNS
    cell_h = (height - 2 * MARGIN) / ROWS
    for index, info in enumerate(infos):
        slot = index % (COLUMNS * ROWS)
        if index and slot == 0:
            pdf.showPage()
        col, row = slot % COLUMNS, slot // COLUMNS
        x = MARGIN + col * cell_w
        y = height - MARGIN - (row + 1) * cell_h
        _draw_label(pdf, info, x, y, cell_w, cell_h)
    pdf.save()
    return path


def _draw_label(pdf: canvas.Canvas, info: LabelInfo, x: float, y: float, w: float,
                h: float) -> None:
    pdf.setStrokeGray(0.75)
    pdf.setDash(2, 3)  # light cut lines
    pdf.rect(x, y, w, h)
    pdf.setDash()
    qr_size = min(h - 8 * mm, w * 0.48)
    image = _qr(info.url).make_image().get_image()
    pdf.drawImage(ImageReader(image), x + w - qr_size - 4 * mm, y + (h - qr_size) / 2,
                  qr_size, qr_size)
    text_x, top = x + 5 * mm, y + h - 9 * mm
    text_w = w - qr_size - 12 * mm
    pdf.setFillGray(0)
    pdf.setFont("Helvetica-Bold", 11)
    for line in _wrap(info.product_name, text_w, "Helvetica-Bold", 11, pdf)[:2]:
        pdf.drawString(text_x, top, line)
        top -= 13
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(text_x, top - 4, info.quantity)
    top -= 24
    pdf.setFont("Helvetica", 8.5)
    for label, value in (("Lot", info.lot), ("Origin", info.community),
                         ("", info.territory), ("Harvest", info.harvest_date)):
        for line in _wrap(f"{label + ': ' if label else ''}{value}", text_w, "Helvetica", 8.5,
                          pdf)[:2]:
            pdf.drawString(text_x, top, line)
            top -= 11


def _wrap(text: str, width: float, font: str, size: float, pdf: canvas.Canvas) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if pdf.stringWidth(candidate, font, size) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def write_labels(infos: Sequence[LabelInfo], out_dir: Path, paper: str = "A4") -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for info in infos:
        written.append(write_png(info, out_dir / f"{safe_name(info.lot)}.png"))
        written.append(write_svg(info, out_dir / f"{safe_name(info.lot)}.svg"))
    sheet = out_dir / "labels.pdf"
    write_sheet_pdf(infos, sheet, paper)
    written.append(sheet)
    return written


def label_info(ledger: Ledger, lot_id: str, base_url: str, lang: str) -> LabelInfo:
    """What a label shows, from the lot, its product and the harvests upstream of it."""
    prov = ledger.provenance(lot_id, with_entries=False)
    lot = prov.lot
    product = ledger.store.product(lot.product)
    harvests = [s for s in prov.upstream_steps() if s["kind"] == "lot.harvested"]
    communities = sorted({h["origin"]["community"] for h in harvests})
    territories = sorted({h["origin"]["territory"] for h in harvests})
    starts = sorted(h["harvest"]["start"] for h in harvests)
    ends = sorted(h["harvest"]["end"] for h in harvests)
    community = communities[0] if len(communities) == 1 else \
        f"{len(communities)} communities: {', '.join(communities[:2])}"
    dates = "" if not harvests else (starts[0] if starts[0] == ends[-1]
                                     else f"{starts[0]} – {ends[-1]}")
    return LabelInfo(
        lot=lot.lot_id, product_name=product.name(lang) if product else lot.product,
        quantity=f"{lot.quantity.normalize():f} {UNIT_SYMBOLS.get(lot.unit, lot.unit)}",
        community=community, territory="; ".join(territories), harvest_date=dates,
        url=provenance_url(base_url, lot.lot_id, product.gtin if product else None))
