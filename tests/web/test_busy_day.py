"""A busy shelter day over real HTTP: six desks, HQ and staff logging in, all at once, on `evac serve`.

Every endpoint and page that reads personal data or writes an audit row is in the mix — lookups,
check-ins and check-outs, rosters, person search, card and roster PDFs, logins, HQ's occupancy,
capacity changes, exports, inquiries, trend and sync status — on gunicorn with two worker
processes, over SQLite (the default deployment) and PostgreSQL. Nothing may answer 5xx, and the
audit log must hold exactly one entry per audited thing that happened.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.audit import service as audit
from evac.audit.models import AuditEvent
from evac.extensions import db as _db
from evac.stays.models import Stay
from tests import factories
from tests.checkin.helpers import qr_for
from tests.serving import login, start_server

DESKS_PER_SHELTER = 2
CYCLES = 6
HOUSEHOLD = 3


class Tally:
    """Requests made and answers seen, by kind, across threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: Counter[str] = Counter()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.stays_opened = 0
        self.errors: list[str] = []

    def saw(self, kind: str, response: httpx.Response, *expected: int) -> httpx.Response:
        with self.lock:
            self.statuses[(kind, response.status_code)] += 1
            if response.status_code in expected:
                self.done[kind] += 1
            else:
                self.errors.append(f"{kind}: {response.status_code} {response.text[:200]}")
        return response


def _desk(url: str, token: str, username: str, shelter_id: int, households: list[dict[str, Any]],
          tally: Tally) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api, \
            httpx.Client(base_url=url, timeout=30) as pages:
        tally.saw("login", login(pages, username, factories.PASSWORD), 302)
        for cycle, household in enumerate(households):
            tally.saw("lookup", api.post("/api/v1/lookups", json={"shelter_id": shelter_id,
                                                                  "qr": household["qr"]}), 200)
            answer = tally.saw("checkin", api.post("/api/v1/checkins", json={
                "shelter_id": shelter_id, "client_id": str(uuid.uuid4()), "qr": household["qr"],
                "members": household["members"]}), 201)
            if answer.status_code == 201:
                with tally.lock:
                    tally.stays_opened += len(answer.json()["stays"])
            tally.saw("roster", api.get(f"/api/v1/shelters/{shelter_id}/roster"), 200)
            tally.saw("search", api.get("/api/v1/persons", params={"q": "シケン"}), 200)
            if cycle % 3 == 0:
                tally.saw("card_pdf", pages.get(f"/desk/{shelter_id}/cards/{household['members'][0]}.pdf"), 200)
                tally.saw("roster_pdf", pages.get(f"/desk/{shelter_id}/roster.pdf"), 200)
            if cycle % 2 == 1:
                tally.saw("checkout", api.post("/api/v1/checkouts", json={
                    "client_id": str(uuid.uuid4()), "person_id": household["members"][-1], "reason": "left"}), 201)


def _hq(url: str, token: str, shelter_ids: list[int], stop: threading.Event, tally: Tally) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        for n in itertools.count():
            if stop.is_set() and n >= 4:
                return
            tally.saw("occupancy", api.get("/api/v1/occupancy"), 200)
            tally.saw("sync_status", api.get("/api/v1/sync/status"), 200)
            if n % 2 == 0:
                tally.saw("patch", api.patch(f"/api/v1/shelters/{shelter_ids[n % 3]}",
                                             json={"capacity": 500 + n}), 200)  # always a change
                tally.saw("trend", api.get("/api/v1/occupancy/trend"), 200)
            if n % 3 == 0:
                tally.saw("export", api.get("/api/v1/exports/roster.csv"), 200)
                tally.saw("inquiry", api.post("/api/v1/inquiries", json={"q": "シケン", "requester": "relative"}), 200)


