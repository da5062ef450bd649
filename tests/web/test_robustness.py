"""Odd input answers a 4xx in the API's JSON error format, never a 500 (nor a 404 for what exists):
deep JSON, lone surrogates, NUL and other control characters, 和暦 years out of range,
fractions for integers, bodies and URLs too long."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from evac.accounts.models import Role
from tests import factories
from tests.serving import csrf_from


@pytest.fixture
def desk(client: FlaskClient, db) -> dict[str, Any]:
    shelter = factories.shelter(capacity=100)
    return {"shelter_id": shelter.id, "headers": factories.bearer(factories.account(Role.HQ, username="robust-hq"))}


def _post(client: FlaskClient, path: str, body: Any, headers: dict[str, str]) -> Any:
    # json.dumps escapes a lone surrogate as \ud800, as a browser's JSON.stringify does.
    return client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert body["error"]["code"] == code, body
    return body["error"]


def _paper(**changes: Any) -> dict[str, Any]:
    person = {"family_name": "精華", "given_name": "花子", "family_name_kana": "セイカ", "given_name_kana": "ハナコ",
              "birth_date": "1980-01-02", "sex": "female", "address": "京都府相楽郡精華町光台7-43"}
    person.update(changes)
    return person


def _walk_in(client: FlaskClient, desk: dict[str, Any], **changes: Any) -> Any:
    return _post(client, "/api/v1/checkins", {"shelter_id": desk["shelter_id"], "client_id": str(uuid.uuid4()),
                                              "person": _paper(**changes), "confirm_new": True}, desk["headers"])


# --- deep JSON ---------------------------------------------------------------------------------

DEEP = ["[" * 100_000 + "]" * 100_000, '{"a":' * 5_000 + "1" + "}" * 5_000, "[" * 100_000,
        '{"shelter_id": 1, "qr": ' + "[" * 35 + "]" * 35 + "}"]


@pytest.mark.parametrize("body", DEEP)
def test_deeply_nested_json_is_400(client: FlaskClient, desk: dict[str, Any], body: str) -> None:
    response = client.post("/api/v1/lookups", data=body, content_type="application/json", headers=desk["headers"])
    error = _error(response, 400, "json_too_deep")
    assert error["message"]


def test_brackets_inside_strings_do_not_count(client: FlaskClient, desk: dict[str, Any]) -> None:
    response = _walk_in(client, desk, address="[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[" + "\\\"{{{{")
    assert response.status_code in (200, 201), response.get_json()


def test_malformed_json_is_400(client: FlaskClient, desk: dict[str, Any]) -> None:
    response = client.post("/api/v1/lookups", data='{"shelter_id": 1,', content_type="application/json",
                           headers=desk["headers"])
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request"


# --- text that cannot be stored ------------------------------------------------------------------

@pytest.mark.parametrize("value", ["\ud800", "精華\udfff", "\x00", "精\x00華", "\x1b[31m", "精華\n太郎", "\t精華",
                                   "\x7f", "\r"])
def test_walk_in_names_refuse_unstorable_text(client: FlaskClient, desk: dict[str, Any], value: str) -> None:
    error = _error(_walk_in(client, desk, family_name=value), 422, "validation_failed")
    assert "family_name" in json.dumps(error["fields"])
    assert value not in json.dumps(error, ensure_ascii=False)


@pytest.mark.parametrize("field", ["address", "family_name_kana", "given_name", "allergy", "nationality"])
def test_every_short_field_refuses_control_characters(client: FlaskClient, desk: dict[str, Any], field: str) -> None:
    _error(_walk_in(client, desk, **{field: "ア\x00イ"}), 422, "validation_failed")


def test_a_note_may_have_lines_but_no_other_control_characters(client: FlaskClient, desk: dict[str, Any]) -> None:
    ok = _walk_in(client, desk, condition_note="透析 週3回\n火・木・土\t午前", pet_note="犬1匹\r\n小型")
    assert ok.status_code in (200, 201), ok.get_json()
    _error(_walk_in(client, desk, condition_note="透析\x00"), 422, "validation_failed")
    _error(_walk_in(client, desk, condition_note="透析\ud800"), 422, "validation_failed")


@pytest.mark.parametrize("value", ["\ud800", "精華\x00花子", "精華\x1f花子"])
def test_card_names_refuse_unstorable_text(client: FlaskClient, desk: dict[str, Any], value: str) -> None:
    card = {"name": value, "address": "京都府相楽郡精華町光台7-43", "birth_date": "19800102", "sex": "2"}
    response = _post(client, "/api/v1/lookups", {"shelter_id": desk["shelter_id"], "card": card}, desk["headers"])
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("value", ["\ud800", "せい\x00か", "\udc00か"])
def test_inquiry_queries_refuse_unstorable_text(client: FlaskClient, desk: dict[str, Any], value: str) -> None:
    response = _post(client, "/api/v1/inquiries", {"q": value, "requester": "relative"}, desk["headers"])
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("query", ["q=%00", "q=%E3%81%9B%00", "q=a%1Bb", "birth_date=%00"])
def test_searches_in_the_query_string_refuse_unstorable_text(client: FlaskClient, desk: dict[str, Any],
                                                             query: str) -> None:
    response = client.get(f"/api/v1/persons?{query}", headers=desk["headers"])
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]


def test_broken_utf8_in_a_query_is_read_as_a_replacement_character(client: FlaskClient, desk: dict[str, Any]) -> None:
    response = client.get("/api/v1/persons?q=%ED%A0%80", headers=desk["headers"])
    assert response.status_code == 200


def test_a_nul_in_the_login_form_is_refused_not_looked_up(client: FlaskClient, db) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "ad\x00min", "password": "x", "csrf_token": token})
    assert response.status_code in (400, 401, 422)


def test_a_nul_anywhere_in_a_json_body_is_refused(client: FlaskClient, desk: dict[str, Any]) -> None:
    response = _post(client, f"/api/v1/shelters/{desk['shelter_id']}", {"x\x00": 1}, desk["headers"])
    assert response.status_code in (400, 405, 422)
    response = client.patch(f"/api/v1/shelters/{desk['shelter_id']}", data=json.dumps({"status": "open\x00"}),
                            content_type="application/json", headers=desk["headers"])
    assert response.status_code in (400, 422)


# --- dates and numbers -----------------------------------------------------------------------------

@pytest.mark.parametrize("birth_date", ["令和99999999999999999999年1月1日", "R99999999999999.1.1", "昭和55年99999999999月1日",
                                        "99999999-01-01", "平成1000000年1月1日", "S55.1.99999999999999999999"])
def test_dates_out_of_range_are_422(client: FlaskClient, desk: dict[str, Any], birth_date: str) -> None:
    error = _error(_walk_in(client, desk, birth_date=birth_date), 422, "validation_failed")
    assert "birth_date" in json.dumps(error["fields"])


@pytest.mark.parametrize("body", [{"shelter_id": 1.5}, {"shelter_id": 1.0}, {"shelter_id": "1.5"}, {"shelter_id": True},
                                  {"person_id": 2.5}])
def test_integers_are_integers(client: FlaskClient, desk: dict[str, Any], body: dict[str, Any]) -> None:
    base = {"shelter_id": desk["shelter_id"], "client_id": str(uuid.uuid4()), "person_id": 1}
    response = _post(client, "/api/v1/checkins", {**base, **body}, desk["headers"])
    error = _error(response, 422, "validation_failed")
    assert set(body) <= set(error["fields"]), error


def test_members_are_integers(client: FlaskClient, desk: dict[str, Any]) -> None:
    body = {"shelter_id": desk["shelter_id"], "client_id": str(uuid.uuid4()), "person_id": 1, "members": [1, 1.5]}
    _error(_post(client, "/api/v1/checkins", body, desk["headers"]), 422, "validation_failed")


def test_an_id_beyond_the_database_is_404(client: FlaskClient, desk: dict[str, Any]) -> None:
    response = client.get(f"/api/v1/shelters/{10**30}", headers=desk["headers"])
    assert response.status_code == 404


# --- sizes ---------------------------------------------------------------------------------------

def test_a_long_url_is_json_414(app: Flask, client: FlaskClient, desk: dict[str, Any]) -> None:
    limit = app.config["EVAC_MAX_URL_LENGTH"]
    response = client.get("/api/v1/persons?q=" + "a" * limit, headers=desk["headers"])
    _error(response, 414, "url_too_long")
    page = client.get("/?q=" + "a" * limit)
    assert page.status_code == 414
    assert client.get("/api/v1/persons?q=" + "a" * 50, headers=desk["headers"]).status_code == 200


def test_a_body_over_the_limit_is_json_413(app: Flask, client: FlaskClient, desk: dict[str, Any]) -> None:
    big = json.dumps({"shelter_id": desk["shelter_id"], "qr": "x" * app.config["MAX_CONTENT_LENGTH"]})
    _error(client.post("/api/v1/lookups", data=big, content_type="application/json", headers=desk["headers"]),
           413, "payload_too_large")


# --- over gunicorn (`evac serve`), as a client meets it --------------------------------------------

def test_over_gunicorn_long_urls_and_chunked_bodies_answer_json(app: Flask, desk: dict[str, Any],
                                                                tmp_path: Any) -> None:
    import http.client
    from urllib.parse import urlsplit

    from tests.serving import start_server

    server = start_server(app, tmp_path / "serve", workers=1, threads=2, EVAC_MAX_URL_LENGTH="6000",
                          EVAC_MAX_CONTENT_LENGTH="65536")
    try:
        host = urlsplit(server.url)
        headers = {**desk["headers"], "Content-Type": "application/json"}

        def request(method: str, path: str, body: Any = None, extra: dict[str, str] | None = None) -> tuple[int, str, str]:
            connection = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
            try:
                connection.request(method, path, body=body, headers={**headers, **(extra or {})},
                                   encode_chunked=extra is not None and "Transfer-Encoding" in extra)
                answer = connection.getresponse()
                return answer.status, answer.getheader("Content-Type", ""), answer.read().decode("utf-8", "replace")
            finally:
                connection.close()

        # Longer than gunicorn's default request line (4094), shorter than the app's limit: answered.
        status, _kind, _text = request("GET", "/healthz?pad=" + "a" * 5000)
        assert status == 200
        status, kind, text = request("GET", "/api/v1/persons?q=" + "a" * 6500)
        assert status == 414 and kind.startswith("application/json"), text[:200]
        assert json.loads(text)["error"]["code"] == "url_too_long"

        def chunks() -> Any:
            yield b'{"shelter_id": 1, "qr": "'
            for _ in range(100):
                yield b"x" * 1024
            yield b'"}'

        status, kind, text = request("POST", "/api/v1/lookups", chunks(), {"Transfer-Encoding": "chunked"})
        assert status == 413 and kind.startswith("application/json"), (status, text[:200])
        assert json.loads(text)["error"]["code"] == "payload_too_large"

        def form_chunks() -> Any:
            yield b"username=robust-hq&password="
            for _ in range(100):
                yield b"x" * 1024

        status, kind, text = request("POST", "/login", form_chunks(), {
            "Transfer-Encoding": "chunked", "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 413, (status, text[:200])

        status, kind, text = request("POST", "/api/v1/lookups", "[" * 30_000 + "]" * 30_000)
        assert status == 400 and json.loads(text)["error"]["code"] == "json_too_deep"
    finally:
        log = server.stop()
    assert "aaaaaaaaaa" not in log


# --- the importers take the API's rule for text ------------------------------------------------------

@pytest.mark.parametrize(("column", "value"), [("氏名", "山田\x1b太郎"), ("氏名", "山田\n太郎"), ("住所", "精華町\x00"),
                                               ("氏名_カナ", "ヤマダ\tタロウ"), ("続柄", "妻\x7f")])
def test_the_resident_import_refuses_control_characters(app: Flask, column: str, value: str) -> None:
    from evac.common.importing import ImportRefused
    from evac.people.importers import COLUMNS, import_residents_bytes
    from tests.people.test_resident_import import TODAY, csv_bytes
    from tests.people.test_resident_import import _with as rows_with

    assert column in COLUMNS
    with pytest.raises(ImportRefused) as caught:
        import_residents_bytes(csv_bytes(rows_with(1, column, value)), today=TODAY)
    assert [(e.line, e.field) for e in caught.value.errors] == [(3, column)]
    assert value not in str(caught.value)


SHELTER_HEADER = ("NO,共通ID,都道府県名及び市町村名,施設・場所名,住所,指定緊急避難場所との住所同一,"
                  "その他市町村長が必要と認める事項,受入対象者,緯度,経度,備考")


def _shelter_row(name: str, note: str = "") -> str:
    return f'1,E2636600099111,京都府精華町,{name},京都府精華町光台7-43,,,,34.745017,135.75307,"{note}"'


def test_the_shelter_import_refuses_control_characters_in_names(app: Flask) -> None:
    from evac.common.importing import ImportRefused
    from evac.shelters.importers import import_shelters_bytes

    with pytest.raises(ImportRefused) as caught:
        import_shelters_bytes((SHELTER_HEADER + "\n" + _shelter_row("東光\x1b小学校") + "\n").encode(),
                              "evacuation.csv")
    assert [e.line for e in caught.value.errors] == [2]
    assert "施設・場所名" in str(caught.value)


def test_a_shelter_note_may_have_lines(app: Flask) -> None:
    from evac.shelters.importers import import_shelters_bytes

    report = import_shelters_bytes((SHELTER_HEADER + "\n" + _shelter_row("東光小学校", "体育館\n2階") + "\n").encode(),
                                   "evacuation.csv")
    assert report.summary()
