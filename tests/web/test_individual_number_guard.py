"""No 12-digit 個人番号 gets in through any part of any request: path, query, form, body, keys, headers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.people.models import Person
from evac.stays.models import Stay
from tests import factories

SPELLINGS = ["4729ー1836ー5025", "四七二九一八三六五〇二五", "4 7 2 9 1 8 3 6 5 0 2 5", "(4729)1836.5025",
             "472918_365025", "٤٧٢٩١٨٣٦٥٠٢٥"]


@pytest.fixture
def desk(client: FlaskClient, db: Any) -> dict[str, Any]:
    shelter = factories.shelter()
    return {"shelter": shelter, "headers": factories.bearer(factories.account(Role.HQ))}


def _walk_in(**over: Any) -> dict[str, Any]:
    return {"family_name": "避難", "given_name": "太郎", "family_name_kana": "ヒナン", "given_name_kana": "タロウ",
            "birth_date": "1990-01-01", "sex": "male", "address": "京都府相楽郡精華町祝園1-1", **over}


def _nothing_stored(db: Any) -> None:
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Stay)) == 0
    names = " ".join(f"{p.name_key} {p.address} {p.condition_note}" for p in db.session.scalars(select(Person)))
    assert "1836" not in names and "183650" not in names


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("where", ["name", "address", "note", "unknown_field", "field_name"])
def test_a_walk_in_carrying_one_anywhere_is_refused(client: FlaskClient, db: Any, desk: dict[str, Any],
                                                     spelling: str, where: str) -> None:
    person = _walk_in()
    if where == "name":
        person["given_name"] = spelling
    elif where == "address":
        person["address"] = "精華町祝園 " + spelling
    elif where == "note":
        person["condition_note"] = "番号: " + spelling
    elif where == "unknown_field":
        person["my_number"] = spelling
    else:
        person[spelling] = "x"
    body = {"shelter_id": desk["shelter"].id, "client_id": str(uuid.uuid4()), "person": person}
    response = client.post("/api/v1/checkins", json=body, headers=desk["headers"])
    assert response.status_code == 422, response.get_json()
    text = response.get_data(as_text=True)
    assert "1836" not in text and spelling not in text
    assert "個人番号" in response.get_json()["error"]["message"]
    _nothing_stored(db)
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "request.refused")).one()
    assert refused.detail["reason"] == "individual_number" and "1836" not in str(refused.detail)


@pytest.mark.parametrize("spelling", SPELLINGS[:3])
def test_a_search_or_inquiry_query_carrying_one_is_refused(client: FlaskClient, db: Any, desk: dict[str, Any],
                                                           spelling: str) -> None:
    response = client.get("/api/v1/persons", query_string={"q": spelling}, headers=desk["headers"])
    assert response.status_code == 422 and "q" in response.get_json()["error"]["fields"]
    assert client.get(f"/api/v1/persons?{spelling}=1", headers=desk["headers"]).status_code == 422


def test_a_path_or_form_carrying_one_is_refused(client: FlaskClient, db: Any) -> None:
    assert client.get("/desk/472918365025").status_code == 422
    response = client.post("/login", data={"username": "4729-1836-5025", "password": "x"})
    assert response.status_code == 422 and "1836" not in response.get_data(as_text=True)


def test_a_request_id_that_reads_as_one_is_neither_echoed_nor_logged(client: FlaskClient, db: Any,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": "4729-1836-5025"})
    assert response.headers["X-Request-Id"] != "4729-1836-5025" and "1836" not in response.headers["X-Request-Id"]
    assert "1836" not in caplog.text
    ok = client.get("/healthz", headers={"X-Request-Id": "desk-7f3a-0001"})
    assert ok.headers["X-Request-Id"] == "desk-7f3a-0001"


def test_legitimate_numbers_pass(client: FlaskClient, db: Any, desk: dict[str, Any]) -> None:
    """Phone numbers, postal codes, dates and UUID client ids whose last group is all digits."""
    person = _walk_in(phone="090-1234-5678", postal_code="619-0285", address="京都府相楽郡精華町光台7丁目43番地")
    body = {"shelter_id": desk["shelter"].id, "client_id": "123e4567-e89b-42d3-a456-426614174000", "person": person,
            "confirm_new": True}
    response = client.post("/api/v1/checkins", json=body, headers=desk["headers"])
    assert response.status_code == 201, response.get_json()
