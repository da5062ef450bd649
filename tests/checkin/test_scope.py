"""Staff reach people at their own shelters (and walk-ins), never other shelters' evacuees by id."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.people.models import Person
from evac.stays.models import Stay
from tests import factories
from tests.accounts.test_accounts import login
from tests.checkin.helpers import post_checkin, qr_for


@pytest.fixture
def town(client: FlaskClient, db):
    mine, other = factories.shelter(), factories.shelter()
    staff = factories.bearer(factories.account(Role.STAFF, shelters=[mine], username="deskA"))
    hq = factories.bearer(factories.account(Role.HQ))
    home = factories.household()
    away = factories.person(household_id=home.id, given_name="遠")
    post_checkin(client, hq, shelter_id=other.id, person_id=away.id)
    walk_in = factories.person(given_name="未受付")
    return {"mine": mine, "other": other, "staff": staff, "hq": hq, "away": away, "home": home, "walk_in": walk_in}


def test_lookup_by_id_of_someone_at_another_shelter_is_404(client: FlaskClient, db, town) -> None:
    response = client.post("/api/v1/lookups", json={"shelter_id": town["mine"].id, "person_id": town["away"].id},
                           headers=town["staff"])
    assert response.status_code == 404 and "遠" not in response.get_data(as_text=True)
    ok = client.post("/api/v1/lookups", json={"shelter_id": town["mine"].id, "person_id": town["walk_in"].id},
                     headers=town["staff"])
    assert ok.status_code == 200
    hq = client.post("/api/v1/lookups", json={"shelter_id": town["mine"].id, "person_id": town["away"].id},
                     headers=town["hq"])
    assert hq.status_code == 200


def test_check_in_by_id_of_someone_elsewhere_is_404(client: FlaskClient, db, town) -> None:
    response = post_checkin(client, town["staff"], shelter_id=town["mine"].id, person_id=town["away"].id,
                            transfer=True)
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Stay).where(Stay.shelter_id == town["mine"].id)) == 0


def test_walk_in_cannot_join_a_household_with_nobody_here(client: FlaskClient, db, town) -> None:
    card = {"family_name": "新", "given_name": "人", "family_name_kana": "アラタ", "given_name_kana": "ヒト",
            "birth_date": "2000-01-01", "sex": "other", "address": "精華町", "household_id": town["home"].id}
    response = post_checkin(client, town["staff"], shelter_id=town["mine"].id, person=card, confirm_new=True)
    # Out of scope reads as unknown (404), as for a person id: no hint that the household exists.
    assert response.status_code == 404 and "household_id" in response.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Person)) == 2


def test_a_desk_prints_cards_only_of_people_staying_at_its_shelter(client: FlaskClient, db, town) -> None:
    login(client, "deskA")
    assert client.get(f"/desk/{town['mine'].id}/cards/{town['away'].id}.pdf").status_code == 404
    # A resident at home: printing their card at a desk would clone the one they keep at home.
    assert client.get(f"/desk/{town['mine'].id}/cards/{town['walk_in'].id}.pdf").status_code == 404
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "card.print_refused")).all()
    assert [e.subject_id for e in refused] == [str(town["walk_in"].id)]
    checked_in = post_checkin(client.application.test_client(), town["hq"], shelter_id=town["mine"].id,
                              person_id=town["walk_in"].id)
    assert checked_in.status_code == 201, checked_in.get_json()
    assert client.get(f"/desk/{town['mine'].id}/cards/{town['walk_in'].id}.pdf").status_code == 200


def _member_here(town) -> Person:
    """A member of `away`'s household with no stay: staff may look them up."""
    return factories.person(household_id=town["home"].id, given_name="在宅")


def test_a_household_view_shows_members_elsewhere_only_as_a_count(client: FlaskClient, db, town) -> None:
    member = _member_here(town)
    response = client.post("/api/v1/lookups", json={"shelter_id": town["mine"].id, "person_id": member.id},
                           headers=town["staff"])
    assert response.status_code == 200
    household = response.get_json()["household"]
    assert [m["id"] for m in household["members"]] == [member.id] and household["elsewhere"] == 1
    text = response.get_data(as_text=True)
    assert "遠" not in text and town["other"].name not in text
    read = db.session.scalars(select(AuditEvent).where(AuditEvent.subject_type == "household")).all()[-1]
    assert read.detail["person_ids"] == [member.id], "the audit names what was shown"
    by_hq = client.post("/api/v1/lookups", json={"shelter_id": town["mine"].id, "person_id": member.id},
                        headers=town["hq"]).get_json()["household"]
    assert {m["id"] for m in by_hq["members"]} == {member.id, town["away"].id} and by_hq["elsewhere"] == 0


