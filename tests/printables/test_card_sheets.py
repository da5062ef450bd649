"""Card sheets as a person and a scanner see them: rendered by pdfium at 200 dpi, read by zxing-cpp."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pypdf
import pytest

from evac.cards import tokens
from printables import fonts as fontmod
from printables.cards import (
    A_ONE_51002,
    NAME_BOX,
    QR_BOX,
    CardData,
    CardOptions,
    SheetLayout,
    render_cards,
    write_card_sheets,
)
from printables.pdfmerge import MergeError, PdfConcatenator
from tests.printables import pdfcheck

KEY = b"printables-test-key"
NAMES = [("山田　花子", "ヤマダ　ハナコ"), ("佐々木　健太郎", "ササキ　ケンタロウ"), ("西田　真由美", "ニシダ　マユミ"),
         ("髙橋　良男", "タカハシ　ヨシオ"), ("渡邊　さくら", "ワタナベ　サクラ"),
         ("グエン　ヴァン　アン", "グエン　ヴァン　アン")]
DISTRICTS = ["光台", "精華台", "祝園", "下狛"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def make_cards(count: int, start: int = 1) -> list[CardData]:
    """Synthetic cards with real signed payloads; person ids from `start`."""
    cards = []
    for n in range(start, start + count):
        name, kana = NAMES[n % len(NAMES)]
        serial = 100_000 + n * 7
        cards.append(CardData(
            ref=str(n), name=name, kana=kana, household_number=f"01{n // 3:08d}",
            district=DISTRICTS[(n // 25) % len(DISTRICTS)], payload=tokens.encode(KEY, n, serial),
            fallback_code=tokens.fallback_code(KEY, serial), issued_on=date(2026, 4, 1)))
    return cards


OPTIONS = CardOptions(town_name="精華町")


def check_page(pdf: bytes, page: int, expected: list[CardData], layout: SheetLayout = A_ONE_51002) -> None:
    """Every card slot on the page holds one decodable QR code: that card's payload, and it verifies."""
    image = pdfcheck.render(pdf, page)
    found = pdfcheck.decode(image)
    assert len(found) == len(expected), f"page {page}: {len(found)} codes decoded, {len(expected)} cards"
    for slot, card in enumerate(expected):
        box = pdfcheck.card_box(layout, slot)
        inside = [code for code in found if pdfcheck.in_box(code, box)]
        assert [code.text for code in inside] == [card.payload], f"page {page} slot {slot}"
        assert tokens.decode(KEY, inside[0].text) == tokens.CardRef(int(card.ref), 100_000 + int(card.ref) * 7)


def test_every_code_on_a_sheet_decodes_to_its_own_card_and_names_render() -> None:
    cards = make_cards(23)  # two full sheets and a part-filled third
    pdf, issues = render_cards(cards, OPTIONS)
    assert issues == []
    assert pdfcheck.page_count(pdf) == 3
    for page in range(3):
        check_page(pdf, page, cards[page * 10: page * 10 + 10])
    image = pdfcheck.render(pdf, 0)
    for slot in range(10):
        left, _top, _right, bottom = pdfcheck.card_box(A_ONE_51002, slot)
        scale = pdfcheck.DPI / 25.4
        x, y, w, h = NAME_BOX
        name_area = (round(left + x * scale), round(bottom - (y + h) * scale),
                     round(left + (x + w) * scale), round(bottom - (y - 2) * scale))
        assert pdfcheck.dark_fraction(image, name_area) > 0.03, f"name of slot {slot} did not render"
    # An empty slot on the last sheet stays blank.
    assert pdfcheck.dark_fraction(pdfcheck.render(pdf, 2), pdfcheck.card_box(A_ONE_51002, 9)) == 0
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / "printables-card-sheet.png")


def test_japanese_text_is_extractable_and_every_font_is_embedded() -> None:
    cards = make_cards(12)
    pdf, _issues = render_cards(cards, OPTIONS)
    text = pdfcheck.text(pdf)
    for card in cards:
        assert card.name in text and card.kana in text and card.fallback_code in text
    assert "避難所の受付でこのカードを見せてください" in text
    assert "Show this card at the shelter reception" in text
    assert "精華町" in text
    used = pdfcheck.fonts(pdf)
    assert used and all(used.values()), used
    assert all(re.fullmatch(r"/[A-Z]{6}\+IPAexGothic", name) for name in used), used  # subsets, not the whole font


def test_sheet_layout_matches_a_one_51002_business_card_sheets() -> None:
    layout = A_ONE_51002
    assert (layout.page_width, layout.page_height) == (210, 297)
    assert (layout.card_width, layout.card_height, layout.columns, layout.rows) == (91, 55, 2, 5)
    assert layout.margin_left * 2 + layout.columns * layout.card_width == layout.page_width
    assert layout.margin_top * 2 + layout.rows * layout.card_height == layout.page_height
    pdf, _ = render_cards(make_cards(1), OPTIONS)
    box = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].mediabox
    assert (round(float(box.width) / pdfcheck.MM), round(float(box.height) / pdfcheck.MM)) == (210, 297)
    # The QR code and its quiet zone stay inside the card, clear of the edge.
    x, y, w, h = QR_BOX
    assert x >= 2 and y >= 2 and x + w <= 91 - 2 and y + h <= 55 - 2


