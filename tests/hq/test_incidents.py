"""Incidents: one at a time, nothing opens without one, a disaster keeps its data, a drill removes exactly its own."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.cards.models import Card, ICCard
from evac.checkin.models import ClientRequest
from evac.incidents.models import Incident
from evac.outbox.models import OutboxEvent
from evac.people.models import Household, Person
from evac.shelters.models import ShelterStatus
from evac.stays.models import HouseholdTally, OccupancyHour, ShelterTally, Stay
from tests import factories
from tests.checkin.helpers import post_checkin, post_checkout, qr_for


def _count(db: Any, model: Any, *where: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _walk_in(given: str) -> dict[str, Any]:
    return {"family_name": "訓練", "given_name": given, "family_name_kana": "クンレン", "given_name_kana": "タロウ",
            "birth_date": "1990-01-01", "sex": "male", "address": "京都府精華町祝園1-1"}


def test_nothing_opens_or_checks_in_without_an_incident(client: FlaskClient, db: Any) -> None:
    shelter = factories.shelter(status=ShelterStatus.CLOSED)
    hq = factories.bearer(factories.account(Role.HQ))
    refused = client.patch(f"/api/v1/shelters/{shelter.id}", json={"status": "open"}, headers=hq)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "no_incident"
    assert client.get("/api/v1/incidents", headers=hq).get_json() == {"items": []}


def test_one_incident_at_a_time_and_a_disaster_closes_only_when_everyone_is_gone(client: FlaskClient,
                                                                                  db: Any) -> None:
    hq = factories.bearer(factories.account(Role.HQ))
    opened = client.post("/api/v1/incidents", json={"name": "令和8年台風10号", "kind": "disaster"}, headers=hq)
    assert opened.status_code == 201, opened.get_json()
    assert opened.get_json()["open"] and opened.get_json()["public"]
    second = client.post("/api/v1/incidents", json={"name": "訓練", "kind": "drill"}, headers=hq)
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "incident_open"
    shelter = factories.shelter(status=ShelterStatus.CLOSED)
    assert client.patch(f"/api/v1/shelters/{shelter.id}", json={"status": "open"}, headers=hq).status_code == 200
    person = factories.person()
    assert post_checkin(client, hq, shelter_id=shelter.id, person_id=person.id).status_code == 201

    blocked = client.post("/api/v1/incidents/current/close", json={}, headers=hq)
    assert blocked.status_code == 409 and blocked.get_json()["error"]["code"] == "incident_not_closable"
    assert blocked.get_json()["error"]["fields"] == {"shelters_open": 1, "checked_in": 1}
    assert post_checkout(client, hq, person_id=person.id, reason="left").status_code == 201
    assert client.patch(f"/api/v1/shelters/{shelter.id}", json={"status": "closed"}, headers=hq).status_code == 200
    closed = client.post("/api/v1/incidents/current/close", json={}, headers=hq)
    assert closed.status_code == 200 and closed.get_json()["kind"] == "disaster"
    # A disaster keeps everything for the retention period.
    assert _count(db, Stay) == 1 and _count(db, OutboxEvent) == 4
    listed = client.get("/api/v1/incidents", headers=hq).get_json()["items"]
    assert [(i["name"], i["open"]) for i in listed] == [("令和8年台風10号", False)]
    assert post_checkin(client, hq, shelter_id=shelter.id, person_id=person.id).status_code == 409


def test_closing_a_drill_removes_exactly_what_it_made(client: FlaskClient, db: Any) -> None:
    hq_account = factories.account(Role.HQ)
    hq = factories.bearer(hq_account)
    # Before the drill: a resident with a card, and an IC card linked in an earlier, real incident.
    home = factories.household()
    resident = factories.person(household_id=home.id)
    sibling = factories.person(household_id=home.id, given_name="次郎", given_name_kana="ジロウ")
    resident_qr = qr_for(resident.id)
    cards_before = _count(db, Card)
    assert client.post("/api/v1/incidents", json={"name": "総合防災訓練", "kind": "drill"}, headers=hq).status_code == 201
    shelters = [factories.shelter() for _ in range(2)]
    # The drill: residents by card, a walk-in family member of theirs, a walk-in on their own,
    # an IC card linked during the drill, an outing and a transfer.
    staff = factories.bearer(factories.account(Role.STAFF, shelters=shelters))
    assert post_checkin(client, staff, shelter_id=shelters[0].id, qr=resident_qr,
                        members=[resident.id, sibling.id]).status_code == 201
    joined = post_checkin(client, staff, shelter_id=shelters[0].id,
                          person={**_walk_in("三郎"), "household_id": home.id}, confirm_new=True)
    assert joined.status_code == 201, joined.get_json()
    alone = post_checkin(client, staff, shelter_id=shelters[1].id, person=_walk_in("一人"))
    assert alone.status_code == 201
    other = factories.person(given_name="花", given_name_kana="ハナ")
    assert post_checkin(client, staff, shelter_id=shelters[1].id, ic_uid="012E4C7A11223344",
                        person_id=other.id).status_code == 201
    assert post_checkout(client, staff, person_id=sibling.id, reason="outing").status_code == 201
    assert post_checkout(client, staff, person_id=other.id, reason="transfer",
                         to_shelter_id=shelters[0].id).status_code == 201
    drill_id = db.session.scalar(select(Incident.id))
    assert _count(db, OutboxEvent, OutboxEvent.drill.is_(True)) == _count(db, OutboxEvent) > 0

    plan = client.post("/api/v1/incidents/current/close", json={"dry_run": True}, headers=hq).get_json()
    assert plan["dry_run"] and plan["kind"] == "drill"
    assert (plan["shelters_closed"], plan["walk_ins"], plan["households"], plan["ic_links"]) == (2, 2, 1, 1)
    assert plan["stays"] == _count(db, Stay) == 6  # 4 check-ins, the transfer's second stay, the walk-in
    assert _count(db, Stay) == 6, "a dry run changes nothing"

    closed = client.post("/api/v1/incidents/current/close", json={}, headers=hq)
    assert closed.status_code == 200 and closed.get_json() == {**plan, "dry_run": False}
    # What the drill made is gone …
    for model in (Stay, OutboxEvent, ClientRequest, ICCard, HouseholdTally, ShelterTally, OccupancyHour):
        assert _count(db, model) == 0, model.__name__
    assert _count(db, Person, Person.source.in_(["paper", "mynumber", "ic"])) == 0
    # … what came before it stays: the residents, their household, their cards.
    assert {p.id for p in db.session.scalars(select(Person))} == {resident.id, sibling.id, other.id}
    assert db.session.get(Household, home.id) is not None
    assert _count(db, Card) == cards_before
    assert all(s.status is ShelterStatus.CLOSED for s in shelters if db.session.refresh(s) is None)
    incident = db.session.get(Incident, drill_id)
    assert not incident.is_open and incident.purged_at is not None
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "incident.close")).one()
    assert audit.detail["stays"] == 6 and audit.account_id == hq_account.id

    # The real incident that follows starts from nothing and works as usual.
    assert client.post("/api/v1/incidents", json={"name": "令和8年台風10号", "kind": "disaster"}, headers=hq).status_code == 201
    assert client.patch(f"/api/v1/shelters/{shelters[0].id}", json={"status": "open"}, headers=hq).status_code == 200
    again = post_checkin(client, staff, shelter_id=shelters[0].id, qr=resident_qr)
    assert again.status_code == 201 and again.get_json()["shelter"]["occupancy"] == 1
    assert _count(db, OutboxEvent, OutboxEvent.drill.is_(False)) == _count(db, OutboxEvent) == 2


def test_every_stay_event_trend_and_audit_entry_belongs_to_the_incident(client: FlaskClient, db: Any) -> None:
    incident = factories.incident("令和8年大雨", )
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.STAFF, shelters=[shelter]))
    person = factories.person()
    assert post_checkin(client, headers, shelter_id=shelter.id, person_id=person.id).status_code == 201
    assert client.get(f"/api/v1/shelters/{shelter.id}/roster", headers=headers).status_code == 200
    assert {s.incident_id for s in db.session.scalars(select(Stay))} == {incident.id}
    events = db.session.scalars(select(OutboxEvent)).all()
    assert {e.incident_id for e in events} == {incident.id}
    assert events[0].payload["incident"] == {"id": incident.id, "name": "令和8年大雨", "kind": "disaster"}
    assert {h.incident_id for h in db.session.scalars(select(OccupancyHour))} == {incident.id}
    reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action.in_(["stay.checkin", "person.read"])))
    assert {a.incident_id for a in reads} == {incident.id}


def test_the_public_page_shows_nothing_of_a_drill_unless_hq_asks(client: FlaskClient, db: Any) -> None:
    hq = factories.bearer(factories.account(Role.HQ))
    drill = client.post("/api/v1/incidents", json={"name": "訓練", "kind": "drill"}, headers=hq).get_json()
    assert drill["public"] is False
    shelter = factories.shelter(name="精華町立訓練小学校")
    page = client.get("/").get_data(as_text=True)
    assert shelter.name not in page and "訓練中" not in page
    client.patch(f"/api/v1/incidents/{drill['id']}", json={"public": True}, headers=hq)
    page = client.get("/").get_data(as_text=True)
    assert shelter.name in page and "訓練中" in page


def test_staff_pages_and_printouts_say_drill(client: FlaskClient, db: Any) -> None:
    from tests.printables import pdfcheck

    factories.incident("総合防災訓練", kind=factories.IncidentKind.DRILL)
    shelter = factories.shelter()
    factories.account(Role.STAFF, shelters=[shelter], username="desk-drill")
    from tests.accounts.test_accounts import login

    login(client, "desk-drill")
    page = client.get(f"/desk/{shelter.id}").get_data(as_text=True)
    assert "drill-banner" in page and "総合防災訓練" in page
    roster = client.get(f"/desk/{shelter.id}/roster.pdf")
    assert roster.status_code == 200 and "訓練 DRILL" in pdfcheck.text(roster.data)
    cards = client.get(f"/desk/{shelter.id}/evacuee-cards.pdf")
    assert "訓練 DRILL" in pdfcheck.text(cards.data)


def test_cli_opens_lists_and_closes_with_a_dry_run(runner: FlaskCliRunner, client: FlaskClient, db: Any) -> None:
    result = runner.invoke(args=["incident", "open", "令和8年度 総合防災訓練", "--kind", "drill"])
    assert result.exit_code == 0, result.output
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    assert post_checkin(client, headers, shelter_id=shelter.id, person=_walk_in("太郎"),
                        client_id=str(uuid.uuid4())).status_code == 201
    dry = runner.invoke(args=["incident", "close", "--dry-run"])
    assert dry.exit_code == 0 and "walk-ins: 1" in dry.output and _count(db, Stay) == 1
    assert runner.invoke(args=["incident", "open", "二つ目", "--kind", "disaster"]).exit_code == 1
    closed = runner.invoke(args=["incident", "close", "--yes"])
    assert closed.exit_code == 0, closed.output
    assert _count(db, Stay) == 0
    listed = runner.invoke(args=["incident", "list"])
    assert "令和8年度 総合防災訓練" in listed.output and "closed" in listed.output
