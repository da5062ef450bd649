"""Every API error answers in one JSON format with a 4xx, and a bug answers 500 without details."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from evac.accounts.models import Role
from tests import factories


def _error(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}
    assert {"code", "message", "fields"} <= set(body["error"])
    assert body["error"]["message"]
    return body["error"]


def test_unknown_api_path_is_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and _error(response)["code"] == "not_found"


def test_unknown_shelter_is_json_404(client: FlaskClient, db) -> None:
    headers = factories.bearer(factories.account(Role.HQ))
    response = client.get("/api/v1/shelters/999999", headers=headers)
    assert response.status_code == 404 and _error(response)["code"] == "not_found"


def test_wrong_method_is_json_405(client: FlaskClient, db) -> None:
    headers = factories.bearer(factories.account(Role.HQ))
    response = client.delete("/api/v1/shelters", headers=headers)
    assert response.status_code == 405 and _error(response)["code"] == "method_not_allowed"


def test_too_large_body_is_json_413(app: Flask, client: FlaskClient, db) -> None:
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.patch(f"/api/v1/shelters/{shelter.id}", data=big, headers=headers,
                            content_type="application/json")
    assert response.status_code == 413 and _error(response)["code"] == "payload_too_large"


def test_unknown_and_bad_fields_are_422_with_field_names(client: FlaskClient, db) -> None:
    shelter = factories.shelter(capacity=100)
    headers = factories.bearer(factories.account(Role.HQ))
    response = client.patch(f"/api/v1/shelters/{shelter.id}", headers=headers,
                            json={"status": "exploded", "capacity": -1, "colour": "red"})
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "validation_failed"
    assert set(error["fields"]) == {"status", "capacity", "colour"}
    db.session.refresh(shelter)
    assert shelter.capacity == 100


def test_malformed_json_is_4xx(client: FlaskClient, db) -> None:
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    response = client.patch(f"/api/v1/shelters/{shelter.id}", data="{not json", headers=headers,
                            content_type="application/json")
    assert 400 <= response.status_code < 500
    _error(response)


def test_bad_query_parameter_is_422(client: FlaskClient, db) -> None:
    headers = factories.bearer(factories.account(Role.HQ))
    response = client.get("/api/v1/shelters?limit=0", headers=headers)
    assert response.status_code == 422 and "limit" in _error(response)["fields"]


def test_a_bug_is_500_without_details(app: Flask, client: FlaskClient, db, caplog) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret detail 山田花子")

    response = client.get("/api/v1/boom")
    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "internal_error" and "山田花子" not in response.get_data(as_text=True)


def test_html_pages_get_html_errors(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html" and "見つかりません" in response.get_data(as_text=True)


def test_openapi_document_is_served(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert "/api/v1/shelters" in spec["paths"] and "patch" in spec["paths"]["/api/v1/shelters/{shelter_id}"]


def test_interactive_api_docs_load_from_vendored_files(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page and "https://" not in page.split("<body")[0]
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        response = client.get(f"/static/vendor/swagger-ui/{name}")
        assert response.status_code == 200
        response.close()
