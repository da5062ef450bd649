"""Blank evacuee card (避難者カード), A4 portrait, to fill in by hand when the tablets are down.

The items are those of the 安否情報収集様式 (国民保護法 様式第1号), ① to ⑭, in that order, so
that desk staff can type a card later field by field; the 要配慮 (special needs) checkboxes are
evac's categories; ⑫⑬⑭ are the consent boxes for answering inquiries about the person.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from printables import draw
from printables.draw import mm
from printables.fonts import Font, load_font
from printables.texts import Bilingual

TITLE = Bilingual("避難者カード", "Evacuee registration card")
INTRO = Bilingual("わかる範囲でご記入ください。□ は当てはまるものに ✓ を付けてください。",
                  "Fill in what you can. Tick the boxes that apply.")
HEADER_FIELDS: tuple[Bilingual, ...] = (
    Bilingual("避難所名", "Shelter"), Bilingual("受付日時", "Date, time"),
    Bilingual("世帯番号", "Household no."), Bilingual("受付者", "Staff"),
)
# (number, label, options as tick boxes — empty for a write-in line, height in mm)
ITEMS: tuple[tuple[str, Bilingual, tuple[Bilingual, ...], float], ...] = (
    ("①", Bilingual("氏名", "Name"), (), 10),
    ("②", Bilingual("フリガナ", "Name in kana"), (), 9),
    ("③", Bilingual("生年月日", "Date of birth"),
     (Bilingual("西暦", "AD"), Bilingual("昭和", "Shōwa"), Bilingual("平成", "Heisei"), Bilingual("令和", "Reiwa")), 10),
    ("④", Bilingual("男女の別", "Sex"),
     (Bilingual("男", "Male"), Bilingual("女", "Female"), Bilingual("回答しない", "Prefer not to say")), 9),
    ("⑤", Bilingual("住所（郵便番号を含む）", "Address (with postcode)"), (), 12),
    ("⑥", Bilingual("国籍", "Nationality"),
     (Bilingual("日本", "Japan"), Bilingual("その他（　　　　　　　）", "Other")), 9),
    ("⑦", Bilingual("その他個人を識別するための情報", "Other identifying details"), (), 9),
    ("⑧", Bilingual("負傷（疾病）の該当", "Injured or ill?"),
     (Bilingual("負傷", "Injured"), Bilingual("疾病", "Ill"), Bilingual("該当なし", "Neither")), 9),
    ("⑨", Bilingual("負傷又は疾病の状況", "Injury or illness"), (), 9),
    ("⑩", Bilingual("現在の居所", "Where you are staying"),
     (Bilingual("この避難所", "This shelter"), Bilingual("在宅", "At home"), Bilingual("車中泊", "In a car"),
      Bilingual("その他", "Other")), 9),
    ("⑪", Bilingual("連絡先その他必要情報", "Phone and other information"), (), 9),
)
NEEDS: tuple[Bilingual, ...] = (
    Bilingual("高齢者", "Elderly"), Bilingual("障害者", "Disability"), Bilingual("乳幼児", "Infant"),
    Bilingual("妊産婦", "Pregnant / nursing"), Bilingual("外国人・言語支援", "Language support"),
    Bilingual("医療機器・慢性疾患", "Medical device / chronic illness"), Bilingual("要介護", "Needs care"),
    Bilingual("病気・けが", "Sick or injured"), Bilingual("アレルギー（　　　　　　　　）", "Allergy"),
    Bilingual("ペット（　　頭）", "Pets (number)"),
)
NEEDS_TITLE = Bilingual("要配慮事項", "Special needs")
CONSENT: tuple[tuple[str, Bilingual, Bilingual, Bilingual], ...] = (
    ("⑫", Bilingual("親族・同居者からの照会に対する回答の希望", "May we tell relatives and housemates who ask?"),
     Bilingual("回答を希望する", "Yes"), Bilingual("希望しない", "No")),
    ("⑬", Bilingual("知人からの照会に対する回答の希望", "May we tell acquaintances who ask?"),
     Bilingual("回答を希望する", "Yes"), Bilingual("希望しない", "No")),
    ("⑭", Bilingual("その他の者への回答又は公表への同意", "May we tell others, or publish, that you are here?"),
     Bilingual("同意する", "Yes"), Bilingual("同意しない", "No")),
)
CONSENT_NOTE = Bilingual(
    "⑫〜⑭は、安否の問い合わせに「この避難所にいる」と答えてよいかを伺うものです。",
    "Items 12–14 ask whether we may say that you are safe at this shelter when someone asks.")


MEMBERS_TITLE = Bilingual("一緒に避難した家族", "Family members with you")
MEMBERS_COLUMNS: tuple[Bilingual, ...] = (
    Bilingual("氏名", "Name"), Bilingual("続柄", "Relationship"), Bilingual("生年月日", "Date of birth"),
    Bilingual("要配慮事項", "Special needs"),
)


@dataclass(frozen=True)
class EvacueeCardForm:
    """Options for the blank form: a shelter name to pre-print, and the town's name."""

    town_name: str = ""
    shelter_name: str = ""
    drill: bool = False  # printed during a 訓練: every page says so


