"""Looking at PDFs as a reader would: render pages, decode their QR codes, list fonts, extract text."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pypdf
import pypdfium2 as pdfium
import zxingcpp
from PIL import Image

from printables.cards import SheetLayout

DPI = 200
MM = 72 / 25.4


@dataclass(frozen=True)
class Decoded:
    """A QR code found on a rendered page: its text and its centre in pixels."""

    text: str
    x: float
    y: float


def page_count(pdf: bytes) -> int:
    """Pages in the document, as pdfium counts them."""
    return len(pdfium.PdfDocument(pdf))


def render(pdf: bytes, index: int, dpi: int = DPI) -> Image.Image:
    """One page as a greyscale image, rendered by pdfium (Chrome's PDF engine)."""
    document = pdfium.PdfDocument(pdf)
    try:
        return document[index].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    finally:
        document.close()


def decode(image: Image.Image) -> list[Decoded]:
    """Every QR code zxing-cpp finds on the image."""
    found = []
    for barcode in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode):
        points = barcode.position
        xs = [points.top_left.x, points.top_right.x, points.bottom_left.x, points.bottom_right.x]
        ys = [points.top_left.y, points.top_right.y, points.bottom_left.y, points.bottom_right.y]
        found.append(Decoded(barcode.text, sum(xs) / 4, sum(ys) / 4))
    return found


def card_box(layout: SheetLayout, index: int, dpi: int = DPI) -> tuple[int, int, int, int]:
    """The pixel box (left, top, right, bottom) of the card in slot `index` of a rendered sheet."""
    x, y = layout.card_origin(index)
    scale = dpi / 72
    page_h = layout.page_height * MM
    left, right = x * scale, (x + layout.card_width * MM) * scale
    top, bottom = (page_h - y - layout.card_height * MM) * scale, (page_h - y) * scale
    return round(left), round(top), round(right), round(bottom)


def in_box(point: Decoded, box: tuple[int, int, int, int]) -> bool:
    """True if the decoded code's centre lies in the box."""
    left, top, right, bottom = box
    return left <= point.x <= right and top <= point.y <= bottom


def dark_fraction(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Share of clearly dark pixels in a box: 0 for a blank area."""
    region = image.crop(box)
    histogram = region.histogram()
    return sum(histogram[:128]) / max(region.width * region.height, 1)


def text(pdf: bytes) -> str:
    """All the text pypdf extracts, page after page."""
    reader = pypdf.PdfReader(io.BytesIO(pdf), strict=True)
    return "\n".join(page.extract_text() for page in reader.pages)


def page_text(pdf: bytes, index: int) -> str:
    """The text of one page, as pdfium extracts it."""
    document = pdfium.PdfDocument(pdf)
    try:
        textpage = document[index].get_textpage()
        return textpage.get_text_range()
    finally:
        document.close()


def fonts(pdf: bytes) -> dict[str, bool]:
    """Every font the pages and their forms use: base font name → embedded (FontFile2/FontFile3)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf), strict=True)
    found: dict[str, bool] = {}

    def visit(resources: Any, seen: set[int]) -> None:
        if resources is None:
            return
        resources = resources.get_object()
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descriptors = [font.get("/FontDescriptor")]
            for descendant in font.get("/DescendantFonts") or []:
                descriptors.append(descendant.get_object().get("/FontDescriptor"))
            embedded = any(d is not None and ("/FontFile2" in d.get_object() or "/FontFile3" in d.get_object()
                                              or "/FontFile" in d.get_object()) for d in descriptors)
            found[str(font.get("/BaseFont"))] = embedded
        for xobject in (resources.get("/XObject") or {}).values():
            ref = getattr(xobject, "idnum", id(xobject))
            obj = xobject.get_object()
            if ref in seen or obj.get("/Subtype") != "/Form":
                continue
            seen.add(ref)
            visit(obj.get("/Resources"), seen)

    for page in reader.pages:
        visit(page.get("/Resources"), set())
    return found
