"""Every route × every kind of caller: who gets through, who is refused, and that nobody gets a 500
or sees an evacuee of another shelter.

The callers: anonymous, staff of shelter A, staff of shelter B, HQ, admin. The town: A and B
open, 甲斐 見える staying at A (with a household member staying at B), a resident at home. Every
route of the app must be listed in `ROUTES`: a new route without a row fails
`test_every_route_is_in_the_matrix`, so its authorization is decided, not left to chance.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from evac.accounts.models import Role
from evac.stays.models import Stay
from tests import factories
from tests.accounts.test_accounts import _csrf, login
from tests.checkin.helpers import post_checkin, post_checkout
from tests.conftest import IsolatedClient

CALLERS = ("anonymous", "staff_a", "staff_b", "hq", "admin")
EVERYONE = frozenset(CALLERS)
SIGNED_IN = frozenset({"staff_a", "staff_b", "hq", "admin"})
AT_A = frozenset({"staff_a", "hq", "admin"})
HQ = frozenset({"hq", "admin"})
ADMIN = frozenset({"admin"})
SECRET = "見える"  # the given name of the evacuee at A: no answer to staff of B may hold it


@dataclass(frozen=True)
class Route:
    """One request and the callers it lets through; the others must be refused (401/403/404/302)."""

    method: str
    path: str  # with {a}, {b}, {pa}, {home}, {incident}, {reader} placeholders
    allowed: frozenset[str]
    body: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    rule: str = ""  # the url rule it covers, when the path alone does not say
    # Callers let through whose answer must still not hold the evacuee at A (scoped lists).
    scoped: frozenset[str] = field(default_factory=frozenset)
    # Further answers that count as a refusal here (a member outside the scope is refused as a
    # stranger, 422), or as let through (the record asked for does not exist, but the caller may ask).
    refusals: frozenset[int] = field(default_factory=frozenset)
    through: frozenset[int] = field(default_factory=frozenset)


def _uuid(_town: dict[str, Any]) -> str:
    return str(uuid.uuid4())


ROUTES: list[Route] = [
    Route("GET", "/", EVERYONE),
    Route("GET", "/healthz", EVERYONE),
    Route("GET", "/favicon.ico", EVERYONE),
    Route("GET", "/metrics", EVERYONE),  # loopback only (the test client is 127.0.0.1)
    Route("GET", "/login", EVERYONE),
    Route("GET", "/lang/en?next=/", EVERYONE, rule="/lang/<code>"),
    Route("GET", "/api/v1/openapi.json", EVERYONE),
    Route("GET", "/api/v1/docs", EVERYONE),
    Route("GET", "/desk/sw.js", EVERYONE),
    Route("GET", "/desk", SIGNED_IN),
    Route("GET", "/desk/csrf", SIGNED_IN),
    Route("GET", "/desk/bridge", SIGNED_IN),
    Route("GET", "/desk/{a}", AT_A, rule="/desk/<int:shelter_id>"),
    Route("GET", "/desk/{a}/roster.pdf", AT_A, rule="/desk/<int:shelter_id>/roster.pdf"),
    Route("GET", "/desk/{a}/evacuee-cards.pdf", AT_A, rule="/desk/<int:shelter_id>/evacuee-cards.pdf"),
    Route("GET", "/desk/{a}/poster.pdf", AT_A, rule="/desk/<int:shelter_id>/poster.pdf"),
    Route("GET", "/desk/{a}/cards/{pa}.pdf", AT_A, rule="/desk/<int:shelter_id>/cards/<int:person_id>.pdf"),
    # A resident at home: their card is at home; a desk printing it would make a copy.
    Route("GET", "/desk/{a}/cards/{home}.pdf", HQ, rule="/desk/<int:shelter_id>/cards/<int:person_id>.pdf"),
    Route("GET", "/hq", HQ),
    Route("GET", "/hq/inquiry", HQ),
    # Anonymous has no CSRF token to send (400); a logout ends on the login page (302 there).
    Route("POST", "/logout", SIGNED_IN, refusals=frozenset({400}), through=frozenset({302})),
    Route("GET", "/api/v1/shelters", SIGNED_IN),
    Route("GET", "/api/v1/shelters/{a}", AT_A, rule="/api/v1/shelters/<int:shelter_id>"),
    Route("PATCH", "/api/v1/shelters/{a}", HQ, body=lambda t: {"capacity": 120},
          rule="/api/v1/shelters/<int:shelter_id>"),
    Route("POST", "/api/v1/shelters/{a}/move-all", HQ, body=lambda t: {"to_shelter_id": t["b"]},
          rule="/api/v1/shelters/<int:shelter_id>/move-all"),
    Route("GET", "/api/v1/shelters/{a}/roster", AT_A, rule="/api/v1/shelters/<int:shelter_id>/roster"),
    Route("GET", "/api/v1/persons?q=カイ", SIGNED_IN, scoped=frozenset({"staff_b"}), rule="/api/v1/persons"),
    Route("POST", "/api/v1/lookups", AT_A, body=lambda t: {"shelter_id": t["a"], "person_id": t["pa"]}),
    # Staff of B asking at their own desk about someone staying at A.
    Route("POST", "/api/v1/lookups", HQ, body=lambda t: {"shelter_id": t["b"], "person_id": t["pa"]}),
    Route("POST", "/api/v1/checkins", AT_A,
          body=lambda t: {"shelter_id": t["a"], "person_id": t["home"], "client_id": _uuid(t)}),
    # Moving someone from A into B by id (a transfer) is HQ's, or A's staff at A's desk.
    Route("POST", "/api/v1/checkins", HQ,
          body=lambda t: {"shelter_id": t["b"], "person_id": t["pa"], "transfer": True, "client_id": _uuid(t)}),
    # A household check-in at B naming the member at A.
    Route("POST", "/api/v1/checkins", HQ,
          body=lambda t: {"shelter_id": t["b"], "person_id": t["pm"], "members": [t["pa"]], "transfer": True,
                          "client_id": _uuid(t)}, refusals=frozenset({422})),
    Route("POST", "/api/v1/checkouts", AT_A,
          body=lambda t: {"person_id": t["pa"], "reason": "outing", "client_id": _uuid(t)}),
    # Taking back the return at A: the first caller let through undoes it, the later ones hear 409 (done).
    Route("POST", "/api/v1/undo", AT_A, body=lambda t: {"operation_id": t["op_a"], "client_id": _uuid(t)}),
    Route("GET", "/api/v1/hq/shelters", HQ),
    Route("GET", "/api/v1/occupancy", HQ),
    Route("GET", "/api/v1/occupancy/trend", HQ),
    Route("GET", "/api/v1/occupancy/sync", HQ),
    Route("GET", "/api/v1/exports/roster.csv", HQ),
    Route("GET", "/api/v1/exports/roster.xlsx", HQ),
    Route("GET", "/api/v1/exports/anpi.csv", HQ),
    Route("GET", "/api/v1/exports/pfif.xml", HQ),
    Route("POST", "/api/v1/inquiries", HQ, body=lambda t: {"query": "甲斐 見える"}),
    Route("GET", "/api/v1/incidents", HQ),
    Route("POST", "/api/v1/incidents", HQ, body=lambda t: {"kind": "drill", "name": "訓練"}),
    Route("PATCH", "/api/v1/incidents/{incident}", HQ, body=lambda t: {"name": "令和8年 大雨"},
          rule="/api/v1/incidents/<int:incident_id>"),
    Route("POST", "/api/v1/incidents/current/close", HQ, body=lambda t: {}),
    Route("GET", "/api/v1/readers", HQ),
    Route("POST", "/api/v1/readers/pairings", AT_A,
          body=lambda t: {"shelter_id": t["a"], "desk_id": _uuid(t)}),
    Route("POST", "/api/v1/readers/desk-reads", AT_A,
          body=lambda t: {"shelter_id": t["a"], "desk_id": _uuid(t)}),
    Route("POST", "/api/v1/readers/{reader}/revoke", AT_A, body=lambda t: {"desk_id": t["desk_id"]},
          rule="/api/v1/readers/<int:reader_id>/revoke"),
    Route("GET", "/api/v1/sync/status", HQ),
    Route("POST", "/api/v1/sync/batches/999/retry", HQ, rule="/api/v1/sync/batches/<int:batch>/retry",
          through=frozenset({404})),
]
# Routes whose credential is not an account's: the matrix does not apply, their own tests do.
NOT_ACCOUNTS = {
    "/login": "the form itself (POST): tests/accounts",
    "/api/v1/readers/pair": "a pairing code in the body: tests/readers/test_pairing.py",
    "/api/v1/readers/reads": "a card reader's token: tests/readers/test_reader_token.py",
}


@pytest.fixture
def town(app: Flask, db) -> dict[str, Any]:
    a, b = factories.shelter(name="甲避難所"), factories.shelter(name="乙避難所")
    hq = factories.account(Role.HQ, username="hq")
    factories.account(Role.ADMIN, username="admin")
    factories.account(Role.STAFF, shelters=[a], username="staff_a")
    factories.account(Role.STAFF, shelters=[b], username="staff_b")
    family = factories.household()
    pa = factories.person(household_id=family.id, family_name="甲斐", given_name=SECRET, family_name_kana="カイ")
    pm = factories.person(household_id=family.id, family_name="甲斐", given_name="家族", family_name_kana="カイ")
    home = factories.person(family_name="在宅", given_name="一", family_name_kana="ザイタク")
    desk = app.test_client()
    token = factories.bearer(hq)
    assert post_checkin(desk, token, shelter_id=a.id, person_id=pa.id, members=[]).status_code == 201
    # An outing of the evacuee at A, and back, for the undo route to take back (their stay stays at A).
    op_a = str(uuid.uuid4())
    assert post_checkout(desk, token, person_id=pa.id, reason="outing").status_code == 201
    assert post_checkout(desk, token, person_id=pa.id, reason="return", client_id=op_a).status_code == 201
    assert post_checkin(desk, token, shelter_id=b.id, person_id=pm.id, members=[]).status_code == 201
    incident = desk.get("/api/v1/incidents", headers=token).get_json()
    desk_id = str(uuid.uuid4())
    code = desk.post("/api/v1/readers/pairings", headers=token,
                     json={"shelter_id": a.id, "desk_id": desk_id}).get_json()["code"]
    paired = desk.post("/api/v1/readers/pair", json={"code": code, "name": "受付1"})
    assert paired.status_code == 201, paired.get_json()
    from evac.readers.models import CardReader

    return {"a": a.id, "b": b.id, "pa": pa.id, "pm": pm.id, "home": home.id, "op_a": op_a,
            "reader": db.session.scalar(select(CardReader.id)), "desk_id": desk_id,
            "incident": (incident.get("current") or {}).get("id", 1)}


def _client(app: Flask, caller: str) -> FlaskClient:
    app.test_client_class = IsolatedClient
    client = app.test_client()
    if caller != "anonymous":
        assert login(client, caller).status_code == 302
    return client


def _send(client: FlaskClient, route: Route, town: dict[str, Any]) -> Any:
    path = route.path.format(**town)
    kwargs: dict[str, Any] = {}
    if route.body is not None:
        kwargs["json"] = route.body(town)
    if route.method != "GET":
        token = client.get("/desk/csrf")
        if token.status_code == 200 and token.is_json:
            kwargs["headers"] = {"X-CSRFToken": token.get_json()["csrf_token"]}
        if route.path == "/logout" and token.status_code == 200:
            kwargs = {"data": {"csrf_token": _csrf(client.get("/desk").data)}}
    return client.open(path, method=route.method, **kwargs)


def _refused(response: Any, route: Route) -> bool:
    status = response.status_code
    if status in route.through:
        return False
    if status in (401, 403, 404) or status in route.refusals:
        return True
    return status == 302 and "/login" in response.headers.get("Location", "")


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path} #{i}" for i, r in enumerate(ROUTES)])
def test_each_caller_gets_what_the_matrix_says(app: Flask, db, town: dict[str, Any], route: Route) -> None:
    seen = {}
    for caller in CALLERS:
        response = _send(_client(app, caller), route, town)
        body = response.get_data().decode("utf-8", "replace")  # PDFs and XLSX too
        response.close()
        assert response.status_code < 500, f"{caller}: {response.status_code} {body[:300]}"
        seen[caller] = response.status_code
        if caller in route.allowed:
            assert not _refused(response, route), f"{caller} refused: {response.status_code} {body[:300]}"
        else:
            assert _refused(response, route), f"{caller} let through: {response.status_code} {body[:300]}"
        if caller == "staff_b" or caller in route.scoped:
            assert SECRET not in body, f"{caller} sees the evacuee at A: {body[:300]}"
    # Nobody outside HQ moved the evacuee at A: their stay is still open at A, or HQ moved it.
    stay = db.session.scalars(select(Stay).where(Stay.person_id == town["pa"]).order_by(Stay.id.desc())).first()
    assert stay is not None and (stay.shelter_id == town["a"] or "hq" in route.allowed), seen


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    covered = {r.rule or r.path.split("?")[0] for r in ROUTES} | set(NOT_ACCOUNTS)
    rules = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"
             and not rule.rule.startswith("/static/")}
    assert sorted(rules - covered) == [], "decide who may call these routes and add them to ROUTES"
