"""Dates of birth as Japanese offices write them: ISO, slashes, full width, or 和暦 (Japanese eras).

Accepted, after NFKC (so full-width digits and ／．－ work too):

- western: ``1980-01-02``, ``1980/1/2``, ``1980.1.2``, ``1980年1月2日``, ``19800102``;
- 和暦: ``昭和55年1月2日``, ``昭和五十五年一月二日``, ``S55.1.2``, ``S55/1/2``, ``昭55.1.2``,
  ``平成元年1月8日``, ``H1.1.8``, ``R2.3.4`` — eras 明治 大正 昭和 平成 令和, written in full,
  by their first kanji (明 大 昭 平 令) or by their letter (M T S H R, either case).

An era date must lie inside its era: 昭和64年1月7日 exists, 昭和64年1月8日 is 平成元年1月8日.
Before 明治6年 (1873) Japan used a lunisolar calendar; like the register systems, evac reads
明治 years with Gregorian months and days, which only matters for dates no living person has.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from evac.common.vocab import TOKYO, tokyo_today

__all__ = ["ERAS", "TOKYO", "Era", "era_of", "format_wareki", "parse_birth_date", "today_in_japan"]


@dataclass(frozen=True)
class Era:
    """A Japanese era: its names and the first and last Gregorian day it covers."""

    name: str  # 昭和
    letter: str  # S
    start: date
    end: date | None  # None: the current era

    def contains(self, day: date) -> bool:
        """True if `day` falls within this era."""
        return self.start <= day and (self.end is None or day <= self.end)


ERAS: tuple[Era, ...] = (
    Era("明治", "M", date(1868, 10, 23), date(1912, 7, 29)),
    Era("大正", "T", date(1912, 7, 30), date(1926, 12, 24)),
    Era("昭和", "S", date(1926, 12, 25), date(1989, 1, 7)),
    Era("平成", "H", date(1989, 1, 8), date(2019, 4, 30)),
    Era("令和", "R", date(2019, 5, 1), None),
)
_ERA_BY_TOKEN: dict[str, Era] = {}
for _era in ERAS:
    _ERA_BY_TOKEN[_era.name] = _era
    _ERA_BY_TOKEN[_era.name[0]] = _era
    _ERA_BY_TOKEN[_era.letter] = _era

_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = r"[0-9]+|[〇零一二三四五六七八九十]+"
_ERA_RE = re.compile(
    rf"^(?P<era>明治|大正|昭和|平成|令和|[明大昭平令MTSHR])\s*(?P<y>元|{_NUM})\s*(?:[./\-]|年)\s*"
    rf"(?P<m>{_NUM})\s*(?:[./\-]|月)\s*(?P<d>{_NUM})\s*日?$",
    re.IGNORECASE,
)
_WESTERN_RE = re.compile(
    r"^(?P<y>[0-9]{4})\s*(?:[./\-]|年)\s*(?P<m>[0-9]{1,2})\s*(?:[./\-]|月)\s*(?P<d>[0-9]{1,2})\s*日?$"
)
_COMPACT_RE = re.compile(r"^(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})$")
# Dashes people type for a hyphen that NFKC leaves alone.
_DASHES = str.maketrans({"‐": "-", "‑": "-", "–": "-", "—": "-", "−": "-", "ｰ": "-"})


def _number(text: str) -> int:
    """An ASCII or kanji numeral (五十五, 十二, 二〇) as an int."""
    if text.isdigit():
        return int(text)
    if "十" not in text:  # positional: 二〇 → 20
        return int("".join(str(_KANJI_DIGITS[c]) for c in text))
    tens, _sep, ones = text.partition("十")
    if "十" in ones:
        raise ValueError(text)
    return (_KANJI_DIGITS[tens] if tens else 1) * 10 + (_KANJI_DIGITS[ones] if ones else 0)


def today_in_japan() -> date:
    """Today's date in Japan, whatever the server's timezone."""
    return tokyo_today()


def parse_birth_date(text: str, *, today: date | None = None) -> date:
    """Parse a date of birth in western or 和暦 notation; `ValueError` (in Japanese) if it is not one.

    `today` (default: today in Japan) bounds the date: nobody is born in the future.
    """
    raw = unicodedata.normalize("NFKC", text or "").translate(_DASHES).strip()
    if not raw:
        raise ValueError(_("生年月日が空です"))
    era: Era | None = None
    match = _ERA_RE.match(raw)
    if match:
        era = _ERA_BY_TOKEN[match["era"].upper() if match["era"].isascii() else match["era"]]
    else:
        match = _WESTERN_RE.match(raw) or _COMPACT_RE.match(raw)
    if not match:
        raise ValueError(_("生年月日の形式が読み取れません (例: 1980-01-02, 昭和55年1月2日, S55.1.2)"))
    try:
        year = 1 if match["y"] == "元" else _number(match["y"])
        month, day = _number(match["m"]), _number(match["d"])
    except (KeyError, ValueError):
        raise ValueError(_("生年月日の数字が読み取れません")) from None
    if era is not None:
        if year < 1:
            raise ValueError(_("元号の年は1 (元年) 以上です"))
        year += era.start.year - 1
    try:
        result = date(year, month, day)
    except (ValueError, OverflowError):  # OverflowError: a year or day beyond a C int
        raise ValueError(_("存在しない日付です")) from None
    if era is not None and not era.contains(result):
        raise ValueError(_("%(era)sの期間外の日付です", era=era.name))
    if result > (today or today_in_japan()):
        raise ValueError(_("生年月日が未来の日付です"))
    return result


def era_of(day: date) -> Era:
    """The era `day` falls in; `ValueError` before 明治 (1868-10-23)."""
    for era in reversed(ERAS):
        if era.contains(day):
            return era
    raise ValueError(_("明治より前の日付は和暦にできません"))


def format_wareki(day: date, *, short: bool = False) -> str:
    """`day` as 和暦: ``昭和55年1月2日`` (元年 for the first year) or, short, ``S55.1.2``."""
    era = era_of(day)
    year = day.year - era.start.year + 1
    if short:
        return f"{era.letter}{year}.{day.month}.{day.day}"
    return f"{era.name}{'元' if year == 1 else year}年{day.month}月{day.day}日"
