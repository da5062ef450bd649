"""HQ polling that costs nothing when nothing changed (issue 14, point 4): GET /api/v1/occupancy
answers 304 to an If-None-Match of its current ETag, a new ETag after anything it shows changes,
gzip to a client that accepts it; the public page and static files carry validators too."""

from __future__ import annotations

import contextvars
import gzip
import json
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import update

from evac.accounts.models import Role
from evac.shelters.models import Shelter, ShelterStatus
from evac.stays.models import ShelterTally
from tests import factories
from tests.hq.helpers import check_in, check_out, family

PATH = "/api/v1/occupancy"


def _poll(client: FlaskClient, headers: dict[str, str], etag: str | None = None, **more: str) -> Any:
    sent = {**headers, **more}
    if etag:
        sent["If-None-Match"] = etag
    if "Accept-Encoding" in more:
        # Past the test client's contract check, which reads every API answer as plain JSON (it
        # still runs in a context of its own, as every request in production does).
        return contextvars.Context().run(FlaskClient.open, client, PATH, headers=sent)
    return client.get(PATH, headers=sent)


def _changed(client: FlaskClient, headers: dict[str, str], etag: str) -> str:
    """Poll with the last tag; the answer must be a full 200 with a different tag. Returns it."""
    answer = _poll(client, headers, etag)
    assert answer.status_code == 200, "a change must end the 304s"
    assert answer.headers["ETag"] != etag
    return answer.headers["ETag"]


def _unchanged(client: FlaskClient, headers: dict[str, str], etag: str) -> None:
    answer = _poll(client, headers, etag)
    assert answer.status_code == 304
    assert answer.data == b"" and answer.headers["ETag"] == etag


def test_an_unchanged_poll_is_a_304_without_a_body(client: FlaskClient, db: Any) -> None:
    shelter = factories.shelter(capacity=100)
    hq = factories.bearer(factories.account(Role.HQ))
    check_in(client, hq, shelter.id, family(2))
    first = _poll(client, hq)
    assert first.status_code == 200 and first.get_json()["totals"]["occupancy"] == 2
    etag = first.headers["ETag"]
    assert etag.startswith('W/"occupancy-hq-')
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert {"accept-encoding", "authorization", "cookie"} <= {v.strip().lower() for v in first.headers["Vary"].split(",")}
    _unchanged(client, hq, etag)
    _unchanged(client, hq, etag)
    # Another tag, or none, gets the whole answer.
    assert _poll(client, hq, 'W/"occupancy-hq-0"').status_code == 200
    assert _poll(client, hq).status_code == 200


def test_every_change_the_page_shows_changes_the_tag(client: FlaskClient, db: Any) -> None:
    a = factories.shelter(capacity=100)
    b = factories.shelter(capacity=50)
    closed = factories.shelter(status=ShelterStatus.CLOSED)
    hq = factories.bearer(factories.account(Role.HQ))
    etag = _poll(client, hq).headers["ETag"]
    people = family(3)
    check_in(client, hq, a.id, people)  # a check-in
    etag = _changed(client, hq, etag)
    _unchanged(client, hq, etag)
    check_out(client, hq, [people[0]], reason="at_home")  # at home: registered, no longer sleeping there
    etag = _changed(client, hq, etag)
    check_out(client, hq, [people[1]])  # a check-out
    etag = _changed(client, hq, etag)
    assert client.patch(f"/api/v1/shelters/{b.id}", json={"capacity": 60}, headers=hq).status_code == 200
    etag = _changed(client, hq, etag)
    assert client.patch(f"/api/v1/shelters/{b.id}", json={"status": "full"}, headers=hq).status_code == 200
    etag = _changed(client, hq, etag)
    assert client.patch(f"/api/v1/shelters/{closed.id}", json={"status": "open"}, headers=hq).status_code == 200
    etag = _changed(client, hq, etag)
    assert client.patch(f"/api/v1/shelters/{closed.id}", json={"status": "closed"}, headers=hq).status_code == 200
    etag = _changed(client, hq, etag)
    _unchanged(client, hq, etag)


