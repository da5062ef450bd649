"""Closing a shelter: refused while people are registered there; HQ moves them all first, then closes."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.hq import tallies
from evac.outbox.models import OutboxEvent
from evac.shelters.models import Shelter, ShelterKind, ShelterStatus
from evac.stays.models import ShelterTally, Stay
from tests import factories
from tests.hq.helpers import ELDERLY, INFANT, check_in, check_out, family


def _occupancy(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    return client.get("/api/v1/occupancy", headers=headers).get_json()


def _open_stays(db: Any, shelter_id: int) -> dict[int, str]:
    db.session.rollback()
    rows = db.session.execute(select(Stay.person_id, Stay.status).where(
        Stay.shelter_id == shelter_id, Stay.checked_out_at.is_(None)))
    return {pid: str(status.value if hasattr(status, "value") else status) for pid, status in rows}


def _count(db: Any, model: Any, *where: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _town(client: FlaskClient) -> dict[str, Any]:
    source = factories.shelter(name="精華町立東光小学校", capacity=20)
    target = factories.shelter(name="精華町立精北小学校", capacity=300)
    headers = factories.bearer(factories.account(Role.HQ))
    smiths = family(3, needs=[ELDERLY, INFANT, 0], pets=1)
    jones = family(2)
    alone = family(1)
    check_in(client, headers, source.id, smiths)
    check_in(client, headers, source.id, jones)
    check_in(client, headers, target.id, alone)
    check_out(client, headers, [jones[0]], reason="outing")  # out: still registered here
    check_out(client, headers, [smiths[2]], reason="in_car")  # in a car: still registered here
    return {"source": source, "target": target, "headers": headers, "people": smiths + jones, "alone": alone}


def test_closing_with_people_present_is_refused_and_changes_nothing(client: FlaskClient, db: Any) -> None:
    town = _town(client)
    source, headers = town["source"], town["headers"]
    before = _occupancy(client, headers)
    stays_before = _open_stays(db, source.id)
    events_before = _count(db, OutboxEvent)

    refused = client.patch(f"/api/v1/shelters/{source.id}", json={"status": "closed"}, headers=headers)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "shelter_not_empty"
    assert error["present"] == 5 and "5" in error["message"]
    assert error["counts"] == {"present": 3, "outing": 1, "in_car": 1}

    db.session.rollback()
    assert db.session.get(Shelter, source.id).status is ShelterStatus.OPEN
    assert _open_stays(db, source.id) == stays_before
    after = _occupancy(client, headers)
    assert (after["totals"], after["shelters"]) == (before["totals"], before["shelters"])
    assert _count(db, OutboxEvent) == events_before
    # Marking it full, or changing its capacity, is still allowed with people there.
    assert client.patch(f"/api/v1/shelters/{source.id}", json={"status": "full"}, headers=headers).status_code == 200


def test_move_all_then_close(client: FlaskClient, db: Any) -> None:
    town = _town(client)
    source, target, headers = town["source"], town["target"], town["headers"]
    before = _occupancy(client, headers)
    whereabouts_before = _open_stays(db, source.id)
    transfers_before = _count(db, OutboxEvent, OutboxEvent.type == "transfer")

    moved = client.post(f"/api/v1/shelters/{source.id}/move-all", json={"to_shelter_id": target.id}, headers=headers)
    assert moved.status_code == 200, moved.get_json()
    body = moved.get_json()
    assert body["moved"] == 5 and body["counts"] == {"present": 3, "outing": 1, "in_car": 1}
    assert body["shelter"]["occupancy"] == 0 and body["shelter"]["households"] == 0
    assert body["to_shelter"]["occupancy"] == 1 + 4 and body["to_shelter"]["households"] == 3

    # Everyone is at the target, each with the whereabouts they had; nobody is left at the source.
    assert _open_stays(db, source.id) == {}
    at_target = _open_stays(db, target.id)
    assert {pid: at_target[pid] for pid in town["people"]} == whereabouts_before
    after = _occupancy(client, headers)
    for key in ("occupancy", "households", "at_home", "in_car", "pets", "needs"):
        assert after["totals"][key] == before["totals"][key], key
    rows = {s["id"]: s for s in after["shelters"]}
    assert rows[source.id]["occupancy"] == 0 and rows[source.id]["in_car"] == 0 and rows[source.id]["pets"] == 0
    assert rows[target.id]["occupancy"] == 5 and rows[target.id]["in_car"] == 1 and rows[target.id]["pets"] == 1
    assert rows[target.id]["needs"]["elderly"] == 1 and rows[target.id]["needs"]["infant"] == 1

    # Audited and sent as transfers, one per person, like the desk's transfer.
    db.session.rollback()
    assert _count(db, OutboxEvent, OutboxEvent.type == "transfer") == transfers_before + 5
    events = db.session.scalars(select(OutboxEvent).where(OutboxEvent.type == "transfer",
                                                          OutboxEvent.shelter_id == target.id)).all()
    moved_events = [e for e in events if e.payload.get("from_shelter_id") == source.id]
    assert sorted(e.person_id for e in moved_events) == sorted(town["people"])
    assert all(e.payload["stay"]["shelter_id"] == target.id for e in moved_events)
    assert _count(db, AuditEvent, AuditEvent.action == "stay.transfer") >= 5
    summary = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "shelter.move_all")).one()
    assert summary.subject_id == str(source.id) and summary.detail["moved"] == 5
    assert summary.detail["to_shelter_id"] == target.id

    # The counters equal a recount from the stays (households, needs, pets, whereabouts: all of them).
    for sid, n in ((source.id, 0), (target.id, 5)):
        assert db.session.scalar(select(ShelterTally.occupancy).where(ShelterTally.shelter_id == sid)) == n
    db.session.rollback()
    assert tallies.rebuild(dry_run=True).corrected == []

    # A second press moves nobody and changes nothing.
    again = client.post(f"/api/v1/shelters/{source.id}/move-all", json={"to_shelter_id": target.id}, headers=headers)
    assert again.status_code == 200 and again.get_json()["moved"] == 0

    closed = client.patch(f"/api/v1/shelters/{source.id}", json={"status": "closed"}, headers=headers)
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    final = _occupancy(client, headers)
    assert final["totals"]["occupancy"] == before["totals"]["occupancy"]
    assert source.id not in {s["id"] for s in final["shelters"]}


def test_move_all_refusals(client: FlaskClient, db: Any) -> None:
    town = _town(client)
    source, target, headers = town["source"], town["target"], town["headers"]
    closed = factories.shelter(status=ShelterStatus.CLOSED)
    url = f"/api/v1/shelters/{source.id}/move-all"

    same = client.post(url, json={"to_shelter_id": source.id}, headers=headers)
    assert same.status_code == 422 and same.get_json()["error"]["fields"] == {"to_shelter_id": "same shelter"}
    to_closed = client.post(url, json={"to_shelter_id": closed.id}, headers=headers)
    assert to_closed.status_code == 409 and to_closed.get_json()["error"]["code"] == "shelter_closed"
    unknown = client.post(url, json={"to_shelter_id": 999_999}, headers=headers)
    assert unknown.status_code == 404
    missing = client.post(url, json={}, headers=headers)
    assert missing.status_code == 422 and "to_shelter_id" in missing.get_json()["error"]["fields"]
    wrong_type = client.post(url, json={"to_shelter_id": "東光"}, headers=headers)
    assert wrong_type.status_code == 422
    extra = client.post(url, json={"to_shelter_id": target.id, "close": True}, headers=headers)
    assert extra.status_code == 422
    staff = factories.bearer(factories.account(Role.STAFF, shelters=[source, target]))
    assert client.post(url, json={"to_shelter_id": target.id}, headers=staff).status_code == 403
    # Nothing moved by any of them.
    assert len(_open_stays(db, source.id)) == 5


def test_search_shows_kind_and_code_in_gojuon_order(client: FlaskClient, db: Any) -> None:
    headers = factories.bearer(factories.account(Role.HQ))
    closed = ShelterStatus.CLOSED
    # Code point order: ぎんが (hiragana first), カワ, ガクエン, キタ. 五十音 reads ガ as カ: ガクエン < カワ.
    names = [("ガクエン", "学園会館"), ("キタ", "北公民館"), ("カワ", "川公民館"), ("ぎんが", "銀河ホール")]
    for kana, name in names:
        factories.shelter(name=name, name_kana=kana, status=closed)
    hall = factories.shelter(name="精華町体育館", name_kana="セイカチョウタイイクカン", status=closed,
                             kind=ShelterKind.EVACUATION, code="SAME-1")
    site = factories.shelter(name="精華町体育館", name_kana="セイカチョウタイイクカン", status=closed,
                             kind=ShelterKind.EMERGENCY, code="SAME-2")
    found = client.get("/api/v1/hq/shelters?status=closed", headers=headers).get_json()["items"]
    assert [s["name"] for s in found][:4] == ["学園会館", "川公民館", "北公民館", "銀河ホール"]
    twins = [s for s in found if s["name"] == "精華町体育館"]
    assert {(s["id"], s["code"], s["kind"]) for s in twins} == {(hall.id, "SAME-1", "evacuation"),
                                                               (site.id, "SAME-2", "emergency")}