def render_evacuee_cards(form: EvacueeCardForm, copies: int = 1, *, font_path: str | None = None) -> bytes:
    """`copies` blank evacuee cards (one A4 page each) as a PDF."""
    font = load_font(font_path)
    buffer = io.BytesIO()
    with draw.plain_streams():
        c = draw.new_canvas(buffer, font, A4, f"{TITLE.ja} / {TITLE.en}")
        for _ in range(max(copies, 1)):
            _page(c, font, form)
            if form.drill:
                draw.drill_mark(c, font, *A4)
            c.showPage()
        c.save()
    return buffer.getvalue()


def _label(c: Canvas, font: Font, x: float, y: float, width: float, number: str, label: Bilingual) -> None:
    draw.fitted_text(c, font, x, y, width, 9.5, f"{number} {label.ja}".strip(), min_size=6)
    draw.fitted_text(c, font, x + 4.2 * mm if number else x, y - 3.6 * mm, width, 6.5, label.en, min_size=4.5)


def _page(c: Canvas, font: Font, form: EvacueeCardForm) -> None:
    width, height = A4
    left, right = 14 * mm, width - 14 * mm
    inner = right - left
    label_w = 50 * mm
    y = height - 18 * mm
    draw.fitted_text(c, font, left, y, 90 * mm, 20, TITLE.ja, bold=True)
    draw.fitted_text(c, font, left + 52 * mm, y, 60 * mm, 11, TITLE.en)
    draw.fitted_text(c, font, right, y, 50 * mm, 9, form.town_name, anchor="right")
    y -= 7 * mm
    draw.fitted_text(c, font, left, y, inner, 8.5, INTRO.ja, min_size=6)
    draw.fitted_text(c, font, left, y - 3.8 * mm, inner, 7, INTRO.en, min_size=5)
    y -= 8 * mm

    c.setLineWidth(0.5)
    c.setStrokeGray(0)
    # Header boxes: shelter, time, household number, staff (the shelter may come pre-printed).
    box_h = 11 * mm
    box_w = inner / 2
    for i, field in enumerate(HEADER_FIELDS):
        col, row = i % 2, i // 2
        x, top = left + col * box_w, y - row * box_h
        c.rect(x, top - box_h, box_w, box_h, stroke=1, fill=0)
        _label(c, font, x + 1.5 * mm, top - 4.2 * mm, 26 * mm, "", field)
        if i == 0 and form.shelter_name:
            draw.fitted_text(c, font, x + 28 * mm, top - 7 * mm, box_w - 30 * mm, 11, form.shelter_name, min_size=6)
    y -= 2 * box_h + 3 * mm

    # ①–⑪: label cell, then a write-in area or tick boxes.
    for number, label, options, height_mm in ITEMS:
        h = height_mm * mm
        c.setFillGray(0.93)
        c.rect(left, y - h, label_w, h, stroke=0, fill=1)
        c.setFillGray(0)
        c.rect(left, y - h, inner, h, stroke=1, fill=0)
        c.line(left + label_w, y, left + label_w, y - h)
        _label(c, font, left + 1.5 * mm, y - 4.5 * mm, label_w - 3 * mm, number, label)
        x = left + label_w + 3 * mm
        if number == "③":
            # Era boxes, then the blanks for the date.
            for option in options:
                x = _option(c, font, x, y - h / 2 - 1.6 * mm, option)
            draw.text(c, font, x + 6 * mm, y - h / 2 - 1.2 * mm, 10, "年　　　月　　　日")
            draw.text(c, font, x + 6 * mm, y - h / 2 - 4.6 * mm, 6, "year　　　month　　　day")
        elif number == "⑤":
            draw.text(c, font, x, y - 5 * mm, 10, "〒　　　　－")
        else:
            for option in options:
                x = _option(c, font, x, y - h / 2 - 1.6 * mm, option)
        y -= h

    # 要配慮: tick boxes in three columns.
    y -= 3 * mm
    rows = (len(NEEDS) + 2) // 3
    h = (7 + rows * 8.5) * mm
    c.rect(left, y - h, inner, h, stroke=1, fill=0)
    draw.text(c, font, left + 1.5 * mm, y - 5 * mm, 10, NEEDS_TITLE.ja, bold=True)
    draw.text(c, font, left + 22 * mm, y - 5 * mm, 7, NEEDS_TITLE.en)
    column_w = (inner - 3 * mm) / 3
    for i, need in enumerate(NEEDS):
        col, row = i % 3, i // 3
        _option(c, font, left + 1.5 * mm + col * column_w, y - 12 * mm - row * 8.5 * mm, need, width=column_w - 2 * mm)
    y -= h + 3 * mm

    # ⑫⑬⑭: consent, each with a yes and a no box.
    for number, question, yes, no in CONSENT:
        h = 9.5 * mm
        c.setFillGray(0.93)
        c.rect(left, y - h, inner * 0.62, h, stroke=0, fill=1)
        c.setFillGray(0)
        c.rect(left, y - h, inner, h, stroke=1, fill=0)
        c.line(left + inner * 0.62, y, left + inner * 0.62, y - h)
        _label(c, font, left + 1.5 * mm, y - 4.5 * mm, inner * 0.62 - 3 * mm, number, question)
        x = left + inner * 0.62 + 3 * mm
        x = _option(c, font, x, y - h / 2 - 1.6 * mm, yes)
        _option(c, font, x, y - h / 2 - 1.6 * mm, no)
        y -= h
    draw.fitted_text(c, font, left, y - 4.5 * mm, inner, 8, CONSENT_NOTE.ja, min_size=5.5)
    draw.fitted_text(c, font, left, y - 8.2 * mm, inner, 6.5, CONSENT_NOTE.en, min_size=4.5)
    y -= 13 * mm

    # Family members who came along, so a household is registered from one card.
    draw.text(c, font, left, y - 4 * mm, 10, MEMBERS_TITLE.ja, bold=True)
    draw.text(c, font, left + font.width(MEMBERS_TITLE.ja, 10) + 3 * mm, y - 4 * mm, 7, MEMBERS_TITLE.en)
    y -= 6 * mm
    widths = [0.36, 0.14, 0.22, 0.28]
    row_h = 7.5 * mm
    rows = max(int((y - 8 * mm) / row_h) - 1, 1)
    c.rect(left, y - row_h * (rows + 1), inner, row_h * (rows + 1), stroke=1, fill=0)
    x = left
    for share, heading in zip(widths, MEMBERS_COLUMNS, strict=True):
        c.setFillGray(0.93)
        c.rect(x, y - row_h, inner * share, row_h, stroke=1, fill=1)
        c.setFillGray(0)
        _label(c, font, x + 1.5 * mm, y - 3.3 * mm, inner * share - 3 * mm, "", heading)
        c.line(x, y, x, y - row_h * (rows + 1))
        x += inner * share
    for i in range(1, rows + 1):
        c.line(left, y - row_h * (i + 1), right, y - row_h * (i + 1))


def _option(c: Canvas, font: Font, x: float, y: float, option: Bilingual, *, width: float | None = None) -> float:
    """A tick box with its label (Japanese, English below); returns the x after it."""
    draw.checkbox(c, x, y - 0.4 * mm, 3.4 * mm)
    ja_w = font.width(option.ja, 9.5)
    en_w = font.width(option.en, 6)
    room = width - 5 * mm if width is not None else max(ja_w, en_w)
    draw.fitted_text(c, font, x + 5 * mm, y + 0.5 * mm, room, 9.5, option.ja, min_size=6)
    draw.fitted_text(c, font, x + 5 * mm, y - 2.6 * mm, room, 6, option.en, min_size=4.5)
    return x + 5 * mm + room + 5 * mm
