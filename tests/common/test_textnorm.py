"""The name normaliser: how a name was typed or printed must not change who it matches."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evac.common.textnorm import fold_variants, is_kana, kana_key, name_key, split_name, to_katakana

hiragana = st.text(alphabet=st.characters(min_codepoint=0x3041, max_codepoint=0x3093), min_size=1, max_size=12)
kanji = st.text(alphabet=st.sampled_from("山田花子髙﨑邊邉齋齊渡辺高崎斎斉佐藤鈴木太郎一二三浜濱濵"), min_size=1, max_size=8)
spaces = st.sampled_from(["", " ", "\u3000", "  ", "・"])


@given(hiragana)
def test_hiragana_katakana_and_half_width_kana_share_a_key(text: str) -> None:
    katakana = to_katakana(text)
    half = unicodedata.normalize("NFKC", katakana)  # full-width stays full; make half-width below
    half_width = "".join(_half(c) for c in katakana)
    assert kana_key(text) == kana_key(katakana) == kana_key(half) == kana_key(half_width)
    assert is_kana(text) and is_kana(katakana)


def _half(char: str) -> str:
    # Half-width katakana via the compatibility decomposition in reverse, where one exists.
    for code in range(0xFF66, 0xFFA0):
        if unicodedata.normalize("NFKC", chr(code)) == char:
            return chr(code)
    return char


@given(kanji, kanji, spaces)
def test_spaces_and_widths_do_not_change_a_name_key(family: str, given_name: str, space: str) -> None:
    assert name_key(family, given_name) == name_key(family + space + given_name)
    assert name_key(f"{family}{space}{given_name}") == name_key(fold_variants(family) + given_name)


@given(kanji)
def test_variant_kanji_fold_to_the_common_form(name: str) -> None:
    key = name_key(name)
    assert not set(key) & set("髙﨑邊邉齋齊濱濵")
    assert name_key(key) == key  # idempotent


@given(st.text(max_size=30))
def test_keys_never_fail_and_are_idempotent(text: str) -> None:
    assert name_key(name_key(text)) == name_key(text)
    assert kana_key(kana_key(text)) == kana_key(text)


def test_known_examples() -> None:
    assert name_key("髙橋　一") == name_key("高橋 一") == "高橋一"
    assert name_key("渡邉") == name_key("渡邊") == name_key("渡辺")
    assert kana_key("ﾔﾏﾀﾞ ﾊﾅｺ") == kana_key("やまだ　はなこ") == "ヤマダハナコ"
    assert name_key("ＹＡＭＡＤＡ　Ｔａｒｏ") == "YAMADATaro"
    assert split_name("山田　太郎") == ("山田", "太郎") and split_name("マリア") == ("マリア", "")
    assert not is_kana("山田") and not is_kana("")


@pytest.mark.parametrize("text", [
    "123456789012", "1234 5678 9012", "1234-5678-9012", "１２３４５６７８９０１２", "１２３４－５６７８－９０１２",
    "1234−5678−9012", "1234ー5678ー9012", "1234–5678–9012", "番号は1234　5678　9012です",
])
def test_individual_numbers_are_seen_however_they_are_separated(text: str) -> None:
    from evac.common.textnorm import looks_like_individual_number

    assert looks_like_individual_number(text)


@pytest.mark.parametrize("text", [
    "0774-95-1234", "090-1234-5678", "京都府相楽郡精華町光台７丁目４３番地", "1234567890123", "12345678901", "19800102",
])
def test_other_numbers_are_not_taken_for_one(text: str) -> None:
    from evac.common.textnorm import looks_like_individual_number

    assert not looks_like_individual_number(text)
