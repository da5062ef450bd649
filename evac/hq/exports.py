"""Exports for HQ: roster (CSV, XLSX), 安否情報 CSV and PFIF 1.4 XML. Each export is audited.

Rows are read in chunks (`yield_per`) and written as they come into a temporary file (in memory
while small, on disk beyond), so exporting every evacuee of a large disaster keeps memory bounded.
Column headers are data formats, not interface text: they stay Japanese in every language.

CP932 (Shift_JIS) output: characters CP932 has under another Unicode code point are folded first
(〜 → ～, − → －, ‖ → ∥, — → ―, ¢ £ ¬ ¦ → their full-width forms), then NFKC is tried, and what is
still left (𠮷, emoji, rare 異体字) becomes 〓 (げた記号, the customary mark for a character that
cannot be printed). The export never fails on a character; the number replaced is audited.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import IO, Any
from xml.sax.saxutils import escape

from sqlalchemy import select

from evac.audit import service as audit
from evac.common.db import now_utc, read_only
from evac.common.vocab import SEX_LABELS, STATUS_LABELS, TOKYO, Sex, StayStatus, age, needs_text
from evac.extensions import db
from evac.hq import anpi
from evac.people.models import Household, Person
from evac.settings import DEFAULT_PFIF_DOMAIN, is_pfif_domain
from evac.shelters import service as shelters
from evac.shelters.models import Shelter
from evac.stays.models import Stay

log = logging.getLogger("evac.hq.exports")
CHUNK = 2000
PFIF_NS = "http://zesty.ca/pfif/1.4"
PFIF_EXPIRY_DAYS = 90
IN_MEMORY = 16 * 1024 * 1024  # exports up to this size are built in memory, larger ones on disk


# Each roster column with the width (in characters) its usual content needs, kept tight: printed
# one page wide, every character of width makes the print smaller. A heading wraps onto a second
# line rather than widen its column, and always fits in two beside its filter button.
ROSTER_LAYOUT = (
    ("避難所コード", 8), ("避難所名", 20), ("所在", 8), ("受付日時", 16), ("世帯番号", 10), ("続柄", 6),
    ("氏名", 16), ("フリガナ", 18), ("生年月日", 11), ("性別", 5), ("郵便番号", 9), ("住所", 34),
    ("電話番号", 13), ("国籍", 6), ("言語", 6), ("要配慮", 16), ("アレルギー", 12), ("負傷・疾病の状況", 18),
    ("ペット", 5), ("⑫親族への回答", 7), ("⑬知人への回答", 7), ("⑭公表への同意", 7), ("person_id", 9),
    ("stay_id", 8),
)
ROSTER_COLUMNS = tuple(title for title, _width in ROSTER_LAYOUT)
XLSX_DATETIME = "yyyy-mm-dd hh:mm"  # the same reading as the CSV's text, in Japan time
XLSX_DATE = "yyyy-mm-dd"


@dataclass
class ExportCount:
    """How many rows an export wrote and how many characters CP932 could not hold."""

    rows: int = 0
    replaced: int = 0


def _open_stays(shelter_id: int | None, incident_id: int | None = None) -> Any:
    """The open incident's open stays, or every stay of an earlier one (its ledger of evacuees)."""
    from evac.hq.incidents import chosen

    incident = chosen(incident_id)
    stmt = (select(Stay, Person, Household, Shelter)
            .join(Person, Person.id == Stay.person_id)
            .outerjoin(Household, Household.id == Person.household_id)
            .join(Shelter, Shelter.id == Stay.shelter_id)
            .where(Stay.incident_id == (incident.id if incident else -1)))
    if incident is None or incident.open:
        stmt = stmt.where(Stay.checked_out_at.is_(None))
    if shelter_id is not None:
        stmt = stmt.where(Stay.shelter_id == shelter_id)
    return stmt.order_by(Stay.shelter_id, Stay.household_id, Stay.id)


def _rows(shelter_id: int | None, incident_id: int | None = None) -> Iterator[tuple[Stay, Person, Household | None, Shelter]]:
    result = db.session.execute(_open_stays(shelter_id, incident_id).execution_options(yield_per=CHUNK))
    for partition in result.partitions():
        yield from partition
        db.session.expunge_all()  # keep the identity map from growing with every evacuee


