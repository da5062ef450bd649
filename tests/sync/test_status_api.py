"""GET /api/v1/sync/status and POST …/batches/{id}/retry: who may, what they see, what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.outbox.models import BatchStatus, SyncBatch
from sync.config import SyncConfig
from sync.runner import SyncRunner
from tests import factories
from tests.checkin.helpers import post_checkin
from tests.sync.conftest import SECRET, FakeSender, add_persons


@pytest.fixture
def people(db: Any) -> dict[str, Any]:
    shelter = factories.shelter()
    return {
        "shelter": shelter,
        "admin": factories.bearer(factories.account(Role.ADMIN)),
        "hq": factories.bearer(factories.account(Role.HQ)),
        "staff": factories.bearer(factories.account(Role.STAFF, shelters=[shelter])),
    }


def test_status_is_for_hq_and_admin_only(client: FlaskClient, people: dict[str, Any]) -> None:
    assert client.get("/api/v1/sync/status").status_code == 401
    denied = client.get("/api/v1/sync/status", headers=people["staff"])
    assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "forbidden"
    assert client.post("/api/v1/sync/batches/1/retry", headers=people["staff"]).status_code == 403
    for role in ("hq", "admin"):
        answer = client.get("/api/v1/sync/status", headers=people[role])
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["connector"] == "none" and answer.get_json()["connectors"] == []


def test_status_shows_backlog_last_success_and_last_error(app: Flask, client: FlaskClient, db: Any,
                                                          people: dict[str, Any]) -> None:
    app.config["EVAC_SYNC_CONNECTOR"] = "http"
    for pid in add_persons(3):
        assert post_checkin(client, people["hq"], shelter_id=people["shelter"].id, person_id=pid).status_code == 201
    body = client.get("/api/v1/sync/status", headers=people["hq"]).get_json()
    (http,) = body["connectors"]
    assert http["name"] == "http" and http["configured"] is True
    assert http["backlog"] == 3 and http["last_success_at"] is None and http["last_error"] is None
    assert http["parked"] == []

    fake = FakeSender()
    fake.fail_next = 1
    runner = SyncRunner(app, SyncConfig.from_app(app.config, url="http://127.0.0.1:9/", secret=SECRET,
                                                 backoff_base=0.01, backoff_max=0.01), sender=fake)
    runner.run_pass()
    runner.close()
    (http,) = client.get("/api/v1/sync/status", headers=people["hq"]).get_json()["connectors"]
    assert http["backlog"] == 0 and http["delivered_events"] == 3 and http["cursor"] >= 3
    assert http["last_success_at"] is not None
    assert http["last_error"]["code"] == "http_503" and http["last_error"]["http_status"] == 503
    text = str(http)
    assert "試験" not in text and "シケン" not in text  # ids and counts only


def test_retry_refuses_unknown_and_unparked_batches(app: Flask, client: FlaskClient, db: Any,
                                                     people: dict[str, Any]) -> None:
    missing = client.post("/api/v1/sync/batches/999/retry", headers=people["admin"])
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"

    add = add_persons(1)
    post_checkin(client, people["hq"], shelter_id=people["shelter"].id, person_id=add[0])
    runner = SyncRunner(app, SyncConfig.from_app(app.config, connector="http", url="http://127.0.0.1:9/",
                                                 secret=SECRET), sender=FakeSender())
    runner.run_pass()
    runner.close()
    delivered = db.session.scalar(select(SyncBatch))
    assert delivered.status is BatchStatus.DELIVERED
    refused = client.post(f"/api/v1/sync/batches/{delivered.id}/retry", headers=people["admin"])
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "batch_not_parked"
    assert refused.get_json()["error"]["message"]
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sync.retry")).all()


def test_the_sync_api_is_in_the_openapi_document(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/sync/status" in spec["paths"]
    assert "post" in spec["paths"]["/api/v1/sync/batches/{batch}/retry"]
