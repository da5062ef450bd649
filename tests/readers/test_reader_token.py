"""A reader token delivers card reads and does nothing else: every other endpoint refuses it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from evac.accounts.models import Role
from tests import factories
from tests.readers.conftest import Desk, post_read

READS = "/api/v1/readers/reads"


def _urls(app: Flask, ids: dict[str, int]) -> list[tuple[str, str]]:
    """Every route the app serves, each method, with its arguments filled in with real ids."""
    found = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for name in rule.arguments:
            value = {"filename": "css/evac.css", "code": "en"}.get(name, ids.get(name, ids["default"]))
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(value), path)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


def test_a_reader_token_is_refused_by_every_other_endpoint(app: Flask, desk: Desk, db: Any) -> None:
    paired = desk.pair()
    person = factories.person()
    ids = {"shelter_id": desk.shelter.id, "person_id": person.id, "reader_id": paired["reader_id"],
           "default": desk.shelter.id}
    headers = {"Authorization": f"Bearer {paired['token']}"}
    urls = _urls(app, ids)
    assert len(urls) > 30 and ("POST", READS) in urls
    checked = 0
    for method, path in urls:
        if (method, path) == ("POST", READS):
            continue
        response = desk.client.open(path, method=method, headers=headers, json={})
        assert response.status_code in (401, 403), f"{method} {path} answered {response.status_code}"
        if path.startswith("/api/"):
            assert response.get_json()["error"]["code"] == "reader_token_refused", (method, path)
        checked += 1
    # Even what anyone may read (the public page, the health check, the API document) is refused:
    # a leaked reader token is good for nothing but delivering reads to its desk.
    for path in ("/", "/healthz", "/api/v1/openapi.json", "/desk", "/hq", "/static/css/evac.css"):
        assert desk.client.get(path, headers=headers).status_code == 403, path
    assert checked > 30
    assert post_read(desk.client, paired["token"]).status_code == 202


def test_a_reader_token_beside_a_session_is_still_refused(desk: Desk, db: Any) -> None:
    from tests.accounts.test_accounts import login

    token = desk.pair()["token"]
    factories.account(Role.HQ, username="hqdesk")
    login(desk.client, "hqdesk")
    assert desk.client.get("/hq").status_code == 200
    assert desk.client.get("/hq", headers={"Authorization": f"Bearer {token}"}).status_code == 403


@pytest.mark.parametrize("header", [None, "Bearer evr_not-a-token", "Bearer evac_staff", "Basic abc"])
def test_reads_need_a_live_reader_token(desk: Desk, db: Any, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = desk.client.post(READS, headers=headers, json={
        "read_id": "6f1c1a5e-7b1e-4a0e-9d39-5c9a4b0e6a01", "type": "ic", "uid": "0102030405060708"})
    assert response.status_code == 401
    expected = "reader_revoked" if header and header.startswith("Bearer evr_") else "reader_token_required"
    assert response.get_json()["error"]["code"] == expected


def test_a_staff_token_cannot_post_reads(desk: Desk, db: Any) -> None:
    response = desk.client.post(READS, headers=desk.headers, json={
        "read_id": "6f1c1a5e-7b1e-4a0e-9d39-5c9a4b0e6a01", "type": "ic", "uid": "0102030405060708"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "reader_token_required"


def test_a_revoked_reader_is_refused_on_its_very_next_read(desk: Desk, db: Any) -> None:
    paired = desk.pair()
    assert post_read(desk.client, paired["token"]).status_code == 202
    hq = factories.bearer(factories.account(Role.HQ))
    assert desk.client.post(f"/api/v1/readers/{paired['reader_id']}/revoke", headers=hq, json={}).status_code == 200
    refused = post_read(desk.client, paired["token"])
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "reader_revoked"
    assert "ペアリング" in refused.get_json()["error"]["message"]


def test_the_openapi_document_says_which_credentials_each_reader_endpoint_takes(desk: Desk) -> None:
    spec = desk.client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert paths["/api/v1/readers/pair"]["post"]["security"] == []
    assert paths["/api/v1/readers/reads"]["post"]["security"] == [{"readerToken": []}]
    assert "security" not in paths["/api/v1/readers/desk-reads"]["post"]  # the account's, as everywhere
    assert {"201", "404", "410", "429"} <= set(paths["/api/v1/readers/pair"]["post"]["responses"])
    assert {"200", "202", "401"} <= set(paths["/api/v1/readers/reads"]["post"]["responses"])
