"""Accounts: login pages, password hashing, CSRF, API tokens, roles and shelter scope."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from evac.accounts import service
from evac.accounts.models import ApiToken, Role, StaffAccount
from evac.audit.models import AuditEvent
from evac.common.errors import Conflict, ValidationFailed
from tests import factories


def _csrf(page: bytes) -> str:
    match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        rb'name="csrf_token" value="([^"]+)"', page)
    assert match, "login page carries a CSRF token"
    return match.group(1).decode()


def login(client: FlaskClient, username: str, password: str = factories.PASSWORD):
    token = _csrf(client.get("/login").data)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_password_is_hashed_with_argon2(db) -> None:
    acct = factories.account(Role.HQ)
    stored = db.session.scalar(select(StaffAccount.password_hash).where(StaffAccount.id == acct.id))
    assert stored.startswith("$argon2")
    assert factories.PASSWORD not in stored


def test_staff_account_needs_a_shelter(db) -> None:
    with pytest.raises(ValidationFailed):
        service.create_account("lonely", role=Role.STAFF, password=factories.PASSWORD)
    assert db.session.scalar(select(func.count()).select_from(StaffAccount)) == 0


def test_duplicate_username_is_refused(db) -> None:
    factories.account(Role.HQ, username="tanaka")
    with pytest.raises(Conflict):
        factories.account(Role.HQ, username="tanaka")


def test_short_password_is_refused(db) -> None:
    with pytest.raises(ValidationFailed):
        service.create_account("x", role=Role.ADMIN, password="short")


def test_login_page_is_japanese_first_and_english_on_request(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "職員ログイン" in page and 'lang="ja"' in page
    client.get("/lang/en?next=/login")
    page = client.get("/login").get_data(as_text=True)
    assert "Staff login" in page and 'lang="en"' in page


def test_login_and_logout(client: FlaskClient, db) -> None:
    shelter = factories.shelter()
    factories.account(Role.STAFF, shelters=[shelter], username="desk1")
    response = login(client, "desk1")
    assert response.status_code == 302 and response.headers["Location"].endswith("/desk")
    page = client.get("/desk").get_data(as_text=True)
    assert shelter.name in page
    token = _csrf(page.encode())
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/desk").status_code == 302  # back to the login page


def test_wrong_password_is_refused_and_audited(client: FlaskClient, db) -> None:
    factories.account(Role.HQ, username="hq1")
    response = login(client, "hq1", "wrong password!")
    assert response.status_code == 401
    assert "ユーザー名またはパスワードが違います" in response.get_data(as_text=True)
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login")).all()
    assert [e.outcome for e in refused] == ["refused"]


def test_login_without_csrf_token_is_refused(client: FlaskClient, db) -> None:
    factories.account(Role.HQ, username="hq2")
    response = client.post("/login", data={"username": "hq2", "password": factories.PASSWORD})
    assert response.status_code == 400
    assert client.get("/desk").status_code == 302


def test_logout_needs_csrf_token(client: FlaskClient, db) -> None:
    factories.account(Role.HQ, username="hq3")
    login(client, "hq3")
    assert client.post("/logout").status_code == 400
    assert client.get("/desk").status_code == 200


def test_login_redirect_never_leaves_the_site(client: FlaskClient, db) -> None:
    factories.account(Role.HQ, username="hq4")
    token = _csrf(client.get("/login").data)
    response = client.post("/login?next=//evil.example/x",
                           data={"username": "hq4", "password": factories.PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/hq"  # an HQ officer lands on the dashboard


def test_disabled_account_cannot_log_in(client: FlaskClient, db) -> None:
    factories.account(Role.HQ, username="gone")
    service.set_active("gone", False)
    assert login(client, "gone").status_code == 401


def test_token_is_stored_hashed_and_authenticates(client: FlaskClient, db) -> None:
    acct = factories.account(Role.HQ)
    token = service.issue_token(acct.username)
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and service.hash_token(token) in stored
    assert client.get("/api/v1/shelters", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_revoked_or_unknown_token_gets_401(client: FlaskClient, db) -> None:
    acct = factories.account(Role.HQ)
    token = service.issue_token(acct.username)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/shelters", headers=headers).status_code == 200  # cached from here on
    service.revoke_tokens(acct.username)
    for header in (f"Bearer {token}", "Bearer evac_nonsense", "Basic abc", ""):
        response = client.get("/api/v1/shelters", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthenticated"


def test_cli_users_create_and_token(runner: FlaskCliRunner, db) -> None:
    shelter = factories.shelter()
    result = runner.invoke(args=["users", "create", "desk9", "--role", "staff", "--shelter", str(shelter.id),
                                 "--password", factories.PASSWORD])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "token", "desk9"])
    assert result.exit_code == 0
    token = result.output.strip()
    assert re.fullmatch(r"evac_[A-Za-z0-9_-]{40,}", token), "prints the token and nothing else"
    assert service.principal_for_token(token).username == "desk9"


def test_cli_refuses_staff_without_shelter(runner: FlaskCliRunner, db) -> None:
    result = runner.invoke(args=["users", "create", "x", "--role", "staff", "--password", factories.PASSWORD])
    assert result.exit_code == 1
    assert "担当避難所" in result.output


def test_cli_token_for_unknown_user(runner: FlaskCliRunner, db) -> None:
    result = runner.invoke(args=["users", "token", "nobody"])
    assert result.exit_code == 1 and "nobody" in result.output


def test_login_attempts_are_rate_limited(app, db) -> None:
    from evac import create_app
    from tests.conftest import IsolatedClient

    limited = create_app({"TESTING": True, "EVAC_SECRETS_PERSISTENT": True, "RATELIMIT_ENABLED": True,
                          "EVAC_LOGIN_RATE_LIMIT": "3 per minute",
                          **{k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "CARD_KEY")}})
    limited.test_client_class = IsolatedClient
    client = limited.test_client()
    factories.account(Role.HQ, username="target")
    try:
        responses = [login(client, "target", "wrong guess!") for _ in range(4)]
        assert [r.status_code for r in responses] == [401, 401, 401, 429]
        assert "リクエストが多すぎます" in responses[-1].get_data(as_text=True)
        # Reading the page is not limited: only password attempts are.
        assert client.get("/login").status_code == 200
    finally:
        with limited.app_context():  # this second app has an engine (and connections) of its own
            db.engine.dispose()
