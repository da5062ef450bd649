"""POST /api/v1/undo: a desk operation taken back exactly, audited, and sent as a correction."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, update

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.checkin.models import ClientRequest
from evac.common.db import now_utc
from evac.common.vocab import Need
from evac.outbox.models import OutboxEvent
from evac.stays.models import Stay
from tests import factories
from tests.checkin.helpers import post_checkin, post_checkout


@pytest.fixture
def desk(db: Any) -> dict[str, Any]:
    shelter, other = factories.shelter(capacity=10), factories.shelter(capacity=10)
    staff = factories.account(Role.STAFF, shelters=[shelter])
    return {"shelter": shelter, "other": other, "staff": staff, "headers": factories.bearer(staff)}


def _undo(client: FlaskClient, headers: dict[str, str], **body: Any):
    body.setdefault("client_id", str(uuid.uuid4()))
    return client.post("/api/v1/undo", json=body, headers=headers)


def _occupancy(client: FlaskClient, headers: dict[str, str], shelter_id: int) -> int:
    return int(client.get(f"/api/v1/shelters/{shelter_id}", headers=headers).get_json()["occupancy"])


def _exact(runner: FlaskCliRunner) -> None:
    check = runner.invoke(args=["hq", "rebuild-tallies", "--check"])
    assert check.exit_code == 0, check.output


def _events(db: Any) -> list[OutboxEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)))


def _check_in(client: FlaskClient, desk: dict[str, Any], *persons: Any) -> tuple[str, dict[str, Any]]:
    client_id = str(uuid.uuid4())
    ids = [p.id for p in persons]
    response = post_checkin(client, desk["headers"], client_id=client_id, shelter_id=desk["shelter"].id,
                            person_id=ids[0], members=ids)
    assert response.status_code == 201, response.get_json()
    return client_id, response.get_json()


def test_an_undone_check_in_leaves_no_stay_and_the_counts_as_before(
        client: FlaskClient, runner: FlaskCliRunner, db: Any, desk: dict[str, Any]) -> None:
    household = factories.household()
    mother = factories.person(household_id=household.id, needs=int(Need.PREGNANT), pets=1)
    child = factories.person(household_id=household.id, given_name="太郎", given_name_kana="タロウ")
    already = factories.person(family_name="佐藤", family_name_kana="サトウ")
    _check_in(client, desk, already)
    operation, answer = _check_in(client, desk, mother, child)
    assert answer["shelter"]["occupancy"] == 3 and answer["shelter"]["households"] == 2

    response = _undo(client, desk["headers"], operation_id=operation)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert sorted(body["voided_stay_ids"]) == sorted(s["id"] for s in answer["stays"])
    assert body["stays"] == [] and body["operation_id"] == operation
    assert body["shelter"]["occupancy"] == 1 and body["shelter"]["households"] == 1
    assert body["person"]["id"] == mother.id
    assert _occupancy(client, desk["headers"], desk["shelter"].id) == 1
    db.session.rollback()
    assert db.session.scalars(select(Stay.person_id)).all() == [already.id]
    _exact(runner)

    roster = client.get(f"/api/v1/shelters/{desk['shelter'].id}/roster", headers=desk["headers"]).get_json()
    assert [i["person"]["id"] for i in roster["items"]] == [already.id]

    events = _events(db)
    checkins = {e.person_id: e.event_id for e in events if e.type == "checkin"}
    corrections = [e for e in events if e.type == "correction"]
    assert sorted(e.person_id for e in corrections) == sorted([mother.id, child.id])
    for event in corrections:
        correction = event.payload["correction"]
        assert correction["action"] == "void" and correction["operation_id"] == operation
        assert correction["cancels"] == [checkins[event.person_id]]
        assert event.payload["stay"]["id"] == correction["stay_id"]
    assert not [e for e in events if e.type == "checkout" and e.person_id in (mother.id, child.id)]

    (audit,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "stay.undo")).all()
    assert audit.subject_id == operation and audit.shelter_id == desk["shelter"].id
    assert sorted(audit.detail["voided"]) == sorted(body["voided_stay_ids"])


def test_an_undone_check_in_is_not_a_departure_in_safety_inquiries(client: FlaskClient, db: Any,
                                                                     desk: dict[str, Any]) -> None:
    person = factories.person(family_name="精華", family_name_kana="セイカ", consent_relatives=True)
    operation, _answer = _check_in(client, desk, person)
    assert _undo(client, desk["headers"], operation_id=operation).status_code == 201
    hq = factories.bearer(factories.account(Role.HQ))
    found = client.post("/api/v1/inquiries", json={"q": "せいか", "requester": "relative"}, headers=hq).get_json()
    (item,) = [i for i in found["items"] if i["person"]["id"] == person.id]
    assert item["whereabouts"] is None and "退所" not in item["answer"]


def test_an_undone_check_out_reopens_the_stay_with_its_status(
        client: FlaskClient, runner: FlaskCliRunner, db: Any, desk: dict[str, Any]) -> None:
    person = factories.person(needs=int(Need.ELDERLY))
    _op, checked_in = _check_in(client, desk, person)
    assert post_checkout(client, desk["headers"], person_id=person.id, reason="outing").status_code == 201
    operation = str(uuid.uuid4())
    left = post_checkout(client, desk["headers"], client_id=operation, person_id=person.id, reason="left")
    assert left.status_code == 201 and left.get_json()["shelter"]["occupancy"] == 0

    body = _undo(client, desk["headers"], operation_id=operation).get_json()
    (stay,) = body["stays"]
    assert stay["id"] == checked_in["stays"][0]["id"]
    assert stay["status"] == "outing" and stay["checked_out_at"] is None
    assert body["voided_stay_ids"] == [] and body["shelter"]["occupancy"] == 1
    _exact(runner)
    correction = _events(db)[-1]
    assert correction.type == "correction" and correction.payload["correction"]["action"] == "restore"
    assert correction.payload["correction"]["restored_status"] == "outing"
    assert correction.payload["stay"]["status"] == "outing"


def test_an_undone_outing_is_present_again(client: FlaskClient, runner: FlaskCliRunner, db: Any,
                                           desk: dict[str, Any]) -> None:
    person = factories.person()
    _check_in(client, desk, person)
    operation = str(uuid.uuid4())
    assert post_checkout(client, desk["headers"], client_id=operation, person_id=person.id,
                         reason="outing").status_code == 201
    body = _undo(client, desk["headers"], operation_id=operation).get_json()
    assert body["stays"][0]["status"] == "present"
    _exact(runner)


def test_an_undone_transfer_voids_the_new_stay_and_reopens_the_old(
        client: FlaskClient, runner: FlaskCliRunner, db: Any, desk: dict[str, Any]) -> None:
    person = factories.person()
    _op, checked_in = _check_in(client, desk, person)
    operation = str(uuid.uuid4())
    moved = post_checkout(client, desk["headers"], client_id=operation, person_id=person.id, reason="transfer",
                          to_shelter_id=desk["other"].id).get_json()
    assert moved["to_shelter"]["occupancy"] == 1

    body = _undo(client, desk["headers"], operation_id=operation).get_json()
    assert body["voided_stay_ids"] == [s["id"] for s in moved["stays"] if s["shelter_id"] == desk["other"].id]
    (stay,) = body["stays"]
    assert stay["id"] == checked_in["stays"][0]["id"] and stay["status"] == "present"
    assert stay["transferred_to_id"] is None
    assert body["shelter"]["occupancy"] == 1 and body["to_shelter"]["occupancy"] == 0
    _exact(runner)
    actions = [e.payload["correction"]["action"] for e in _events(db) if e.type == "correction"]
    assert actions == ["void", "restore"]


def test_the_same_undo_twice_is_a_replay_and_another_undo_is_refused(
        client: FlaskClient, db: Any, desk: dict[str, Any]) -> None:
    person = factories.person()
    operation, _answer = _check_in(client, desk, person)
    undo_id = str(uuid.uuid4())
    first = _undo(client, desk["headers"], client_id=undo_id, operation_id=operation)
    again = _undo(client, desk["headers"], client_id=undo_id, operation_id=operation)
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == first.get_json()
    other = _undo(client, desk["headers"], operation_id=operation)
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "already_undone"
    assert len([e for e in _events(db) if e.type == "correction"]) == 1
    # The check-in's own replay still answers as it did, without what only the server keeps.
    replay = post_checkin(client, desk["headers"], client_id=operation, shelter_id=desk["shelter"].id,
                          person_id=person.id, members=[person.id])
    assert replay.status_code == 200 and not [k for k in replay.get_json() if k.startswith("_")]


def test_an_operation_followed_by_another_change_is_refused(client: FlaskClient, db: Any,
                                                            desk: dict[str, Any]) -> None:
    person = factories.person()
    operation, _answer = _check_in(client, desk, person)
    assert post_checkout(client, desk["headers"], person_id=person.id, reason="outing").status_code == 201
    assert post_checkout(client, desk["headers"], person_id=person.id, reason="return").status_code == 201
    refused = _undo(client, desk["headers"], operation_id=operation)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "changed_since"
    assert "取り消せません" in refused.get_json()["error"]["message"]
    db.session.rollback()
    assert len(db.session.scalars(select(Stay)).all()) == 1


def test_an_undone_check_out_is_refused_once_the_person_is_checked_in_again(
        client: FlaskClient, db: Any, desk: dict[str, Any]) -> None:
    person = factories.person()
    _check_in(client, desk, person)
    operation = str(uuid.uuid4())
    assert post_checkout(client, desk["headers"], client_id=operation, person_id=person.id,
                         reason="left").status_code == 201
    _check_in(client, desk, person)
    refused = _undo(client, desk["headers"], operation_id=operation)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "changed_since"


def test_staff_of_another_shelter_are_told_nothing(client: FlaskClient, db: Any, desk: dict[str, Any]) -> None:
    person = factories.person()
    operation, _answer = _check_in(client, desk, person)
    stranger = factories.bearer(factories.account(Role.STAFF, shelters=[desk["other"]]))
    refused = _undo(client, stranger, operation_id=operation)
    unknown = _undo(client, stranger, operation_id=str(uuid.uuid4()))
    assert refused.status_code == unknown.status_code == 404
    assert refused.get_json()["error"] == unknown.get_json()["error"]
    assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "stay.scope_refused")).all()
    db.session.rollback()
    assert len(db.session.scalars(select(Stay)).all()) == 1


def test_staff_correct_within_a_day_and_hq_later(client: FlaskClient, db: Any, desk: dict[str, Any]) -> None:
    person = factories.person()
    operation, _answer = _check_in(client, desk, person)
    db.session.execute(update(ClientRequest).where(ClientRequest.client_id == operation)
                       .values(created_at=now_utc() - timedelta(hours=25)))
    db.session.commit()
    late = _undo(client, desk["headers"], operation_id=operation)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "undo_too_late"
    hq = factories.bearer(factories.account(Role.HQ))
    assert _undo(client, hq, operation_id=operation).status_code == 201


def test_the_roster_corrects_one_member_of_a_household_by_stay(
        client: FlaskClient, runner: FlaskCliRunner, db: Any, desk: dict[str, Any]) -> None:
    household = factories.household()
    mother = factories.person(household_id=household.id)
    child = factories.person(household_id=household.id, given_name="太郎", given_name_kana="タロウ")
    operation, answer = _check_in(client, desk, mother, child)
    child_stay = next(s["id"] for s in answer["stays"] if s["person_id"] == child.id)
    body = _undo(client, desk["headers"], stay_id=child_stay).get_json()
    assert body["voided_stay_ids"] == [child_stay] and body["shelter"]["occupancy"] == 1
    _exact(runner)
    gone = _undo(client, desk["headers"], stay_id=child_stay)  # a voided stay is no more
    assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "operation_unknown"
    rest = _undo(client, desk["headers"], operation_id=operation).get_json()
    assert rest["voided_stay_ids"] == [s["id"] for s in answer["stays"] if s["person_id"] == mother.id]
    again = _undo(client, desk["headers"], operation_id=operation)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_undone"


def test_bad_undo_requests_are_4xx(client: FlaskClient, db: Any, desk: dict[str, Any]) -> None:
    both = _undo(client, desk["headers"], operation_id=str(uuid.uuid4()), stay_id=1)
    neither = _undo(client, desk["headers"])
    not_uuid = _undo(client, desk["headers"], operation_id="yesterday")
    assert both.status_code == neither.status_code == not_uuid.status_code == 422
    person = factories.person()
    client_id = str(uuid.uuid4())
    assert post_checkin(client, desk["headers"], client_id=client_id, shelter_id=desk["shelter"].id,
                        person_id=person.id).status_code == 201
    again = str(uuid.uuid4())
    assert post_checkin(client, desk["headers"], client_id=again, shelter_id=desk["shelter"].id,
                        person_id=person.id).status_code == 200
    nothing = _undo(client, desk["headers"], operation_id=again)
    assert nothing.status_code == 409 and nothing.get_json()["error"]["code"] == "nothing_to_undo"


def test_a_check_out_is_not_undone_into_a_closed_shelter(client: FlaskClient, db: Any, desk: dict[str, Any]) -> None:
    person = factories.person()
    _check_in(client, desk, person)
    operation = str(uuid.uuid4())
    assert post_checkout(client, desk["headers"], client_id=operation, person_id=person.id,
                         reason="left").status_code == 201
    hq = factories.bearer(factories.account(Role.HQ))
    closed = client.patch(f"/api/v1/shelters/{desk['shelter'].id}", json={"status": "closed"}, headers=hq)
    assert closed.status_code == 200, closed.get_json()
    refused = _undo(client, hq, operation_id=operation)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "shelter_closed"
    db.session.rollback()
    assert db.session.scalars(select(Stay.status)).all() == ["left"]
