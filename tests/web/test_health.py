"""Health check and the JSON error format."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_healthz_checks_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert response.headers["X-Request-Id"]


def test_favicon_is_there_for_the_browser_that_asks(client) -> None:
    with client.get("/favicon.ico", follow_redirects=True) as answer:
        assert answer.status_code == 200 and answer.mimetype == "image/svg+xml" and b"<svg" in answer.data
    page = client.get("/").get_data(as_text=True)
    assert 'rel="icon"' in page and "favicon.svg" in page
