"""Staff reach people at their own shelters (and walk-ins), never other shelters' evacuees by id."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.people.models import Person
from evac.stays.models import Stay
from tests import factories
from tests.accounts.test_accounts import login
from tests.checkin.helpers import post_checkin


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
    assert response.status_code == 422 and "household_id" in response.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Person)) == 2


def test_card_printout_of_someone_elsewhere_is_404(client: FlaskClient, db, town) -> None:
    login(client, "deskA")
    assert client.get(f"/desk/{town['mine'].id}/cards/{town['away'].id}.pdf").status_code == 404
    assert client.get(f"/desk/{town['mine'].id}/cards/{town['walk_in'].id}.pdf").status_code == 200


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
