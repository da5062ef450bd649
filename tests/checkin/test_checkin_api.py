"""POST /api/v1/checkins: every way in, households, idempotency, and every refusal."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.outbox.models import OutboxEvent
from evac.people.models import Person
from evac.shelters.models import ShelterStatus
from evac.stays.models import Stay
from tests import factories
from tests.checkin.helpers import post_checkin, post_checkout, qr_for


@pytest.fixture
def desk(db):
    shelter = factories.shelter(capacity=300)
    other = factories.shelter()
    staff = factories.account(Role.STAFF, shelters=[shelter])
    return {"shelter": shelter, "other": other, "headers": factories.bearer(staff)}


def _family(db, size: int = 3) -> list[Person]:
    home = factories.household()
    names = ["太郎", "花子", "一郎", "次郎"][:size]
    kana = ["タロウ", "ハナコ", "イチロウ", "ジロウ"][:size]
    return [factories.person(household_id=home.id, given_name=n, given_name_kana=k) for n, k in zip(names, kana, strict=True)]


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_qr_checkin_of_a_household_in_one_request(client: FlaskClient, db, desk) -> None:
    family = _family(db)
    qr = qr_for(family[0].id)
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, qr=qr,
                            members=[p.id for p in family[:2]], include_household=True)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert sorted(s["person_id"] for s in body["stays"]) == [family[0].id, family[1].id]
    assert {s["status"] for s in body["stays"]} == {"present"} and {s["method"] for s in body["stays"]} == {"qr"}
    assert body["shelter"]["occupancy"] == 2 and body["shelter"]["households"] == 1
    members = {m["id"]: m["whereabouts"] for m in body["household"]["members"]}
    assert members[family[0].id]["shelter_id"] == desk["shelter"].id and members[family[2].id] is None
    stay = next(s for s in body["stays"] if s["person_id"] == family[0].id)
    assert members[family[0].id]["checked_in_at"] == stay["checked_in_at"]  # the desk shows when they came
    events = db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)).all()
    assert [(e.type, e.person_id) for e in events] == [("checkin", family[0].id), ("checkin", family[1].id)]
    assert events[0].payload["stay"]["shelter_id"] == desk["shelter"].id


def test_same_client_id_returns_the_first_answer(client: FlaskClient, db, desk) -> None:
    person = factories.person()
    body = {"shelter_id": desk["shelter"].id, "person_id": person.id, "client_id": str(uuid.uuid4())}
    first = client.post("/api/v1/checkins", json=body, headers=desk["headers"])
    second = client.post("/api/v1/checkins", json=body, headers=desk["headers"])
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json() == second.get_json()
    assert _count(db, Stay) == 1 and _count(db, OutboxEvent) == 1


def test_a_repeat_after_the_person_moved_on_still_gets_the_first_answer(client: FlaskClient, db, desk) -> None:
    # The desk's answer was lost on the way; meanwhile HQ moved the person to another shelter.
    # The repeat is answered what was done then, and nothing is done again.
    person = factories.person()
    body = {"shelter_id": desk["shelter"].id, "person_id": person.id, "client_id": str(uuid.uuid4())}
    first = client.post("/api/v1/checkins", json=body, headers=desk["headers"])
    hq = factories.bearer(factories.account(Role.HQ))
    moved = post_checkin(client, hq, shelter_id=desk["other"].id, person_id=person.id, transfer=True)
    assert (first.status_code, moved.status_code) == (201, 201)
    again = client.post("/api/v1/checkins", json=body, headers=desk["headers"])
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert _count(db, Stay) == 2 and _count(db, OutboxEvent) == 2  # the check-in and the transfer only


def test_reused_client_id_with_another_body_is_409(client: FlaskClient, db, desk) -> None:
    a, b = factories.person(), factories.person(given_name="次郎")
    client_id = str(uuid.uuid4())
    post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=a.id, client_id=client_id)
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=b.id,
                            client_id=client_id)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "client_id_reused"
    assert _count(db, Stay) == 1


def test_already_here_is_200_with_the_existing_stay(client: FlaskClient, db, desk) -> None:
    person = factories.person()
    first = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=person.id)
    again = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=person.id)
    assert again.status_code == 200
    assert again.get_json()["stays"][0]["id"] == first.get_json()["stays"][0]["id"]
    assert _count(db, Stay) == 1 and _count(db, OutboxEvent) == 1


def test_checked_in_elsewhere_is_409_naming_the_shelter_only_to_those_who_see_it(client: FlaskClient, db,
                                                                                 desk) -> None:
    person = factories.person()
    hq = factories.bearer(factories.account(Role.HQ))
    post_checkin(client, hq, shelter_id=desk["other"].id, person_id=person.id)
    # The person shows their card at this desk (by id alone, staff could not reach them: see test_scope).
    qr = qr_for(person.id)
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, qr=qr)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "checked_in_elsewhere" and desk["other"].name not in str(error)
    assert error["elsewhere"] == [{"person_id": person.id, "shelter_id": None, "shelter_name": None}]
    by_hq = post_checkin(client, hq, shelter_id=desk["shelter"].id, qr=qr).get_json()["error"]
    assert desk["other"].name in by_hq["message"]
    assert by_hq["elsewhere"] == [{"person_id": person.id, "shelter_id": desk["other"].id,
                                   "shelter_name": desk["other"].name}]
    transfer = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, qr=qr, transfer=True)
    assert transfer.status_code == 201
    stays = db.session.scalars(select(Stay).order_by(Stay.id)).all()
    assert [(s.shelter_id, s.status.value) for s in stays] == [
        (desk["other"].id, "transferred"), (desk["shelter"].id, "present")]
    assert db.session.scalars(select(OutboxEvent.type).order_by(OutboxEvent.seq)).all() == ["checkin", "transfer"]


def test_paper_card_walk_in_registers_and_checks_in(client: FlaskClient, db, desk) -> None:
    card = {"family_name": "佐藤", "given_name": "健", "family_name_kana": "さとう", "given_name_kana": "けん",
            "birth_date": "昭和55年1月2日", "sex": "male", "address": "京都府相楽郡精華町祝園西1-2",
            "phone": "0774-00-0000", "needs": ["allergy"], "allergy": "卵", "pets": 1,
            "consent": {"relatives": True, "acquaintances": False, "public": False}}
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=card)
    assert response.status_code == 201, response.get_json()
    person = db.session.get(Person, response.get_json()["stays"][0]["person_id"])
    assert person.birth_date.isoformat() == "1980-01-02" and person.kana_key == "サトウケン"
    assert person.source.value == "paper" and person.consent_relatives and not person.consent_public
    assert response.get_json()["stays"][0]["method"] == "paper"


def test_paper_card_twin_is_proposed_not_created(client: FlaskClient, db, desk) -> None:
    known = factories.person(family_name="髙橋", given_name="一", family_name_kana="タカハシ",
                             given_name_kana="ハジメ")
    card = {"family_name": "高橋", "given_name": "一", "family_name_kana": "タカハシ", "given_name_kana": "ハジメ",
            "birth_date": known.birth_date.isoformat(), "sex": "male", "address": "どこか"}
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=card)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "possible_duplicate" and [c["id"] for c in error["candidates"]] == [known.id]
    assert _count(db, Person) == 1 and _count(db, Stay) == 0
    confirmed = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person=card, confirm_new=True)
    assert confirmed.status_code == 201 and _count(db, Person) == 2


def test_my_number_card_matches_across_variants_and_address_forms(client: FlaskClient, db, desk) -> None:
    known = factories.person(family_name="渡邊", given_name="齋", family_name_kana="ワタナベ", given_name_kana="ヒトシ",
                             address="京都府相楽郡精華町光台7丁目43番地")
    card = {"name": "渡辺　斎", "address": "京都府相楽郡精華町光台７－４３", "birth_date": "19800102", "sex": "1"}
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, card=card)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["stays"][0]["person_id"] == known.id
    assert response.get_json()["stays"][0]["method"] == "mynumber"


def test_my_number_card_without_match_registers_a_new_person(client: FlaskClient, db, desk) -> None:
    card = {"name": "新規 登録", "address": "京都府相楽郡精華町精華台1-1", "birth_date": "1990-05-06", "sex": "2"}
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, card=card)
    assert response.status_code == 201
    person = db.session.get(Person, response.get_json()["stays"][0]["person_id"])
    assert person.source.value == "mynumber" and person.sex.value == "female"


def test_my_number_card_with_two_matches_lists_candidates(client: FlaskClient, db, desk) -> None:
    twins = [factories.person(address="京都府相楽郡精華町光台1-1") for _ in range(2)]
    card = {"name": "山田 花子", "address": "京都府相楽郡精華町光台1-1", "birth_date": "1980-01-02", "sex": "2"}
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, card=card)
    assert response.status_code == 409
    assert sorted(c["id"] for c in response.get_json()["error"]["candidates"]) == [p.id for p in twins]
    assert _count(db, Stay) == 0


@pytest.mark.parametrize("where", [
    {"card": {"name": "山田 花子", "address": "1234 5678 9012", "birth_date": "1980-01-02", "sex": "2"}},
    {"card": {"name": "山田 花子", "address": "精華町", "birth_date": "1980-01-02", "sex": "2",
              "individual_number": "123456789012"}},
    {"person": {"family_name": "山田", "family_name_kana": "ヤマダ", "birth_date": "1980-01-02", "sex": "female",
                "address": "精華町", "phone": "1234-5678-9012"}},
    {"qr": "123456789012"},
])
def test_individual_number_is_refused_and_nothing_is_stored(client: FlaskClient, db, desk, where, caplog) -> None:
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, **where)
    # 422 for a number in the card or paper-card items; in the qr field it is just a bad code.
    assert response.status_code == (403 if "qr" in where else 422)
    text = response.get_data(as_text=True)
    assert "123456789012" not in text and "1234 5678 9012" not in text and "1234-5678-9012" not in text
    assert _count(db, Person) == 0 and _count(db, Stay) == 0
    stored = " ".join(str(e.detail) for e in db.session.scalars(select(AuditEvent)))
    assert "5678" not in stored and "5678" not in caplog.text


def test_ic_card_first_tap_links_then_checks_in(client: FlaskClient, db, desk) -> None:
    person = factories.person()
    first = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, ic_uid="01:2E:4C:7A:11:22:33:44")
    assert first.status_code == 404 and first.get_json()["error"]["code"] == "ic_card_unlinked"
    linked = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, ic_uid="012e4c7a11223344",
                          person_id=person.id)
    assert linked.status_code == 201 and linked.get_json()["stays"][0]["method"] == "ic"
    from evac.cards.models import ICCard

    stored = db.session.scalars(select(ICCard.uid_hash)).all()
    assert len(stored) == 1 and "012E4C7A11223344" not in stored[0].upper()
    again = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, ic_uid="012E4C7A11223344")
    assert again.status_code == 200 and again.get_json()["stays"][0]["person_id"] == person.id


def test_ticking_members_without_the_card_holder_checks_in_only_them(client: FlaskClient, db, desk) -> None:
    # The card holder arrived earlier (or stays outside); the desk ticks the two who came now.
    family = _family(db)
    qr = qr_for(family[0].id)
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, qr=qr,
                            members=[family[1].id, family[2].id])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["person"]["id"] == family[0].id
    assert sorted(s["person_id"] for s in body["stays"]) == [family[1].id, family[2].id]
    out = post_checkout(client, desk["headers"], qr=qr, members=[family[1].id], reason="outing")
    assert out.status_code == 201, out.get_json()
    assert out.get_json()["person"]["id"] == family[0].id


def test_members_outside_the_household_are_refused(client: FlaskClient, db, desk) -> None:
    family = _family(db, 2)
    stranger = factories.person(given_name="他人")
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=family[0].id,
                            members=[family[0].id, stranger.id])
    assert response.status_code == 422 and response.get_json()["error"]["fields"]["members"] == [stranger.id]
    assert _count(db, Stay) == 0


def test_household_check_in_is_all_or_nothing(client: FlaskClient, db, desk) -> None:
    family = _family(db, 2)
    hq = factories.bearer(factories.account(Role.HQ))
    post_checkin(client, hq, shelter_id=desk["other"].id, person_id=family[1].id)
    response = post_checkin(client, hq, shelter_id=desk["shelter"].id, person_id=family[0].id,
                            members=[p.id for p in family])
    assert response.status_code == 409
    # Staff of this shelter may not even name a member staying at a shelter that is not theirs.
    by_staff = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=family[0].id,
                            members=[p.id for p in family])
    assert by_staff.status_code == 422 and by_staff.get_json()["error"]["fields"]["members"] == [family[1].id]
    assert db.session.scalar(select(func.count()).select_from(Stay).where(Stay.shelter_id == desk["shelter"].id)) == 0


def test_closed_shelter_refuses_check_ins(client: FlaskClient, db, desk) -> None:
    closed = factories.shelter(status=ShelterStatus.CLOSED)
    person = factories.person()
    hq = factories.bearer(factories.account(Role.HQ))
    response = post_checkin(client, hq, shelter_id=closed.id, person_id=person.id)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "shelter_closed"


def test_staff_cannot_check_in_at_another_shelter(client: FlaskClient, db, desk) -> None:
    person = factories.person()
    response = post_checkin(client, desk["headers"], shelter_id=desk["other"].id, person_id=person.id)
    assert response.status_code == 403 and _count(db, Stay) == 0


@pytest.mark.parametrize("body, field", [
    ({}, "shelter_id"),
    ({"shelter_id": 1, "client_id": "not-a-uuid", "person_id": 1}, "client_id"),
    ({"shelter_id": 1, "person_id": 1, "qr": "EV1:x"}, "person_id"),
    ({"shelter_id": 1, "qr": "x", "ic_uid": "y"}, "_schema"),
    ({"shelter_id": 1, "person_id": 1, "favourite_colour": "red"}, "favourite_colour"),
    ({"shelter_id": 1, "person": {"family_name": "x"}}, "person"),
])
def test_bad_bodies_are_422_naming_the_field(client: FlaskClient, db, desk, body, field) -> None:
    body.setdefault("client_id", str(uuid.uuid4()))
    response = client.post("/api/v1/checkins", json=body, headers=desk["headers"])
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_checkin_is_audited(client: FlaskClient, db, desk) -> None:
    person = factories.person()
    post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=person.id)
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.account_id.is_not(None))).all()
    assert "stay.checkin" in actions
    # Asked for the household too: that read of the other members is audited as well.
    post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=person.id,
                 include_household=True)
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.account_id.is_not(None))).all()
    assert "person.read" in actions
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "stay.checkin")).one()
    assert audit.subject_id == str(person.id) and audit.remote_addr == "127.0.0.1"
