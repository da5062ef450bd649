"""Walk-in families: the paper card's 「一緒に避難した家族」 as one household, and a scanned household extended."""

from __future__ import annotations

import re
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.checkin.schemas import FAMILY_LIMIT
from evac.outbox.models import OutboxEvent
from evac.people.models import Household, Person
from evac.stays.models import Stay
from tests import factories
from tests.checkin.helpers import post_checkin


@pytest.fixture
def desk(db):
    shelter = factories.shelter(capacity=300)
    other = factories.shelter()
    staff = factories.account(Role.STAFF, shelters=[shelter])
    hq = factories.account(Role.HQ)
    return {"shelter": shelter, "other": other, "headers": factories.bearer(staff), "hq": factories.bearer(hq)}


def _holder(**overrides: Any) -> dict[str, Any]:
    card = {"family_name": "岩田", "given_name": "哲也", "family_name_kana": "イワタ", "given_name_kana": "テツヤ",
            "birth_date": "1975-04-01", "sex": "male", "address": "京都府相楽郡精華町光台7-43",
            "phone": "0774-00-0000", "relationship": "世帯主",
            "consent": {"relatives": True, "acquaintances": False, "public": False}}
    card.update(overrides)
    return card


def _family() -> list[dict[str, Any]]:
    return [
        {"given_name": "恵子", "given_name_kana": "ケイコ", "relationship": "妻", "birth_date": "昭和52年5月6日",
         "sex": "female", "needs": ["allergy"], "allergy": "そば"},
        {"given_name": "翔", "given_name_kana": "ｼｮｳ", "relationship": "子", "birth_date": "2024-02-03",
         "sex": "male", "needs": ["infant"]},
    ]


def _count(db, model, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_family_of_three_is_one_household_checked_in_together(client: FlaskClient, db, desk) -> None:
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=_holder(),
                            family=_family(), include_household=True)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert len(body["stays"]) == 3 and {s["method"] for s in body["stays"]} == {"paper"}
    assert body["shelter"]["occupancy"] == 3 and body["shelter"]["households"] == 1
    assert body["person"]["given_name"] == "哲也"
    assert len(body["household"]["members"]) == 3
    persons = db.session.scalars(select(Person).order_by(Person.id)).all()
    assert len({p.household_id for p in persons}) == 1 and _count(db, Household) == 1
    holder, wife, child = persons
    assert [p.relationship_to_head for p in persons] == ["世帯主", "妻", "子"]
    # What a household shares is the holder's; a member's empty family name is the holder's too.
    assert wife.family_name == "岩田" and wife.address == holder.address and wife.phone == holder.phone
    assert wife.consent_relatives and wife.birth_date.isoformat() == "1977-05-06" and wife.allergy == "そば"
    assert child.given_name_kana == "ショウ" and child.kana_key == "イワタショウ"
    events = db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)).all()
    # One ordinary check-in event per person: the sync needs nothing new for a family.
    assert [(e.type, e.person_id) for e in events] == [("checkin", p.id) for p in persons]
    assert {e.payload["person"]["household_id"] for e in events} == {holder.household_id}
    created = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "person.create")).all()
    assert sorted(e.subject_id for e in created) == sorted(str(p.id) for p in persons)


def test_a_bad_member_is_422_naming_it_and_nothing_is_stored(client: FlaskClient, db, desk) -> None:
    family = _family() + [{"given_name": "三郎", "given_name_kana": "サブロウ", "birth_date": "2020-13-40",
                           "sex": "male"}]
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=_holder(), family=family)
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["family[2].birth_date"]
    missing = [_family()[0], {"given_name": "翔", "birth_date": "2024-02-03", "sex": "boy"}]
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=_holder(), family=missing)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"family[1].given_name_kana", "family[1].sex"}
    latin = [{**_family()[0], "given_name_kana": "Keiko"}]
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=_holder(), family=latin)
    assert response.status_code == 422 and list(response.get_json()["error"]["fields"]) == [
        "family[0].given_name_kana"]
    assert _count(db, Person) == 0 and _count(db, Stay) == 0 and _count(db, Household) == 0
    assert _count(db, OutboxEvent) == 0


def test_a_family_is_limited_and_comes_with_a_holder(client: FlaskClient, db, desk) -> None:
    too_many = [{**_family()[0], "given_name": f"子{i}"} for i in range(FAMILY_LIMIT + 1)]
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=_holder(),
                            family=too_many)
    assert response.status_code == 422 and "family" in response.get_json()["error"]["fields"]
    person = factories.person()
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=person.id,
                            family=_family())
    assert response.status_code == 422 and "family" in response.get_json()["error"]["fields"]
    assert _count(db, Stay) == 0


def test_a_replayed_family_check_in_answers_the_first_result(client: FlaskClient, db, desk) -> None:
    body = {"shelter_id": desk["shelter"].id, "client_id": str(uuid.uuid4()), "person": _holder(),
            "family": _family()}
    first = client.post("/api/v1/checkins", json=body, headers=desk["headers"])
    second = client.post("/api/v1/checkins", json=body, headers=desk["headers"])
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json() == second.get_json()
    assert _count(db, Person) == 3 and _count(db, Stay) == 3 and _count(db, OutboxEvent) == 3
    occupancy = client.get(f"/api/v1/shelters/{desk['shelter'].id}", headers=desk["headers"]).get_json()
    assert (occupancy["occupancy"], occupancy["households"]) == (3, 1)
    # The replay showed nobody as a possible duplicate of the family it registered, so no such read is journaled.
    reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "person.read")).all()
    assert [r.detail["purpose"] for r in reads] == ["replay"]


