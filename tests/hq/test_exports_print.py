"""Exports that open and print right: typed XLSX cells in Japan time, widths, filter and print
setup; CSV with one exact charset; download names in Japan time, one per encoding."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import update

from evac.accounts.models import Role
from evac.hq.exports import ROSTER_COLUMNS
from evac.stays.models import Stay
from tests import factories
from tests.hq.helpers import check_in, family

# 15:30 UTC on 1 December is 00:30 on 2 December in Japan: a date written in UTC shows the wrong day.
CHECKED_IN_UTC = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
CHECKED_IN_JST = datetime(2026, 12, 2, 0, 30)
LAST_COLUMN = "X"  # the 24th column


def _roster(client: FlaskClient, db) -> dict:
    shelter = factories.shelter(name="精華町立川西小学校", code="P-A")
    headers = factories.bearer(factories.account(Role.HQ))
    ids = family(2, family_name="中村", family_name_kana="ナカムラ", address="京都府相楽郡精華町祝園1-1")
    sneaky = factories.person(family_name="=HYPERLINK(\"http://x\")", given_name="悪\x07意").id
    check_in(client, headers, shelter.id, ids)
    check_in(client, headers, shelter.id, [sneaky])
    db.session.execute(update(Stay).values(checked_in_at=CHECKED_IN_UTC))
    db.session.commit()
    return {"headers": headers, "shelter": shelter, "rows": 3}


def _workbook(client: FlaskClient, headers: dict[str, str], query: str = ""):
    response = client.get(f"/api/v1/exports/roster.xlsx{query}", headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return load_workbook(io.BytesIO(response.data)).active


def test_the_workbook_holds_real_dates_in_japan_time(client: FlaskClient, db) -> None:
    s = _roster(client, db)

    sheet = _workbook(client, s["headers"])

    header = [c.value for c in sheet[1]]
    assert tuple(header) == ROSTER_COLUMNS
    checked_in, born = header.index("受付日時") + 1, header.index("生年月日") + 1
    for row in range(2, s["rows"] + 2):
        time_cell, birth_cell = sheet.cell(row, checked_in), sheet.cell(row, born)
        assert isinstance(time_cell.value, datetime) and time_cell.value == CHECKED_IN_JST
        assert time_cell.is_date and time_cell.number_format == "yyyy-mm-dd hh:mm"
        assert birth_cell.is_date and birth_cell.number_format == "yyyy-mm-dd"
        assert birth_cell.value == datetime(1980, 1, 2)  # a date cell, read back as midnight
    # The CSV says the same instant in the same zone, as text.
    rows = list(csv.reader(io.StringIO(
        client.get("/api/v1/exports/roster.csv", headers=s["headers"]).data.decode("utf-8-sig"))))
    assert {r[3] for r in rows[1:]} == {"2026-12-02 00:30"} and {r[8] for r in rows[1:]} == {"1980-01-02"}


def test_the_workbook_keeps_formulas_out_and_control_characters_off(client: FlaskClient, db) -> None:
    s = _roster(client, db)

    sheet = _workbook(client, s["headers"])

    names = [sheet.cell(row, ROSTER_COLUMNS.index("氏名") + 1).value for row in range(2, s["rows"] + 2)]
    sneaky = next(n for n in names if "HYPERLINK" in n)
    assert sneaky.startswith("'=HYPERLINK") and sneaky.endswith("悪意")
    assert sheet.cell(2, 1).data_type == "s" and not any(
        c.data_type == "f" for row in sheet.iter_rows() for c in row)


def test_nothing_is_written_as_no_cell_rather_than_an_empty_string(client: FlaskClient, db) -> None:
    s = _roster(client, db)  # nobody has a phone number, a postal code or a nationality

    data = client.get("/api/v1/exports/roster.xlsx", headers=s["headers"]).data

    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    phone = chr(ord("A") + ROSTER_COLUMNS.index("電話番号"))
    assert '<c r="A2"' in sheet_xml and f'<c r="{phone}2"' not in sheet_xml
    assert not re.search(r'<c [^>]*t="inlineStr"\s*/>', sheet_xml)  # an empty text cell the filter lists apart


def test_the_workbook_has_widths_and_a_filter_over_the_data(client: FlaskClient, db) -> None:
    s = _roster(client, db)

    sheet = _workbook(client, s["headers"])

    widths = {title: sheet.column_dimensions[chr(ord("A") + i)].width for i, title in enumerate(ROSTER_COLUMNS)}
    # Every heading fits on two lines beside its filter button, a full-width character counting two.
    for title, width in widths.items():
        assert width >= -(-sum(2 if unicodedata.east_asian_width(c) in "WFA" else 1 for c in title) // 2) + 2, title
    assert all(cell.alignment.wrap_text and cell.font.bold for cell in sheet[1])
    assert sheet.row_dimensions[1].height >= 30  # room for the second line of a wrapped heading
    assert max(widths, key=widths.__getitem__) == "住所" and widths["受付日時"] >= len("2026-12-02 00:30")
    assert sheet.auto_filter.ref == f"A1:{LAST_COLUMN}{s['rows'] + 1}"
    assert sheet.freeze_panes == "A2"
    # A sheet of one shelter filters its own rows only.
    other = factories.shelter(code="P-B")
    one = _workbook(client, s["headers"], f"?shelter_id={other.id}")
    assert one.auto_filter.ref == f"A1:{LAST_COLUMN}1"


def test_the_workbook_prints_on_a4_landscape_one_page_wide(client: FlaskClient, db) -> None:
    s = _roster(client, db)

    sheet = _workbook(client, s["headers"])

    setup = sheet.page_setup
    assert setup.orientation == "landscape" and int(setup.paperSize) == 9  # 9: A4
    assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
    assert int(setup.fitToWidth) == 1 and int(setup.fitToHeight) == 0
    assert sheet.print_title_rows == "$1:$1"
    assert sheet.oddFooter.center.text == "&P / &N"


def _filename(response) -> str:
    match = re.fullmatch(r'attachment; filename="?([^";]+)"?', response.headers["Content-Disposition"])
    assert match, response.headers["Content-Disposition"]
    return match.group(1)


@pytest.mark.parametrize("from_disk", [False, True], ids=["in-memory", "from-disk"])
def test_csv_names_one_exact_charset_and_a_japan_time_name_per_encoding(
        client: FlaskClient, db, monkeypatch, from_disk: bool) -> None:
    from evac.hq import exports, views

    s = _roster(client, db)
    monkeypatch.setattr(views, "now_utc", lambda: CHECKED_IN_UTC)
    if from_disk:
        monkeypatch.setattr(exports, "IN_MEMORY", 64)

    names = {}
    for kind in ("anpi", "roster"):
        with client.get(f"/api/v1/exports/{kind}.csv", headers=s["headers"]) as utf8:
            assert utf8.status_code == 200 and utf8.headers["Content-Type"] == "text/csv; charset=utf-8"
            assert utf8.data.startswith("\ufeff".encode())
            names[kind, "utf-8"] = _filename(utf8)
        with client.get(f"/api/v1/exports/{kind}.csv?encoding=cp932", headers=s["headers"]) as sjis:
            assert sjis.status_code == 200 and sjis.headers["Content-Type"] == "text/csv; charset=Windows-31J"
            assert "中村" in sjis.data.decode("cp932")
            names[kind, "cp932"] = _filename(sjis)

    assert names["anpi", "utf-8"] == "evac-anpi-all-20261202-0030-utf8.csv"
    assert names["anpi", "cp932"] == "evac-anpi-all-20261202-0030-sjis.csv"
    assert names["roster", "cp932"] == "evac-roster-all-20261202-0030-sjis.csv"
    assert len(set(names.values())) == 4


def test_workbook_and_pfif_names_are_in_japan_time(client: FlaskClient, db, monkeypatch) -> None:
    from evac.hq import views

    s = _roster(client, db)
    monkeypatch.setattr(views, "now_utc", lambda: CHECKED_IN_UTC)

    xlsx = client.get(f"/api/v1/exports/roster.xlsx?shelter_id={s['shelter'].id}", headers=s["headers"])
    pfif = client.get("/api/v1/exports/pfif.xml", headers=s["headers"])

    assert _filename(xlsx) == f"evac-roster-shelter{s['shelter'].id}-20261202-0030.xlsx"
    assert _filename(pfif) == "evac-pfif-all-20261202-0030.xml"
    assert pfif.headers["Content-Type"] == "application/xml; charset=utf-8"
