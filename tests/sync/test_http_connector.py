"""The HTTP connector: wire format, signature, idempotency key, verdicts, backoff, TLS."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from evac.outbox.models import OutboxEvent
from sync.config import SyncConfig
from sync.http import HttpConnector, Verdict, backoff_delay, classify, parse_retry_after
from sync.wire import FORMAT, encode_event, sign, verify
from tests.checkin.helpers import post_checkin, post_checkout
from tests.sync.conftest import SECRET, ReceiverProcess, add_persons


def _cfg(app: Flask, **overrides: Any) -> SyncConfig:
    values: dict[str, Any] = {"connector": "http", "url": "http://127.0.0.1:9/roster", "secret": SECRET,
                              "connect_timeout": 0.5, "read_timeout": 0.5}
    values.update(overrides)
    return SyncConfig.from_app(app.config, **values)


def _events(db: Any) -> list[OutboxEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)))


def test_a_batch_is_signed_json_in_the_documented_format(app: Flask, client: FlaskClient, db: Any,
                                                         desk: dict[str, Any]) -> None:
    (pid,) = add_persons(1)
    shelter, other = desk["shelters"][:2]
    assert post_checkin(client, desk["headers"], shelter_id=shelter.id, person_id=pid).status_code == 201
    assert post_checkout(client, desk["headers"], person_id=pid, reason="transfer",
                         to_shelter_id=other.id).status_code == 201
    events = _events(db)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"ok": True})

    connector = HttpConnector(_cfg(app), transport=httpx.MockTransport(handler))
    try:
        attempt = connector.send("6f1d3c55-6a43-4b8e-9b53-3f2b1c1c0001", [encode_event(e) for e in events])
    finally:
        connector.close()
    assert attempt.verdict is Verdict.DELIVERED and attempt.status == 202
    (request,) = seen
    body = request.content
    assert request.method == "POST" and request.headers["Content-Type"].startswith("application/json")
    assert request.headers["Idempotency-Key"] == "6f1d3c55-6a43-4b8e-9b53-3f2b1c1c0001"
    assert request.headers["X-Evac-Signature"] == sign(body, SECRET)
    assert verify(body, SECRET, request.headers["X-Evac-Signature"])
    assert not verify(body + b" ", SECRET, request.headers["X-Evac-Signature"])
    data = json.loads(body)
    assert set(data) == {"format", "source", "batch_id", "sent_at", "events"}
    assert data["format"] == FORMAT == "evac.roster.v1"
    assert data["batch_id"] == request.headers["Idempotency-Key"]
    assert data["source"]["municipality_code"] == app.config["EVAC_TOWN_CODE"]
    datetime.fromisoformat(data["sent_at"])
    assert [e["type"] for e in data["events"]] == ["checkin", "transfer"]
    for wire, event in zip(data["events"], events, strict=True):
        assert set(wire) == {"event_id", "seq", "type", "occurred_at", "shelter", "person", "stay", "incident"}
        assert wire["event_id"] == event.event_id and wire["seq"] == event.seq
        assert wire["incident"]["kind"] == "disaster" and wire["incident"]["name"]
        assert wire["person"]["id"] == pid
    assert data["events"][0]["shelter"]["id"] == shelter.id
    assert data["events"][1]["shelter"]["id"] == other.id
    assert data["events"][1]["stay"]["from_shelter_id"] == shelter.id


@pytest.mark.parametrize("status, verdict", [
    (200, Verdict.DELIVERED), (201, Verdict.DELIVERED), (204, Verdict.DELIVERED),
    (500, Verdict.RETRY), (502, Verdict.RETRY), (503, Verdict.RETRY), (408, Verdict.RETRY), (429, Verdict.RETRY),
    (400, Verdict.PARK), (401, Verdict.PARK), (403, Verdict.PARK), (404, Verdict.PARK), (409, Verdict.PARK),
    (413, Verdict.PARK), (422, Verdict.PARK), (301, Verdict.RETRY),
])
def test_status_codes_decide_deliver_retry_or_park(status: int, verdict: Verdict) -> None:
    attempt = classify(status, {})
    assert attempt.verdict is verdict
    if verdict is not Verdict.DELIVERED:
        assert attempt.code == f"http_{status}"


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    now = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert classify(429, {"Retry-After": "4"}).retry_after == 4.0


def test_backoff_grows_is_capped_jittered_and_honours_retry_after() -> None:
    rng = random.Random(3)
    delays = [backoff_delay(n, 1.0, 60.0, None, 600.0, rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        step = min(60.0, 2 ** (n - 1))
        assert step / 2 <= delay <= step
    assert max(delays) <= 60.0
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered
    assert backoff_delay(1, 1.0, 60.0, 30.0, 600.0, rng) >= 30.0
    assert backoff_delay(1, 1.0, 60.0, 9999.0, 600.0, rng) == 600.0


@pytest.mark.parametrize("error, code", [
    (httpx.ReadTimeout("slow"), "readtimeout"),
    (httpx.ConnectTimeout("slow"), "connecttimeout"),
    (httpx.ConnectError("refused"), "connect_error"),
    (httpx.RemoteProtocolError("closed"), "remoteprotocolerror"),
])
def test_network_failures_are_retried_never_raised(app: Flask, error: Exception, code: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    connector = HttpConnector(_cfg(app), transport=httpx.MockTransport(handler))
    try:
        attempt = connector.send("b", [b'{"seq":1}'])
    finally:
        connector.close()
    assert attempt.verdict is Verdict.RETRY and attempt.code == code and attempt.status is None


def test_the_client_has_connect_and_read_timeouts_and_verifies_tls(app: Flask) -> None:
    connector = HttpConnector(_cfg(app, connect_timeout=2.5, read_timeout=7.0))
    try:
        timeout = connector.client.timeout
        assert (timeout.connect, timeout.read) == (2.5, 7.0)
        assert connector.client.follow_redirects is False
    finally:
        connector.close()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_tls_is_verified_and_the_ca_bundle_is_configurable(app: Flask, receiver: ReceiverProcess,
                                                          tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    receiver.start("--tls-cert", str(cert), "--tls-key", str(key))
    url = f"https://127.0.0.1:{receiver.port}/roster"
    event = b'{"event_id":"e1","seq":1,"type":"checkin","occurred_at":"2026-09-01T00:00:00+00:00",' \
            b'"shelter":null,"person":null,"stay":null}'

    untrusted = HttpConnector(_cfg(app, url=url))
    try:
        refused = untrusted.send("b-untrusted", [event])
    finally:
        untrusted.close()
    assert refused.verdict is Verdict.RETRY and refused.code == "tls_error"

    trusted = HttpConnector(_cfg(app, url=url, ca_bundle=str(cert)))
    try:
        accepted = trusted.send("b-trusted", [event])
    finally:
        trusted.close()
    assert accepted.verdict is Verdict.DELIVERED
    assert receiver.event_count() == 1


def test_the_receiver_refuses_a_wrong_signature_with_401(app: Flask, receiver: ReceiverProcess) -> None:
    receiver.start()
    connector = HttpConnector(_cfg(app, url=receiver.url, secret="not-the-secret"))
    try:
        attempt = connector.send("b1", [b'{"event_id":"e1","seq":1,"type":"checkin"}'])
    finally:
        connector.close()
    assert attempt.verdict is Verdict.PARK and attempt.status == 401
    assert receiver.event_count() == 0
