"""The resident import on files larger than one chunk: read as it goes, all or nothing, idempotent."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from evac.common.importing import ImportRefused
from evac.extensions import db as _db
from evac.people import importers
from evac.people.importers import COLUMNS, import_residents_bytes, import_residents_stream
from evac.people.models import Household, Person
from tests.people.test_resident_import import TODAY, count, csv_bytes

FLUSH = 50  # rows per chunk in these tests; the files below are many chunks long
SEX = COLUMNS.index("性別")
PHONE = COLUMNS.index("電話番号")


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importers, "ROWS_PER_FLUSH", FLUSH)


def town(households: int) -> list[list[str]]:
    """Households of three (head first); the head lives at 1丁目, the others' rows say 2丁目."""
    rows = []
    for n in range(1, households + 1):
        number = f"{n:010d}"
        for member, (name, relationship) in enumerate((("太郎", "世帯主"), ("花子", "妻"), ("陽菜", "子"))):
            street = 1 if relationship == "世帯主" else 2
            rows.append([number, f"佐藤{chr(0x4E00 + n)} {name}", "サトウ イチ", f"19{50 + member}-01-0{1 + n % 9}",
                         "女" if member else "男", relationship, "619-0238",
                         f"京都府相楽郡精華町光台{street}丁目{n}", "", ""])
    return rows


def csv_lines(rows: Sequence[list[str]]) -> Iterator[bytes]:
    """The CSV file of `rows`, a line at a time (header first)."""
    yield csv_bytes([]).rstrip(b"\r\n") + b"\r\n"
    for row in rows:
        yield csv_bytes([row], header=["x"]).split(b"\r\n", 1)[1]


class LineByLine(io.RawIOBase):
    """A file that exists only as a generator of lines: not seekable, counts the lines handed out."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self.lines, self.pending, self.handed_out = lines, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            line = next(self.lines, None)
            if line is None:
                return 0
            self.pending, self.handed_out = line, self.handed_out + 1
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def test_the_file_is_read_as_it_is_imported(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = town(2000)  # 6,000 rows, about 600 KB
    source = LineByLine(csv_lines(rows))
    read_at_flush: list[int] = []
    chunk = importers._Store.chunk

    def spy(self: importers._Store, residents: Sequence[Any]) -> None:
        read_at_flush.append(source.handed_out)
        chunk(self, residents)

    monkeypatch.setattr(importers._Store, "chunk", spy)
    report = import_residents_stream(io.BufferedReader(source), today=TODAY)
    assert report.added == len(rows) and report.households_added == 2000
    assert len(read_at_flush) >= len(rows) // (2 * FLUSH)
    # The first chunk was stored when only the first bytes (the encoding sniff and a read-ahead
    # block) had been read: about 900 lines of 6,001, not the file.
    assert read_at_flush[0] < len(rows) // 4
    assert read_at_flush == sorted(read_at_flush) and read_at_flush[-1] > len(rows) * 3 // 4
    assert count(Person) == len(rows)


def test_a_bad_row_late_in_a_long_file_stores_nothing_and_is_named(app: Any) -> None:
    first = town(400)
    import_residents_bytes(csv_bytes(first[:30]), today=TODAY)  # some of it is there already
    changed = [row.copy() for row in first]
    for row in changed[:600]:
        row[PHONE] = "0774-00-0000"
    changed[1100][SEX] = "?"  # line 1102: 22 chunks in
    with pytest.raises(ImportRefused) as caught:
        import_residents_bytes(csv_bytes(changed), today=TODAY)
    assert [(e.line, e.field) for e in caught.value.errors] == [(1102, "性別")]
    assert "何も登録していません" in caught.value.message
    _db.session.expire_all()
    assert count(Person) == 30 and count(Household) == 10
    assert not _db.session.scalar(sa.select(sa.func.count()).select_from(Person).where(Person.phone.is_not(None)))


def test_a_person_given_twice_chunks_apart_is_refused(app: Any) -> None:
    rows = town(300)
    rows.append(rows[7].copy())  # line 9 again, at line 902
    rows.append(rows[8].copy())  # and line 10, at line 903
    with pytest.raises(ImportRefused) as caught:
        import_residents_bytes(csv_bytes(rows), today=TODAY)
    assert [(e.line, e.field) for e in caught.value.errors] == [(902, "氏名"), (903, "氏名")]
    assert "9行目と同じ人" in caught.value.errors[0].message
    assert count(Person) == 0 and count(Household) == 0


def test_reimport_across_chunks_is_idempotent_and_updates_what_changed(app: Any) -> None:
    rows = town(300)
    # Scattered: a household's rows fall into different chunks, its head often not first.
    scattered = rows.copy()
    random.Random(4).shuffle(scattered)
    report = import_residents_bytes(csv_bytes(scattered), today=TODAY)
    assert (report.added, report.households_added, report.households_updated) == (900, 300, 0)
    addresses = set(_db.session.scalars(sa.select(Household.address)))
    assert addresses == {f"京都府相楽郡精華町光台1丁目{n}" for n in range(1, 301)}  # the heads' addresses

    for again in (rows, scattered):  # in file order, and scattered again
        report = import_residents_bytes(csv_bytes(again), today=TODAY)
        assert (report.added, report.updated, report.unchanged) == (0, 0, 900)
        assert (report.households_added, report.households_updated) == (0, 0)

    changed = [row.copy() for row in rows]
    for index in (5, 450, 899):  # early, middle and last chunk
        changed[index][PHONE] = "0774-11-2222"
    changed[897][COLUMNS.index("住所")] = "京都府相楽郡精華町祝園1"  # the head of household 300 moves
    report = import_residents_bytes(csv_bytes(changed), today=TODAY)
    assert (report.added, report.updated, report.unchanged) == (0, 4, 896)
    assert (report.households_added, report.households_updated) == (0, 1)
    assert count(Person) == 900 and count(Household) == 300
    moved = _db.session.scalar(sa.select(Household).where(Household.number == f"{300:010d}"))
    assert moved is not None and (moved.address, moved.district) == ("京都府相楽郡精華町祝園1", "祝園")


def test_bytes_in_another_encoding_far_into_the_file_are_refused(app: Any) -> None:
    data = csv_bytes(town(400)) + "0000009999,佐藤 一,サトウ イチ,1970-01-01,男,世帯主,,精華町光台1,,\r\n".encode("cp932")
    with pytest.raises(ImportRefused) as caught:
        import_residents_bytes(data, today=TODAY)
    assert [(e.line, e.field) for e in caught.value.errors] == [(0, "文字コード")]
    assert count(Person) == 0 and count(Household) == 0
