"""Roster, person search and scan lookups: scoped by role, filtered, and every read audited."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.common.vocab import Need
from tests import factories
from tests.checkin.helpers import post_checkin, post_checkout, qr_for


@pytest.fixture
def town(client: FlaskClient, db):
    mine, other = factories.shelter(), factories.shelter()
    staff = factories.bearer(factories.account(Role.STAFF, shelters=[mine]))
    hq = factories.bearer(factories.account(Role.HQ))
    home = factories.household()
    sato = factories.person(family_name="佐藤", given_name="一郎", family_name_kana="サトウ", given_name_kana="イチロウ",
                            household_id=home.id, needs=int(Need.ELDERLY))
    baby = factories.person(family_name="佐藤", given_name="花", family_name_kana="サトウ", given_name_kana="ハナ",
                            household_id=home.id, needs=int(Need.INFANT | Need.ALLERGY), allergy="卵")
    suzuki = factories.person(family_name="鈴木", given_name="次郎", family_name_kana="スズキ", given_name_kana="ジロウ")
    elsewhere = factories.person(family_name="佐々木", given_name="三郎", family_name_kana="ササキ",
                                 given_name_kana="サブロウ")
    free = factories.person(family_name="佐野", given_name="四郎", family_name_kana="サノ", given_name_kana="シロウ")
    post_checkin(client, staff, shelter_id=mine.id, person_id=sato.id, members=[sato.id, baby.id])
    post_checkin(client, staff, shelter_id=mine.id, person_id=suzuki.id)
    post_checkout(client, staff, person_id=suzuki.id, reason="outing")
    post_checkin(client, hq, shelter_id=other.id, person_id=elsewhere.id)
    return locals()


def test_roster_lists_current_stays_with_counts(client: FlaskClient, db, town) -> None:
    body = client.get(f"/api/v1/shelters/{town['mine'].id}/roster", headers=town["staff"]).get_json()
    assert body["total"] == 3 and body["counts"] == {"present": 2, "outing": 1}
    assert body["shelter"]["occupancy"] == 3 and body["shelter"]["households"] == 2
    names = sorted(i["person"]["given_name"] for i in body["items"])
    assert names == ["一郎", "次郎", "花"]


def test_roster_counts_needs_over_the_whole_shelter_whatever_the_filter(client: FlaskClient, db, town) -> None:
    url = f"/api/v1/shelters/{town['mine'].id}/roster?status=outing&limit=1"
    body = client.get(url, headers=town["staff"]).get_json()
    assert len(body["items"]) == 1
    assert body["needs"] == {"elderly": 1, "disability": 0, "infant": 1, "pregnant": 0, "language": 0,
                             "allergy": 1, "medical": 0, "care": 0, "injury": 0}
    post_checkout(client, town["staff"], person_id=town["baby"].id, reason="left")
    body = client.get(url, headers=town["staff"]).get_json()
    assert body["needs"]["infant"] == 0 and body["needs"]["elderly"] == 1


@pytest.mark.parametrize("query, expected", [
    ("status=outing", ["次郎"]),
    ("needs=infant", ["花"]),
    ("needs=elderly,allergy", ["一郎", "花"]),
    ("q=さとう", ["一郎", "花"]),
    ("q=佐藤花", ["花"]),
    ("q=ｽｽﾞｷ", ["次郎"]),
])
def test_roster_filters(client: FlaskClient, db, town, query: str, expected: list[str]) -> None:
    body = client.get(f"/api/v1/shelters/{town['mine'].id}/roster?{query}", headers=town["staff"]).get_json()
    assert sorted(i["person"]["given_name"] for i in body["items"]) == expected


def test_roster_is_scoped_and_audited(client: FlaskClient, db, town) -> None:
    assert client.get(f"/api/v1/shelters/{town['other'].id}/roster", headers=town["staff"]).status_code == 403
    client.get(f"/api/v1/shelters/{town['mine'].id}/roster", headers=town["staff"])
    read = db.session.scalars(select(AuditEvent).where(AuditEvent.subject_type == "roster")).all()[-1]
    assert sorted(read.detail["person_ids"]) == sorted([town["sato"].id, town["baby"].id, town["suzuki"].id])


def test_person_search_by_kana_kanji_and_width(client: FlaskClient, db, town) -> None:
    def names(q: str, headers=None) -> list[str]:
        body = client.get(f"/api/v1/persons?q={q}", headers=headers or town["hq"]).get_json()
        return sorted(i["family_name"] + i["given_name"] for i in body["items"])

    assert names("サ") == ["佐々木三郎", "佐藤一郎", "佐藤花", "佐野四郎"]
    assert names("さとう") == ["佐藤一郎", "佐藤花"]
    assert names("ｻﾄｳ ｲ") == ["佐藤一郎"]
    assert names("佐藤") == ["佐藤一郎", "佐藤花"]
    assert names("鈴木　次") == ["鈴木次郎"]
    # Staff do not see people staying at another shelter.
    assert names("サ", town["staff"]) == ["佐藤一郎", "佐藤花", "佐野四郎"]


def test_person_search_by_birth_date_in_wareki(client: FlaskClient, db, town) -> None:
    body = client.get("/api/v1/persons?q=スズキ&birth_date=昭和55年1月2日", headers=town["hq"]).get_json()
    assert [i["id"] for i in body["items"]] == [town["suzuki"].id]
    assert body["items"][0]["whereabouts"] == {"shelter_id": town["mine"].id, "status": "outing"}
    bad = client.get("/api/v1/persons?q=ス&birth_date=昭和99年13月1日", headers=town["hq"])
    assert bad.status_code == 422 and "birth_date" in bad.get_json()["error"]["fields"]


def test_person_search_is_audited_with_ids_only(client: FlaskClient, db, town) -> None:
    client.get("/api/v1/persons?q=スズキ", headers=town["hq"])
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "person.search")).one()
    assert event.detail["results"] == [town["suzuki"].id] and "スズキ" not in str(event.detail)


def test_empty_search_is_422(client: FlaskClient, db, town) -> None:
    response = client.get("/api/v1/persons?q=", headers=town["hq"])
    assert response.status_code == 422 and "q" in response.get_json()["error"]["fields"]


def test_lookup_shows_the_household_without_checking_in(client: FlaskClient, db, town) -> None:
    other_member = factories.person(household_id=town["home"].id, given_name="三", given_name_kana="サン")
    response = client.post("/api/v1/lookups", json={"shelter_id": town["mine"].id, "qr": qr_for(other_member.id)},
                           headers=town["staff"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["person"]["id"] == other_member.id
    members = {m["id"]: m["whereabouts"] for m in body["household"]["members"]}
    assert members[other_member.id] is None
    assert members[town["sato"].id]["shelter_id"] == town["mine"].id
    roster = client.get(f"/api/v1/shelters/{town['mine'].id}/roster", headers=town["staff"]).get_json()
    assert roster["total"] == 3
