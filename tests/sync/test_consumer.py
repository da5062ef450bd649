"""The outbox consumer in-process: batching, delivery only after a 2xx, parking, holds, crashes, gaps."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.common.db import WRITE, now_utc, unit
from evac.extensions import db as _db
from evac.outbox import service as outbox
from evac.outbox.models import BatchStatus, OutboxEvent, SyncBatch, SyncConnector
from sync.config import SyncConfig
from sync.http import Attempt
from sync.runner import SyncRunner
from tests import factories
from tests.sync.conftest import SECRET, FakeSender


def _cfg(app: Flask, **overrides: Any) -> SyncConfig:
    values: dict[str, Any] = {"connector": "http", "url": "http://127.0.0.1:9/", "secret": SECRET,
                              "batch_size": 5, "backoff_base": 0.01, "backoff_max": 0.02, "lease_ttl": 5.0,
                              "gap_grace": 0.2}
    values.update(overrides)
    return SyncConfig.from_app(app.config, **values)


def _record(person_ids: list[int | None], note: str = "") -> list[int]:
    """One outbox event per entry (None: a shelter event), committed; returns their seqs."""
    factories.incident()
    events = []
    with unit(WRITE):
        for pid in person_ids:
            if pid is None:
                events.append(outbox.record("shelter.updated", payload={"shelter": {"id": 1, "status": "open"}},
                                            shelter_id=1))
            else:
                events.append(outbox.record("checkin", person_id=pid, shelter_id=1, payload={
                    "shelter": {"id": 1}, "person": {"id": pid, "family_name": "試験", "note": note},
                    "stay": {"id": pid, "status": "present"}}))
    seq_of = dict(_db.session.execute(select(OutboxEvent.event_id, OutboxEvent.seq)
                                      .where(OutboxEvent.event_id.in_(events))).all())
    _db.session.rollback()
    return [seq_of[e] for e in events]


def _batches(status: BatchStatus | None = None) -> list[SyncBatch]:
    _db.session.rollback()
    query = select(SyncBatch).order_by(SyncBatch.first_seq)
    if status is not None:
        query = query.where(SyncBatch.status == status)
    return list(_db.session.scalars(query))


def _per_person(fake: FakeSender) -> dict[int, list[int]]:
    order: dict[int, list[int]] = defaultdict(list)
    for _batch, events in fake.received:
        for event in events:
            if event["person"]:
                order[event["person"]["id"]].append(event["seq"])
    return order


def test_batches_keep_seq_order_and_the_count_and_byte_caps(app: Flask, db: Any) -> None:
    seqs = _record([i % 7 for i in range(23)], note="x" * 300)
    fake = FakeSender()
    runner = SyncRunner(app, _cfg(app, batch_size=5), sender=fake)
    report = runner.run_pass()
    runner.close()
    assert report.drained and report.delivered == 23 and report.batches == 5
    assert fake.seqs() == seqs
    assert all(len(events) <= 5 for _b, events in fake.received)
    assert len({b for b, _e in fake.received}) == 5  # one batch id per batch

    more = _record([1, 2, 3, 4, 5, 6], note="y" * 900)
    event_bytes = max(len(json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode())
                      for _b, events in fake.received[-1:] for e in events)
    runner = SyncRunner(app, _cfg(app, batch_size=100, batch_bytes=2048), sender=fake)
    runner.run_pass()
    runner.close()
    assert fake.seqs()[-6:] == more
    assert event_bytes < 1024
    assert all(len(events) <= 2 for _b, events in fake.received[5:])  # ~1 KB each under a 2 KB cap
    state = db.session.get(SyncConnector, "http")
    assert state.cursor == more[-1] and state.delivered_events == 29 and state.last_success_at is not None


def test_nothing_is_delivered_without_a_2xx_and_retries_keep_the_batch(app: Flask, db: Any) -> None:
    seqs = _record([1, 2, 3])
    fake = FakeSender()
    fake.fail_next = 3
    runner = SyncRunner(app, _cfg(app), sender=fake)
    report = runner.run_pass()
    runner.close()
    assert report.retries == 3 and report.delivered == 3 and fake.seqs() == seqs
    (batch,) = _batches()
    assert batch.status is BatchStatus.DELIVERED and batch.attempts == 4

    # Out of time while the far end keeps failing: the batch stays queued and goes out next pass, same id.
    later = _record([4, 5])
    fake.fail_next = 1000
    runner = SyncRunner(app, _cfg(app, backoff_base=0.2, backoff_max=0.2), sender=fake)
    report = runner.run_pass(deadline=time.monotonic() + 0.5)
    assert not report.drained and report.error == "http_503" and report.delivered == 0
    queued = _batches(BatchStatus.QUEUED)
    assert [b.seqs for b in queued] == [later]
    state = db.session.get(SyncConnector, "http")
    assert state.last_error_code == "http_503" and state.last_error_status == 503
    fake.fail_next = 0
    runner.run_pass()
    runner.close()
    assert fake.received[-1][0] == queued[0].batch_id and fake.seqs()[-2:] == later


class Crash(BaseException):
    """Stands for the process dying between the far end's 2xx and the database commit."""