def test_a_change_stamped_out_of_order_still_changes_the_tag(client: FlaskClient, db: Any) -> None:
    """Two application servers' clocks: a counter committed later with an older `updated_at` than
    one already seen must not be hidden behind a 304."""
    a = factories.shelter(capacity=100)
    b = factories.shelter(capacity=100)
    hq = factories.bearer(factories.account(Role.HQ))
    check_in(client, hq, a.id, family(1))
    check_in(client, hq, b.id, family(1))
    etag = _poll(client, hq).headers["ETag"]
    older = db.session.get(ShelterTally, a.id).updated_at - timedelta(minutes=5)
    db.session.execute(update(ShelterTally).where(ShelterTally.shelter_id == a.id)
                       .values(occupancy=ShelterTally.occupancy + 1, updated_at=older))
    db.session.commit()
    _changed(client, hq, etag)


def test_closing_a_drill_changes_the_tag(client: FlaskClient, db: Any) -> None:
    hq = factories.bearer(factories.account(Role.HQ))
    assert client.post("/api/v1/incidents", json={"name": "訓練", "kind": "drill"}, headers=hq).status_code == 201
    shelter = factories.shelter(capacity=10)
    check_in(client, hq, shelter.id, family(2))
    etag = _poll(client, hq).headers["ETag"]
    assert client.post("/api/v1/incidents/current/close", json={}, headers=hq).status_code == 200
    _changed(client, hq, etag)


def test_the_tag_is_the_roles(client: FlaskClient, db: Any) -> None:
    factories.shelter()
    hq = factories.bearer(factories.account(Role.HQ))
    admin = factories.bearer(factories.account(Role.ADMIN))
    hq_tag = _poll(client, hq).headers["ETag"]
    assert _poll(client, admin, hq_tag).status_code == 200
    staff = factories.bearer(factories.account(Role.STAFF, shelters=[factories.shelter()]))
    assert _poll(client, staff, hq_tag).status_code == 403, "a tag is no way round the role check"
    assert _poll(client, {}, hq_tag).status_code == 401


def test_gzip_when_accepted(client: FlaskClient, db: Any) -> None:
    for i in range(30):  # enough shelters for more than a kilobyte of JSON
        factories.shelter(capacity=100 + i)
    hq = factories.bearer(factories.account(Role.HQ))
    plain = _poll(client, hq)
    assert "Content-Encoding" not in plain.headers
    zipped = _poll(client, hq, **{"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert len(zipped.data) < len(plain.data) / 3
    body = json.loads(gzip.decompress(zipped.data))
    assert body["shelters"] == plain.get_json()["shelters"]
    assert zipped.headers["ETag"] == plain.headers["ETag"]  # a weak tag: the same answer either way
    refused = _poll(client, hq, **{"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers


def test_a_small_answer_is_not_compressed(client: FlaskClient, db: Any) -> None:
    hq = factories.bearer(factories.account(Role.HQ))
    empty = _poll(client, hq, **{"Accept-Encoding": "gzip"})
    assert empty.status_code == 200 and len(empty.data) < 1024
    assert "Content-Encoding" not in empty.headers


def test_a_rename_changes_the_tag(client: FlaskClient, db: Any) -> None:
    shelter = factories.shelter()
    hq = factories.bearer(factories.account(Role.HQ))
    etag = _poll(client, hq).headers["ETag"]
    db.session.execute(update(Shelter).where(Shelter.id == shelter.id).values(name="改名した避難所"))
    db.session.commit()
    _changed(client, hq, etag)


def test_the_public_page_and_static_files_answer_304_when_unchanged(client: FlaskClient, db: Any) -> None:
    factories.shelter()
    page = client.get("/")
    assert page.status_code == 200 and page.headers.get("ETag")
    again = client.get("/", headers={"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    script = client.get("/static/hq/poll.js")
    assert script.status_code == 200 and script.headers.get("ETag") and script.headers.get("Last-Modified")
    cached = client.get("/static/hq/poll.js", headers={"If-None-Match": script.headers["ETag"]})
    assert cached.status_code == 304
    script.close()
    cached.close()
