"""Where the Japanese font comes from, what is refused, and how text is fitted."""

from __future__ import annotations

from pathlib import Path

import pytest

from printables import fonts


def test_the_default_font_is_installed_with_the_package() -> None:
    path = fonts.find_font_path()
    assert path.suffix == ".ttf" and path.is_file()
    assert fonts.load_font().has("精") and fonts.load_font().has("〓")


def test_evac_font_path_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    copy = tmp_path / "town-font.ttf"
    copy.write_bytes(fonts.find_font_path().read_bytes())
    monkeypatch.setenv(fonts.FONT_ENV, str(copy))
    assert fonts.find_font_path() == copy
    assert fonts.load_font().path == copy.resolve()


def test_a_missing_configured_font_is_an_error_not_a_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(fonts.FONT_ENV, str(tmp_path / "nope.ttf"))
    with pytest.raises(fonts.FontNotFound, match="EVAC_FONT_PATH"):
        fonts.find_font_path()


def test_cff_fonts_are_refused_with_a_reason(tmp_path: Path) -> None:
    otf = tmp_path / "NotoSansJP-Regular.otf"
    # The head of an OpenType/CFF font: "OTTO", one table, the CFF table's directory entry.
    otf.write_bytes(b"OTTO\x00\x01\x00\x10\x00\x00\x00\x00" + b"CFF " + b"\x00" * 12)
    with pytest.raises(fonts.FontNotFound, match="TrueType"):
        fonts.find_font_path(otf)


def test_fit_shrinks_then_ellipsizes_and_marks_missing_glyphs() -> None:
    font = fonts.load_font()
    short = fonts.fit(font, "山田　花子", 200, 16, 7)
    assert (short.text, short.size, short.ellipsized) == ("山田　花子", 16, False)
    shrunk = fonts.fit(font, "山田　花子" * 3, 200, 16, 7)
    assert shrunk.text == "山田　花子" * 3 and 7 <= shrunk.size < 16
    assert font.width(shrunk.text, shrunk.size) <= 200
    cut = fonts.fit(font, "長" * 200, 100, 16, 7)
    assert cut.ellipsized and cut.text.endswith("…") and font.width(cut.text, cut.size) <= 100
    marked = fonts.fit(font, "髙橋😀", 200, 16, 7)
    assert (marked.text, marked.substituted) == ("髙橋〓", 1)


def test_invisible_and_control_characters_do_not_become_marks() -> None:
    font = fonts.load_font()
    assert fonts.printable(font, "葛\U000E0100飾\u200b") == ("葛飾", 0)  # variation selector, zero-width space
    assert fonts.printable(font, " 山田\n\t花子  ") == ("山田 花子", 0)
    assert fonts.printable(font, "山田\u3000花子") == ("山田\u3000花子", 0)
    assert fonts.printable(font, "ｶﾞ") == ("ｶﾞ", 0)
    assert fonts.printable(font, "ガ") == ("ガ", 0)  # combining mark composed (NFC)
    assert fonts.printable(font, None) == ("", 0)
