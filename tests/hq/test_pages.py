"""The HQ pages: who may open them, and that the API they use is documented."""

from __future__ import annotations

from flask.testing import FlaskClient

from evac.accounts.models import Role
from tests import factories


def _login(client: FlaskClient, username: str) -> None:
    import re

    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    response = client.post("/login", data={"username": username, "password": factories.PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def test_hq_pages_for_hq_and_admin_only(client: FlaskClient, db) -> None:
    shelter = factories.shelter()
    factories.account(Role.HQ, username="hq1")
    factories.account(Role.STAFF, shelters=[shelter], username="desk1")
    assert client.get("/hq").status_code == 302  # to the login page
    _login(client, "desk1")
    assert client.get("/hq").status_code == 403
    assert client.get("/hq/inquiry").status_code == 403
    client.post("/logout", data={})
    client.delete_cookie("session")
    _login(client, "hq1")
    page = client.get("/hq")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "本部ダッシュボード" in html and "vendor/leaflet/leaflet.js" in html and "cdn" not in html.lower()
    assert 'href="/api/v1/exports/anpi.csv?encoding=cp932"' in html
    assert client.get("/hq/inquiry").status_code == 200


def test_openapi_documents_the_hq_api(client: FlaskClient, db) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/occupancy", "/api/v1/occupancy/trend", "/api/v1/inquiries", "/api/v1/exports/pfif.xml"):
        assert path in spec["paths"], path