def _logins(url: str, username: str, stop: threading.Event, tally: Tally) -> None:
    for n in itertools.count():
        if stop.is_set() and n >= 3:
            return
        with httpx.Client(base_url=url, timeout=30) as http:
            if n % 4 == 3:
                tally.saw("login_refused", login(http, username, "wrong password!"), 401)
            else:
                tally.saw("login", login(http, username, factories.PASSWORD), 302)


def _count(db: Any, action: str, **where: Any) -> int:
    stmt = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    for column, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, column) == value)
    return int(db.session.scalar(stmt) or 0)


@pytest.mark.slow
def test_busy_day_over_real_http(app: Flask, db: Any, tmp_path: Path) -> None:
    shelters = [factories.shelter(capacity=1000) for _ in range(3)]
    hq = factories.account(Role.HQ, username="hq-busy")
    desks = []
    serial = itertools.count()
    for shelter in shelters:
        for _ in range(DESKS_PER_SHELTER):
            account = factories.account(Role.STAFF, shelters=[shelter])
            households = []
            for _cycle in range(CYCLES):
                home = factories.household()
                members = [factories.person(household_id=home.id, family_name="試験", given_name=f"{next(serial)}",
                                            family_name_kana="シケン", given_name_kana="タロウ")
                           for _m in range(HOUSEHOLD)]
                households.append({"qr": qr_for(members[0].id), "members": [m.id for m in members]})
            desks.append((account, shelter.id, households))
    tokens = {acct.username: factories.bearer(acct)["Authorization"].split()[1] for acct, _s, _h in desks}
    hq_token = factories.bearer(hq)["Authorization"].split()[1]
    audit.flush()
    _db.session.rollback()
    baseline = {action: _count(db, action) for action in ("login",)}

    server = start_server(app, tmp_path / "instance", workers=2, threads=4,
                          EVAC_LOGIN_RATE_LIMIT="10000 per minute")
    tally = Tally()
    stop = threading.Event()
    try:
        side = [threading.Thread(target=_hq, args=(server.url, hq_token, [s.id for s in shelters], stop, tally)),
                threading.Thread(target=_logins, args=(server.url, "hq-busy", stop, tally))]
        desk_threads = [threading.Thread(target=_desk, args=(server.url, tokens[acct.username], acct.username,
                                                             shelter_id, households, tally))
                        for acct, shelter_id, households in desks]
        for thread in side + desk_threads:
            thread.start()
        for thread in desk_threads:
            thread.join(timeout=300)
        stop.set()
        for thread in side:
            thread.join(timeout=120)
    finally:
        log = server.stop()  # SIGTERM: the workers store their journals as they exit
    server_errors = {k: n for k, n in tally.statuses.items() if k[1] >= 500}
    assert not server_errors, (server_errors, log[-3000:])
    assert not tally.errors, tally.errors[:10]
    assert tally.done["checkin"] == len(desks) * CYCLES

    audit.flush()  # whatever a worker could not store itself is adopted here
    _db.session.rollback()
    expected = {
        ("person.read", "household"): tally.done["lookup"],
        ("person.read", "roster"): tally.done["roster"] + tally.done["roster_pdf"],
        ("person.read", "card_print"): tally.done["card_pdf"],
        ("person.search", None): tally.done["search"],
        ("stay.checkin", None): tally.stays_opened,
        ("stay.checkout", None): tally.done["checkout"],
        ("shelter.update", None): tally.done["patch"],
        ("export.roster_csv", None): tally.done["export"],
        ("inquiry.search", None): tally.done["inquiry"],
    }
    for (action, subject_type), n in expected.items():
        where = {"subject_type": subject_type} if subject_type else {}
        assert _count(db, action, **where) == n, (action, subject_type)
    assert _count(db, "login", outcome="ok") - baseline["login"] == tally.done["login"]
    assert _count(db, "login", outcome="refused") == tally.done["login_refused"]
    open_stays = db.session.scalar(select(func.count()).select_from(Stay).where(Stay.checked_out_at.is_(None)))
    assert open_stays == tally.stays_opened - tally.done["checkout"]
