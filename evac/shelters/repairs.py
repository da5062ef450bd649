"""Reading one cell of a shelter list, and the repairs evac makes when the meaning is unambiguous.

Each function takes the cell as published and returns what evac stores, or raises `BadValue`
with the reason. A value that had to be repaired comes back with the repaired text, so that the
import report can list it (line, column, before → after). What is not unambiguous is refused,
never guessed: the operator is shown the line and column and fixes the file.

Repairs made here:
- flags: 1, 〇, ○, ◯, 有, あり, true → yes; empty, 0, ×, ✕, 無, なし, false, - → no
  (towns write the 自治体標準 flags in all of these);
- full-width digits, signs and decimal points in numbers, codes and coordinates (NFKC);
- a 全国地方公共団体コード that lost its leading zero in a spreadsheet (92011 → 092011), only
  when the check digit of the restored six-digit code verifies; a five-digit code without check
  digit (26366 → 263664) when it cannot also be read as a code that lost its zero;
- a free-text 想定収容人数 such as 800(2㎡あたり1人） or 約300人: the number is taken and the
  text is kept as a note;
- latitude and longitude given the wrong way round (Japan's latitudes and longitudes do not
  overlap, so a swap is unambiguous).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Generic, TypeVar

from flask_babel import gettext as _

# Loose bounding box of Japan (Okinotorishima to Etorofu, Yonaguni to Minamitorishima): outside it
# a coordinate is probably wrong, but still a coordinate, so only a warning.
JAPAN_LAT = (20.0, 46.0)
JAPAN_LON = (122.0, 154.0)
# Above any real site (the largest wide-area refuges hold some 100,000) and far below INTEGER's limit.
MAX_CAPACITY = 1_000_000

TRUE_FLAGS = frozenset({"1", "〇", "○", "◯", "●", "有", "あり", "有り", "true", "yes", "y", "対象", "該当"})
FALSE_FLAGS = frozenset({"", "0", "×", "✕", "✖", "x", "無", "なし", "無し", "false", "no", "n", "-", "―", "ー",
                         "非該当"})
# Said of a capacity that is not known: stored as unknown, never as zero.
UNKNOWN_CAPACITY = frozenset({"-", "―", "ー", "不明", "未定", "なし", "無し", "調査中", "未設定"})

_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_INTEGER = re.compile(r"\d+")
# Bracketed remarks inside a capacity: 800(2㎡あたり1人), 300[体育館のみ], 500「屋内」
_BRACKETED = re.compile(r"\([^()]*\)?|\[[^\[\]]*\]?|「[^「」]*」?|【[^【】]*】?")
_CAPACITY_WORDS = re.compile(r"^(?:約|概ね|おおむね|最大|計|合計)?(\d+)(?:人|名)?(?:程度|まで|収容|程)?$")
_PREFECTURES = range(1, 48)


T = TypeVar("T")


class BadValue(ValueError):
    """A cell that cannot be read; the message says why, in the operator's language."""


@dataclass(frozen=True)
class Read(Generic[T]):
    """A value read from a cell, with the repaired text when it was repaired."""

    value: T
    repaired: str | None = None  # the cell as evac read it, when that differs from the file
    note: str | None = None  # text kept beside the value (a free-text capacity)


def halfwidth(raw: str) -> str:
    """Full-width digits, letters and signs as ASCII (NFKC), without surrounding spaces."""
    return (raw if raw.isascii() else unicodedata.normalize("NFKC", raw)).strip()


def flag(raw: str) -> Read[bool]:
    """A yes/no cell of a published list (see the module docstring for the spellings)."""
    value = halfwidth(raw)
    key = value.lower()
    as_published = raw.strip()
    if key in TRUE_FLAGS or value in TRUE_FLAGS:
        return Read(True, None if as_published == "1" else "1")
    if key in FALSE_FLAGS or value in FALSE_FLAGS:
        return Read(False, None if as_published == "" else "")
    raise BadValue(_("1 か空欄にしてください (〇/×、有/無も可): %(value)s", value=raw))


def decimal(raw: str) -> Read[float]:
    """A decimal number such as a coordinate; full-width digits are repaired."""
    text = raw.strip()
    if text.isascii() and _DECIMAL.fullmatch(text):  # as nearly every coordinate is written
        return Read(float(text))
    value = halfwidth(text).replace("°", "")
    if not _DECIMAL.fullmatch(value):
        raise BadValue(_("数値ではありません: %(value)s", value=raw))
    return Read(float(value), value if value != text else None)