def _name(*parts: str | None) -> str:
    return "　".join(p for p in parts if p)


def _jst(value: datetime | None) -> datetime | None:
    return value.astimezone(TOKYO) if value else None


def roster_row(stay: Stay, person: Person, household: Household | None, shelter: Shelter) -> list[Any]:
    """One evacuee as a roster row (ROSTER_COLUMNS); the check-in time in Japan time, dates as dates."""
    return [
        shelter.code, shelter.name, STATUS_LABELS.get(stay.status, stay.status.value), _jst(stay.checked_in_at),
        household.number if household else "", person.relationship_to_head or "",
        _name(person.family_name, person.given_name), _name(person.family_name_kana, person.given_name_kana),
        person.birth_date, SEX_LABELS.get(person.sex, ""),
        person.postal_code or "", person.address or "", person.phone or "", person.nationality or "",
        person.language or "", needs_text(person.needs), person.allergy or "", person.condition_note or "",
        person.pets or 0,
        "可" if person.consent_relatives else "不可", "可" if person.consent_acquaintances else "不可",
        "同意" if person.consent_public else "不同意", person.id, stay.id,
    ]


def _csv_lines(header: tuple[str, ...], rows: Iterator[list[Any]], encoding: str,
               count: ExportCount) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if encoding == "cp932":
            text, replaced = anpi.cp932_safe(text)
            count.replaced += replaced
            return text.encode("cp932")
        return text.encode("utf-8")

    if encoding != "cp932":
        yield "\ufeff".encode()  # a BOM, so that Excel opens UTF-8 as UTF-8
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow([_xlsx_safe(_csv_text(v)) for v in row])  # opened in spreadsheets: no formulas
        count.rows += 1
        if n % 500 == 0:
            yield take()
    yield take()


def _csv_text(value: Any) -> Any:
    # CSV has no types: a time is written as Japan time, a date in ISO, nothing as an empty cell.
    if isinstance(value, datetime):
        return value.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def roster_csv(shelter_id: int | None, *, encoding: str = "utf-8",
               incident_id: int | None = None) -> tuple[Iterator[bytes], ExportCount]:
    """The roster of one shelter (or all) as CSV bytes, written as they are read."""
    count = ExportCount()
    rows = (roster_row(*r) for r in _rows(shelter_id, incident_id))
    return _csv_lines(ROSTER_COLUMNS, rows, encoding, count), count


def anpi_csv(shelter_id: int | None, *, encoding: str = "utf-8",
             incident_id: int | None = None) -> tuple[Iterator[bytes], ExportCount]:
    """安否情報 CSV (安否情報収集様式 ①–⑭) of one shelter or all; UTF-8 with BOM or CP932."""
    count = ExportCount()
    rows = (anpi.row(*r) for r in _rows(shelter_id, incident_id))
    return _csv_lines(anpi.COLUMNS, rows, encoding, count), count


