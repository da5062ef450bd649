"""What every file importer shares: the report it returns and the refusal it raises.

Importers are all-or-nothing by default: they check every row first, and a file with any bad
row is refused whole, naming each bad line and field, with nothing stored. An importer may offer
to skip the bad rows instead; the report then lists them as refused.

The report lists everything the operator should know about the file beyond the counts: notices
about the file as a whole, each repair (line, column, before → after), warnings, refused rows,
and what the importer did with the data (twins merged, rows missing from a re-import). It prints
Japanese first and English after, and writes itself as CSV (`write_csv`) beside the import.
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from flask_babel import force_locale
from flask_babel import gettext as _

from evac.common.csvfile import spreadsheet_safe
from evac.common.errors import ValidationFailed
from evac.common.vocab import N_

MAX_REPORTED_ERRORS = 50
MAX_LINES_SHOWN = 10
REPORT_COLUMNS = ("種別 kind", "行 line", "列 column", "修正前 before", "修正後 after", "内容 message")


def bilingual(msgid: str, /, **values: Any) -> str:
    """A message in Japanese, then in English (" / "), for the command line and its reports.

    `msgid` is a message marked with `N_`, so that `make messages` extracts it; the English
    comes from the catalogue. When both read the same (no translation yet) it is given once.
    """
    with force_locale("ja"):
        japanese = _(msgid, **values)
    with force_locale("en"):
        english = _(msgid, **values)
    return japanese if english == japanese else f"{japanese} / {english}"


@dataclass(frozen=True)
class RowError:
    """One problem in one row: 1-based line number in the file, the column, what is wrong."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.line}行目 {self.field}: {self.message}"


class ImportRefused(ValidationFailed):
    """The file was refused whole; `errors` says where and why."""

    code = "import_refused"

    def __init__(self, message: str, errors: list[RowError] | None = None) -> None:
        self.errors = errors or []
        shown = self.errors[:MAX_REPORTED_ERRORS]
        super().__init__(
            message,
            fields={"rows": [{"line": e.line, "field": e.field, "message": e.message} for e in shown]},
        )

    def __str__(self) -> str:
        lines = [self.message, *(str(e) for e in self.errors[:MAX_REPORTED_ERRORS])]
        if len(self.errors) > MAX_REPORTED_ERRORS:
            more = len(self.errors) - MAX_REPORTED_ERRORS
            lines.append(f"… ほか {more} 件 / {more} more")
        return "\n".join(lines)

    def write_csv(self, handle: IO[str]) -> None:
        """Every error (not only the first MAX_REPORTED_ERRORS) in the layout of the report CSV."""
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(REPORT_COLUMNS)
        writer.writerow(["refusal", "", "", "", "", spreadsheet_safe(self.message)])
        for e in self.errors:
            writer.writerow(["error", e.line, spreadsheet_safe(e.field), "", "", spreadsheet_safe(e.message)])


class EntryKind(enum.StrEnum):
    """What a report entry is about (the first column of the report CSV)."""

    NOTICE = "notice"  # about the file as a whole (an XLSX named .csv, rows above the header)
    REPAIR = "repair"  # a cell evac read differently from how it is written
    WARNING = "warning"  # imported, but worth a look
    REFUSED = "refused"  # a row left out (only with skip-invalid)
    MERGED = "merged"  # a row joined an existing shelter as another designation of the site
    NOT_MERGED = "not_merged"  # a possible twin evac did not merge, and why
    MISSING = "missing"  # a shelter the previous import of this list had and this file has not


ENTRY_TITLES: dict[EntryKind, str] = {
    EntryKind.NOTICE: N_("ファイルについて"),
    EntryKind.REPAIR: N_("読み替えた値"),
    EntryKind.WARNING: N_("確認してほしい行"),
    EntryKind.REFUSED: N_("取り込まなかった行"),
    EntryKind.MERGED: N_("同じ場所として統合"),
    EntryKind.NOT_MERGED: N_("統合しなかった候補"),
    EntryKind.MISSING: N_("新しいファイルにない避難所"),
}


