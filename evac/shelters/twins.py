"""One shelter per site: how evac decides that two list rows describe the same place.

GSI publishes a school once in its 指定避難所 list and again in its 指定緊急避難場所 list, with two
different 共通IDs; a town's own lists (自治体標準オープンデータセット) do the same with their own IDs.
evac keeps one shelter per site and records every list row that describes it (`ShelterListing`).

Two rows are accepted as the same site only when **all** of these hold (the importer and the
twin-merging migration apply the same rules, with the functions below):

1. they come from different lists (a list never describes one site twice, so two rows of one
   list with the same name and address are two entries, e.g. a school and its welfare wing);
2. the same municipality (全国地方公共団体コード);
3. the same name after `normalise_name`, and the same address after `normalise_address`, both
   non-empty;
4. the match is unambiguous: exactly one candidate shelter, and no other row of the file claims
   the same site;
5. where both have coordinates, they lie at most `MAX_TWIN_DISTANCE_M` apart (pairs beyond
   `FAR_TWIN_DISTANCE_M` are merged but flagged for a look).

What the normalisation accepts as equal, and nothing else:

- Unicode NFKC (full-width letters and digits, half-width kana, （） and the like), and no
  whitespace at all (spaces inside names are typing, not meaning);
- the dashes and hyphens towns type between numbers (‐ ‑ ‒ – — ― − － ─ ━, and ー / ｰ between two
  digits) are one hyphen;
- ヶ, ケ and ヵ are one letter (霞ヶ関 / 霞ケ関, 畑ヶ田 / 畑ケ田 — seen in Seika's own GSI rows);
- addresses only: the prefecture and the 郡 in front of the municipality may be left out (both
  rows are in the same municipality by rule 2); 大字 and 小字 may be left out; 丁目, 番地, 番 and
  号 after a number are a hyphen, as is の between two numbers; a trailing hyphen is dropped;
  kanji numerals in front of 丁目/番地/番/号 are digits (七丁目 = 7丁目 = 7-).

Not accepted: a different spelling of the name (市立 / 町立 prefixes, 体育館 added), abbreviations,
building names, a different 号 number. The 指定緊急避難場所との住所同一 / 指定避難所との住所同一
flags are not used as evidence (in Seika's file the flag sits on the gym while the school is the
twin); the importer reports flagged rows it did not pair.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata

MAX_TWIN_DISTANCE_M = 1000.0
FAR_TWIN_DISTANCE_M = 200.0

_SPACE = re.compile(r"\s+")
_DASHES = re.compile(r"[‐‑‒–—―−－─━]")
_LONG_VOWEL_BETWEEN_DIGITS = re.compile(r"(?<=\d)[ーｰ](?=\d)")
_SMALL_KE = str.maketrans({"ヶ": "ケ", "ヵ": "ケ"})
_PREFECTURE = re.compile(r"^(?:北海道|東京都|京都府|大阪府|[^\d\-]{2,3}県)")
# A 郡 followed by the name of a town or village (相楽郡精華町). The rule can also bite a city such
# as 蒲郡市 whose next word ends in 町; that is harmless, since both addresses compared lie in the
# same municipality and go through the same rule.
_COUNTY = re.compile(r"^[^\d\-]{1,5}?郡(?=[^\d\-]{1,6}?[町村])")
_KANJI_NUMBER = re.compile(r"([〇一二三四五六七八九十百千]+)(?=丁目|番地|番|号)")
_BLOCK_SUFFIX = re.compile(r"(?<=\d)(?:丁目|番地|番|号)")
_NO_BETWEEN_DIGITS = re.compile(r"(?<=\d)の(?=\d)")
_HYPHENS = re.compile(r"-{2,}")
_KANJI_DIGITS = {"〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}


def _common(text: str) -> str:
    value = unicodedata.normalize("NFKC", text)
    value = _SPACE.sub("", value)
    value = _DASHES.sub("-", value)
    value = _LONG_VOWEL_BETWEEN_DIGITS.sub("-", value)
    return value.translate(_SMALL_KE)


def normalise_name(name: str | None) -> str:
    """A shelter name as compared for twins (see the module docstring for what is folded)."""
    return _common(name or "")


def kanji_number(text: str) -> int:
    """二十三 → 23, 七 → 7, 百五 → 105 (the numerals addresses use)."""
    total, current = 0, 0
    for char in text:
        if char in _KANJI_DIGITS:
            current = current * 10 + _KANJI_DIGITS[char]  # 二〇 (positional) as well as 二十
        else:
            total += (current or 1) * _KANJI_UNITS[char]
            current = 0
    return total + current


def normalise_address(address: str | None) -> str:
    """An address as compared for twins (see the module docstring for what is folded)."""
    value = _common(address or "")
    value = _PREFECTURE.sub("", value, count=1)
    value = _COUNTY.sub("", value, count=1)
    value = value.replace("大字", "").replace("小字", "")
    value = _KANJI_NUMBER.sub(lambda m: str(kanji_number(m.group(1))), value)
    value = _BLOCK_SUFFIX.sub("-", value)
    value = _NO_BETWEEN_DIGITS.sub("-", value)
    return _HYPHENS.sub("-", value).strip("-")


def site_key(municipality_code: str | None, name: str | None, address: str | None) -> str | None:
    """A short digest naming the site, equal for rows that rules 2 and 3 accept as one site.

    None when the municipality, the name or the address is unknown: such a row is never merged.
    """
    n_name, n_address = normalise_name(name), normalise_address(address)
    if not municipality_code or not n_name or not n_address:
        return None
    raw = f"{municipality_code}\x1f{n_name}\x1f{n_address}".encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; plenty for a few hundred metres)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(h)))