def test_a_member_like_someone_registered_is_named_in_the_refusal(client: FlaskClient, db, desk) -> None:
    known = factories.person(family_name="岩田", given_name="恵子", family_name_kana="イワタ",
                             given_name_kana="ケイコ", birth_date=date(1977, 5, 6))
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=_holder(),
                            family=_family())
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "possible_duplicate" and error["member"] == "family[0]"
    assert error["fields"] == {"family[0]": "similar persons exist"} and "岩田 恵子" in error["message"]
    assert [c["id"] for c in error["candidates"]] == [known.id]
    assert _count(db, Person) == 1 and _count(db, Stay) == 0
    confirmed = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=_holder(),
                             family=_family(), confirm_new=True)
    assert confirmed.status_code == 201 and _count(db, Person) == 4


def test_an_individual_number_in_a_member_field_is_refused(client: FlaskClient, db, desk) -> None:
    family = [{**_family()[0], "allergy": "1234 5678 9012"}]
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=_holder(), family=family)
    assert response.status_code == 422
    assert "5678" not in response.get_data(as_text=True)
    assert any(k.startswith("family") and "allergy" in k for k in response.get_json()["error"]["fields"])
    assert _count(db, Person) == 0 and _count(db, Stay) == 0


def test_a_scanned_household_is_extended_with_walk_ins(client: FlaskClient, db, desk) -> None:
    home = factories.household()
    head = factories.person(household_id=home.id, family_name="岩田", given_name="哲也", given_name_kana="テツヤ")
    here = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=head.id)
    assert here.status_code == 201
    grandma = _holder(given_name="トメ", given_name_kana="トメ", birth_date="1940-01-01", sex="female",
                      relationship="母", household_id=home.id)
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=grandma,
                            family=[_family()[1]], include_household=True)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert len(body["stays"]) == 2
    # Two more people, no new household: the family was already counted here.
    assert body["shelter"]["occupancy"] == 3 and body["shelter"]["households"] == 1
    assert {m["id"] for m in body["household"]["members"]} >= {head.id}
    assert _count(db, Person, Person.household_id == home.id) == 3 and _count(db, Household) == 1
    extended = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "household.extend")).one()
    assert extended.subject_id == str(home.id) and len(extended.detail["person_ids"]) == 2


def test_a_household_nobody_of_which_is_reachable_is_unknown(client: FlaskClient, db, desk) -> None:
    home = factories.household()
    away = factories.person(household_id=home.id, given_name="遠")
    assert post_checkin(client, desk["hq"], shelter_id=desk["other"].id, person_id=away.id).status_code == 201
    card = _holder(household_id=home.id)
    refused = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=card, family=_family())
    unknown = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id,
                           person=_holder(household_id=home.id + 1000))
    # The same answer as a household that does not exist: nothing says it does, or where they are.
    assert (refused.status_code, unknown.status_code) == (404, 404)
    assert refused.get_json()["error"] == unknown.get_json()["error"]
    assert "遠" not in refused.get_data(as_text=True)
    assert _count(db, Person) == 1 and _count(db, Stay, Stay.shelter_id == desk["shelter"].id) == 0
    assert _count(db, AuditEvent, AuditEvent.action == "household.scope_refused") == 1
    # HQ sees every shelter: they may extend it.
    by_hq = post_checkin(client, desk["hq"], shelter_id=desk["shelter"].id, person=card)
    assert by_hq.status_code == 201 and _count(db, Person, Person.household_id == home.id) == 2


def test_undoing_a_family_check_in_takes_back_every_stay(client: FlaskClient, db, desk) -> None:
    client_id = str(uuid.uuid4())
    done = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=_holder(), family=_family(),
                        client_id=client_id)
    assert done.status_code == 201
    undone = client.post("/api/v1/undo", json={"client_id": str(uuid.uuid4()), "operation_id": client_id},
                         headers=desk["headers"])
    assert undone.status_code == 201, undone.get_json()
    assert len(undone.get_json()["voided_stay_ids"]) == 3
    assert (undone.get_json()["shelter"]["occupancy"], undone.get_json()["shelter"]["households"]) == (0, 0)
    assert _count(db, Stay) == 0
    assert _count(db, OutboxEvent, OutboxEvent.type == "correction") == 3


def test_the_same_member_twice_is_refused(client: FlaskClient, db, desk) -> None:
    twice = [_family()[0], {**_family()[0], "given_name_kana": "ｹｲｺ"}]
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=_holder(), family=twice)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"family[1]": "the same person as family[0]"}
    assert _count(db, Person) == 0 and _count(db, Stay) == 0


def test_the_desk_stops_adding_members_at_the_servers_limit() -> None:
    script = (Path(__file__).resolve().parents[2] / "evac/static/desk/walkin.js").read_text(encoding="utf-8")
    found = re.search(r"export const FAMILY_LIMIT = (\d+);", script)
    assert found and int(found.group(1)) == FAMILY_LIMIT
