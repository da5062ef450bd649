"""Reads from a paired reader to its desk screen: accepted once, delivered and acknowledged, expired, audited."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import has_request_context
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.common.db import now_utc
from evac.readers.models import ReaderRead, ReadState
from tests import factories
from tests.readers.conftest import CARD, Desk, post_read


def _reads(db: Any) -> list[ReaderRead]:
    db.session.rollback()
    return list(db.session.scalars(select(ReaderRead).order_by(ReaderRead.id)))


def test_a_read_reaches_its_desk_once_and_its_data_goes_when_acknowledged(desk: Desk, db: Any) -> None:
    token = desk.pair()["token"]
    read_id = str(uuid.uuid4())
    accepted = post_read(desk.client, token, read_id)
    assert accepted.status_code == 202
    assert accepted.get_json() == {"status": "accepted", "read_id": read_id}, "nothing about the card comes back"

    poll = desk.poll()
    assert poll.status_code == 200
    body = poll.get_json()
    assert body["poll_ms"] == 1000 and [r["name"] for r in body["readers"]] == ["受付1"]
    assert body["reads"] == [{"read_id": read_id, "type": "mynumber", "card": CARD,
                              "received_at": body["reads"][0]["received_at"]}]
    # Not acknowledged yet (the answer may have been lost): handed out again.
    assert [r["read_id"] for r in desk.poll().get_json()["reads"]] == [read_id]

    after = desk.poll(read_id).get_json()
    assert after["reads"] == []
    (stored,) = _reads(db)
    assert stored.state is ReadState.DELIVERED and stored.payload is None and stored.delivered_at is not None
    assert desk.poll().get_json()["reads"] == []


def test_a_resent_read_id_is_taken_once_even_after_delivery(desk: Desk, db: Any) -> None:
    token = desk.pair()["token"]
    read_id = str(uuid.uuid4())
    assert post_read(desk.client, token, read_id).status_code == 202
    resent = post_read(desk.client, token, read_id)
    assert resent.status_code == 200 and resent.get_json()["status"] == "duplicate"
    assert len(desk.poll().get_json()["reads"]) == 1
    desk.poll(read_id)
    assert post_read(desk.client, token, read_id).status_code == 200
    assert desk.poll().get_json()["reads"] == [] and len(_reads(db)) == 1
    # Another reader cannot claim that id.
    other = desk.pair("受付2")["token"]
    clash = post_read(desk.client, other, read_id)
    assert clash.status_code == 409 and clash.get_json()["error"]["code"] == "read_id_reused"


def test_an_ic_read(desk: Desk, db: Any) -> None:
    token = desk.pair()["token"]
    response = post_read(desk.client, token, type="ic", uid="012E4C7A11223344")
    assert response.status_code == 202
    (read,) = desk.poll().get_json()["reads"]
    assert (read["type"], read["uid"]) == ("ic", "012E4C7A11223344") and "card" not in read


@pytest.mark.parametrize("body", [
    {"type": "mynumber"},
    {"type": "mynumber", "card": CARD, "uid": "0102"},
    {"type": "ic"},
    {"type": "ic", "uid": "not hex!"},
    {"type": "felica", "uid": "0102"},
    {"type": "mynumber", "card": {**CARD, "individual_number": "1"}},
    {"type": "mynumber", "card": CARD, "extra": 1},
])
def test_malformed_reads_are_refused(desk: Desk, db: Any, body: dict[str, Any]) -> None:
    token = desk.pair()["token"]
    response = post_read(desk.client, token, **body)
    assert response.status_code == 422
    assert _reads(db) == []


@pytest.mark.parametrize("card", [
    {**CARD, "address": "京都府相楽郡精華町 1234 5678 9012"},
    {**CARD, "name": "123456789012"},
    {**CARD, "address": "１２３４−５６７８−９０１２"},
])
def test_anything_shaped_like_an_individual_number_is_refused_and_never_stored(
        desk: Desk, db: Any, card: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = desk.pair()["token"]
    response = post_read(desk.client, token, type="mynumber", card=card)
    assert response.status_code == 422
    text_out = response.get_data(as_text=True)
    assert "5678" not in text_out and "５６７８" not in text_out
    assert _reads(db) == []
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused")).one()
    assert refused.detail["reason"] == "individual_number" and refused.detail["endpoint"] == "readers-api.Reads"
    every = " ".join(str(a.detail) for a in db.session.scalars(select(AuditEvent)))
    assert "5678" not in every and "5678" not in caplog.text


def test_a_read_nobody_fetches_loses_its_data_after_two_minutes(desk: Desk, db: Any) -> None:
    token = desk.pair()["token"]
    old = str(uuid.uuid4())
    assert post_read(desk.client, token, old).status_code == 202
    db.session.execute(update(ReaderRead).values(received_at=now_utc() - timedelta(minutes=2, seconds=1)))
    db.session.commit()
    fresh = str(uuid.uuid4())
    # The poll never hands out the expired read, and clears its data as it notices it.
    assert desk.poll().get_json()["reads"] == []
    (expired,) = _reads(db)
    assert expired.state is ReadState.EXPIRED and expired.payload is None
    assert post_read(desk.client, token, fresh).status_code == 202
    assert [r["read_id"] for r in desk.poll().get_json()["reads"]] == [fresh]


def test_an_expired_read_of_another_desk_is_cleared_by_any_poll_or_read(desk: Desk, db: Any) -> None:
    token = desk.pair()["token"]
    assert post_read(desk.client, token).status_code == 202
    db.session.execute(update(ReaderRead).values(received_at=now_utc() - timedelta(minutes=3)))
    db.session.commit()
    elsewhere = Desk(factories.shelter(), factories.bearer(factories.account(Role.HQ)), str(uuid.uuid4()),
                     desk.client)
    assert elsewhere.poll().get_json() == {"readers": [], "reads": [], "poll_ms": 0}
    (read,) = _reads(db)
    assert read.state is ReadState.EXPIRED and read.payload is None


def test_read_ids_are_forgotten_after_ten_minutes(desk: Desk, db: Any) -> None:
    token = desk.pair()["token"]
    read_id = str(uuid.uuid4())
    assert post_read(desk.client, token, read_id).status_code == 202
    desk.poll(read_id)
    db.session.execute(update(ReaderRead).values(received_at=now_utc() - timedelta(minutes=11)))
    db.session.commit()
    assert post_read(desk.client, token).status_code == 202
    assert [r.read_id for r in _reads(db)] != [read_id] and len(_reads(db)) == 1


def test_the_database_refuses_personal_data_outside_pending(desk: Desk, db: Any) -> None:
    token = desk.pair()["token"]
    read_id = str(uuid.uuid4())
    post_read(desk.client, token, read_id)
    with pytest.raises(IntegrityError):
        db.session.execute(update(ReaderRead).values(state="delivered"))
        db.session.commit()
    db.session.rollback()
    with pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE reader_read SET payload = NULL"))
        db.session.commit()
    db.session.rollback()


def test_the_desk_poll_is_scoped_to_the_shelter_and_the_desk_screen(desk: Desk, db: Any) -> None:
    token = desk.pair()["token"]
    post_read(desk.client, token)
    other_staff = factories.bearer(factories.account(Role.STAFF, shelters=[factories.shelter()]))
    assert desk.poll(headers=other_staff).status_code == 403
    another_screen = Desk(desk.shelter, desk.headers, str(uuid.uuid4()), desk.client)
    assert another_screen.poll().get_json() == {"readers": [], "reads": [], "poll_ms": 0}
    # Acknowledging someone else's read does nothing.
    read_id = desk.poll().get_json()["reads"][0]["read_id"]
    another_screen.poll(read_id)
    assert [r["read_id"] for r in desk.poll().get_json()["reads"]] == [read_id]
    assert desk.client.post("/api/v1/readers/desk-reads",
                            json={"shelter_id": desk.shelter.id, "desk_id": desk.desk_id}).status_code == 401


def test_every_delivery_is_audited_as_a_read_of_personal_data(desk: Desk, db: Any) -> None:
    paired = desk.pair()
    read_id = str(uuid.uuid4())
    post_read(desk.client, paired["token"], read_id)
    desk.poll()
    desk.poll(read_id)
    taken = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reader.read")).one()
    assert taken.detail == {"read_id": read_id, "type": "mynumber"} and taken.subject_id == str(paired["reader_id"])
    delivered = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "person.read",
                                                            AuditEvent.subject_type == "card_read")).all()
    assert len(delivered) == 1 and delivered[0].subject_id == read_id and delivered[0].account_id is not None
    assert delivered[0].shelter_id == desk.shelter.id
    every = " ".join(f"{a.detail} {a.subject_id}" for a in db.session.scalars(select(AuditEvent)))
    for key in ("name", "address", "birth_date"):
        assert CARD[key] not in every


def test_nothing_personal_is_logged(desk: Desk, db: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = desk.pair()["token"]
    read_id = str(uuid.uuid4())
    post_read(desk.client, token, read_id)
    post_read(desk.client, token, type="ic", uid="0123456789ABCDEF")
    reads = desk.poll().get_json()["reads"]
    desk.poll(*[r["read_id"] for r in reads])
    db.session.execute(update(ReaderRead).values(received_at=now_utc() - timedelta(minutes=5)))
    db.session.commit()
    post_read(desk.client, token)
    for secret in (CARD["name"], CARD["address"], CARD["birth_date"], "精華", "0123456789ABCDEF", token):
        assert secret not in caplog.text


def test_a_poll_with_nothing_waiting_takes_no_write_lock(desk: Desk, db: Any, monkeypatch: Any) -> None:
    from evac.common import db as units

    desk.pair()
    modes: list[str] = []
    real = units.run_unit

    def spy(mode: Any, work: Any) -> Any:
        if has_request_context():  # the test client stores journaled audits after the request
            modes.append(mode.value)
        return real(mode, work)

    monkeypatch.setattr(units, "run_unit", spy)
    assert desk.poll().status_code == 200
    assert modes and set(modes) == {"read"}, modes


def test_a_pending_count_never_grows_past_what_desks_have_not_fetched(desk: Desk, db: Any) -> None:
    token = desk.pair()["token"]
    for _ in range(25):
        assert post_read(desk.client, token, type="ic", uid="0102030405060708").status_code == 202
    first = desk.poll().get_json()["reads"]
    assert len(first) == 20, "a poll hands out at most 20 reads"
    rest = desk.poll(*[r["read_id"] for r in first]).get_json()["reads"]
    assert len(rest) == 5
    desk.poll(*[r["read_id"] for r in rest])
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ReaderRead).where(
        ReaderRead.state == ReadState.PENDING)) == 0
