"""The OpenAPI document is what is served: every API route in it, its security and error schema declared,
and the contract check that every test's answers go through can actually fail."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.contract import Contract, ContractViolation


def _spec(client: FlaskClient) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_every_api_route_is_documented(app: Flask, client: FlaskClient) -> None:
    spec = _spec(client)
    documented = set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs."):
            continue
        template = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        assert template in documented, f"{rule.rule} is served but not in the OpenAPI document"


def test_security_schemes_and_the_error_schema_are_declared(client: FlaskClient) -> None:
    spec = _spec(client)
    assert set(spec["components"]["securitySchemes"]) == {"bearerAuth", "readerToken", "sessionCookie"}
    assert {"bearerAuth": []} in spec["security"]
    error = spec["components"]["schemas"]["ErrorOut"]
    assert error["required"] == ["error"]
    detail = spec["components"]["schemas"]["ErrorDetailOut"]
    assert set(detail["required"]) == {"code", "message", "fields"}
    checkins = spec["paths"]["/api/v1/checkins"]["post"]["responses"]
    assert checkins["422"]["$ref"].endswith("/UNPROCESSABLE_ENTITY") and "default" in checkins


def test_the_contract_check_refuses_what_the_document_does_not_say(client: FlaskClient) -> None:
    contract = Contract(_spec(client))
    good = {"items": [], "total": 0, "more": False}
    contract.check("GET", "/api/v1/persons", 200, good)
    with pytest.raises(ContractViolation, match="total"):
        contract.check("GET", "/api/v1/persons", 200, {"items": [], "more": False})
    with pytest.raises(ContractViolation, match="unexpected"):
        contract.check("GET", "/api/v1/persons", 200, {**good, "secret": "x"})
    with pytest.raises(ContractViolation, match="not in the OpenAPI document"):
        contract.check("GET", "/api/v1/nothing-here", 200, {})
    with pytest.raises(ContractViolation):
        contract.check("GET", "/api/v1/persons", 422, {"detail": "not our error format"})
