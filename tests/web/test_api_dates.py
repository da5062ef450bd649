"""`GET /api/v1/persons` writes dates in ISO 8601 (YYYY-MM-DD) like every other part of the API,
however the birth date was asked for (ISO, YYYYMMDD or 和暦)."""

from __future__ import annotations

import re
from datetime import date

from flask.testing import FlaskClient

from evac.accounts.models import Role
from tests import factories

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def test_person_search_answers_birth_dates_in_iso(client: FlaskClient, db) -> None:
    headers = factories.bearer(factories.account(Role.HQ))
    early = factories.person(family_name="森", family_name_kana="モリ", birth_date=date(1931, 3, 9))
    unknown = factories.person(family_name="森", family_name_kana="モリ", given_name="不明", birth_date=None)

    found = {}
    for asked in ("", "&birth_date=1931-03-09", "&birth_date=19310309", "&birth_date=昭和6年3月9日"):
        response = client.get(f"/api/v1/persons?q=モリ{asked}", headers=headers)
        assert response.status_code == 200, response.get_json()
        found[asked] = {item["id"]: item["birth_date"] for item in response.get_json()["items"]}

    assert found[""] == {early.id: "1931-03-09", unknown.id: None}
    for asked in ("&birth_date=1931-03-09", "&birth_date=19310309", "&birth_date=昭和6年3月9日"):
        assert found[asked] == {early.id: "1931-03-09"}
    assert all(ISO_DATE.fullmatch(v) for answer in found.values() for v in answer.values() if v)


def test_the_contract_says_the_birth_date_is_a_date(client: FlaskClient, db) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    person = spec["components"]["schemas"]["FoundPersonOut"]["properties"]["birth_date"]
    assert person["type"] in ("string", ["string", "null"]) and person["format"] == "date"
