"""Poster, blank evacuee card and roster printout: readable, scannable, fonts embedded."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pypdf

from printables.evacuee_card import EvacueeCardForm, render_evacuee_cards
from printables.poster import ShelterPoster, render_poster
from printables.roster import NEED_COLUMNS, RosterHeader, RosterRow, render_roster, rows_per_page
from tests.printables import pdfcheck

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_poster_names_the_shelter_and_its_qr_code_opens_the_crowding_page() -> None:
    url = "http://127.0.0.1:8000/?from=poster"
    pdf = render_poster(ShelterPoster("精華町立東光小学校体育館", url, "精華町", "セイカチョウリツトウコウショウガッコウ",
                                      "京都府相楽郡精華町大字山田小字南下15"))
    assert pdfcheck.page_count(pdf) == 1
    assert [code.text for code in pdfcheck.decode(pdfcheck.render(pdf, 0))] == [url]
    text = pdfcheck.text(pdf)
    for expected in ("精華町立東光小学校体育館", "指定避難所", "Designated evacuation shelter", "避難するときの持ち物",
                     "What to bring", "飲料水", "Drinking water", "お薬手帳"):
        assert expected in text
    assert all(pdfcheck.fonts(pdf).values())


def test_blank_evacuee_card_has_every_item_of_the_safety_information_form() -> None:
    pdf = render_evacuee_cards(EvacueeCardForm(town_name="精華町", shelter_name="精華町立精華台小学校"), copies=2)
    assert pdfcheck.page_count(pdf) == 2
    text = pdfcheck.page_text(pdf, 0)
    items = ["①", "氏名", "②", "フリガナ", "③", "生年月日", "④", "男女の別", "⑤", "住所", "⑥", "国籍", "⑦",
             "その他個人を識別するための情報", "⑧", "負傷（疾病）の該当", "⑨", "負傷又は疾病の状況", "⑩", "現在の居所",
             "⑪", "連絡先その他必要情報", "⑫", "親族・同居者からの照会に対する回答の希望", "⑬",
             "知人からの照会に対する回答の希望", "⑭", "その他の者への回答又は公表への同意"]
    for item in items:
        assert item in text, item
    for need in ("高齢者", "障害者", "乳幼児", "妊産婦", "外国人・言語支援", "アレルギー", "医療機器・慢性疾患", "要介護",
                 "病気・けが"):
        assert need in text, need
    assert text.index("①") < text.index("⑤") < text.index("⑪") < text.index("⑫") < text.index("⑭")
    assert "精華町立精華台小学校" in text
    assert all(pdfcheck.fonts(pdf).values())
    # Tick boxes are really drawn: the consent column holds dark strokes.
    assert pdfcheck.dark_fraction(pdfcheck.render(pdf, 0), (1000, 1800, 1600, 2000)) > 0.005


def _rows(count: int) -> list[RosterRow]:
    start = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
    keys = [key for key, _label in NEED_COLUMNS]
    return [RosterRow(ref=str(n), name=f"避難者　{n:03d}", kana=f"ヒナンシャ　{n:03d}", sex="女" if n % 2 else "男",
                      age=n % 90, household_number=f"01{n // 3:08d}", status="在所" if n % 7 else "外出",
                      checked_in_at=start + timedelta(minutes=n), needs=frozenset({keys[n % len(keys)]}),
                      note="卵アレルギー" if n % 10 == 0 else "")
            for n in range(1, count + 1)]


def test_roster_repeats_its_header_numbers_pages_and_prints_tokyo_time() -> None:
    per_page = rows_per_page()
    rows = _rows(per_page * 2 + 3)
    printed = datetime(2026, 11, 24, 3, 5, tzinfo=UTC)  # 12:05 in Tokyo
    pdf, report = render_roster(rows, RosterHeader("精華町立東光小学校体育館", printed, "精華町", "在所 55 名"))
    assert (report.pages, report.rows, report.issues) == (3, len(rows), [])
    reader = pypdf.PdfReader(io.BytesIO(pdf), strict=True)
    box = reader.pages[0].mediabox
    assert float(box.width) > float(box.height)  # landscape
    for page in range(3):
        text = pdfcheck.page_text(pdf, page)
        assert f"{page + 1} / 3" in text
        assert "2026-11-24 12:05 (JST)" in text
        for heading in ("氏名", "フリガナ", "世帯番号", "受付", "高齢", "乳幼児", "要介護", "備考"):
            assert heading in text, (page, heading)
    first, last = pdfcheck.page_text(pdf, 0), pdfcheck.page_text(pdf, 2)
    assert "避難者　001" in first and f"避難者　{per_page:03d}" in first and f"避難者　{per_page + 1:03d}" not in first
    assert f"避難者　{len(rows):03d}" in last
    assert "11/24 09:31" in first  # check-in times in Tokyo time
    assert first.count("●") == per_page  # one need each
    assert all(pdfcheck.fonts(pdf).values())
    ARTIFACTS.mkdir(exist_ok=True)
    pdfcheck.render(pdf, 0, 110).save(ARTIFACTS / "printables-roster.png")


def test_roster_reports_names_it_had_to_shorten_or_mark() -> None:
    rows = [RosterRow(ref="7", name="長" * 200, kana=""), RosterRow(ref="8", name="😀山田")]
    pdf, report = render_roster(rows, RosterHeader("避難所", datetime.now(UTC)))
    assert {(i.ref, i.field, i.problem) for i in report.issues} == {("7", "name", "ellipsized"),
                                                                      ("8", "name", "substituted")}
    assert "〓山田" in pdfcheck.text(pdf)


def test_an_empty_roster_is_one_page_with_headings() -> None:
    pdf, report = render_roster([], RosterHeader("避難所", datetime.now(UTC)))
    assert report.pages == 1 and "氏名" in pdfcheck.page_text(pdf, 0) and "1 / 1" in pdfcheck.page_text(pdf, 0)
