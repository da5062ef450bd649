"""Building shelter files for the tests: tables as CSV text or XLSX bytes, and reading results back."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from evac.common.importing import EntryKind, ImportRefused, ImportReport
from evac.extensions import db
from evac.shelters.importers import import_shelters_bytes, import_shelters_file
from evac.shelters.models import Shelter, ShelterListing

DATA = Path(__file__).resolve().parents[1] / "data" / "shelters"


def csv_text(rows: Sequence[Sequence[Any]]) -> str:
    """Rows as CSV text with CRLF line ends, as towns' exports have them."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def table(path: Path, encoding: str = "utf-8-sig") -> list[list[str]]:
    """A CSV fixture as rows (header first)."""
    return list(csv.reader(io.StringIO(path.read_text(encoding=encoding), newline="")))


def edit(rows: list[list[str]], record: int, column: str, value: str) -> list[list[str]]:
    """A copy of the rows with one cell replaced: `record` counts from the header (1)."""
    copy = [list(r) for r in rows]
    copy[record - 1][copy[0].index(column)] = value
    return copy


def xlsx_bytes(rows: Sequence[Sequence[Any]], *, title: str = "避難所",
               before: Sequence[tuple[str, Sequence[Any]]] = ()) -> bytes:
    """A workbook whose sheet `title` holds the rows; `before` adds sheets in front of it."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, sheet_rows in before:
        sheet = book.create_sheet(name)
        for row in sheet_rows:
            sheet.append(list(row))
    sheet = book.create_sheet(title)
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def import_text(tmp_path: Path, name: str, text: str, encoding: str = "utf-8", **options: Any) -> ImportReport:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return import_shelters_file(path, **options)


def import_rows(rows: Sequence[Sequence[Any]], name: str = "list.csv", encoding: str = "utf-8",
                **options: Any) -> ImportReport:
    return import_shelters_bytes(csv_text(rows).encode(encoding), name, **options)


def refused(data: bytes, name: str = "list.csv", **options: Any) -> ImportRefused:
    with pytest.raises(ImportRefused) as info:
        import_shelters_bytes(data, name, **options)
    return info.value


def entries(report: ImportReport, kind: EntryKind) -> list[tuple[int | None, str, str, str]]:
    """(line, column, before, after) of the report's entries of one kind."""
    return [(e.line, e.column, e.before, e.after) for e in report.of_kind(kind)]


def shelters() -> list[Shelter]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Shelter).order_by(Shelter.id)))


def by_code(code: str) -> Shelter:
    db.session.expire_all()
    return db.session.scalars(sa.select(Shelter).where(Shelter.code == code)).one()


def by_name(name: str) -> list[Shelter]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Shelter).where(Shelter.name == name).order_by(Shelter.id)))


def listings_of(shelter: Shelter) -> list[tuple[str, str, str, str]]:
    """(source, dataset, municipality, ID) of every listing of a shelter."""
    rows = db.session.execute(sa.select(ShelterListing.source, ShelterListing.dataset,
                                        ShelterListing.municipality_code, ShelterListing.local_id)
                              .where(ShelterListing.shelter_id == shelter.id).order_by(ShelterListing.id))
    return [tuple(r) for r in rows]


def count(model: Any) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
