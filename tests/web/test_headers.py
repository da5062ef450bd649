"""Security headers: a Content-Security-Policy on every HTML answer, nosniff and the referrer
policy everywhere, HSTS only where the site runs on HTTPS (secure cookies)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from evac.accounts.models import Role
from evac.app import create_app
from tests import factories


def _directives(policy: str) -> dict[str, str]:
    return {d.strip().split(" ", 1)[0]: d.strip() for d in policy.split(";") if d.strip()}


@pytest.mark.parametrize("path", ["/", "/login", "/api/v1/docs", "/lang/en?next=/", "/hq"])
def test_every_html_answer_carries_the_policy(client: FlaskClient, db, path: str) -> None:
    response = client.get(path)
    assert response.mimetype == "text/html" or response.status_code in (301, 302)
    directives = _directives(response.headers["Content-Security-Policy"])
    # WebAssembly compiles (the desk camera's decoder), nothing else is evaluated.
    assert directives["script-src"] == "script-src 'self' 'wasm-unsafe-eval'"
    assert directives["worker-src"] == "worker-src 'self'"
    assert directives["object-src"] == "object-src 'none'"
    assert directives["base-uri"] == "base-uri 'none'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert directives["form-action"] == "form-action 'self'"
    assert "'unsafe-" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_html_error_pages_carry_the_policy_too(client: FlaskClient, db) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_camera_worker_runs_under_the_policy(client: FlaskClient) -> None:
    # A worker takes its policy from its own script's answer, not from the page that starts it.
    response = client.get("/static/desk/camera-worker.js")
    assert response.status_code == 200
    directives = _directives(response.headers["Content-Security-Policy"])
    assert directives["script-src"] == "script-src 'self' 'wasm-unsafe-eval'"
    assert directives["connect-src"] == "connect-src 'self'"
    response.close()


def test_json_answers_are_nosniff(client: FlaskClient, db) -> None:
    response = client.get("/api/v1/shelters", headers=factories.bearer(factories.account(Role.HQ)))
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_no_hsts_over_plain_http(client: FlaskClient, db) -> None:
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_hsts_with_secure_cookies(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVAC_SECURE_COOKIES", "1")
    config = {k: v for k, v in app.config.items() if k != "SESSION_COOKIE_SECURE"}
    secure = create_app({**config, "EVAC_INSTANCE_PATH": str(tmp_path / "secure")})
    response = secure.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(response.headers["Strict-Transport-Security"].split("=")[1]) >= 180 * 24 * 3600
