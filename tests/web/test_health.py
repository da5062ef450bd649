"""Health check and the JSON error format."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_healthz_checks_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert response.headers["X-Request-Id"]