def test_cut_marks_sit_in_the_margins_on_every_card_edge() -> None:
    pdf, _ = render_cards(make_cards(10), OPTIONS)
    image = pdfcheck.render(pdf, 0)
    scale = pdfcheck.DPI / 25.4
    # Above the top edge of the sheet's cards, at each vertical card edge (14, 105, 196 mm), a mark.
    for x_mm in (14, 105, 196):
        strip = (round((x_mm - 0.5) * scale), round(3 * scale), round((x_mm + 0.5) * scale), round(8 * scale))
        assert pdfcheck.dark_fraction(image, strip) > 0.04, x_mm  # a hairline in a 1 mm strip
    between = (round(50 * scale), round(3 * scale), round(60 * scale), round(8 * scale))
    assert pdfcheck.dark_fraction(image, between) == 0


def test_bad_inputs_shrink_ellipsize_or_mark_and_are_reported_never_crash() -> None:
    font = fontmod.load_font()
    missing_kanji = next(chr(c) for c in range(0x20000, 0x2A6E0) if not font.has(chr(c)))
    base = make_cards(4)
    long_name = "寿限無寿限無五劫の擦り切れ海砂利水魚の" * 10  # 200 characters
    bad = [
        _replace(base[0], name=long_name),
        _replace(base[1], kana=""),
        _replace(base[2], name=f"山田　{missing_kanji}子😀"),
        _replace(base[3], name="", kana="", household_number="", district=""),
    ]
    pdf, issues = render_cards(bad, OPTIONS)
    found = {(i.ref, i.field, i.problem): i.count for i in issues}
    assert found == {("1", "name", "ellipsized"): 0, ("3", "name", "substituted"): 2}
    check_page(pdf, 0, bad)  # every card still scans
    text = pdfcheck.text(pdf)
    assert "山田　〓子〓" in text  # the stand-in mark prints where the font has no glyph
    assert "…" in text and long_name[:8] in text and long_name not in text
    # The shortened name still fills its box instead of running into the QR code.
    image = pdfcheck.render(pdf, 0)
    left, _top, _right, bottom = pdfcheck.card_box(A_ONE_51002, 0)
    scale = pdfcheck.DPI / 25.4
    qr_x = QR_BOX[0]
    gap = (round(left + (qr_x - 0.9) * scale), round(bottom - 38 * scale), round(left + (qr_x + 0.5) * scale),
           round(bottom - 30 * scale))
    assert pdfcheck.dark_fraction(image, gap) == 0


def _replace(card: CardData, **changes: str) -> CardData:
    values = {name: getattr(card, name) for name in CardData.__slots__}
    values.update(changes)
    return CardData(**values)


@pytest.mark.parametrize("workers", [1, 2])
def test_streamed_sheets_are_one_valid_pdf_in_order(workers: int) -> None:
    cards = make_cards(130)  # 13 sheets, chunks of 3 sheets: 5 chunks joined
    done: list[int] = []
    out = io.BytesIO()
    report = write_card_sheets(iter(cards), out, OPTIONS, workers=workers, chunk_pages=3, progress=done.append)
    pdf = out.getvalue()
    assert (report.cards, report.pages, sum(done)) == (130, 13, 130)
    reader = pypdf.PdfReader(io.BytesIO(pdf), strict=True)
    assert len(reader.pages) == 13
    for page in (0, 6, 12):
        check_page(pdf, page, cards[page * 10: page * 10 + 10])
    used = pdfcheck.fonts(pdf)
    assert all(used.values())
    # Each chunk brought its own subset; their tags must differ (printers cache fonts by name).
    subset_objects = [obj for obj in re.findall(rb"/BaseFont /([A-Z]{6})\+", pdf)]
    assert len(set(subset_objects)) == len(subset_objects) >= 5
    assert pdfcheck.page_text(pdf, 12).count("精華町") == 10


def test_an_empty_selection_still_gives_a_valid_pdf() -> None:
    out = io.BytesIO()
    report = write_card_sheets(iter([]), out, OPTIONS, workers=2)
    assert report.cards == 0
    assert len(pypdf.PdfReader(io.BytesIO(out.getvalue()), strict=True).pages) == 1


def test_the_merger_refuses_what_it_does_not_understand() -> None:
    with pytest.raises(MergeError):
        PdfConcatenator(io.BytesIO()).append(b"%PDF-1.4\nnot really\n")


def test_a_font_the_workers_cannot_load_fails_the_run_with_the_reason(tmp_path: Path) -> None:
    # Looks like TrueType from its table directory, but is not a font reportlab can parse.
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"\x00\x01\x00\x00\x00\x01\x00\x10\x00\x00\x00\x00" + b"glyf" + b"\x00" * 12 + b"junk" * 10)
    options = CardOptions(town_name="精華町", font_path=str(broken))
    with pytest.raises(fontmod.FontNotFound, match="cannot be embedded"):
        write_card_sheets(iter(make_cards(3)), io.BytesIO(), options, workers=2)