def roster_xlsx(shelter_id: int | None, target: IO[bytes], incident_id: int | None = None) -> ExportCount:
    """The roster as an XLSX workbook written into `target` (openpyxl's streaming write-only mode).

    Ready to print as it opens: A4 landscape, every column on one page width, the heading row
    repeated on every page, page numbers in the footer. Times and dates are real cells (Japan
    time), so they sort and filter as such; the heading row carries an autofilter over the data.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.page import PageMargins
    from openpyxl.worksheet.worksheet import Worksheet

    count = ExportCount()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("名簿")
    # A write-only sheet writes its properties and columns before the first row: all set here.
    sheet.freeze_panes = "A2"
    for index, (title, width) in enumerate(ROSTER_LAYOUT, 1):
        sheet.column_dimensions[get_column_letter(index)].width = max(width, -(-_display_width(title) // 2) + 3)
    sheet.row_dimensions[1].height = 30  # two lines: the wrapped headings (not every reader fits rows itself)
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages down as the roster needs
    sheet.page_margins = PageMargins(left=0.4, right=0.4, top=0.6, bottom=0.6, header=0.3, footer=0.3)
    sheet.print_options.gridLines = True
    sheet.print_title_rows = "1:1"
    sheet.oddHeader.left.text = "避難者名簿"
    sheet.oddHeader.right.text = f"出力 {now_utc().astimezone(TOKYO):%Y-%m-%d %H:%M}"
    sheet.oddFooter.center.text = "&P / &N"

    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    header = []
    for title in ROSTER_COLUMNS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        cell.alignment = wrap
        header.append(cell)
    sheet.append(header)
    for row in _rows(shelter_id, incident_id):
        sheet.append([_xlsx_typed(sheet, v) for v in roster_row(*row)])
        count.rows += 1
    # The filter is written after the rows, so its range can end at the last one written.
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(ROSTER_COLUMNS))}{count.rows + 1}"
    book.save(target)
    return count


def _display_width(text: str) -> int:
    # The heading's width in columns (halved by the caller: headings wrap onto two lines).
    # Full-width and, in a Japanese font, ambiguous-width characters (①, ・) take two columns.
    return sum(2 if unicodedata.east_asian_width(c) in "WFA" else 1 for c in text)


def _xlsx_typed(sheet: Any, value: Any) -> Any:
    """A roster value as an XLSX cell: times as Japan-time date cells, dates as date cells."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, datetime | date) and value.year >= 1900:
        if isinstance(value, datetime):
            # Excel has no time zones: the cell holds the Japan wall-clock time.
            cell = WriteOnlyCell(sheet, value=value.astimezone(TOKYO).replace(tzinfo=None))
            cell.number_format = XLSX_DATETIME
        else:
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = XLSX_DATE
        return cell
    # Excel's calendar starts in 1900: an earlier (mistyped) date stays readable as text. Nothing
    # is no cell at all, so the filter lists it as blank.
    text = _xlsx_cell(_csv_text(value))
    return None if text == "" else text


def _xlsx_safe(value: Any) -> Any:
    # A cell starting with = + - @ would be run as a formula by a spreadsheet: keep it text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _xlsx_cell(value: Any) -> Any:
    # XLSX (XML 1.0) cannot hold most control characters: a name stored with one before names
    # refused them would stop the whole export. Dropped from the cell; the record is unchanged.
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = _xlsx_safe(value)
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def spooled() -> IO[bytes]:
    """A temporary file for an export: in memory while small, on disk when large."""
    return tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)


def _age(born: date | None, today: date) -> str:
    years = age(born, today)
    return "" if years is None else str(years)


def _element(name: str, value: str | None, indent: str) -> str:
    if not value:
        return ""
    return f"{indent}<pfif:{name}>{escape(_xml_chars(value))}</pfif:{name}>\n"


def _xml_chars(text: str) -> str:
    # Characters XML 1.0 cannot hold at all (control characters) are dropped.
    return "".join(c for c in text if c in "\t\n\r" or c >= " " and not 0xD800 <= ord(c) <= 0xDFFF
                   and c not in "\ufffe\uffff")


