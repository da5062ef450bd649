"""HQ and admin list and revoke readers; staff revoke the reader of their own desk screen; the CLI does both."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskCliRunner
from sqlalchemy import select

from evac.accounts.models import AuthState, Role
from evac.audit.models import AuditEvent
from evac.readers.models import CardReader, ReaderRead, ReadState
from tests import factories
from tests.readers.conftest import Desk, post_read


def _revoke(desk: Desk, reader_id: int, headers: dict[str, str], **body: Any) -> Any:
    return desk.client.post(f"/api/v1/readers/{reader_id}/revoke", headers=headers, json=body)


def test_hq_lists_every_paired_reader(desk: Desk, db: Any) -> None:
    desk.code(desk_label="受付1")
    first = desk.client.post("/api/v1/readers/pair", json={"code": desk.code(desk_label="受付1"),
                                                           "name": "東光小 PC1"}).get_json()
    post_read(desk.client, first["token"])
    elsewhere = Desk(factories.shelter(name="精北小学校"), desk.headers, str(uuid.uuid4()), desk.client)
    hq = factories.bearer(factories.account(Role.HQ))
    elsewhere.headers = hq
    second = elsewhere.pair("精北 PC")
    listing = desk.client.get("/api/v1/readers", headers=hq)
    assert listing.status_code == 200
    items = {i["id"]: i for i in listing.get_json()["items"]}
    assert listing.get_json()["total"] == 2
    one = items[first["reader_id"]]
    assert (one["shelter_id"], one["shelter_name"], one["desk_label"], one["name"]) == (
        desk.shelter.id, "精華町立東光小学校", "受付1", "東光小 PC1")
    assert one["paired_at"] and one["last_read_at"] and one["active"] and one["revoked_at"] is None
    assert items[second["reader_id"]]["last_read_at"] is None
    only = desk.client.get(f"/api/v1/readers?shelter_id={desk.shelter.id}", headers=hq).get_json()
    assert [i["id"] for i in only["items"]] == [first["reader_id"]]
    assert desk.client.get("/api/v1/readers", headers=desk.headers).status_code == 403


def test_revoking_is_immediate_drops_undelivered_reads_and_is_audited(desk: Desk, db: Any) -> None:
    paired = desk.pair()
    post_read(desk.client, paired["token"])
    admin = factories.bearer(factories.account(Role.ADMIN))
    epoch = db.session.scalar(select(AuthState.epoch))
    response = _revoke(desk, paired["reader_id"], admin)
    assert response.status_code == 200
    assert response.get_json()["active"] is False and response.get_json()["revoked_at"]
    db.session.rollback()
    assert db.session.scalar(select(AuthState.epoch)) > epoch
    (read,) = db.session.scalars(select(ReaderRead)).all()
    assert read.state is ReadState.DROPPED and read.payload is None
    poll = desk.poll().get_json()
    assert poll == {"readers": [], "reads": [], "poll_ms": 0}, "the desk stops polling"
    assert post_read(desk.client, paired["token"]).status_code == 401
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reader.revoke")).one()
    assert audit.subject_id == str(paired["reader_id"]) and audit.account_id is not None
    # Twice changes nothing.
    assert _revoke(desk, paired["reader_id"], admin).status_code == 200
    assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reader.revoke")).all()) == 1
    hq = factories.bearer(factories.account(Role.HQ))
    assert desk.client.get("/api/v1/readers", headers=hq).get_json()["total"] == 0
    every = desk.client.get("/api/v1/readers?include_revoked=true", headers=hq).get_json()
    assert [i["active"] for i in every["items"]] == [False]


def test_staff_revoke_only_the_reader_of_their_own_desk_screen(desk: Desk, db: Any) -> None:
    mine = desk.pair()
    other_screen = Desk(desk.shelter, desk.headers, str(uuid.uuid4()), desk.client)
    theirs = other_screen.pair("受付2")
    refused = _revoke(desk, theirs["reader_id"], desk.headers, desk_id=desk.desk_id)
    assert refused.status_code == 403
    assert _revoke(desk, mine["reader_id"], desk.headers).status_code == 403, "staff must name their desk screen"
    stranger = factories.bearer(factories.account(Role.STAFF, shelters=[factories.shelter()]))
    assert _revoke(desk, mine["reader_id"], stranger, desk_id=desk.desk_id).status_code == 403
    assert _revoke(desk, mine["reader_id"], desk.headers, desk_id=desk.desk_id).status_code == 200
    db.session.rollback()
    assert db.session.get(CardReader, theirs["reader_id"]).revoked_at is None
    assert db.session.get(CardReader, mine["reader_id"]).revoked_at is not None
    refusals = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reader.revoke",
                                                           AuditEvent.outcome == "refused")).all()
    assert len(refusals) == 3
    assert _revoke(desk, 999999, desk.headers, desk_id=desk.desk_id).status_code == 404


def test_the_command_line_lists_and_revokes(desk: Desk, runner: FlaskCliRunner, db: Any) -> None:
    paired = desk.pair("東光小 PC1")
    listed = runner.invoke(args=["readers", "list"])
    assert listed.exit_code == 0, listed.output
    line = listed.output.strip()
    assert line.startswith(f"{paired['reader_id']}\t") and "東光小 PC1" in line and "精華町立東光小学校" in line
    assert line.endswith("active")
    revoked = runner.invoke(args=["readers", "revoke", str(paired["reader_id"])])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert post_read(desk.client, paired["token"]).status_code == 401
    assert runner.invoke(args=["readers", "list"]).output.strip().startswith("ペアリングされた")
    assert "revoked" in runner.invoke(args=["readers", "list", "--all"]).output
    missing = runner.invoke(args=["readers", "revoke", "424242"])
    assert missing.exit_code == 1 and "見つかりません" in missing.output
    assert runner.invoke(args=["readers", "sweep"]).exit_code == 0
