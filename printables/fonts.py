"""The Japanese font every printable embeds, and fitting untrusted text into a box.

Where the font comes from, first found wins:

1. the path given to :func:`load_font` (the caller's own setting),
2. ``EVAC_FONT_PATH`` in the environment,
3. IPAexGothic (``ipaexg.ttf``) shipped inside the ``japanize-matplotlib`` wheel, a dependency of
   this project, so ``pip install`` brings the font on a fresh machine without root,
4. Debian's ``fonts-ipaexfont-gothic`` (the Docker image installs it) and a few usual system paths.

reportlab embeds TrueType (``glyf``) outlines only: an OpenType/CFF font (``.otf``, Noto Sans CJK)
is refused with a clear error instead of producing a PDF that names a font it does not carry. The
font is always embedded as subsets, so a card prints the same on any viewer or printer.

Names come from registers and paper forms and may hold anything: characters the font lacks
(emoji, rare kanji outside JIS X 0213) are replaced by the geta mark 〓 — the customary Japanese
stand-in for a character that cannot be set — and reported, never silently dropped; text too long
for its box is shrunk down to a floor size and then ellipsized, and that too is reported.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

FONT_ENV = "EVAC_FONT_PATH"
MISSING_MARK = "〓"  # geta mark: "a character that could not be set"
ELLIPSIS = "…"
SYSTEM_FONT_PATHS: tuple[str, ...] = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf",
    "/Library/Fonts/ipaexg.ttf",
)
# Invisible characters that select a glyph variant or join glyphs: the base character prints
# fine without them, and marking them 〓 would deface a correct name (葛󠄀 is 葛 + U+E0100).
_IGNORABLE = frozenset([0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD]) | frozenset(range(0xFE00, 0xFE10)) \
    | frozenset(range(0xE0100, 0xE01F0))


# What the fast path of `printable` must not let through: controls, line breaks, ignorables, runs
# of spaces and leading or trailing spaces.
_UNUSUAL = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200d\u2028\u2029\u2060\ufeff\ufe00-\ufe0f"
                      "\U000e0100-\U000e01ef]|  |^ | $")
_SPACES = re.compile(" {2,}")


class FontNotFound(RuntimeError):
    """No usable Japanese TrueType font: printing would give blank or tofu names."""


@dataclass(frozen=True)
class Font:
    """A registered TrueType font: the name reportlab knows it by and the code points it covers."""

    name: str
    path: Path
    covered: frozenset[int]

    def has(self, char: str) -> bool:
        """True if the font has a glyph for `char`."""
        return ord(char) in self.covered

    def width(self, text: str, size: float) -> float:
        """Advance width of `text` at `size` points."""
        return pdfmetrics.stringWidth(text, self.name, size)


def _packaged_font() -> Path | None:
    # find_spec locates the package without importing it (importing it would load matplotlib).
    spec = importlib.util.find_spec("japanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "fonts" / "ipaexg.ttf"
        if candidate.is_file():
            return candidate
    return None


def font_candidates(explicit: str | os.PathLike[str] | None = None) -> list[Path]:
    """Where a font is looked for, in order (only the first existing one is used)."""
    paths: list[Path] = []
    if explicit:
        paths.append(Path(explicit))
    env = os.environ.get(FONT_ENV)
    if env:
        paths.append(Path(env))
    packaged = _packaged_font()
    if packaged is not None:
        paths.append(packaged)
    paths.extend(Path(p) for p in SYSTEM_FONT_PATHS)
    return paths


def find_font_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The font file to use; an explicit or EVAC_FONT_PATH setting that does not exist is an error."""
    for given, label in ((explicit, "font path"), (os.environ.get(FONT_ENV), FONT_ENV)):
        if given and not Path(given).is_file():
            raise FontNotFound(f"{label} {given} does not exist or is not a file")
    for path in font_candidates(explicit):
        if path.is_file():
            check_truetype(path)
            return path
    raise FontNotFound(
        "No Japanese TrueType font found. Install the project's dependencies (japanize-matplotlib "
        "ships IPAexGothic), or `apt-get install fonts-ipaexfont-gothic`, or set EVAC_FONT_PATH to a .ttf file."
    )


