"""Reading CSV files as town offices send them: UTF-8, UTF-8 with BOM, or CP932 (Shift_JIS)."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ENCODING_LABELS = {"utf-8-sig": "UTF-8 (BOM)", "utf-8": "UTF-8", "cp932": "CP932 (Shift_JIS)"}


class EncodingNotRecognised(ValueError):
    """The bytes are neither UTF-8 nor CP932."""


@dataclass(frozen=True)
class DecodedText:
    """A file's text and the encoding it was found in."""

    text: str
    encoding: str  # python codec name: utf-8-sig, utf-8 or cp932

    @property
    def encoding_label(self) -> str:
        """A name an operator recognises, such as 'CP932 (Shift_JIS)'."""
        return ENCODING_LABELS[self.encoding]


def decode(data: bytes) -> DecodedText:
    """Detect the encoding: a BOM means UTF-8 with BOM; valid UTF-8 is UTF-8; else CP932.

    Valid CP932 text with Japanese characters is almost never valid UTF-8, so the order is safe.
    """
    if data.startswith(codecs.BOM_UTF8):
        return DecodedText(data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig")
    try:
        return DecodedText(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return DecodedText(data.decode("cp932"), "cp932")
    except UnicodeDecodeError as exc:
        raise EncodingNotRecognised(
            f"文字コードを判別できません (UTF-8 でも CP932 でもありません): byte {exc.start}"
        ) from exc


def read_file(path: Path | str) -> DecodedText:
    """Read and decode a whole file (import files are megabytes, not gigabytes)."""
    return decode(Path(path).read_bytes())


def rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """CSV rows with their 1-based physical line numbers (the header is line 1)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    for row in reader:
        yield reader.line_num, row
