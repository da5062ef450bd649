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


# A 個人番号 is 12 digits; people and card readers write it with or without separators: a space,
# a hyphen or any dash NFKC leaves alone (the minus sign, the IME's long-vowel mark ー, …).
_SEP = r"[\s\-\u2010-\u2015\u2212\u30fc\uff70]"
_INDIVIDUAL_NUMBER = re.compile(rf"(?<![0-9])[0-9]{{4}}{_SEP}?[0-9]{{4}}{_SEP}?[0-9]{{4}}(?![0-9])")


def looks_like_individual_number(text: str) -> bool:
    """True if `text` holds something shaped like a 12-digit 個人番号 (after NFKC)."""
    return bool(_INDIVIDUAL_NUMBER.search(unicodedata.normalize("NFKC", text)))
