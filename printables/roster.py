"""Shelter roster printout (避難者名簿): A4 landscape, for when the power or the network fails.

Plain rows in (the caller's order), a PDF out. Every page repeats the column headings and says
which shelter, when it was printed (Asia/Tokyo) and "page x / y", so a loose page is still
useful. Rows have a fixed height: long names shrink, then are cut with "…", and are reported.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen.canvas import Canvas

from printables import draw
from printables.cards import TextIssue
from printables.draw import mm
from printables.fonts import Font, load_font
from printables.texts import Bilingual

TOKYO = ZoneInfo("Asia/Tokyo")

# The needs columns, in evac's order: (key, heading). A row lists the keys that apply.
NEED_COLUMNS: tuple[tuple[str, Bilingual], ...] = (
    ("elderly", Bilingual("高齢", "Elderly")),
    ("disability", Bilingual("障害", "Disab.")),
    ("infant", Bilingual("乳幼児", "Infant")),
    ("pregnant", Bilingual("妊産婦", "Pregn.")),
    ("language", Bilingual("言語", "Lang.")),
    ("allergy", Bilingual("アレル", "Allergy")),
    ("medical", Bilingual("医療", "Medical")),
    ("care", Bilingual("要介護", "Care")),
    ("injury", Bilingual("傷病", "Sick")),
)
TITLE = Bilingual("避難者名簿", "Shelter roster")


@dataclass(frozen=True)
class RosterRow:
    """One person staying at the shelter. `ref` identifies the row in reports and is not printed."""

    ref: str
    name: str
    kana: str = ""
    sex: str = ""  # as it should print: 男, 女, —
    age: int | None = None
    household_number: str = ""
    status: str = ""  # as it should print: 在所, 外出, …
    checked_in_at: datetime | None = None
    needs: frozenset[str] = frozenset()
    note: str = ""  # allergy details, pets, anything staff must see


@dataclass(frozen=True)
class RosterHeader:
    """Which shelter, when printed (timezone-aware; printed in Asia/Tokyo), and the town."""

    shelter_name: str
    printed_at: datetime
    town_name: str = ""
    summary: str = ""  # e.g. "在所 120 名・外出 8 名"
    drill: bool = False  # printed during a 訓練: every page says so


@dataclass
class RosterReport:
    """Pages printed and the rows whose text had to change."""

    pages: int = 0
    rows: int = 0
    issues: list[TextIssue] = field(default_factory=list)


# Columns: key, heading, width in mm (the needs columns follow "checked in", notes take the rest).
_COLUMNS: tuple[tuple[str, Bilingual, float], ...] = (
    ("no", Bilingual("No.", ""), 9),
    ("name", Bilingual("氏名", "Name"), 38),
    ("kana", Bilingual("フリガナ", "Kana"), 32),
    ("sex", Bilingual("性別", "Sex"), 8),
    ("age", Bilingual("年齢", "Age"), 8.5),
    ("household", Bilingual("世帯番号", "Household"), 21),
    ("status", Bilingual("状態", "Status"), 11),
    ("checked_in", Bilingual("受付", "Checked in"), 18),
)
_NEED_WIDTH = 8.5
_MIN_SIZE = {"name": 6.5, "kana": 6, "note": 5.5}
_MARGIN = 10 * mm
_ROW_H = 6.2 * mm
_HEAD_H = 8.5 * mm
_TOP = 20 * mm  # title block
_BOTTOM = 6 * mm  # footer


def rows_per_page() -> int:
    """How many rows fit on one page under the headings."""
    _width, height = landscape(A4)
    return int((height - 2 * _MARGIN - _TOP - _BOTTOM - _HEAD_H) // _ROW_H)


def render_roster(rows: Iterable[RosterRow], header: RosterHeader, *,
                  font_path: str | None = None) -> tuple[bytes, RosterReport]:
    """The roster as a PDF (A4 landscape) and what had to be shortened or substituted."""
    font = load_font(font_path)
    items = list(rows)  # page x / y needs the count; a shelter's roster fits in memory
    per_page = rows_per_page()
    pages = max(math.ceil(len(items) / per_page), 1)
    report = RosterReport(pages=pages, rows=len(items))
    buffer = io.BytesIO()
    with draw.plain_streams():
        c = draw.new_canvas(buffer, font, landscape(A4), f"{TITLE.ja} {header.shelter_name}")
        for page in range(pages):
            chunk = items[page * per_page: (page + 1) * per_page]
            _page(c, font, header, chunk, page * per_page, page + 1, pages, report)
            if header.drill:
                draw.drill_mark(c, font, *landscape(A4))
            c.showPage()
        c.save()
    return buffer.getvalue(), report


def _columns(total_width: float) -> list[tuple[str, Bilingual, float]]:
    fixed = list(_COLUMNS) + [(key, label, _NEED_WIDTH) for key, label in NEED_COLUMNS]
    used = sum(width for _k, _label, width in fixed) * mm
    # The note column takes whatever is left.
    return [(key, label, width * mm) for key, label, width in fixed] + [("note", Bilingual("備考", "Notes"), total_width - used)]


def _page(c: Canvas, font: Font, header: RosterHeader, rows: list[RosterRow], offset: int, page: int,
          pages: int, report: RosterReport) -> None:
    width, height = landscape(A4)
    inner = width - 2 * _MARGIN
    top = height - _MARGIN
    printed = header.printed_at.astimezone(TOKYO)
    draw.fitted_text(c, font, _MARGIN, top - 7 * mm, inner * 0.55, 15,
                     f"{TITLE.ja}　{header.shelter_name}", min_size=9, bold=True)
    draw.fitted_text(c, font, _MARGIN, top - 12.5 * mm, inner * 0.55, 8, f"{TITLE.en} · {header.town_name}".strip(" ·"))
    stamp = f"印刷 Printed {printed:%Y-%m-%d %H:%M} (JST)"
    draw.fitted_text(c, font, width - _MARGIN, top - 7 * mm, inner * 0.4, 9, stamp, anchor="right")
    draw.fitted_text(c, font, width - _MARGIN, top - 12.5 * mm, inner * 0.4, 9, header.summary, anchor="right")
    draw.fitted_text(c, font, _MARGIN, top - 17.5 * mm, inner, 6.5,
                     "取扱注意：個人情報を含みます。使用後は回収・シュレッダー処理してください / "
                     "Confidential: personal data. Collect and shred after use.")

    columns = _columns(inner)
    y = top - _TOP
    # Heading row, repeated on every page.
    c.setFillGray(0.85)
    c.rect(_MARGIN, y - _HEAD_H, inner, _HEAD_H, stroke=0, fill=1)
    c.setFillGray(0)
    x = _MARGIN
    for _key, label, col_w in columns:
        draw.fitted_text(c, font, x + col_w / 2, y - 4 * mm, col_w - 1 * mm, 7.5, label.ja, anchor="center",
                         min_size=5)
        draw.fitted_text(c, font, x + col_w / 2, y - 7 * mm, col_w - 1 * mm, 5.5, label.en, anchor="center",
                         min_size=4)
        x += col_w
    y -= _HEAD_H
    for i, row in enumerate(rows):
        if i % 2:
            c.setFillGray(0.95)
            c.rect(_MARGIN, y - _ROW_H, inner, _ROW_H, stroke=0, fill=1)
            c.setFillGray(0)
        base = y - _ROW_H + 2 * mm
        x = _MARGIN
        for key, _label, col_w in columns:
            value, size, anchor = _cell(row, key, offset + i + 1)
            cx = x + col_w / 2 if anchor == "center" else x + 1 * mm
            fitted = draw.fitted_text(c, font, cx, base, col_w - 2 * mm, size, value, anchor=anchor,
                                      min_size=_MIN_SIZE.get(key, 5), bold=key == "name")
            if fitted.substituted and key in ("name", "kana", "note"):
                report.issues.append(TextIssue(row.ref, key, "substituted", fitted.substituted))
            if fitted.ellipsized and key in ("name", "kana", "note"):
                report.issues.append(TextIssue(row.ref, key, "ellipsized"))
            x += col_w
        y -= _ROW_H
    # Grid: verticals through the heading and the rows, a line under each row.
    bottom = y
    c.setLineWidth(0.3)
    c.setStrokeGray(0.45)
    x = _MARGIN
    for _key, _label, col_w in columns:
        c.line(x, top - _TOP, x, bottom)
        x += col_w
    c.line(x, top - _TOP, x, bottom)
    row_y = top - _TOP
    for _ in range(len(rows) + 2):
        c.line(_MARGIN, row_y, _MARGIN + inner, row_y)
        row_y -= _HEAD_H if row_y == top - _TOP else _ROW_H
    draw.text(c, font, width / 2, _MARGIN, 9, f"{page} / {pages}", anchor="center")
    draw.fitted_text(c, font, _MARGIN, _MARGIN, inner * 0.4, 7, header.shelter_name)


def _cell(row: RosterRow, key: str, number: int) -> tuple[str, float, str]:
    """The text of one cell, its size and its alignment."""
    if key == "no":
        return str(number), 8, "center"
    if key == "name":
        return row.name, 10, "left"
    if key == "kana":
        return row.kana, 8, "left"
    if key == "sex":
        return row.sex, 8.5, "center"
    if key == "age":
        return "" if row.age is None else str(row.age), 8.5, "center"
    if key == "household":
        return row.household_number, 8, "left"
    if key == "status":
        return row.status, 8, "center"
    if key == "checked_in":
        return (row.checked_in_at.astimezone(TOKYO).strftime("%m/%d %H:%M") if row.checked_in_at else ""), 8, "center"
    if key == "note":
        return row.note, 7.5, "left"
    return ("●" if key in row.needs else ""), 8, "center"