@dataclass(frozen=True)
class ReportEntry:
    """One line of the report: where (line, column), what (before → after), and why."""

    kind: EntryKind
    line: int | None
    column: str = ""
    before: str = ""
    after: str = ""
    message: str = ""


@dataclass
class ImportReport:
    """What an import did."""

    format: str  # e.g. "GSI 指定避難所 CSV"
    encoding: str  # e.g. "CP932 (Shift_JIS)"
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0  # rows that joined an existing shelter (another designation of the site)
    refused: int = 0  # rows left out (skip-invalid)
    warnings: list[str] = field(default_factory=list)
    entries: list[ReportEntry] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the operator."""
        text = (f"{self.format} / {self.encoding}: "
                f"追加 added {self.added}, 更新 updated {self.updated}, 変更なし unchanged {self.unchanged}")
        if self.merged:
            text += f", 統合 merged {self.merged}"
        if self.refused:
            text += f", 取り込まず refused {self.refused}"
        return text

    def of_kind(self, kind: EntryKind) -> list[ReportEntry]:
        """The entries of one kind, in file order."""
        return [e for e in self.entries if e.kind is kind]

    def sections(self) -> list[str]:
        """The report for a terminal: one titled section per kind of entry, repairs grouped.

        Repairs of the same column from the same text to the same text are one line with their
        count and the first lines (a town's file may hold two thousand 〇 flags).
        """
        out: list[str] = []
        for kind in EntryKind:
            entries = self.of_kind(kind)
            if not entries:
                continue
            out.append(f"[{bilingual(ENTRY_TITLES[kind])}] {len(entries)}")
            if kind is EntryKind.REPAIR:
                out.extend(_grouped_repairs(entries))
            else:
                out.extend("  " + _describe(e) for e in entries[:MAX_REPORTED_ERRORS])
                if len(entries) > MAX_REPORTED_ERRORS:
                    out.append(f"  … ほか {len(entries) - MAX_REPORTED_ERRORS} 件 / more (--report)")
        return out

    def write_csv(self, handle: IO[str]) -> None:
        """Every entry as a CSV row (kind, line, column, before, after, message).

        Opened in spreadsheets, so cells cannot run as formulas (`spreadsheet_safe`); the caller
        chooses the encoding (the CLI writes UTF-8 with BOM, which Excel opens as UTF-8).
        """
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(REPORT_COLUMNS)
        writer.writerow(["summary", "", "", "", "", spreadsheet_safe(self.summary())])
        for e in self.entries:
            writer.writerow([e.kind.value, "" if e.line is None else e.line,
                             *(spreadsheet_safe(v) for v in (e.column, e.before, e.after, e.message))])


def _describe(entry: ReportEntry) -> str:
    where = f"{entry.line}行目 " if entry.line is not None else ""
    column = f"{entry.column}: " if entry.column else ""
    paired = entry.kind in (EntryKind.REPAIR, EntryKind.MERGED, EntryKind.NOT_MERGED)
    if paired and (entry.before or entry.after):
        change = f"{entry.before!r} → {entry.after!r} "
    else:
        change = f"{entry.before} " if entry.before else ""
    return f"{where}{column}{change}{entry.message}".rstrip()


def _grouped_repairs(entries: Iterable[ReportEntry]) -> list[str]:
    groups: dict[tuple[str, str, str, str], list[int | None]] = {}
    for e in entries:
        groups.setdefault((e.column, e.before, e.after, e.message), []).append(e.line)
    out = []
    for (column, before, after, message), lines in groups.items():
        shown = ", ".join(str(n) for n in lines[:MAX_LINES_SHOWN])
        if len(lines) > MAX_LINES_SHOWN:
            shown += ", …"
        where = f"{shown} 行目" if len(lines) == 1 else f"{len(lines)} 件 / rows: {shown} 行目"
        out.append(f"  {column}: {before!r} → {after!r} {message} ({where})")
    return out


def grouped_lines(lines: list[int], where: Callable[[str], str]) -> str:
    """'2, 5, 9 行目' with at most MAX_LINES_SHOWN numbers, as `where` words it."""
    shown = ", ".join(str(n) for n in lines[:MAX_LINES_SHOWN])
    if len(lines) > MAX_LINES_SHOWN:
        shown += ", …"
    return where(shown)
