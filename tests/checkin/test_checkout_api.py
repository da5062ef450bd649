"""POST /api/v1/checkouts: left, outing and return, transfer, at home / in a car."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from evac.accounts.models import Role
from evac.outbox.models import OutboxEvent
from evac.shelters.models import ShelterStatus
from evac.stays.models import Stay
from tests import factories
from tests.checkin.helpers import post_checkin, post_checkout, qr_for


@pytest.fixture
def desk(db):
    shelter, other = factories.shelter(), factories.shelter()
    staff = factories.account(Role.STAFF, shelters=[shelter])
    return {"shelter": shelter, "other": other, "headers": factories.bearer(staff)}


def _checked_in(client, desk, **person):
    p = factories.person(**person)
    assert post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=p.id).status_code == 201
    return p


def _events(db) -> list[str]:
    return db.session.scalars(select(OutboxEvent.type).order_by(OutboxEvent.seq)).all()


def test_left_closes_the_stay_and_frees_the_place(client: FlaskClient, db, desk) -> None:
    person = _checked_in(client, desk)
    response = post_checkout(client, desk["headers"], person_id=person.id, reason="left")
    assert response.status_code == 201
    body = response.get_json()
    assert body["stays"][0]["status"] == "left" and body["stays"][0]["checked_out_at"]
    assert body["shelter"]["occupancy"] == 0
    assert _events(db) == ["checkin", "checkout"]
    again = post_checkout(client, desk["headers"], person_id=person.id, reason="left")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_checked_in"


def test_outing_and_return(client: FlaskClient, db, desk) -> None:
    person = _checked_in(client, desk)
    out = post_checkout(client, desk["headers"], person_id=person.id, reason="outing")
    assert out.status_code == 201 and out.get_json()["stays"][0]["status"] == "outing"
    assert out.get_json()["shelter"]["occupancy"] == 1  # an outing keeps the place
    back = post_checkout(client, desk["headers"], person_id=person.id, reason="return")
    assert back.status_code == 201 and back.get_json()["stays"][0]["status"] == "present"
    still = post_checkout(client, desk["headers"], person_id=person.id, reason="return")
    assert still.status_code == 200
    assert _events(db) == ["checkin", "outing", "return"]
    assert len(db.session.scalars(select(Stay)).all()) == 1


def test_checkout_by_qr_card(client: FlaskClient, db, desk) -> None:
    person = _checked_in(client, desk)
    response = post_checkout(client, desk["headers"], qr=qr_for(person.id), reason="left")
    assert response.status_code == 201 and response.get_json()["stays"][0]["person_id"] == person.id


def test_transfer_closes_and_opens_atomically(client: FlaskClient, db, desk) -> None:
    person = _checked_in(client, desk)
    response = post_checkout(client, desk["headers"], person_id=person.id, reason="transfer",
                             to_shelter_id=desk["other"].id)
    assert response.status_code == 201
    body = response.get_json()
    assert body["stays"][0]["shelter_id"] == desk["other"].id and body["to_shelter"]["occupancy"] == 1
    assert body["shelter"]["occupancy"] == 0
    stays = db.session.scalars(select(Stay).order_by(Stay.id)).all()
    assert [(s.shelter_id, s.status.value, s.transferred_to_id) for s in stays] == [
        (desk["shelter"].id, "transferred", desk["other"].id), (desk["other"].id, "present", None)]
    assert _events(db) == ["checkin", "transfer"]


def test_transfer_to_a_closed_shelter_changes_nothing(client: FlaskClient, db, desk) -> None:
    person = _checked_in(client, desk)
    closed = factories.shelter(status=ShelterStatus.CLOSED)
    response = post_checkout(client, desk["headers"], person_id=person.id, reason="transfer", to_shelter_id=closed.id)
    assert response.status_code == 409
    stay = db.session.scalars(select(Stay)).one()
    assert stay.status.value == "present" and stay.shelter_id == desk["shelter"].id


def test_at_home_and_in_car_keep_the_registration(client: FlaskClient, db, desk) -> None:
    person = _checked_in(client, desk)
    home = post_checkout(client, desk["headers"], person_id=person.id, reason="at_home")
    assert home.get_json()["stays"][0]["status"] == "at_home"
    assert home.get_json()["shelter"]["occupancy"] == 0  # not sleeping at the shelter
    car = post_checkout(client, desk["headers"], person_id=person.id, reason="in_car")
    assert car.get_json()["stays"][0]["status"] == "in_car"
    assert db.session.scalars(select(Stay)).one().checked_out_at is None


def test_walk_in_registering_as_staying_at_home(client: FlaskClient, db, desk) -> None:
    person = factories.person()
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=person.id,
                            whereabouts="at_home")
    assert response.status_code == 201 and response.get_json()["stays"][0]["status"] == "at_home"


def test_household_checkout_in_one_request(client: FlaskClient, db, desk) -> None:
    home = factories.household()
    family = [factories.person(household_id=home.id, given_name=n) for n in ("一", "二")]
    post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, person_id=family[0].id,
                 members=[p.id for p in family])
    response = post_checkout(client, desk["headers"], person_id=family[0].id, members=[p.id for p in family],
                             reason="left")
    assert response.status_code == 201 and {s["status"] for s in response.get_json()["stays"]} == {"left"}


def test_staff_cannot_check_out_from_another_shelter(client: FlaskClient, db, desk) -> None:
    person = factories.person()
    hq = factories.bearer(factories.account(Role.HQ))
    post_checkin(client, hq, shelter_id=desk["other"].id, person_id=person.id)
    response = post_checkout(client, desk["headers"], person_id=person.id, reason="left")
    # As if unknown: the answer must not tell that, or where, the person stays.
    assert response.status_code == 404 and str(desk["other"].id) not in response.get_data(as_text=True)
    assert db.session.scalars(select(Stay)).one().status.value == "present"
    qr = qr_for(person.id)
    by_card = post_checkout(client, desk["headers"], qr=qr, reason="left")
    assert by_card.status_code == 409 and desk["other"].name not in by_card.get_data(as_text=True)
    assert db.session.scalars(select(Stay)).one().status.value == "present"


def test_checkout_replay_returns_the_first_answer(client: FlaskClient, db, desk) -> None:
    person = _checked_in(client, desk)
    body = {"client_id": str(uuid.uuid4()), "person_id": person.id, "reason": "left"}
    first = client.post("/api/v1/checkouts", json=body, headers=desk["headers"])
    second = client.post("/api/v1/checkouts", json=body, headers=desk["headers"])
    assert (first.status_code, second.status_code) == (201, 200) and first.get_json() == second.get_json()


@pytest.mark.parametrize("body, field", [
    ({"person_id": 1, "reason": "vanished"}, "reason"),
    ({"person_id": 1, "reason": "transfer"}, "to_shelter_id"),
    ({"reason": "left"}, "_schema"),
])
def test_bad_checkout_bodies_are_422(client: FlaskClient, db, desk, body, field) -> None:
    body["client_id"] = str(uuid.uuid4())
    response = client.post("/api/v1/checkouts", json=body, headers=desk["headers"])
    assert response.status_code == 422 and field in response.get_json()["error"]["fields"]
