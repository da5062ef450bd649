"""CSRF: a cookie-authenticated write needs the token, whatever Authorization header comes with
it; only a request that authenticated with a valid bearer token goes without."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from evac.accounts.models import Role
from tests import factories
from tests.serving import csrf_from

STRAY_HEADERS = ["Bearer nonsense", "Bearer ", "Bearer evt_000000000000000000000000", "Basic aHE6aHE=", "Token x",
                 "bearer", "Negotiate abc"]


@pytest.fixture
def logged_in(client: FlaskClient, db) -> tuple[FlaskClient, int, str]:
    shelter = factories.shelter(capacity=100)
    factories.incident()
    factories.account(Role.HQ, username="csrf-hq")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": "csrf-hq", "password": factories.PASSWORD,
                                       "csrf_token": token}).status_code == 302
    page_token = csrf_from(client.get("/hq").get_data(as_text=True))
    return client, shelter.id, page_token


@pytest.mark.parametrize("authorization", STRAY_HEADERS)
def test_a_stray_authorization_header_does_not_skip_csrf(logged_in: tuple[FlaskClient, int, str],
                                                         authorization: str) -> None:
    client, shelter_id, _token = logged_in
    response = client.patch(f"/api/v1/shelters/{shelter_id}", json={"capacity": 7},
                            headers={"Authorization": authorization})
    assert response.status_code in (400, 401), response.get_json()
    if response.status_code == 400:
        assert response.get_json()["error"]["code"] == "csrf_failed"
    assert client.get(f"/api/v1/shelters/{shelter_id}").get_json()["capacity"] == 100


def test_the_session_write_with_its_token_passes(logged_in: tuple[FlaskClient, int, str]) -> None:
    client, shelter_id, token = logged_in
    response = client.patch(f"/api/v1/shelters/{shelter_id}", json={"capacity": 7},
                            headers={"X-CSRFToken": token, "Authorization": "Bearer nonsense"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["capacity"] == 7


def test_a_valid_bearer_token_needs_no_csrf_token(client: FlaskClient, db) -> None:
    shelter = factories.shelter(capacity=100)
    factories.incident()
    headers = factories.bearer(factories.account(Role.HQ, username="csrf-api"))
    response = client.patch(f"/api/v1/shelters/{shelter.id}", json={"capacity": 9}, headers=headers)
    assert response.status_code == 200 and response.get_json()["capacity"] == 9


def test_an_invalid_bearer_token_without_a_session_is_401(client: FlaskClient, db) -> None:
    shelter = factories.shelter(capacity=100)
    response = client.patch(f"/api/v1/shelters/{shelter.id}", json={"capacity": 9},
                            headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401


@pytest.mark.parametrize("authorization", STRAY_HEADERS)
def test_page_forms_need_the_token_too(logged_in: tuple[FlaskClient, int, str], authorization: str) -> None:
    client, _shelter_id, _token = logged_in
    response = client.post("/logout", headers={"Authorization": authorization})
    assert response.status_code == 400
    assert client.get("/hq").status_code == 200  # still logged in