def test_a_presented_card_of_someone_elsewhere_shows_them_but_not_where(client: FlaskClient, db, town) -> None:
    response = client.post("/api/v1/lookups", json={"shelter_id": town["mine"].id, "qr": qr_for(town["away"].id)},
                           headers=town["staff"])
    (shown,) = response.get_json()["household"]["members"]
    assert shown["id"] == town["away"].id and shown["whereabouts"] == {
        "stay_id": None, "status": "elsewhere", "shelter_id": None, "shelter_name": None, "checked_in_at": None}
    assert town["other"].name not in response.get_data(as_text=True)


def test_a_household_member_is_no_way_to_move_people_at_another_shelter(client: FlaskClient, db, town) -> None:
    member = _member_here(town)
    response = post_checkin(client, town["staff"], shelter_id=town["mine"].id, person_id=member.id,
                            members=[member.id, town["away"].id], transfer=True)
    assert response.status_code == 422 and response.get_json()["error"]["fields"]["members"] == [town["away"].id]
    stays = db.session.scalars(select(Stay)).all()
    assert [(s.person_id, s.shelter_id, s.checked_out_at) for s in stays] == [
        (town["away"].id, town["other"].id, None)], "nothing changed"
    checkout = client.post("/api/v1/checkouts", headers=town["staff"], json={
        "client_id": str(uuid.uuid4()), "person_id": member.id, "members": [member.id, town["away"].id],
        "reason": "left"})
    assert checkout.status_code in (404, 409, 422) and town["other"].name not in checkout.get_data(as_text=True)
    assert db.session.scalars(select(Stay)).one().checked_out_at is None
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "person.scope_refused")).all()
    assert refused and all(e.outcome == "refused" for e in refused)


def test_walk_in_duplicates_elsewhere_are_counted_not_shown(client: FlaskClient, db, town) -> None:
    away = town["away"]
    card = {"family_name": away.family_name, "given_name": away.given_name, "family_name_kana": "トオ",
            "given_name_kana": "イ", "birth_date": away.birth_date.isoformat(), "sex": "other", "address": "精華町"}
    response = post_checkin(client, town["staff"], shelter_id=town["mine"].id, person=card)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "possible_duplicate" and error["candidates"] == [] and error["hidden_matches"] == 1
    assert away.address not in response.get_data(as_text=True) and "本部" in error["message"]
    by_hq = post_checkin(client, town["hq"], shelter_id=town["mine"].id, person=card).get_json()["error"]
    assert [c["id"] for c in by_hq["candidates"]] == [away.id]


def test_another_accounts_client_id_is_not_replayed(client: FlaskClient, db, town) -> None:
    client_id = str(uuid.uuid4())
    body = {"shelter_id": town["mine"].id, "person_id": town["walk_in"].id, "client_id": client_id}
    assert client.post("/api/v1/checkins", json=body, headers=town["hq"]).status_code == 201
    replay = client.post("/api/v1/checkins", json=body, headers=town["staff"])
    assert replay.status_code == 409 and replay.get_json()["error"]["code"] == "client_id_reused"


@pytest.mark.parametrize("path, body", [
    ("/api/v1/checkins", {"person_id": 10**30}),
    ("/api/v1/lookups", {"person_id": 10**30}),
    ("/api/v1/checkouts", {"person_id": 10**30, "reason": "left"}),
])
def test_huge_ids_are_4xx_not_500(client: FlaskClient, db, town, path: str, body: dict) -> None:
    body = {**body, "client_id": str(uuid.uuid4())}
    if path != "/api/v1/checkouts":
        body["shelter_id"] = town["mine"].id
    if path == "/api/v1/lookups":
        body.pop("client_id")
    response = client.post(path, json=body, headers=town["hq"])
    assert 400 <= response.status_code < 500
    assert client.get(f"/api/v1/shelters/{10**30}", headers=town["hq"]).status_code == 404
    assert client.get(f"/api/v1/shelters?cursor={10**30}", headers=town["hq"]).status_code < 500


def test_a_403_is_audited_with_the_route_only(client: FlaskClient, db, town) -> None:
    response = client.get(f"/api/v1/shelters/{town['other'].id}/roster", headers=town["staff"])
    assert response.status_code == 403
    (refused,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).all()
    assert refused.outcome == "refused" and refused.detail["code"] == "forbidden"
    assert refused.detail["endpoint"]
