"""Shelter poster (A4 portrait) for the shelter's door: its name, a QR code of the public crowding
page, and what to bring, in Japanese and English."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from printables import draw
from printables.draw import mm
from printables.fonts import Font, load_font
from printables.texts import (
    POSTER_BRING,
    POSTER_FILL_IN,
    POSTER_HEADING,
    POSTER_ITEMS,
    POSTER_PETS,
    POSTER_RECEPTION,
    POSTER_SCAN,
    POSTER_SCAN_HINT,
    Bilingual,
)


@dataclass(frozen=True)
class ShelterPoster:
    """What a shelter's poster says. `crowding_url` is the public page (no personal data on it)."""

    shelter_name: str
    crowding_url: str
    town_name: str
    shelter_kana: str = ""
    address: str = ""
    heading: Bilingual = POSTER_HEADING
    drill: bool = False  # printed during a 訓練: the page says so
    items: tuple[Bilingual, ...] = POSTER_ITEMS
    notes: tuple[Bilingual, ...] = field(default=(POSTER_PETS, POSTER_RECEPTION))


def render_posters(posters: list[ShelterPoster], *, font_path: str | None = None) -> bytes:
    """One A4 page per shelter, as a PDF."""
    font = load_font(font_path)
    width, height = A4
    buffer = io.BytesIO()
    with draw.plain_streams():
        c = draw.new_canvas(buffer, font, A4, "避難所ポスター / Shelter poster")
        for poster in posters or [ShelterPoster("", "", "")]:
            _page(c, font, poster, width, height)
            if poster.drill:
                draw.drill_mark(c, font, width, height)
            c.showPage()
        c.save()
    return buffer.getvalue()


def render_poster(poster: ShelterPoster, *, font_path: str | None = None) -> bytes:
    """A single shelter's poster as a PDF."""
    return render_posters([poster], font_path=font_path)


def _page(c: Canvas, font: Font, poster: ShelterPoster, width: float, height: float) -> None:
    margin = 15 * mm
    inner = width - 2 * margin
    # Heading band: dark, so the poster is recognisable from across a gym.
    c.setFillGray(0.12)
    c.rect(0, height - 30 * mm, width, 30 * mm, stroke=0, fill=1)
    c.setFillGray(1)
    draw.fitted_text(c, font, margin, height - 15 * mm, inner, 24, poster.heading.ja, bold=True)
    draw.fitted_text(c, font, margin, height - 24 * mm, inner, 13, poster.heading.en)
    c.setFillGray(0)

    y = height - 50 * mm
    draw.fitted_text(c, font, margin, y, inner, 40, poster.shelter_name, min_size=16, bold=True)
    y -= 9 * mm
    draw.fitted_text(c, font, margin, y, inner, 13, poster.shelter_kana, min_size=8)
    y -= 7 * mm
    draw.fitted_text(c, font, margin, y, inner, 11, poster.address, min_size=7)

    # The QR code and what it is for.
    qr_size = 62 * mm
    qr_top = y - 6 * mm
    c.setStrokeGray(0.5)
    c.setLineWidth(0.8)
    c.roundRect(margin, qr_top - qr_size - 6 * mm, inner, qr_size + 6 * mm, 4 * mm, stroke=1, fill=0)
    if poster.crowding_url:
        draw.qr_code(c, poster.crowding_url, margin + 3 * mm, qr_top - qr_size - 3 * mm, qr_size, error_correction="M")
    text_x = margin + qr_size + 8 * mm
    text_w = width - margin - 5 * mm - text_x
    ty = qr_top - 16 * mm
    draw.fitted_text(c, font, text_x, ty, text_w, 17, POSTER_SCAN.ja, bold=True)
    ty -= 8 * mm
    draw.fitted_text(c, font, text_x, ty, text_w, 11, POSTER_SCAN.en)
    ty -= 12 * mm
    draw.fitted_text(c, font, text_x, ty, text_w, 12, POSTER_SCAN_HINT.ja)
    ty -= 6 * mm
    draw.fitted_text(c, font, text_x, ty, text_w, 9.5, POSTER_SCAN_HINT.en)
    ty -= 12 * mm
    draw.fitted_text(c, font, text_x, ty, text_w, 8.5, poster.crowding_url, min_size=5)

    # What to bring: a tick list.
    y = qr_top - qr_size - 18 * mm
    draw.fitted_text(c, font, margin, y, inner, 18, f"{POSTER_BRING.ja}　{POSTER_BRING.en}", bold=True)
    y -= 3 * mm
    c.setLineWidth(1.2)
    c.setStrokeGray(0)
    c.line(margin, y, width - margin, y)
    y -= 9 * mm
    column_w = inner / 2
    for i, item in enumerate(poster.items):
        col, row = i % 2, i // 2
        x = margin + col * column_w
        iy = y - row * 13 * mm
        draw.checkbox(c, x, iy - 0.5 * mm, 4 * mm)
        draw.fitted_text(c, font, x + 6 * mm, iy, column_w - 8 * mm, 11.5, item.ja, min_size=7)
        draw.fitted_text(c, font, x + 6 * mm, iy - 4.8 * mm, column_w - 8 * mm, 8.5, item.en, min_size=5.5)
    y -= ((len(poster.items) + 1) // 2) * 13 * mm + 2 * mm
    for note in poster.notes:
        draw.fitted_text(c, font, margin, y, inner, 11.5, note.ja, min_size=7)
        draw.fitted_text(c, font, margin, y - 5 * mm, inner, 9, note.en, min_size=5.5)
        y -= 12 * mm
    # Lines for the staff to fill in on the day.
    for label in POSTER_FILL_IN:
        draw.fitted_text(c, font, margin, y, 60 * mm, 11, label.ja, min_size=7)
        draw.fitted_text(c, font, margin, y - 4.5 * mm, 60 * mm, 8.5, label.en, min_size=5.5)
        c.setLineWidth(0.6)
        c.setStrokeGray(0.3)
        c.line(margin + 62 * mm, y - 5 * mm, width - margin, y - 5 * mm)
        y -= 13 * mm
    draw.fitted_text(c, font, width - margin, 10 * mm, inner, 10, poster.town_name, anchor="right")