def check_digit(five_digits: str) -> str:
    """The check digit of a 全国地方公共団体コード (JIS X 0402) for its first five digits.

    The published rule: weights 6, 5, 4, 3, 2 on the five digits, sum modulo 11, and the check
    digit is 11 minus the remainder, keeping only its last digit (remainder 0 → 1, 1 → 0).
    """
    d = [int(c) for c in five_digits]
    return str((11 - (d[0] * 6 + d[1] * 5 + d[2] * 4 + d[3] * 3 + d[4] * 2) % 11) % 10)


@functools.lru_cache(maxsize=4096)  # a national list names about 1,700 municipalities, row after row
def with_check_digit(five_digits: str) -> str:
    """The six-digit 全国地方公共団体コード for a five-digit one (e.g. 26366 → 263664)."""
    return five_digits + check_digit(five_digits)


def _valid_six(code: str) -> bool:
    return int(code[:2]) in _PREFECTURES and check_digit(code[:5]) == code[5]


def municipality_code(raw: str) -> Read[str]:
    """A 全国地方公共団体コード as six digits with a verified check digit.

    Five digits are either a six-digit code whose leading zero a spreadsheet dropped (92011 is
    宇都宮市 092011) or a code written without its check digit (26366 is 精華町 263664). The first
    reading is taken when its check digit verifies and the second is impossible (no prefecture
    92); when both readings are possible the code is refused as ambiguous, and a six-digit code
    whose check digit does not verify is refused, never corrected.
    """
    text = raw.strip()
    value = halfwidth(text)
    if value.endswith(".0") and value[:-2].isdigit():  # a number cell a spreadsheet wrote as 263664.0
        value = value[:-2]
    if re.fullmatch(r"\d{6}", value):
        if not _valid_six(value):
            raise BadValue(_("全国地方公共団体コードの検査数字が合いません: %(value)s (正しくは %(fixed)s)",
                             value=raw, fixed=with_check_digit(value[:5])))
        return Read(value, value if value != text else None)
    if re.fullmatch(r"\d{5}", value):
        lost_zero = "0" + value
        readings = []
        if _valid_six(lost_zero):
            readings.append(lost_zero)
        if int(value[:2]) in _PREFECTURES:
            readings.append(with_check_digit(value))
        if len(readings) == 1:
            return Read(readings[0], readings[0])
        if readings:
            raise BadValue(_("5 桁の全国地方公共団体コードは %(first)s とも %(second)s とも読めます。"
                             "6 桁で書いてください: %(value)s",
                             first=readings[0], second=readings[1], value=raw))
        raise BadValue(_("全国地方公共団体コードではありません: %(value)s", value=raw))
    raise BadValue(_("6 桁の数字ではありません: %(value)s", value=raw))


def capacity(raw: str) -> Read[int | None]:
    """想定収容人数: an integer, or the one number of a short free text (kept as a note).

    Refused: several numbers outside brackets (100〜200), decimals, negative numbers, text
    without a number; an empty cell or 不明 means unknown.
    """
    text = raw.strip()
    if not text:
        return Read(None)
    value = halfwidth(text).replace(",", "")
    if _INTEGER.fullmatch(value):
        number = int(value)
        if number > MAX_CAPACITY:
            raise BadValue(_("大きすぎます (上限 %(high)d): %(value)s", high=MAX_CAPACITY, value=raw))
        return Read(number, value if value != text else None)
    if value in UNKNOWN_CAPACITY:
        return Read(None, "")
    outside = _BRACKETED.sub("", value).replace(" ", "")
    match = _CAPACITY_WORDS.fullmatch(outside)
    if match is None:
        raise BadValue(_("想定収容人数は整数で書いてください (1 つの数が読み取れません): %(value)s", value=raw))
    number = int(match.group(1))
    if number > MAX_CAPACITY:
        raise BadValue(_("大きすぎます (上限 %(high)d): %(value)s", high=MAX_CAPACITY, value=raw))
    plain_unit = outside == value and re.fullmatch(r"\d+(?:人|名)", value)
    return Read(number, str(number), None if plain_unit else text)


def in_japan(lat: float, lon: float) -> bool:
    """Whether a point lies in Japan's bounding box."""
    return JAPAN_LAT[0] <= lat <= JAPAN_LAT[1] and JAPAN_LON[0] <= lon <= JAPAN_LON[1]


def transposed(lat: float, lon: float) -> bool:
    """Whether latitude and longitude were entered the wrong way round (a point in Japan if swapped)."""
    return not in_japan(lat, lon) and in_japan(lon, lat)
