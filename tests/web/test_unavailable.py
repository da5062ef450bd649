"""When the database cannot be had: 503 with Retry-After and the usual JSON error, never 500.

And what must keep working meanwhile: reads on SQLite (WAL readers never wait for the writer,
and their audit goes to the journal, not through the write lock).
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from evac import create_app
from evac.accounts.models import Role
from evac.audit import service as audit
from evac.audit.models import AuditEvent
from evac.common.db import engine_settings
from evac.extensions import db as _db
from evac.stays.models import Stay
from tests import factories
from tests.checkin.helpers import qr_for


def _second_app(app: Flask, tmp_path: Path, **config: Any) -> Flask:
    """Another app over the same database (as a second gunicorn worker would be), with `config`."""
    base = {key: app.config[key] for key in (
        "SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "CARD_KEY", "EVAC_SECRETS_PERSISTENT", "WTF_CSRF_ENABLED",
        "RATELIMIT_ENABLED", "EVAC_STRICT_UNITS", "EVAC_AUDIT_JOURNAL_DIR", "EVAC_SYNC_DIR")}
    return create_app({"TESTING": True, **base, **config})


def _sqlite_path(app: Flask) -> str:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        pytest.skip("SQLite's write lock")
    assert url.database
    return url.database


def test_a_write_lock_held_past_the_timeout_is_503_and_reads_go_on(app: Flask, db: Any, tmp_path: Path) -> None:
    path = _sqlite_path(app)
    shelter = factories.shelter()
    person = factories.person()
    qr = qr_for(person.id)
    headers = factories.bearer(factories.account(Role.STAFF, shelters=[shelter]))
    busy = _second_app(app, tmp_path, EVAC_DB_BUSY_TIMEOUT=0.3)
    client = busy.test_client()
    body = {"shelter_id": shelter.id, "client_id": str(uuid.uuid4()), "qr": qr}

    other = sqlite3.connect(path, isolation_level=None)  # another program holding the write lock
    other.execute("BEGIN IMMEDIATE")
    try:
        response = client.post("/api/v1/checkins", json=body, headers=headers)
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.headers["Retry-After"].isdigit()
        error = response.get_json()["error"]
        assert error["code"] == "database_unavailable" and error["message"]
        # Meanwhile the desk can still read its roster and search: no write lock needed.
        roster = client.get(f"/api/v1/shelters/{shelter.id}/roster", headers=headers)
        assert roster.status_code == 200, roster.get_json()
        search = client.get("/api/v1/persons?q=ヤマ", headers=headers)
        assert search.status_code == 200
    finally:
        other.rollback()
        other.close()
    # The desk queued the scan and sends it again with the same client id: one stay.
    again = client.post("/api/v1/checkins", json=body, headers=headers)
    assert again.status_code == 201, again.get_json()
    with busy.app_context():
        audit.flush()
    _db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Stay)) == 1
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.account_id.is_not(None))).all()
    assert actions.count("person.read") == 1 and actions.count("person.search") == 1
    assert actions.count("stay.checkin") == 1


def test_the_writer_gate_held_past_the_timeout_is_503(app: Flask, db: Any, tmp_path: Path) -> None:
    _sqlite_path(app)
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    busy = _second_app(app, tmp_path, EVAC_DB_BUSY_TIMEOUT=0.2)
    client = busy.test_client()
    with busy.app_context():
        gate = engine_settings(_db.engine).gate
    assert gate is not None, "SQLite writers queue at the gate"
    gate.acquire(1.0)  # another writer of this process that does not finish
    try:
        response = client.patch(f"/api/v1/shelters/{shelter.id}", json={"capacity": 50}, headers=headers)
    finally:
        gate.release()
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert client.patch(f"/api/v1/shelters/{shelter.id}", json={"capacity": 50}, headers=headers).status_code == 200


def test_postgresql_down_is_503_everywhere(app: Flask, tmp_path: Path) -> None:
    """A server that does not answer (nothing listens on the port): API, pages and health say 503."""
    down = _second_app(app, tmp_path, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:9/evac",
                       EVAC_DB_BUSY_TIMEOUT=0.5)
    client = down.test_client()
    api = client.get("/api/v1/shelters", headers={"Authorization": "Bearer evac_" + "x" * 43})
    assert api.status_code == 503 and api.headers["Retry-After"].isdigit()
    assert api.get_json()["error"]["code"] == "database_unavailable"
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["status"] == "error"
    page = client.get("/")
    assert page.status_code == 503 and "Retry-After" in page.headers
    assert "混み合っています" in page.get_data(as_text=True)