def pfif_xml(*, domain: str, author: str, source_name: str, source_url: str,
             expiry_days: int = PFIF_EXPIRY_DAYS, incident_id: int | None = None) -> tuple[Iterator[bytes], ExportCount]:
    """PFIF 1.4 of every evacuee with an open stay who agreed to public disclosure (⑭).

    One person record each (names, kana as alternate name, sex, age — not the birth date — and
    home city; no street address, phone or needs) and one note: believed alive, last known
    location the shelter (or 在宅 / 車中泊 with the shelter they registered at).
    `person_record_id` is `<domain>/person.<id>`, the note's `<domain>/note.stay.<id>`. A domain
    PFIF validators would refuse (a label starting with a digit, say) is replaced by evac's
    default rather than exported, and a note always has its required author_name.
    """
    if not is_pfif_domain(domain):
        log.warning("invalid PFIF domain replaced by the default", extra={"default": DEFAULT_PFIF_DOMAIN})
        domain = DEFAULT_PFIF_DOMAIN
    author = author or source_name or "evac"
    count = ExportCount()
    now = now_utc().replace(microsecond=0)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    expiry = (now + timedelta(days=expiry_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    today = now.astimezone(TOKYO).date()

    def documents() -> Iterator[bytes]:
        yield (f'<?xml version="1.0" encoding="UTF-8"?>\n<pfif:pfif xmlns:pfif="{PFIF_NS}">\n').encode()
        result = db.session.execute(
            _open_stays(None, incident_id).where(Person.consent_public.is_(True)).execution_options(yield_per=CHUNK))
        for partition in result.partitions():
            parts = []
            for stay, person, _household, shelter in partition:
                parts.append(_pfif_person(person, stay, shelter, domain=domain, author=author,
                                          source_name=source_name, source_url=source_url, stamp=stamp,
                                          expiry=expiry, today=today))
                count.rows += 1
            db.session.expunge_all()
            yield "".join(parts).encode("utf-8")
        yield b"</pfif:pfif>\n"

    return documents(), count


def _pfif_person(person: Person, stay: Stay, shelter: Shelter, *, domain: str, author: str, source_name: str,
                 source_url: str, stamp: str, expiry: str, today: date) -> str:
    pid = f"{domain}/person.{person.id}"
    sex = {Sex.MALE: "male", Sex.FEMALE: "female", Sex.OTHER: "other"}.get(person.sex, "")
    city = _home_city(person.address)
    i2, i4 = "  ", "    "
    location = anpi.whereabouts(stay, shelter)
    if stay.status in (StayStatus.PRESENT, StayStatus.OUTING) and shelter.address:
        location = f"{location} {shelter.address}"
    since = stay.checked_in_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")
    return "".join([
        f"{i2}<pfif:person>\n",
        _element("person_record_id", pid, i4),
        _element("entry_date", stamp, i4),
        _element("expiry_date", expiry, i4),
        _element("author_name", author, i4),
        _element("source_name", source_name, i4),
        _element("source_date", stamp, i4),
        _element("source_url", source_url, i4),
        _element("full_name", _name(person.family_name, person.given_name), i4),
        _element("given_name", person.given_name, i4),
        _element("family_name", person.family_name, i4),
        _element("alternate_names", _name(person.family_name_kana, person.given_name_kana), i4),
        _element("sex", sex, i4),
        _element("age", _age(person.birth_date, today), i4),
        _element("home_city", city, i4),
        _element("home_country", "JP", i4),
        f"{i4}<pfif:note>\n",
        _element("note_record_id", f"{domain}/note.stay.{stay.id}", i4 + i2),
        _element("person_record_id", pid, i4 + i2),
        _element("entry_date", stamp, i4 + i2),
        _element("author_name", author, i4 + i2),
        _element("source_date", stamp, i4 + i2),
        _element("author_made_contact", "true", i4 + i2),
        _element("status", "believed_alive", i4 + i2),
        _element("last_known_location", location, i4 + i2),
        _element("text", f"{since} {shelter.name}で避難者として受付。{author}による登録。", i4 + i2),
        f"{i4}</pfif:note>\n",
        f"{i2}</pfif:person>\n",
    ])


def _home_city(address: str | None) -> str:
    """The municipality part of an address (精華町, 京都市左京区 …), without street or number."""
    import re

    if not address:
        return ""
    text = unicodedata.normalize("NFKC", address)
    text = re.sub(r"^(京都府|大阪府|東京都|北海道|.{2,3}県)", "", text)
    match = re.match(r"^(.{1,6}?郡)?(.{1,6}?市.{1,5}?区|.{1,6}?[市町村区])", text)
    return match.group(2) if match else ""


@read_only
def run_export(kind: str, shelter_id: int | None, write: Callable[[IO[bytes]], ExportCount], target: IO[bytes],
               *, encoding: str | None = None) -> ExportCount:
    """Write one export into `target` from one snapshot, and audit it (scope, format, size; never content).

    An export is a read of every listed person's data, audited like any other staff read.
    """
    if shelter_id is not None:
        shelters.get_shelter(shelter_id)
    count = write(target)
    audit.read(f"export.{kind}", subject_type="shelter" if shelter_id else "all", subject_id=shelter_id,
               shelter_id=shelter_id, detail={"rows": count.rows, "encoding": encoding, "replaced": count.replaced})
    return count