class CrashAfterAccept(FakeSender):
    def send(self, batch_id: str, events: list[bytes]) -> Attempt:
        super().send(batch_id, events)
        raise Crash(batch_id)


def test_a_batch_resent_after_a_crash_carries_the_same_batch_id(app: Flask, db: Any) -> None:
    _record([1, 2, 3, 4, 5, 6, 7])
    crashing = CrashAfterAccept()
    runner = SyncRunner(app, _cfg(app), sender=crashing)
    with pytest.raises(Crash):
        runner.run_pass()
    runner.close()  # the dead process's lease goes with it
    (first_id, first_events), = crashing.received
    assert _batches(BatchStatus.QUEUED)[0].batch_id == first_id  # not marked delivered

    fake = FakeSender()
    runner = SyncRunner(app, _cfg(app), sender=fake)
    runner.run_pass()
    runner.close()
    assert fake.received[0][0] == first_id
    assert [e["event_id"] for e in fake.received[0][1]] == [e["event_id"] for e in first_events]
    assert fake.seqs() == [e.seq for e in db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))]


def test_a_parked_batch_lets_later_events_flow_but_holds_its_persons(app: Flask, client: FlaskClient,
                                                                    db: Any) -> None:
    # Persons 1..3 interleaved, batches of two: person 2 is refused by the far end.
    seqs = _record([1, 2, 3, 1, 2, 3, 1, 3, 2, 3])
    fake = FakeSender()
    fake.reject_persons = {2}
    runner = SyncRunner(app, _cfg(app, batch_size=2), sender=fake)
    report = runner.run_pass()
    assert report.drained and report.parked >= 1
    parked = _batches(BatchStatus.PARKED)
    held = _batches(BatchStatus.HELD)
    parked_seqs = {s for b in parked for s in b.seqs}
    held_seqs = {s for b in held for s in b.seqs}
    delivered_seqs = set(fake.seqs())
    assert parked_seqs | held_seqs | delivered_seqs == set(seqs)
    assert not (parked_seqs | held_seqs) & delivered_seqs
    assert 2 not in _per_person(fake)
    assert _per_person(fake)[3], "person 3's events kept flowing"
    # Person 1 shared the first parked batch with person 2: their later events wait too.
    assert seqs[0] in parked_seqs and seqs[3] in held_seqs | parked_seqs

    headers = factories.bearer(factories.account(Role.HQ))
    status = client.get("/api/v1/sync/status", headers=headers).get_json()
    (http,) = status["connectors"]
    assert http["parked_events"] == len(parked_seqs) and http["held_events"] == len(held_seqs)
    assert http["last_error"]["code"] == "http_422" and http["last_error"]["http_status"] == 422
    assert {p["id"] for p in http["parked"]} == {b.id for b in parked}

    # HQ fixes things at the far end and retries: everything arrives, each person in order.
    fake.reject_persons = set()
    for pk, old_id in [(b.id, b.batch_id) for b in parked]:
        answer = client.post(f"/api/v1/sync/batches/{pk}/retry", headers=headers)
        assert answer.status_code == 202, answer.get_json()
        assert answer.get_json()["status"] == "queued" and answer.get_json()["batch_id"] != old_id
    runner.run_pass()
    runner.close()
    assert sorted(fake.seqs()) == seqs
    for person, person_seqs in _per_person(fake).items():
        assert person_seqs == sorted(person_seqs), person
    assert not _batches(BatchStatus.PARKED) and not _batches(BatchStatus.HELD)
    audits = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sync.retry")).all()
    assert len(audits) == len(parked) and all(a.account_id is not None for a in audits)


def test_a_retried_batch_refused_again_stays_parked_with_its_holds(app: Flask, db: Any) -> None:
    from evac.outbox import state

    _record([1, 2, 1, 2])
    fake = FakeSender()
    fake.reject_persons = {1}
    runner = SyncRunner(app, _cfg(app, batch_size=1), sender=fake)
    runner.run_pass()
    (parked,) = _batches(BatchStatus.PARKED)
    (held,) = _batches(BatchStatus.HELD)
    assert held.blocked_by == parked.id
    state.request_retry(parked.id, account_id=None)
    runner.run_pass()
    (again,) = _batches(BatchStatus.PARKED)
    assert again.id == parked.id and again.retries == 1
    assert [b.id for b in _batches(BatchStatus.HELD)] == [held.id]
    fake.reject_persons = set()
    state.request_retry(parked.id, account_id=None)
    runner.run_pass()
    runner.close()
    order = _per_person(fake)
    assert set(order) == {1, 2} and all(len(seqs) == 2 and seqs == sorted(seqs) for seqs in order.values())


