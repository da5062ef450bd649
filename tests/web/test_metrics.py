"""/metrics: Prometheus text for the operator, loopback or token only, counts that add up across workers."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from evac.accounts.models import Role
from tests import factories
from tests.checkin.helpers import post_checkin, qr_for
from tests.serving import start_server


def _value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if wanted else "") + r" ([0-9.e+-]+)"
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_checkins_errors_and_sync(client: FlaskClient, db: Any) -> None:
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    before = client.get("/metrics").get_data(as_text=True)
    person = factories.person()
    assert post_checkin(client, headers, shelter_id=shelter.id, qr=qr_for(person.id)).status_code == 201
    assert post_checkin(client, headers, shelter_id=shelter.id, qr="EV1:NOTACARD").status_code == 422
    page = client.get("/metrics")
    assert page.status_code == 200 and page.mimetype == "text/plain"
    text = page.get_data(as_text=True)
    assert _value(text, "evac_checkins_total", method="qr") - _value(before, "evac_checkins_total", method="qr") == 1
    assert _value(text, "evac_http_errors_total", code="card_malformed", status="422") >= 1
    assert _value(text, "evac_open_shelters") == 1 and _value(text, "evac_occupancy") == 1
    assert "evac_sync_backlog_events" in text and "evac_purged_records" in text
    assert person.family_name not in text  # counts only


def test_metrics_are_for_loopback_or_a_token(app: Flask, client: FlaskClient, db: Any) -> None:
    outside = {"REMOTE_ADDR": "192.0.2.7"}
    assert client.get("/metrics", environ_base=outside).status_code == 403
    app.config["EVAC_METRICS_TOKEN"] = "scrape-me"
    assert client.get("/metrics").status_code == 403  # with a token set, loopback needs it too
    assert client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer scrape-me"}).status_code == 200


def test_counts_add_up_across_gunicorn_workers(app: Flask, db: Any, tmp_path: Path) -> None:
    shelter = factories.shelter(capacity=1000)
    headers = factories.bearer(factories.account(Role.HQ))
    people = [factories.person(given_name=f"{i}") for i in range(12)]
    server = start_server(app, tmp_path / "instance", workers=2)
    try:
        # A new connection each time: the two workers share the listening socket, both get some.
        for person in people:
            with httpx.Client(base_url=server.url, headers=headers) as http:
                answer = http.post("/api/v1/checkins", json={"shelter_id": shelter.id, "person_id": person.id,
                                                             "client_id": str(uuid.uuid4())})
                assert answer.status_code == 201
        text = httpx.get(server.url + "/metrics").text
    finally:
        server.stop()
    assert _value(text, "evac_checkins_total", method="manual") == len(people)


def test_health_reports_the_sync_lag(app: Flask, runner: FlaskCliRunner, client: FlaskClient, db: Any) -> None:
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    assert post_checkin(client, headers, shelter_id=shelter.id, person_id=factories.person().id).status_code == 201
    app.config["EVAC_SYNC_CONNECTOR"] = "http"  # configured, but nothing has been sent yet
    ok = runner.invoke(args=["health"])
    assert ok.exit_code == 0 and "database ok" in ok.output and "sync http: backlog 1" in ok.output
    behind = runner.invoke(args=["health", "--max-sync-lag", "0"])
    assert behind.exit_code == 1 and "sync behind" in behind.output
    assert runner.invoke(args=["health", "--max-sync-lag", "3600"]).exit_code == 0
