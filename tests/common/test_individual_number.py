"""The 個人番号 detector: every way people, IMEs and card readers spell 12 digits; not other numbers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evac.common.textnorm import looks_like_individual_number

# Digit sets: ASCII, full-width, kanji, Arabic-Indic, Devanagari, mathematical bold.
SCRIPTS = ["0123456789", "０１２３４５６７８９", "〇一二三四五六七八九", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९",
           "".join(chr(0x1D7CE + i) for i in range(10))]
SEPARATORS = ["", " ", "  ", "\u3000", "-", "－", "ー", "ｰ", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014",
              "\u2212", ".", "．", "/", "／", "_", "・", "\t"]
GROUPINGS = [(4, 4, 4), (3, 3, 3, 3), (6, 6), (12,), (1,) * 12, (2, 4, 6), (4, 8)]


@st.composite
def spelled_numbers(draw: st.DrawFn) -> str:
    digits = draw(st.text(alphabet="0123456789", min_size=12, max_size=12))
    script = draw(st.sampled_from(SCRIPTS))
    grouping = draw(st.sampled_from(GROUPINGS))
    separator = draw(st.sampled_from(SEPARATORS))
    groups, at = [], 0
    for size in grouping:
        groups.append("".join(script[int(d)] for d in digits[at:at + size]))
        at += size
    text = separator.join(groups)
    if draw(st.booleans()):
        text = f"({text})" if draw(st.booleans()) else f"番号 {text} です"
    return text


@settings(max_examples=400, deadline=None)
@given(spelled_numbers())
def test_every_spelling_of_twelve_digits_is_seen(text: str) -> None:
    assert looks_like_individual_number(text), text


@pytest.mark.parametrize("text", [
    "4729ー1836ー5025", "4729‐1836‐5025", "4729−1836−5025", "4729–1836–5025", "4729.1836.5025", "4729/1836/5025",
    "4729_1836_5025", "4729  1836  5025", "(4729)1836-5025", "472 918 365 025", "472918-365025",
    "4 7 2 9 1 8 3 6 5 0 2 5", "四七二九一八三六五〇二五", "٤٧٢٩١٨٣٦٥٠٢٥", "メモ：4729 1836 5025",
])
def test_what_the_review_typed_is_seen(text: str) -> None:
    assert looks_like_individual_number(text)


@st.composite
def ordinary_numbers(draw: st.DrawFn) -> str:
    """Phone numbers, postal codes, dates and times, as people write them."""
    kind = draw(st.sampled_from(["phone", "mobile", "postal", "date", "datetime", "jan"]))
    n = lambda k: draw(st.text(alphabet="0123456789", min_size=k, max_size=k))  # noqa: E731
    sep = draw(st.sampled_from(["-", "ー", "－", " ", ""]))
    return {"phone": f"0{n(3)}{sep}{n(2)}{sep}{n(4)}", "mobile": f"090{sep}{n(4)}{sep}{n(4)}",
            "postal": f"〒{n(3)}-{n(4)}", "date": f"{n(4)}/{n(2)}/{n(2)}",
            "datetime": f"{n(4)}-{n(2)}-{n(2)} {n(2)}:{n(2)}", "jan": n(13)}[kind]


@settings(max_examples=300, deadline=None)
@given(ordinary_numbers())
def test_phone_numbers_postal_codes_and_dates_pass(text: str) -> None:
    assert not looks_like_individual_number(text), text


@pytest.mark.parametrize("text", [
    "0774-95-1234", "090-1234-5678", "京都府相楽郡精華町光台７丁目４３番地", "1234567890123", "12345678901",
    "19800102", "2026-12-02 10:00", "〒619-0285", "2026-12-02T10:00:00+09:00", "一郎", "四丁目二番",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.8078.73 Safari/537.36",
])
def test_legitimate_data_passes(text: str) -> None:
    assert not looks_like_individual_number(text)