@pytest.mark.postgres
def test_a_gap_left_by_a_transaction_in_flight_is_waited_for(app: Flask, db: Any) -> None:
    """PostgreSQL hands out seq before commit: an event committed later with a lower seq must not be lost."""
    first = _record([1, 2])
    fake = FakeSender()
    runner = SyncRunner(app, _cfg(app), sender=fake)
    runner.run_pass()
    assert fake.seqs() == first

    incident_id = factories.incident().id
    slow = db.engine.connect()
    slow_tx = slow.begin()
    slow.execute(insert(OutboxEvent).values(event_id="00000000-0000-4000-8000-000000000001", type="checkin",
                                            occurred_at=now_utc(), person_id=3, shelter_id=1, incident_id=incident_id,
                                            payload={"person": {"id": 3}}))
    rolled = db.engine.connect()
    rolled_tx = rolled.begin()
    rolled.execute(insert(OutboxEvent).values(event_id="00000000-0000-4000-8000-000000000002", type="checkin",
                                              occurred_at=now_utc(), person_id=4, shelter_id=1, incident_id=incident_id,
                                              payload={"person": {"id": 4}}))
    after = _record([3, 5])  # committed first, with higher seqs
    try:
        report = runner.run_pass(deadline=time.monotonic() + 2)
        assert fake.seqs() == first, "nothing past an unsettled gap"
        assert not report.drained
        rolled_tx.rollback()  # this gap never fills
        slow_tx.commit()
    finally:
        rolled.close()
        slow.close()
    runner.run_pass()
    runner.close()
    slow_seq = db.session.scalar(select(OutboxEvent.seq).where(OutboxEvent.person_id == 3, OutboxEvent.seq < after[0]))
    assert fake.seqs() == first + [slow_seq] + after


def test_two_runners_in_one_database_never_send_at_once(app: Flask, db: Any) -> None:
    _record(list(range(40)))
    gate = threading.Event()
    inside = []

    class Slow(FakeSender):
        def send(self, batch_id: str, events: list[bytes]) -> Attempt:
            inside.append(batch_id)
            gate.wait(0.05)
            return super().send(batch_id, events)

    one, two = Slow(), Slow()
    runners = [SyncRunner(app, _cfg(app, batch_size=4), sender=s) for s in (one, two)]
    reports: list[Any] = []
    threads = [threading.Thread(target=lambda r=r: reports.append(r.run_pass())) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for runner in runners:
        runner.close()
    assert sorted(r.lease for r in reports) == [False, True]
    sent = [s.seqs() for s in (one, two)]
    assert sorted(len(seqs) for seqs in sent) == [0, 40]
    assert max(sent, key=len) == sorted(max(sent, key=len))


@pytest.mark.parametrize("seed", range(6))
def test_random_refusals_and_retries_never_reorder_a_person(app: Flask, db: Any, seed: int) -> None:
    """Whatever the far end refuses and whenever HQ retries, each person's events arrive once, in order."""
    import random

    from evac.outbox import state
    from sync.consumer import Caps

    rng = random.Random(seed)
    persons = list(range(1, 7))
    fake = FakeSender()
    runner = SyncRunner(app, _cfg(app), sender=fake)
    recorded: list[int] = []
    for _step in range(15):
        recorded += _record([rng.choice(persons + [None]) for _ in range(rng.randint(1, 5))])
        fake.reject_persons = set(rng.sample(persons, rng.randint(0, 2)))
        runner.caps = Caps(rng.randint(1, 4), 1 << 20)
        for batch in _batches(BatchStatus.PARKED):
            if rng.random() < 0.4:
                state.request_retry(batch.id, account_id=None)
        assert runner.run_pass().error is None
    fake.reject_persons = set()
    for _round in range(20):
        parked = _batches(BatchStatus.PARKED)
        if not parked and not _batches(BatchStatus.QUEUED) and not _batches(BatchStatus.HELD):
            break
        for batch in parked:
            state.request_retry(batch.id, account_id=None)
        runner.run_pass()
    runner.close()
    assert sorted(fake.seqs()) == recorded, "every event delivered exactly once"
    for person, seqs in _per_person(fake).items():
        assert seqs == sorted(seqs), f"person {person} reordered: {seqs}"
