"""Account lifecycle as the town's IT admin runs it: sessions that logout really ends, passwords
that a policy checks, tokens that expire, `evac users …`, and wrong guesses counted in the
database so that every worker refuses the same guesser."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from evac.accounts import service
from evac.accounts.models import ApiToken, AuthFailure, Role, StaffSession
from evac.audit.models import AuditEvent
from evac.common.errors import ValidationFailed
from tests import factories
from tests.accounts.test_accounts import _csrf, login
from tests.conftest import IsolatedClient


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "logged in: a session cookie is set"
    return cookie.value


def _desk(app: Flask, address: str = "127.0.0.1") -> FlaskClient:
    """A client of its own (a tablet) at `address`; each request in its own app context."""
    app.test_client_class = IsolatedClient
    desk = app.test_client()
    desk.environ_base["REMOTE_ADDR"] = address
    return desk


def _client_with(app: Flask, cookie: str) -> FlaskClient:
    other = _desk(app)
    other.set_cookie("session", cookie)
    return other


def _logged_in(client: FlaskClient) -> bool:
    return client.get("/hq").status_code == 200


# --- sessions -----------------------------------------------------------------------------------


def test_a_cookie_saved_before_logout_stops_working(app: Flask, client: FlaskClient, db) -> None:
    factories.account(Role.HQ, username="hq-saved")
    assert login(client, "hq-saved").status_code == 302
    saved = _cookie(client)
    assert _logged_in(_client_with(app, saved)), "a copy of the cookie works while the login lasts"
    client.post("/logout", data={"csrf_token": _csrf(client.get("/hq").data)})
    copy = _client_with(app, saved)
    assert not _logged_in(copy)
    assert copy.get("/api/v1/shelters").status_code == 401
    ended = db.session.scalars(select(StaffSession)).one()
    assert ended.ended_at is not None
    assert "logout" in db.session.scalars(select(AuditEvent.action)).all()


def test_logout_ends_only_that_login(app: Flask, client: FlaskClient, db) -> None:
    factories.account(Role.HQ, username="hq-two-desks")
    other = _desk(app)
    login(client, "hq-two-desks")
    login(other, "hq-two-desks")
    client.post("/logout", data={"csrf_token": _csrf(client.get("/hq").data)})
    assert not _logged_in(client) and _logged_in(other), "the other tablet of the same account stays in"


def test_a_password_change_and_disabling_end_every_session(app: Flask, client: FlaskClient, db) -> None:
    factories.account(Role.HQ, username="hq-change")
    login(client, "hq-change")
    service.set_password("hq-change", "a new long passphrase for hq")
    assert not _logged_in(client)
    assert login(client, "hq-change").status_code == 401, "the old password is gone"
    assert login(client, "hq-change", "a new long passphrase for hq").status_code == 302
    service.set_active("hq-change", False)
    assert not _logged_in(client)


def test_a_cookie_of_the_old_format_is_refused(app: Flask, client: FlaskClient, db) -> None:
    account = factories.account(Role.HQ, username="hq-old-cookie")
    with client.session_transaction() as session:
        session["_user_id"] = f"{account.id}:0"
        session["_fresh"] = True
    assert not _logged_in(client)


# --- the password policy ------------------------------------------------------------------------


@pytest.mark.parametrize("password, why", [
    ("short1!", "too short"),
    ("tanaka-ichiro", "same as the user name"),
    ("password1234", "too easy to guess"),
    ("qwertyuiop12", "too easy to guess"),
    ("1234567890", "too easy to guess"),
    ("tanaka-ichiro1", "too easy to guess"),  # the user name and a digit
    ("seikaseika2026", "too easy to guess"),  # the town twice and a year
    ("hinanjo2026", "too easy to guess"),  # "shelter" and a year
])
def test_weak_passwords_are_refused(db, password: str, why: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        service.create_account("tanaka-ichiro", role=Role.ADMIN, password=password)
    assert refused.value.fields == {"password": why}


def test_a_passphrase_passes_and_the_cli_says_why_a_password_fails(runner: FlaskCliRunner, db) -> None:
    service.create_account("suzuki", role=Role.HQ, password="kawa no nagare ga hayai")
    result = runner.invoke(args=["users", "password", "suzuki", "--password", "password1234"])
    assert result.exit_code == 1 and "推測されやすい" in result.output
    assert service.authenticate("suzuki", "kawa no nagare ga hayai") is not None, "the old password still works"


# --- tokens -------------------------------------------------------------------------------------


def test_a_token_stops_at_its_expiry_even_when_cached(client: FlaskClient, db, monkeypatch) -> None:
    account = factories.account(Role.HQ)
    token = service.issue_token(account.username, "bench", expires_in=timedelta(days=1))
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/shelters", headers=headers).status_code == 200  # cached from here on
    later = service.now_utc() + timedelta(days=1, seconds=1)
    monkeypatch.setattr(service, "now_utc", lambda: later)
    assert client.get("/api/v1/shelters", headers=headers).status_code == 401


def test_cli_lists_accounts_and_tokens_and_revokes_one(runner: FlaskCliRunner, db) -> None:
    shelter = factories.shelter()
    factories.account(Role.STAFF, shelters=[shelter], username="desk-a")
    keep = service.issue_token("desk-a", "tablet 1")
    drop = service.issue_token("desk-a", "tablet 2")
    listed = runner.invoke(args=["users", "list"])
    assert listed.exit_code == 0
    row = next(line.split("\t") for line in listed.output.splitlines() if line.startswith("desk-a\t"))
    assert row[1:4] == ["staff", "active", str(shelter.id)] and row[5] == "2"
    drop_id = db.session.scalar(select(ApiToken.id).where(ApiToken.token_hash == service.hash_token(drop)))
    assert runner.invoke(args=["users", "revoke-token", "desk-a", "--id", str(drop_id)]).exit_code == 0
    tokens = runner.invoke(args=["users", "tokens", "desk-a"]).output
    assert keep not in tokens and drop not in tokens, "tokens are never shown again"
    states = [line.split("\t")[-1] for line in tokens.splitlines()[1:]]
    assert states == ["active", "revoked"]
    assert service.principal_for_token(drop) is None and service.principal_for_token(keep) is not None
    assert runner.invoke(args=["users", "revoke-token", "desk-a"]).exit_code == 2, "--id or --all is required"
    again = runner.invoke(args=["users", "revoke-token", "desk-a", "--id", str(drop_id)])
    assert again.exit_code == 1, "revoking a revoked token says so"


def test_cli_set_shelters_moves_a_desk_at_once(client: FlaskClient, runner: FlaskCliRunner, db) -> None:
    first, second = factories.shelter(), factories.shelter()
    account = factories.account(Role.STAFF, shelters=[first], username="desk-move")
    headers = factories.bearer(account)
    assert client.get(f"/api/v1/shelters/{second.id}/roster", headers=headers).status_code == 403
    result = runner.invoke(args=["users", "set-shelters", "desk-move", "--shelter", str(second.id)])
    assert result.exit_code == 0, result.output
    assert client.get(f"/api/v1/shelters/{second.id}/roster", headers=headers).status_code == 200
    assert client.get(f"/api/v1/shelters/{first.id}/roster", headers=headers).status_code == 403
    empty = runner.invoke(args=["users", "set-shelters", "desk-move"])
    assert empty.exit_code == 1 and "担当避難所" in empty.output


def test_cli_disable_and_enable(client: FlaskClient, runner: FlaskCliRunner, db) -> None:
    account = factories.account(Role.HQ, username="hq-off")
    headers = factories.bearer(account)
    assert runner.invoke(args=["users", "disable", "hq-off"]).exit_code == 0
    assert client.get("/api/v1/shelters", headers=headers).status_code == 401
    assert runner.invoke(args=["users", "enable", "hq-off"]).exit_code == 0
    assert client.get("/api/v1/shelters", headers=headers).status_code == 200


# --- wrong guesses, counted in the database -----------------------------------------------------


def _second_worker(app: Flask) -> Flask:
    """Another app over the same database, as a second gunicorn worker would be."""
    from evac import create_app

    keys = ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "CARD_KEY", "EVAC_INSTANCE_PATH", "EVAC_AUDIT_JOURNAL_DIR")
    worker = create_app({"TESTING": True, "EVAC_SECRETS_PERSISTENT": True, "RATELIMIT_ENABLED": False,
                         **{k: app.config[k] for k in keys}})
    return worker


def test_wrong_passwords_count_across_workers_and_the_right_user_elsewhere_gets_in(app: Flask, db) -> None:
    factories.account(Role.HQ, username="target")
    worker = _second_worker(app)
    try:
        desks = [_desk(app, "10.0.0.9"), _desk(worker, "10.0.0.9")]
        answers = [login(desks[i % 2], "target", f"guess number {i}!").status_code for i in range(6)]
        assert answers == [401] * 5 + [429], "five wrong guesses over two workers, then both refuse"
        refused = login(desks[1], "target")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "900"
        assert "しばらくログインできません" in refused.get_data(as_text=True)
        elsewhere = _desk(app, "10.0.0.20")
        assert login(elsewhere, "target").status_code == 302, "the real user at another desk is not locked out"
        stored = db.session.scalars(select(AuthFailure.key)).all()
        assert stored and not any("target" in key or "10.0.0.9" in key for key in stored), "keys are hashed"
    finally:
        with worker.app_context():
            db.engine.dispose()


def test_one_address_guessing_many_names_is_limited(app: Flask, db) -> None:
    app.config["EVAC_LOGIN_MAX_FAILURES_PER_ADDRESS"] = 4
    factories.account(Role.HQ, username="real")
    client = _desk(app)
    answers = [login(client, f"name{i}", "wrong wrong wrong").status_code for i in range(5)]
    assert answers == [401] * 4 + [429]


def _scan(client: FlaskClient, headers: dict[str, str], shelter_id: int, qr: str) -> Any:
    from tests.checkin.helpers import post_checkin

    return post_checkin(client, headers, shelter_id=shelter_id, qr=qr)


def test_card_guessing_is_throttled_per_account_and_address(app: Flask, client: FlaskClient, db) -> None:
    from evac.cards import service as cards

    app.config["EVAC_CARD_MAX_FAILURES"] = 3
    shelter = factories.shelter()
    guesser = factories.bearer(factories.account(Role.STAFF, shelters=[shelter]))
    person = factories.person()
    card, payload = cards.issue_card(person.id)
    code = cards.fallback_for(card)
    # Wrong check characters on the real serial, then made-up serials: one answer for all.
    wrong = [code[:-1] + ("0" if code[-1] != "0" else "1"), "ABCD-EFGH-JKMN", "2345-6789-ABCD"]
    answers = [_scan(client, guesser, shelter.id, guess) for guess in wrong]
    assert {(a.status_code, a.get_json()["error"]["code"]) for a in answers} == {(403, "card_invalid")}
    assert len({a.get_json()["error"]["message"] for a in answers}) == 1
    limited = _scan(client, guesser, shelter.id, payload)
    assert limited.status_code == 429 and limited.get_json()["error"]["code"] == "too_many_attempts"
    assert "Retry-After" in limited.headers
    colleague = factories.bearer(factories.account(Role.STAFF, shelters=[shelter]))
    other_desk = _desk(app, "10.0.0.30")
    assert _scan(other_desk, colleague, shelter.id, payload).status_code == 201, "another desk is not stopped"
    kinds = [e.detail["kind"] for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "card.refused").order_by(AuditEvent.id))]
    assert kinds == ["card_altered", "card_forged", "card_forged"], "the audit keeps what each was"