def check_truetype(path: Path) -> None:
    """Refuse, cheaply and with a clear message, a file reportlab could not embed.

    Reads only the table directory: TrueType outlines (a ``glyf`` table) are required; OpenType
    fonts with CFF outlines (``OTTO``, ``.otf``) and collections are refused.
    """
    try:
        with path.open("rb") as handle:
            header = handle.read(12)
            if len(header) < 12:
                raise FontNotFound(f"{path} is not a font file")
            tables = int.from_bytes(header[4:6], "big")
            directory = handle.read(16 * tables)
    except OSError as exc:
        raise FontNotFound(f"{path} cannot be read ({exc})") from exc
    tags = {directory[i: i + 4] for i in range(0, len(directory), 16)}
    if header[:4] == b"OTTO" or b"CFF " in tags or b"glyf" not in tags:
        raise FontNotFound(f"{path} has no TrueType outlines; reportlab embeds TrueType (.ttf) fonts only, "
                           "not OpenType/CFF (.otf) or collections (.ttc)")


@lru_cache(maxsize=8)
def _register(path: str) -> Font:
    # Deterministic across processes (str hashes are salted per process).
    name = "EvacJP-" + hashlib.sha1(path.encode("utf-8")).hexdigest()[:8]
    try:
        ttf = TTFont(name, path, asciiReadable=False)
    except (TTFError, KeyError, ValueError, IndexError, OSError) as exc:  # reportlab's parser fails many ways
        raise FontNotFound(
            f"{path} cannot be embedded ({exc}); reportlab needs a TrueType-outline font (.ttf), "
            "not OpenType/CFF (.otf)"
        ) from exc
    pdfmetrics.registerFont(ttf)
    return Font(name=name, path=Path(path), covered=frozenset(ttf.face.charToGlyph))


def load_font(explicit: str | os.PathLike[str] | None = None) -> Font:
    """Find, check and register the Japanese font (once per process and path)."""
    return _register(str(find_font_path(explicit).resolve()))


@dataclass(frozen=True)
class Fitted:
    """Text made printable and fitted to a width: what to draw and what had to change."""

    text: str
    size: float
    substituted: int = 0  # characters the font lacks, printed as 〓
    ellipsized: bool = False


def printable(font: Font, text: str | None) -> tuple[str, int]:
    """`text` with controls turned to spaces, variation selectors dropped and missing glyphs as 〓.

    Runs of ASCII white space become one space; the ideographic space (U+3000) is kept, as it is
    part of how Japanese names and forms are written.
    """
    if not text:
        return "", 0
    if (not _UNUSUAL.search(text) and unicodedata.is_normalized("NFC", text)
            and font.covered.issuperset(map(ord, text))):
        return text, 0  # the common case, checked in one pass: nothing to change
    out: list[str] = []
    missing = 0
    for char in unicodedata.normalize("NFC", text):
        code = ord(char)
        if code in _IGNORABLE:
            continue
        if unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in " \t":
            out.append(" ")
        elif font.has(char):
            out.append(char)
        else:
            out.append(MISSING_MARK if font.has(MISSING_MARK) else "?")
            missing += 1
    return _SPACES.sub(" ", "".join(out)).strip(" "), missing


def fit(font: Font, text: str | None, max_width: float, size: float, min_size: float) -> Fitted:
    """Fit `text` into `max_width` points: shrink down to `min_size`, then cut with an ellipsis."""
    clean, missing = printable(font, text)
    if not clean:
        return Fitted("", size, missing)
    width = font.width(clean, size)
    if width <= max_width:
        return Fitted(clean, size, missing)
    shrunk = size * max_width / width
    if shrunk >= min_size:
        # Round down a little so rounding in the viewer never pushes the text past the box.
        return Fitted(clean, shrunk * 0.995, missing)
    # Shortest cut that fits; names are short, so a linear walk from a width estimate is enough.
    keep = max(int(len(clean) * max_width / font.width(clean, min_size)), 1)
    while keep > 1 and font.width(clean[:keep] + ELLIPSIS, min_size) > max_width:
        keep -= 1
    return Fitted(clean[:keep].rstrip() + ELLIPSIS, min_size, missing, ellipsized=True)
