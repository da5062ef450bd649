"""A known login costs one statement in the request's own transaction, and is still checked on
every request: a revocation, a disabled account or new shelters count at once, whichever worker
made the change. A genuine card's scan counts no wrong guesses while none were stored anywhere."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event

from evac.accounts import service
from evac.accounts.models import Role
from evac.extensions import db as _db
from tests import factories
from tests.accounts.test_lifecycle import _desk, _scan, _second_worker
from tests.checkin.helpers import qr_for


@contextlib.contextmanager
def _watch(app: Flask) -> Iterator[dict[str, Any]]:
    """The statements run on `app`'s engine meanwhile."""
    with app.app_context():
        engine = _db.engine
    seen: dict[str, Any] = {"statements": []}

    def begin(_conn: Any) -> None:
        seen["statements"].append("<begin>")

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.startswith("BEGIN"):  # SQLite's own BEGIN (IMMEDIATE): the begin event says it
            seen["statements"].append(sql)

    event.listen(engine, "begin", begin)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(engine, "begin", begin)
        event.remove(engine, "before_cursor_execute", statement)


def _close(worker: Flask) -> None:
    """Store what the second worker journaled before this test's database goes, then let it go."""
    from evac.audit.journal import existing_journal

    with worker.app_context():
        journal = existing_journal(worker)
        if journal is not None:
            journal.close()
        _db.engine.dispose()


def _reads_of(seen: dict[str, Any], table: str) -> int:
    return sum(1 for sql in seen["statements"] if f"FROM {table}" in sql)


def _first_transaction(seen: dict[str, Any]) -> list[str]:
    """The statements of the first transaction begun."""
    statements = seen["statements"]
    assert statements and statements[0] == "<begin>"
    statements = statements[1:]
    end = next((i for i, sql in enumerate(statements) if sql == "<begin>"), len(statements))
    return statements[:end]


def test_a_known_token_is_checked_inside_the_requests_own_transaction(app: Flask, db) -> None:
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.STAFF, shelters=[shelter]))
    desk = _desk(app)
    assert desk.get(f"/api/v1/shelters/{shelter.id}/roster", headers=headers).status_code == 200  # cached now
    with _watch(app) as seen:
        assert desk.get(f"/api/v1/shelters/{shelter.id}/roster", headers=headers).status_code == 200
    first = _first_transaction(seen)
    assert "FROM auth_state" in first[0], "the epoch is still read on every request, first"
    assert any("FROM shelter" in sql for sql in first), "in the request's own transaction, not one of its own"
    assert _reads_of(seen, "auth_state") == 1
    assert _reads_of(seen, "api_token") == 0 and _reads_of(seen, "staff_account") == 0


def test_a_known_session_is_checked_inside_the_requests_own_transaction(app: Flask, db) -> None:
    from tests.accounts.test_accounts import login

    shelter = factories.shelter()
    factories.account(Role.STAFF, shelters=[shelter], username="desk-cookie")
    desk = _desk(app)
    assert login(desk, "desk-cookie").status_code == 302
    assert desk.get(f"/api/v1/shelters/{shelter.id}/roster").status_code == 200
    with _watch(app) as seen:
        assert desk.get(f"/api/v1/shelters/{shelter.id}/roster").status_code == 200
    first = _first_transaction(seen)
    assert "FROM auth_state" in first[0] and any("FROM shelter" in sql for sql in first)
    assert _reads_of(seen, "auth_state") == 1
    assert _reads_of(seen, "staff_session") == 0


