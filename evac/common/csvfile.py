"""Reading tables as town offices send them, and writing CSV cells spreadsheets cannot run.

CSV arrives as UTF-8, UTF-8 with BOM or CP932 (Shift_JIS); the same list is often published as
an Excel workbook too, sometimes under a .csv name. `sniff` tells the containers apart from their
first bytes, `decode` finds a text file's encoding, `xlsx_sheets` streams a workbook's sheets
(openpyxl read-only mode: rows are parsed as they are read, not loaded whole).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO, TextIO

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


def rows(text: str | TextIO) -> Iterator[tuple[int, list[str]]]:
    """CSV rows with their 1-based physical line numbers (the header is line 1).

    `text` is the whole text, or a text stream opened with ``newline=""`` (`open_text`): a
    stream is read row by row, never whole.
    """
    reader = csv.reader(io.StringIO(text, newline="") if isinstance(text, str) else text)
    for row in reader:
        yield reader.line_num, row


SNIFF_BYTES = 1 << 16  # a resident extract's header is Japanese: its first line alone tells the encoding


def sniff_encoding(head: bytes, *, whole: bool) -> str:
    """`decode`'s rule on the first bytes of a file (`whole`: they are all of it).

    A character cut at the end of `head` is not held against either encoding.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for encoding in ("utf-8", "cp932"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=whole)
        except UnicodeDecodeError as exc:
            failure = exc
            continue
        return encoding
    raise EncodingNotRecognised(
        f"文字コードを判別できません (UTF-8 でも CP932 でもありません): byte {failure.start}")


class _Prefixed(io.RawIOBase):
    """The bytes already read for sniffing, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head, self.rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def open_text(handle: BinaryIO) -> tuple[TextIO, str]:
    """A text stream over a binary one, in the encoding its first bytes show, and that encoding.

    Decoded as it is read (never whole); bytes further on that are not in the encoding raise
    `UnicodeDecodeError` from the read. Raises `EncodingNotRecognised` for the first bytes.
    """
    head = handle.read(SNIFF_BYTES)
    encoding = sniff_encoding(head, whole=len(head) < SNIFF_BYTES)
    raw = io.BufferedReader(_Prefixed(head, handle))
    return io.TextIOWrapper(raw, encoding=encoding, newline=""), encoding


def records(text: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the physical line each starts on (a quoted field may span lines).

    csv reports the line a record ends on; an operator looks for where it starts.
    """
    previous_end = 0
    for end_line, cells in rows(text):
        yield previous_end + 1, cells
        previous_end = end_line


# --- containers ------------------------------------------------------------------------------

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")  # Excel 97-2003 (.xls), old Word and the like


class Container:
    """What a file is, judged from its bytes (never from its name)."""

    TEXT = "text"
    XLSX = "xlsx"
    XLS = "xls"  # Excel 97-2003: openpyxl cannot read it
    ODS = "ods"  # OpenDocument spreadsheet (LibreOffice)
    ZIP = "zip"  # some other archive


def sniff(data: bytes) -> str:
    """The container of a file: text, XLSX, XLS, ODS spreadsheet or another ZIP archive."""
    if data.startswith(OLE2_MAGIC):
        return Container.XLS
    if not data.startswith(ZIP_MAGIC):
        return Container.TEXT
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                return Container.XLSX
            if "mimetype" in names and archive.read("mimetype").startswith(
                    b"application/vnd.oasis.opendocument.spreadsheet"):
                return Container.ODS
    except zipfile.BadZipFile:
        return Container.ZIP
    return Container.ZIP


def cell_text(value: Any) -> str:
    """A workbook cell as the CSV export of the same sheet would have it.

    Integers stay integers (92011, not 92011.0), floats keep their shortest exact form, TRUE and
    FALSE become 1 and empty (the flag convention of the published lists), dates ISO.
    """
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


@dataclass
class Sheet:
    """One worksheet: its name and its rows, each with its 1-based row number."""

    name: str
    rows: Iterator[tuple[int, list[str]]]


def open_xlsx(data: bytes) -> Any:
    """An XLSX workbook opened read-only (openpyxl raises on a damaged one); close it after use."""
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(data), read_only=True, data_only=True)


def xlsx_sheets(book: Any) -> Iterator[Sheet]:
    """The worksheets of an open workbook in tab order, each streaming its rows as text.

    `reset_dimensions` because many generators write a wrong <dimension>, and openpyxl's
    read-only mode would otherwise cut the sheet there. Trailing empty cells are dropped.
    """
    for sheet in book.worksheets:
        sheet.reset_dimensions()

        def sheet_rows(ws: Any = sheet) -> Iterator[tuple[int, list[str]]]:
            for number, values in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
                cells = [cell_text(v) for v in values]
                while cells and cells[-1] == "":
                    cells.pop()
                yield number, cells

        yield Sheet(sheet.title, sheet_rows())


# --- writing ---------------------------------------------------------------------------------

_FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
# A number as a person types it: digits, signs, parentheses, dots, slashes and spaces, and at
# least one digit. It cannot call a function or reach DDE, but a spreadsheet would still compute
# +81-774-95-1900 (to -2788) or shorten it, so only its leading sign is made text (below).
_NUMBER_LIKE = re.compile(r"[+\-][0-9()\-+./ ]*")
_FULL_WIDTH_SIGN = {"+": "\uff0b", "-": "\uff0d"}  # ＋ and －, both in CP932


def spreadsheet_safe(value: str) -> str:
    """A CSV cell a spreadsheet shows as text and never runs as a formula.

    Cells starting with = + - @, a tab or a carriage return are formula triggers (OWASP's CSV
    injection list). A telephone number or a lone dash (+81-774-95-1900, -, -5) gets its
    leading sign in full width (＋81-774-95-1900, －): text to every spreadsheet, readable as
    the same number to a person, in CP932 for the LGWAN transfer, and without the apostrophe
    that the usual fix leaves visible in a CSV. Anything else formula-like (=HYPERLINK(…),
    @SUM(…), +cmd|…) is prefixed with an apostrophe as in the HQ exports: it is no data anyone
    wants to keep as typed.
    """
    if not value or not value.startswith(_FORMULA_LEAD):
        return value
    if _NUMBER_LIKE.fullmatch(value):
        return _FULL_WIDTH_SIGN[value[0]] + value[1:]
    return "'" + value
