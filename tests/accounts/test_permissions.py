"""Roles and shelter scope on the API: 401 without credentials, 403 for the wrong role or shelter."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.outbox.models import OutboxEvent
from evac.shelters.models import ShelterStatus
from tests import factories


def test_unauthenticated_api_calls_get_401(client: FlaskClient, db) -> None:
    shelter = factories.shelter()
    for method, path in (("get", "/api/v1/shelters"), ("get", f"/api/v1/shelters/{shelter.id}"),
                         ("patch", f"/api/v1/shelters/{shelter.id}")):
        response = getattr(client, method)(path, json={"status": "closed"})
        assert response.status_code == 401, path
        body = response.get_json()["error"]
        assert body["code"] == "unauthenticated" and body["message"]


def test_staff_see_only_their_shelters(client: FlaskClient, db) -> None:
    mine, other = factories.shelter(), factories.shelter()
    headers = factories.bearer(factories.account(Role.STAFF, shelters=[mine]))
    listing = client.get("/api/v1/shelters", headers=headers).get_json()
    assert [s["id"] for s in listing["items"]] == [mine.id] and listing["total"] == 1
    assert client.get(f"/api/v1/shelters/{mine.id}", headers=headers).status_code == 200
    response = client.get(f"/api/v1/shelters/{other.id}", headers=headers)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"


def test_staff_cannot_change_a_shelter(client: FlaskClient, db) -> None:
    mine = factories.shelter()
    headers = factories.bearer(factories.account(Role.STAFF, shelters=[mine]))
    response = client.patch(f"/api/v1/shelters/{mine.id}", json={"status": "closed"}, headers=headers)
    assert response.status_code == 403
    db.session.refresh(mine)
    assert mine.status is ShelterStatus.OPEN


def test_hq_sees_and_changes_every_shelter(client: FlaskClient, db) -> None:
    shelters = [factories.shelter(status=ShelterStatus.CLOSED, capacity=None) for _ in range(3)]
    headers = factories.bearer(factories.account(Role.HQ))
    assert client.get("/api/v1/shelters", headers=headers).get_json()["total"] == 3
    target = shelters[1]
    # Shelters open under a disaster or a drill: none is open yet.
    refused = client.patch(f"/api/v1/shelters/{target.id}", json={"status": "open"}, headers=headers)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "no_incident"
    factories.incident()
    response = client.patch(f"/api/v1/shelters/{target.id}", json={"status": "open", "capacity": 250},
                            headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "open" and body["capacity"] == 250 and body["occupancy"] == 0
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "shelter.update")).one()
    assert audit.subject_id == str(target.id) and audit.detail["status"] == ["closed", "open"]
    event = db.session.scalars(select(OutboxEvent)).one()
    assert event.type == "shelter.updated" and event.payload["shelter"]["id"] == target.id


def test_pages_need_login(client: FlaskClient) -> None:
    response = client.get("/desk")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_session_authenticated_api_writes_need_csrf(client: FlaskClient, db) -> None:
    shelter = factories.shelter()
    factories.account(Role.HQ, username="hqweb")
    from tests.accounts.test_accounts import _csrf, login

    login(client, "hqweb")
    response = client.patch(f"/api/v1/shelters/{shelter.id}", json={"status": "full"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf_failed"
    token = _csrf(client.get("/login").data)
    response = client.patch(f"/api/v1/shelters/{shelter.id}", json={"status": "full"},
                            headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.get_json()["status"] == "full"
