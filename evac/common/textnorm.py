"""Normalising Japanese names and kana so that matching and search ignore how they were typed."""

from __future__ import annotations

import re
import unicodedata

# Common 異体字 (variant kanji) on cards and registers, folded to the everyday form.
_VARIANTS = str.maketrans({
    "髙": "高", "﨑": "崎", "嵜": "崎", "邊": "辺", "邉": "辺", "齋": "斎", "齊": "斉",
    "濵": "浜", "濱": "浜", "德": "徳", "冨": "富", "嶋": "島", "嶌": "島", "櫻": "桜",
    "藏": "蔵", "廣": "広", "國": "国", "澤": "沢", "龍": "竜", "眞": "真", "惠": "恵",
    "與": "与", "條": "条", "槇": "槙", "曻": "昇", "𠮷": "吉", "栁": "柳",
})
_SPACES = re.compile(r"[\s\u3000・･]+")


def fold_variants(text: str) -> str:
    """Fold variant kanji (髙→高, 﨑→崎, 邊/邉→辺, 齋/齊→斎/斉 …) to their common form."""
    return text.translate(_VARIANTS)


def to_katakana(text: str) -> str:
    """Hiragana to katakana; everything else unchanged."""
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def name_key(*parts: str | None) -> str:
    """Matching key of a name: NFKC (full/half width), variants folded, no spaces."""
    joined = "".join(p for p in parts if p)
    # NFKC again after removing spaces: a removed space can let a combining mark compose.
    return unicodedata.normalize("NFKC", _SPACES.sub("", fold_variants(unicodedata.normalize("NFKC", joined))))


def kana_key(*parts: str | None) -> str:
    """Search key of a kana reading: NFKC (half-width kana → full), katakana, no spaces."""
    joined = "".join(p for p in parts if p)
    return to_katakana(unicodedata.normalize("NFKC", _SPACES.sub("", to_katakana(unicodedata.normalize("NFKC", joined)))))


_KANA = re.compile(r"^[\u30a0-\u30ff\u3040-\u309f\uff66-\uff9f\s\u3000・ー]+$")


def is_kana(text: str) -> bool:
    """True if `text` is made of kana (either script, half or full width), spaces and ー only."""
    return bool(_KANA.match(text))


def split_name(full: str) -> tuple[str, str]:
    """Split '山田 太郎' (ASCII or ideographic space) into family and given name."""
    parts = _SPACES.split(unicodedata.normalize("NFKC", full).strip(), maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0], "")


# A 個人番号 is 12 digits, and people, IMEs and card readers write it every way there is: full-width,
# kanji (四七二九…) or other scripts' digits; grouped 4-4-4, 3-3-3-3, 6-6 or digit by digit; split by
# spaces, dashes of every kind (the IME's long-vowel mark ー, U+2010, U+2212, en and em dashes), dots,
# slashes, underscores or parentheses. `fold_digits` turns every digit into an ASCII one; then a run
# of digits joined by at most three such separators is one number, and a run of exactly twelve is
# refused. Where the line is: a phone number (10–11 digits), a postal code (7), a date (8) or a date
# and time (a colon ends the run) are not twelve; runs of 13 or more (a JAN code) are not a 個人番号.
# Fields that are hex or random by construction (UUID client ids, IC card UIDs, card codes) are
# exempted by the caller, not here.
_KANJI_DIGITS = {"〇": "0", "零": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6",
                 "七": "7", "八": "8", "九": "9"}
# Besides whitespace and every dash (Unicode's Pd category, folded to "-"): what else people put
# between digit groups, the IME's long-vowel marks and the minus signs included.
_SEPARATORS = "-._/\\()[]{}\u30fb\uff65\u00b7\u2022~\u301c\uff5e\u30fc\uff70\u2212\u02d7\u2043"
_RUN = re.compile(rf"[0-9](?:[\s{re.escape(_SEPARATORS)}]{{0,3}}[0-9])*")


def fold_digits(text: str) -> str:
    """NFKC, then every Unicode decimal digit and every kanji digit as its ASCII digit, every dash as "-"."""
    folded = unicodedata.normalize("NFKC", text)
    out = []
    for char in folded:
        if char in _KANJI_DIGITS:
            out.append(_KANJI_DIGITS[char])
        elif not char.isascii() and unicodedata.decimal(char, None) is not None:
            out.append(str(unicodedata.decimal(char)))
        elif not char.isascii() and unicodedata.category(char) == "Pd":
            out.append("-")
        else:
            out.append(char)
    return "".join(out)


def looks_like_individual_number(text: str) -> bool:
    """True if `text` holds something that reads as a 12-digit 個人番号, however it is spelled."""
    if len(text) < 12:
        return False
    for run in _RUN.finditer(fold_digits(text)):
        if sum(c.isdigit() for c in run.group()) == 12:
            return True
    return False
