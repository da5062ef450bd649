"""Exports: roster CSV/XLSX, 安否情報 CSV (UTF-8 and CP932) and PFIF 1.4; hq/admin only; audited."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from evac import settings
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
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=Windows-31J"
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
    assert ids == {f"seika.evac.example.jp/person.{pid}" for pid in s["yoshida"]}  # not 田中: no ⑭ consent
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


# --- PFIF 1.4, checked against the rules of the published specification ------------------------
# http://zesty.ca/pfif/1.4 (sections 4 and 5): the fields of person and note records in the order
# the specification lists them, which of them are required, and the RELAX NG types of section 5.
# Written from the specification, not from a validator. PFIF 1.4 itself allows any order of the
# fields (its schema interleaves them); evac writes them in the listed order, which PFIF 1.1–1.3
# (xsd:sequence) required, so older importers read the export too — checked here as well.

PFIF_PERSON_FIELDS = (
    "person_record_id", "entry_date", "expiry_date", "author_name", "author_email", "author_phone",
    "source_name", "source_date", "source_url", "full_name", "given_name", "family_name",
    "alternate_names", "description", "sex", "date_of_birth", "age", "home_street", "home_neighborhood",
    "home_city", "home_state", "home_postal_code", "home_country", "photo_url", "profile_urls",
)
PFIF_PERSON_REQUIRED = ("person_record_id", "source_date", "full_name")
PFIF_NOTE_FIELDS = (
    "note_record_id", "person_record_id", "linked_person_record_id", "entry_date", "author_name",
    "author_email", "author_phone", "source_date", "author_made_contact", "status",
    "email_of_found_person", "phone_of_found_person", "last_known_location", "text", "photo_url",
)
PFIF_NOTE_REQUIRED = ("note_record_id", "author_name", "source_date", "text")
PFIF_TIME = re.compile(r"\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
PFIF_TYPES = {
    "entry_date": "time", "expiry_date": "time", "source_date": "time",
    "author_email": re.compile(r".+@.+"), "email_of_found_person": re.compile(r".+@.+"),
    "author_phone": re.compile(r"[\-+()\d ]+"), "phone_of_found_person": re.compile(r"[\-+()\d ]+"),
    "sex": re.compile(r"female|male|other"), "date_of_birth": re.compile(r"\d\d\d\d(-\d\d(-\d\d)?)?"),
    "age": re.compile(r"\d+(-\d+)?"), "home_country": re.compile(r"[A-Z][A-Z]"),
    "author_made_contact": re.compile(r"true|false"),
    "status": re.compile(r"information_sought|is_note_author|believed_alive|believed_missing|believed_dead"),
}
# A record id is "a lower-case ASCII domain name, then / and a local identifier" (section 4.1);
# the domain's labels are host-name labels (letters, digits, hyphens; starting with a letter).
PFIF_RECORD_ID = re.compile(r"((?:[a-z](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z](?:[a-z0-9-]*[a-z0-9])?)/(.+)")


def pfif_problems(document: bytes) -> list[str]:
    """Every way the document breaks a PFIF 1.4 rule (empty when it follows them all)."""
    problems: list[str] = []
    root = ET.fromstring(document)
    if root.tag != f"{PFIF}pfif":
        return [f"root element is {root.tag}, not pfif:pfif"]
    if not len(root):
        problems.append("a document holds one or more person or note elements")

    def check_record(element: ET.Element, fields: tuple[str, ...], required: tuple[str, ...], kind: str) -> str:
        children = [c for c in element if c.tag != f"{PFIF}note"]
        names = [c.tag.removeprefix(PFIF) for c in children]
        label = f"{kind} {element.findtext(f'{PFIF}{fields[0]}')}"
        for name in names:
            if name not in fields:
                problems.append(f"{label}: {name} is no {kind} field")
        for name in required:
            if names.count(name) != 1 or not (element.findtext(f"{PFIF}{name}") or "").strip():
                problems.append(f"{label}: required field {name} missing or empty")
        for name in set(names):
            if names.count(name) > 1:
                problems.append(f"{label}: {name} given {names.count(name)} times")
        known = [n for n in names if n in fields]
        if known != sorted(known, key=fields.index):
            problems.append(f"{label}: fields not in the specification's order: {known}")
        for child in children:
            name, value = child.tag.removeprefix(PFIF), child.text or ""
            rule = PFIF_TYPES.get(name)
            if name.endswith("record_id"):
                if not PFIF_RECORD_ID.fullmatch(value):
                    problems.append(f"{label}: {name} {value!r} is not domain/unique-id with a valid domain")
            elif rule == "time":
                try:
                    valid = bool(PFIF_TIME.fullmatch(value)) and datetime.fromisoformat(value[:19]) is not None
                except ValueError:
                    valid = False
                if not valid:
                    problems.append(f"{label}: {name} {value!r} is not yyyy-mm-ddThh:mm:ssZ (UTC)")
            elif rule is not None and not rule.fullmatch(value):
                problems.append(f"{label}: {name} {value!r} does not match its type")
        return element.findtext(f"{PFIF}{fields[0]}") or ""

    for child in root:
        if child.tag == f"{PFIF}person":
            person_id = check_record(child, PFIF_PERSON_FIELDS, PFIF_PERSON_REQUIRED, "person")
            expiry, entry = child.findtext(f"{PFIF}expiry_date"), child.findtext(f"{PFIF}entry_date")
            if expiry and entry and expiry <= entry:
                problems.append(f"person {person_id}: expiry_date is not after entry_date")
            for note in child.findall(f"{PFIF}note"):
                check_record(note, PFIF_NOTE_FIELDS, PFIF_NOTE_REQUIRED, "note")
                inner = note.findtext(f"{PFIF}person_record_id")
                if inner is not None and inner != person_id:
                    problems.append(f"note in person {person_id} names person {inner}")
            tags = [c.tag for c in child]
            first_note = tags.index(f"{PFIF}note") if f"{PFIF}note" in tags else len(tags)
            if any(tag != f"{PFIF}note" for tag in tags[first_note:]):
                problems.append(f"person {person_id}: notes come after the person's fields")
        elif child.tag == f"{PFIF}note":
            check_record(child, PFIF_NOTE_FIELDS, PFIF_NOTE_REQUIRED, "note")
            if not child.findtext(f"{PFIF}person_record_id"):
                problems.append("a note outside a person needs its person_record_id")
        else:
            problems.append(f"{child.tag} is neither pfif:person nor pfif:note")
    return problems


def test_pfif_export_follows_the_pfif_1_4_rules(client: FlaskClient, db) -> None:
    s = _setup(client)

    document = client.get("/api/v1/exports/pfif.xml", headers=s["headers"]).data

    assert pfif_problems(document) == []
    assert len(ET.fromstring(document).findall(f"{PFIF}person")) == 2


def test_the_pfif_check_catches_what_validators_refuse() -> None:
    bad = (b'<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person>'
           b"<pfif:person_record_id>evac.seika.263664/person.1</pfif:person_record_id>"
           b"<pfif:full_name>X</pfif:full_name><pfif:source_date>2026-12-01 09:00</pfif:source_date>"
           b"<pfif:sex>f</pfif:sex><pfif:note><pfif:note_record_id>n/1</pfif:note_record_id>"
           b"<pfif:text>t</pfif:text></pfif:note></pfif:person></pfif:pfif>")

    problems = "\n".join(pfif_problems(bad))

    assert "person_record_id 'evac.seika.263664/person.1'" in problems  # a label starting with a digit
    assert "source_date '2026-12-01 09:00'" in problems and "sex 'f'" in problems
    assert "fields not in the specification's order" in problems
    assert "required field author_name" in problems and "note_record_id 'n/1'" in problems


def test_the_pfif_domain_is_a_valid_domain_and_configurable(monkeypatch) -> None:
    monkeypatch.delenv("EVAC_PFIF_DOMAIN", raising=False)
    default = settings.from_environment(Path("/nonexistent"))["EVAC_PFIF_DOMAIN"]
    assert PFIF_RECORD_ID.fullmatch(f"{default}/person.1")
    monkeypatch.setenv("EVAC_PFIF_DOMAIN", "Evac.Town.Seika.Kyoto.JP")
    assert settings.from_environment(Path("/nonexistent"))["EVAC_PFIF_DOMAIN"] == "evac.town.seika.kyoto.jp"
    for wrong in ("evac.seika.263664", "localhost", "-x.example.jp", "evac_seika.example.jp"):
        monkeypatch.setenv("EVAC_PFIF_DOMAIN", wrong)
        with pytest.raises(RuntimeError, match="EVAC_PFIF_DOMAIN"):
            settings.from_environment(Path("/nonexistent"))
