"""Exports: roster CSV/XLSX, 安否情報 CSV (UTF-8 and CP932) and PFIF 1.4; hq/admin only; audited."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date

from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.hq.anpi import COLUMNS as ANPI_COLUMNS
from evac.hq.anpi import GETA, cp932_safe
from tests import factories
from tests.hq.helpers import ELDERLY, check_in, check_out, family

PFIF = "{http://zesty.ca/pfif/1.4}"


def _setup(client: FlaskClient) -> dict:
    a = factories.shelter(name="精華町立東光小学校", code="T-A", address="京都府相楽郡精華町祝園西1-1")
    b = factories.shelter(name="けいはんなプラザ", code="T-B")
    headers = factories.bearer(factories.account(Role.HQ))
    yoshida = family(2, family_name="𠮷田", family_name_kana="ヨシダ", needs=[ELDERLY, 0],
                     consent_relatives=True, consent_public=True, address="京都府相楽郡精華町光台1-2")
    tanaka = family(1, family_name="田中", family_name_kana="タナカ", consent_public=False)
    check_in(client, headers, a.id, yoshida)
    check_in(client, headers, b.id, tanaka)
    check_out(client, headers, yoshida[1:], reason="in_car")
    return {"a": a, "b": b, "headers": headers, "yoshida": yoshida, "tanaka": tanaka}


def _csv(data: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding))))


def test_roster_csv_and_xlsx_per_shelter_and_for_all(client: FlaskClient, db) -> None:
    s = _setup(client)
    one = client.get(f"/api/v1/exports/roster.csv?shelter_id={s['a'].id}", headers=s["headers"])
    assert one.status_code == 200 and one.headers["Content-Disposition"].startswith("attachment")
    rows = _csv(one.data, "utf-8-sig")
    assert rows[0][:3] == ["避難所コード", "避難所名", "所在"] and len(rows) == 3
    assert {r[2] for r in rows[1:]} == {"在所", "車中泊"} and rows[1][6].startswith("𠮷田")
    everyone = _csv(client.get("/api/v1/exports/roster.csv", headers=s["headers"]).data, "utf-8-sig")
    assert len(everyone) == 4

    xlsx = client.get("/api/v1/exports/roster.xlsx", headers=s["headers"])
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.data), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "避難所コード" and len(values) == 4
    assert {v[1] for v in values[1:]} == {"精華町立東光小学校", "けいはんなプラザ"}

    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("export.%"))).all()
    assert sorted(actions) == ["export.roster_csv", "export.roster_csv", "export.roster_xlsx"]


def test_anpi_csv_in_form_order_and_cp932_without_crashing(client: FlaskClient, db) -> None:
    s = _setup(client)
    utf8 = _csv(client.get("/api/v1/exports/anpi.csv", headers=s["headers"]).data, "utf-8-sig")
    assert tuple(utf8[0]) == ANPI_COLUMNS and utf8[0][0] == "①氏名" and utf8[0][13].startswith("⑭")
    head = next(r for r in utf8 if r[0].startswith("𠮷田") and "家族0" in r[0])
    assert head[1] == "ヨシダ　カゾク" and head[2] == "1980-01-02" and head[3] == "女"
    assert head[9] == "精華町立東光小学校" and head[11] == "希望する" and head[12] == "希望しない"
    assert head[13] == "同意する"
    in_car = next(r for r in utf8 if "家族1" in r[0])
    assert in_car[9].startswith("車中泊")

    response = client.get("/api/v1/exports/anpi.csv?encoding=cp932", headers=s["headers"])
    assert response.status_code == 200 and "shift_jis" in response.headers["Content-Type"]
    sjis = _csv(response.data, "cp932")
    assert sjis[0] == utf8[0] and any(r[0].startswith(GETA + "田") for r in sjis)  # 𠮷 is not in CP932


def test_cp932_folding() -> None:
    assert cp932_safe("〜−‖—") == ("～－∥―", 0)
    assert cp932_safe("髙﨑") == ("髙﨑", 0)  # in CP932 (IBM extensions): kept
    assert cp932_safe("𠮷野家😀") == (GETA + "野家" + GETA, 2)
    assert cp932_safe("①ｶﾅ") == ("①ｶﾅ", 0)


def test_pfif_holds_only_those_who_consented(client: FlaskClient, db) -> None:
    s = _setup(client)
    response = client.get("/api/v1/exports/pfif.xml", headers=s["headers"])
    assert response.status_code == 200
    root = ET.fromstring(response.data)
    persons = root.findall(f"{PFIF}person")
    ids = {p.findtext(f"{PFIF}person_record_id") for p in persons}
    assert ids == {f"evac.seika.263664/person.{pid}" for pid in s["yoshida"]}  # not 田中: no ⑭ consent
    first = next(p for p in persons if p.findtext(f"{PFIF}person_record_id").endswith(f".{s['yoshida'][0]}"))
    assert first.findtext(f"{PFIF}full_name").startswith("𠮷田")
    assert first.findtext(f"{PFIF}alternate_names") == "ヨシダ　カゾク"
    assert first.findtext(f"{PFIF}home_city") == "精華町"
    assert first.findtext(f"{PFIF}expiry_date") > first.findtext(f"{PFIF}entry_date")
    assert first.findtext(f"{PFIF}age") == str(date.today().year - 1980 - (date.today() < date(date.today().year, 1, 2)))
    assert first.find(f"{PFIF}date_of_birth") is None and first.find(f"{PFIF}home_street") is None
    note = first.find(f"{PFIF}note")
    assert note.findtext(f"{PFIF}status") == "believed_alive"
    assert "精華町立東光小学校" in note.findtext(f"{PFIF}last_known_location")
    assert note.findtext(f"{PFIF}person_record_id") == first.findtext(f"{PFIF}person_record_id")
    # PFIF 1.4 field order: entry_date before expiry_date before author_name …
    tags = [child.tag.removeprefix(PFIF) for child in first]
    assert tags[:4] == ["person_record_id", "entry_date", "expiry_date", "author_name"]
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export.pfif")).one()
    assert audit.detail["rows"] == 2


def test_exports_refused_to_staff(client: FlaskClient, db) -> None:
    shelter = factories.shelter()
    staff = factories.bearer(factories.account(Role.STAFF, shelters=[shelter]))
    for path in ("roster.csv", "roster.xlsx", "anpi.csv", "pfif.xml"):
        assert client.get(f"/api/v1/exports/{path}?shelter_id={shelter.id}" if path != "pfif.xml"
                          else f"/api/v1/exports/{path}", headers=staff).status_code == 403


def test_a_large_export_is_sent_from_disk(client: FlaskClient, db, monkeypatch) -> None:
    from evac.hq import exports

    s = _setup(client)
    monkeypatch.setattr(exports, "IN_MEMORY", 64)
    with client.get("/api/v1/exports/anpi.csv", headers=s["headers"]) as response:
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
        assert len(_csv(response.data, "utf-8-sig")) == 4


def test_csv_cells_cannot_run_as_spreadsheet_formulas(client: FlaskClient, db) -> None:
    shelter = factories.shelter(name="数式避難所")
    headers = factories.bearer(factories.account(Role.HQ))
    sneaky = factories.person(family_name="=HYPERLINK(\"http://x\")", allergy="@SUM(1)")
    check_in(client, headers, shelter.id, [sneaky.id])
    rows = _csv(client.get("/api/v1/exports/roster.csv", headers=headers).data, "utf-8-sig")
    cells = [c for row in rows[1:] for c in row]
    assert "'@SUM(1)" in cells and any(c.startswith("'=HYPERLINK") for c in cells)
    assert not any(c[:1] in "=@+" for c in cells if c)
