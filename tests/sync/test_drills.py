"""Drills never reach the real receiver; the real incident after them syncs as usual; the sender runs
inside `evac serve` and, with two workers, delivers every event once. All over real HTTP."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from evac.accounts.models import Role
from evac.hq import incidents
from evac.incidents.models import IncidentKind
from evac.shelters import service as shelters
from tests import factories
from tests.serving import start_server
from tests.sync.conftest import (
    SECRET,
    ReceiverProcess,
    Senders,
    activity,
    add_persons,
    assert_delivered_once_in_order,
    free_port,
    outbox_events,
    wait_for,
)


def _once(senders: Senders, url: str, *args: str, extra_env: dict[str, str] | None = None) -> int:
    proc = senders.start(url, "--max-seconds", "20", *args, extra_env=extra_env, command="once")
    return proc.wait(timeout=60)


def test_a_drill_never_reaches_the_real_receiver_and_the_disaster_after_it_syncs(
        app: Flask, client: FlaskClient, db: Any, receiver: ReceiverProcess, senders: Senders,
        subprocess_env: dict[str, str], tmp_path: Path) -> None:
    receiver.start()
    rehearsal = ReceiverProcess(free_port(), tmp_path / "rehearsal.sqlite3", subprocess_env).start()
    drill_env = {"EVAC_SYNC_DRILL_CONNECTOR": "http", "EVAC_SYNC_DRILL_URL": rehearsal.url}
    try:
        factories.incident("総合防災訓練", kind=IncidentKind.DRILL)
        desk = {"shelters": [factories.shelter(capacity=1000) for _ in range(3)],
                "headers": factories.bearer(factories.account(Role.HQ))}
        persons = add_persons(12)
        assert activity(client, desk, persons, seed=3) > 0
        drill_events = outbox_events()
        assert _once(senders, receiver.url) == 0, senders.log(0)
        assert receiver.event_count() == 0, "the real receiver got a drill's events"
        # A rehearsal receiver configured for drills gets them all, once.
        assert _once(senders, receiver.url, "--drill", extra_env=drill_env) == 0, senders.log(1)
        assert_delivered_once_in_order(rehearsal, drill_events, allow_repeats=False)

        report = incidents.close_incident(None)
        assert report.outbox_events == len(drill_events) and outbox_events() == []

        incidents.open_incident(None, "令和8年台風10号", "disaster")
        for shelter in desk["shelters"]:
            shelters.update_shelter(shelter.id, status="open")
        assert activity(client, desk, persons, seed=4) > 0
        real_events = outbox_events()
        assert _once(senders, receiver.url) == 0, senders.log(2)
        assert_delivered_once_in_order(receiver, real_events, allow_repeats=False)
        assert _once(senders, receiver.url, "--drill", extra_env=drill_env) == 0
        assert rehearsal.event_count() == len(drill_events), "the disaster's events reached the drills' receiver"
    finally:
        rehearsal.stop()


@pytest.mark.slow
def test_the_sender_inside_evac_serve_delivers_every_event_once_with_two_workers(
        app: Flask, client: FlaskClient, db: Any, receiver: ReceiverProcess, tmp_path: Path) -> None:
    receiver.start()
    factories.incident("令和8年台風10号")
    desk = {"shelters": [factories.shelter(capacity=1000) for _ in range(3)],
            "headers": factories.bearer(factories.account(Role.HQ))}
    persons = add_persons(40)
    server = start_server(app, tmp_path / "instance", workers=2, EVAC_SYNC_CONNECTOR="http",
                          EVAC_SYNC_URL=receiver.url, EVAC_SYNC_SECRET=SECRET, EVAC_SYNC_INTERVAL="0.5",
                          EVAC_SYNC_BATCH_SIZE="15", EVAC_SYNC_LEASE_TTL="3", EVAC_LOG_LEVEL="INFO")
    try:
        made = activity(client, desk, persons, rounds=2, seed=5)
        expected = outbox_events()
        assert made > 0 and len(expected) >= made
        wait_for(lambda: receiver.event_count() >= len(expected), 60, "every event to reach the receiver")
    finally:
        log = server.stop(signal.SIGTERM)
    stats = assert_delivered_once_in_order(receiver, expected, allow_repeats=False)
    assert stats["events"] == len(expected)
    assert "embedded sync started" in log