def test_a_change_made_by_another_worker_counts_on_the_next_request(app: Flask, db) -> None:
    first, second = factories.shelter(), factories.shelter()
    account = factories.account(Role.STAFF, shelters=[first], username="moved")
    headers = factories.bearer(account)
    desk = _desk(app)
    assert desk.get(f"/api/v1/shelters/{first.id}/roster", headers=headers).status_code == 200
    worker = _second_worker(app)
    try:
        with worker.app_context():
            service.set_shelters("moved", [second.id])
        # The view runs again as the account now is: refused at the old shelter, let in at the new.
        assert desk.get(f"/api/v1/shelters/{first.id}/roster", headers=headers).status_code == 403
        assert desk.get(f"/api/v1/shelters/{second.id}/roster", headers=headers).status_code == 200
        with worker.app_context():
            service.revoke_tokens("moved")
        gone = desk.get(f"/api/v1/shelters/{second.id}/roster", headers=headers)
        assert gone.status_code == 401 and gone.get_json()["error"]["code"] == "unauthenticated"
    finally:
        _close(worker)


def test_a_revoked_token_is_refused_even_where_no_unit_runs(app: Flask, db) -> None:
    from evac.accounts.auth import current_account

    # A view that needs a login and reads nothing from the database: the check comes after it.
    app.add_url_rule("/_whoami", "whoami", lambda: current_account().username)
    headers = factories.bearer(factories.account(Role.HQ, username="hq-static"))
    desk = _desk(app)
    assert desk.get("/api/v1/shelters", headers=headers).status_code == 200  # cached now
    assert desk.get("/_whoami", headers=headers).get_data(as_text=True) == "hq-static"
    service.revoke_tokens("hq-static")
    refused = desk.get("/_whoami", headers=headers)
    assert refused.status_code == 401 and "hq-static" not in refused.get_data(as_text=True)


def test_an_answer_refused_after_its_view_lets_go_of_its_file(app: Flask, db) -> None:
    from flask import send_file

    from evac.accounts.auth import current_account

    opened: list[Any] = []

    def download() -> Any:
        # A view that reads no database and answers with a file, as the static files do.
        current_account()
        response = send_file(Path(app.static_folder or "") / "favicon.svg")
        opened.append(response.response.file)  # the file wrapper's handle, sent as it is read
        return response

    app.add_url_rule("/_download", "download", download)
    headers = factories.bearer(factories.account(Role.HQ, username="hq-file"))
    desk = _desk(app)
    assert desk.get("/api/v1/shelters", headers=headers).status_code == 200  # cached now
    with desk.get("/_download", headers=headers) as answered:
        assert answered.status_code == 200
    assert opened[0].closed
    service.revoke_tokens("hq-file")
    with desk.get("/_download", headers=headers) as refused:
        assert refused.status_code == 401
    assert len(opened) == 2 and opened[1].closed, "the refused answer's file was left open for the collector"


def test_a_genuine_scan_counts_no_guesses_until_one_is_stored_anywhere(app: Flask, db) -> None:
    app.config["EVAC_CARD_MAX_FAILURES"] = 2
    shelter = factories.shelter()
    account = factories.account(Role.STAFF, shelters=[shelter], username="scanner")
    headers = factories.bearer(account)
    desk = _desk(app, "10.0.0.40")
    people = [factories.person() for _ in range(4)]
    cards = [qr_for(p.id) for p in people]
    # The login is cached by the first scan; the second counts the guesses once and finds none.
    assert [_scan(desk, headers, shelter.id, qr).status_code for qr in cards[:2]] == [201, 201]
    with _watch(app) as seen:
        assert _scan(desk, headers, shelter.id, cards[2]).status_code == 201
    assert _reads_of(seen, "auth_failure") == 0, "a genuine scan with nothing stored since counts nothing"
    worker = _second_worker(app)
    try:
        # The same account guesses at another worker, up to its limit.
        other = _desk(worker, "10.0.0.41")
        answers = [_scan(other, headers, shelter.id, guess).status_code
                   for guess in ("ABCD-EFGH-JKMN", "2345-6789-ABCD")]
        assert answers == [403, 403]
        refused = _scan(desk, headers, shelter.id, cards[3])
        assert refused.status_code == 429, "the guesses stored elsewhere count here at once"
    finally:
        _close(worker)
