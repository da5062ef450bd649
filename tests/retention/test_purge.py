"""`evac purge`: closed disasters past the retention period, incident by incident; nothing open is touched."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, update

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.cards import service as cards
from evac.checkin.models import ClientRequest
from evac.common.db import now_utc
from evac.hq import incidents
from evac.incidents.models import Incident
from evac.outbox.models import BatchStatus, OutboxEvent, SyncBatch, SyncConnector
from evac.people.models import Person
from evac.retention.service import purge
from evac.shelters import service as shelters
from evac.stays.models import OccupancyHour, Stay
from tests import factories
from tests.checkin.helpers import post_checkin, post_checkout


def _walk_in(given: str) -> dict[str, Any]:
    return {"family_name": "避難", "given_name": given, "family_name_kana": "ヒナン", "given_name_kana": "タロウ",
            "birth_date": "1990-01-01", "sex": "male", "address": "京都府精華町祝園1-1", "phone": "0774-00-0000"}


def _count(db: Any, model: Any, *where: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _past_disaster(client: FlaskClient, db: Any) -> dict[str, Any]:
    """A disaster that ended 41 days ago: a resident and two walk-ins came and left."""
    old = incidents.open_incident(None, "令和8年台風10号", "disaster")
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    resident = factories.person(given_name="住民")
    walk_ins = [post_checkin(client, headers, shelter_id=shelter.id, person=_walk_in(n)).get_json()["person"]["id"]
                for n in ("一郎", "二郎")]
    card = cards.issue_card(walk_ins[0])[1]
    post_checkin(client, headers, shelter_id=shelter.id, person_id=resident.id)
    for pid in (*walk_ins, resident.id):
        assert post_checkout(client, headers, person_id=pid, reason="left").status_code == 201
    shelters.update_shelter(shelter.id, status="closed")
    incidents.close_incident(None)
    db.session.execute(update(Incident).where(Incident.id == old["id"]).values(ended_at=now_utc() - timedelta(days=41)))
    db.session.commit()
    return {"id": old["id"], "shelter": shelter, "headers": headers, "resident": resident, "walk_ins": walk_ins,
            "card": card}


def test_a_past_disaster_is_purged_and_the_open_one_untouched(client: FlaskClient, db: Any) -> None:
    past = _past_disaster(client, db)
    old_events = [e.seq for e in db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))]
    # The sender took all but the last event; the last one waits in a queued batch.
    db.session.add(SyncConnector(name="http", cursor=old_events[-1], delivered_events=len(old_events) - 1))
    db.session.add(SyncBatch(connector="http", incident_id=past["id"], status=BatchStatus.QUEUED,
                             first_seq=old_events[-1], last_seq=old_events[-1], event_count=1,
                             seqs=[old_events[-1]], person_ids=[], attempts=0, retries=0))
    db.session.commit()
    # Today's disaster, with a walk-in still staying.
    current = incidents.open_incident(None, "令和8年大雨", "disaster")
    shelters.update_shelter(past["shelter"].id, status="open")
    staying = post_checkin(client, past["headers"], shelter_id=past["shelter"].id, person=_walk_in("在所"))
    staying_id = staying.get_json()["person"]["id"]
    before_seq = db.session.scalar(select(func.max(OutboxEvent.seq)))

    dry = purge(retention_days=40, dry_run=True)
    assert [(i.incident_id, i.anonymised, i.outbox_events) for i in dry.incidents] == [
        (past["id"], 2, len(old_events) - 1)]
    assert _count(db, Person, Person.family_name == "匿名") == 0, "a dry run changes nothing"

    report = purge(retention_days=40)
    (item,) = report.incidents
    assert item.anonymised == 2 and item.client_requests == 6 and item.events_queued == 2  # 3 in, 3 out
    for pid in past["walk_ins"]:
        gone = db.session.get(Person, pid)
        db.session.refresh(gone)
        assert gone.family_name == "匿名" and gone.phone is None and gone.birth_date is None
    assert db.session.get(Person, past["resident"].id).given_name == "住民"  # the register's own record
    assert db.session.get(Person, staying_id).given_name == "在所"  # today's incident is untouched
    # What is left of the old incident: its stays (ids only), the one event still waiting, and
    # the person.updated events that tell the cloud system to anonymise too.
    assert _count(db, Stay, Stay.incident_id == past["id"]) == 3
    left = db.session.scalars(select(OutboxEvent).where(OutboxEvent.incident_id == past["id"])
                              .order_by(OutboxEvent.seq)).all()
    assert [e.seq for e in left][0] == old_events[-1]
    updates = [e for e in left if e.type == "person.updated"]
    assert len(updates) == 2 and all(e.payload["person"]["family_name"] == "匿名" for e in updates)
    assert min(e.seq for e in updates) > before_seq, "sequence numbers only grow"
    assert _count(db, ClientRequest, ClientRequest.incident_id == past["id"]) == 0
    assert _count(db, OccupancyHour, OccupancyHour.incident_id == past["id"]) == 0
    assert _count(db, ClientRequest, ClientRequest.incident_id == current["id"]) == 1
    assert db.session.get(Incident, past["id"]).purged_at is not None
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).one().detail["incidents"]
    refused = post_checkin(client, past["headers"], shelter_id=past["shelter"].id, qr=past["card"])
    assert refused.status_code == 410  # the anonymised walk-in's card checks nobody in


def test_the_cli_takes_a_backup_first_and_keeps_backups_for_the_restore_window(
        app: Flask, client: FlaskClient, db: Any, runner: FlaskCliRunner) -> None:
    past = _past_disaster(client, db)
    backups = Path(app.instance_path) / "backups"
    backups.mkdir(parents=True, exist_ok=True)
    stale = backups / "pre-purge-20260101T000000Z.backup"
    stale.write_bytes(b"old")
    four_days_ago = time.time() - 4 * 86400
    os.utime(stale, (four_days_ago, four_days_ago))
    dry = runner.invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0 and "anonymise 2" in dry.output
    assert runner.invoke(args=["purge"], input="n\n").exit_code == 1  # asked, refused
    result = runner.invoke(args=["purge", "--yes"])
    assert result.exit_code == 0, result.output
    taken = [p for p in backups.iterdir() if p != stale]
    assert len(taken) == 1 and taken[0].stat().st_size > 0 and not stale.exists()
    assert oct(taken[0].stat().st_mode & 0o777) == "0o600"
    assert _count(db, Person, Person.family_name == "匿名") == 2
    again = runner.invoke(args=["purge", "--yes", "--no-backup"])
    assert again.exit_code == 0 and "anonymised 0" in again.output
    assert runner.invoke(args=["purge", "--incident", str(past["id"] + 99)]).exit_code == 1


def test_an_open_incident_is_never_purged(client: FlaskClient, db: Any, runner: FlaskCliRunner) -> None:
    open_one = factories.incident("開始中")
    factories.shelter()
    result = runner.invoke(args=["purge", "--incident", str(open_one.id), "--yes"])
    assert result.exit_code == 1 and "終了してから" in result.output
    assert purge(retention_days=0).incidents == []
