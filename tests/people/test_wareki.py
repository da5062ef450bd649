"""Dates of birth in western and 和暦 notation."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evac.common.wareki import ERAS, era_of, format_wareki, parse_birth_date, today_in_japan

TODAY = date(2026, 6, 1)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.mark.parametrize(("text", "expected"), [
    ("1980-01-02", date(1980, 1, 2)),
    ("1980/1/2", date(1980, 1, 2)),
    ("1980.1.2", date(1980, 1, 2)),
    ("1980年1月2日", date(1980, 1, 2)),
    ("19800102", date(1980, 1, 2)),
    ("１９８０／１／２", date(1980, 1, 2)),
    ("１９８０－０１－０２", date(1980, 1, 2)),
    (" 1980-01-02 ", date(1980, 1, 2)),
    ("昭和55年1月2日", date(1980, 1, 2)),
    ("昭和５５年１月２日", date(1980, 1, 2)),
    ("昭和 55年 1月 2日", date(1980, 1, 2)),
    ("昭和五十五年一月二日", date(1980, 1, 2)),
    ("S55.1.2", date(1980, 1, 2)),
    ("S55/1/2", date(1980, 1, 2)),
    ("s55-01-02", date(1980, 1, 2)),
    ("Ｓ５５．１．２", date(1980, 1, 2)),
    ("昭55.1.2", date(1980, 1, 2)),
    ("平成元年1月8日", date(1989, 1, 8)),
    ("H1.1.8", date(1989, 1, 8)),
    ("H元.1.8", date(1989, 1, 8)),
    ("平成12年2月29日", date(2000, 2, 29)),
    ("令和2年3月4日", date(2020, 3, 4)),
    ("R2.3.4", date(2020, 3, 4)),
    ("令元.5.1", date(2019, 5, 1)),
    ("大正3年4月5日", date(1914, 4, 5)),
    ("T15.12.24", date(1926, 12, 24)),
    ("大元.7.30", date(1912, 7, 30)),
    ("明治45年7月29日", date(1912, 7, 29)),
    ("M33.1.1", date(1900, 1, 1)),
])
def test_accepted_notations(text: str, expected: date) -> None:
    assert parse_birth_date(text, today=TODAY) == expected


@pytest.mark.parametrize(("text", "valid"), [
    ("昭和64年1月7日", True),  # the last day of Shōwa
    ("昭和64年1月8日", False),  # already 平成元年1月8日
    ("平成元年1月8日", True),
    ("平成元年1月7日", False),
    ("平成31年4月30日", True),
    ("平成31年5月1日", False),
    ("令和元年5月1日", True),
    ("令和元年4月30日", False),
    ("大正元年7月30日", True),
    ("明治45年7月30日", False),
    ("大正15年12月24日", True),
    ("大正15年12月25日", False),
    ("昭和元年12月25日", True),
    ("昭和元年12月24日", False),
    ("明治元年10月23日", True),
    ("明治元年10月22日", False),
])
def test_era_boundaries(text: str, valid: bool) -> None:
    if valid:
        parse_birth_date(text, today=TODAY)
    else:
        with pytest.raises(ValueError, match="期間外"):
            parse_birth_date(text, today=TODAY)


@pytest.mark.parametrize("text", [
    "2月30日", "昭和55年2月30日", "1999-02-29", "平成11年2月29日", "1980-13-01", "1980/4/31", "S55.0.1",
])
def test_impossible_dates_are_refused_in_japanese(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_birth_date(text, today=TODAY)
    assert JAPANESE.search(str(caught.value))


@pytest.mark.parametrize("text", ["", "   ", "昭和", "令和2年", "S55", "X55.1.2", "1980-1", "abc", "平成0年1月1日"])
def test_unreadable_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_birth_date(text, today=TODAY)
    assert JAPANESE.search(str(caught.value))


def test_future_dates_are_refused() -> None:
    assert parse_birth_date("2026-06-01", today=TODAY) == TODAY
    with pytest.raises(ValueError, match="未来"):
        parse_birth_date("2026-06-02", today=TODAY)
    with pytest.raises(ValueError, match="未来"):
        parse_birth_date("R8.6.2", today=TODAY)
    with pytest.raises(ValueError, match="未来"):
        parse_birth_date("2999-01-01")  # the default bound is today in Japan


def test_formatting() -> None:
    assert format_wareki(date(1980, 1, 2)) == "昭和55年1月2日"
    assert format_wareki(date(1989, 1, 8)) == "平成元年1月8日"
    assert format_wareki(date(1989, 1, 7), short=True) == "S64.1.7"
    assert format_wareki(date(2019, 5, 1), short=True) == "R1.5.1"
    assert era_of(date(1926, 12, 25)).name == "昭和"
    with pytest.raises(ValueError):
        era_of(date(1868, 10, 22))


def _variants(day: date) -> list[str]:
    """The ways a register or a person writes a 和暦 date."""
    era = era_of(day)
    year = day.year - era.start.year + 1
    long_form, short_form = format_wareki(day), format_wareki(day, short=True)
    return [
        long_form,
        short_form,
        f"{era.name}{year}年{day.month}月{day.day}日",  # 1年 rather than 元年
        f"{era.name[0]}{year}.{day.month:02d}.{day.day:02d}",  # 昭55.01.02
        f"{era.letter.lower()}{year}/{day.month}/{day.day}",
        unicodedata.normalize("NFKC", short_form).translate(  # full width, as typed on a Japanese IME
            {ord(c): ord(c) + 0xFEE0 for c in "0123456789."} | {ord(era.letter): ord(era.letter) + 0xFEE0}),
    ]


@given(st.dates(min_value=ERAS[0].start, max_value=today_in_japan()))
def test_wareki_round_trip(day: date) -> None:
    for text in _variants(day):
        assert parse_birth_date(text) == day, text
    assert parse_birth_date(day.isoformat()) == day
