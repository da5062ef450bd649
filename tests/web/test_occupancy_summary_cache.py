"""The HQ summary kept per version and role in each process (issue 14, point 4): what a poll is
served from the kept summary — refreshed with only what changed, or built again — is always what a
summary built from all rows now says, and one role's kept answer is never another's."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from evac.accounts.models import Role
from evac.hq import service, summary
from evac.shelters.models import Shelter, ShelterStatus
from evac.stays.models import ShelterTally
from tests import factories
from tests.hq.helpers import ELDERLY, check_in, check_out, family
from tests.web.test_occupancy_cache import _poll

PATH = "/api/v1/occupancy"


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The roles of the summaries the endpoint built from all rows (not refreshed from a kept one),
    in order; the test's own fresh builds (`service.occupancy_summary_json`, role "") not counted."""
    made: list[str] = []
    build = summary.build

    def counted(role: str, version: summary.Version) -> summary.Summary:
        if role:
            made.append(role)
        return build(role, version)

    monkeypatch.setattr(summary, "build", counted)
    yield made


def _without_time(body: dict[str, Any]) -> dict[str, Any]:
    assert body.pop("generated_at")
    return body


def _fresh(since: str | None = None) -> dict[str, Any]:
    return _without_time(json.loads(service.occupancy_summary_json(
        None if since is None else datetime.fromisoformat(since))))


def _served_is_fresh(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    """Poll (plain, gzipped and as a delta since the answer); each must equal a fresh build."""
    answer = client.get(PATH, headers=headers)
    assert answer.status_code == 200
    body = answer.get_json()
    generated_at = body["generated_at"]
    assert _without_time(body) == _fresh()
    zipped = _poll(client, headers, **{"Accept-Encoding": "gzip"})
    if zipped.headers.get("Content-Encoding") == "gzip":
        assert _without_time(json.loads(gzip.decompress(zipped.data))) == body
    delta = client.get(PATH, headers=headers, query_string={"since": generated_at})
    assert delta.status_code == 200
    assert _without_time(delta.get_json()) == _fresh(generated_at)
    return body


def test_the_kept_summary_is_refreshed_to_the_fresh_one_after_every_change(
        client: FlaskClient, db: Any, builds: list[str]) -> None:
    a = factories.shelter(capacity=100)
    b = factories.shelter(capacity=5)
    closed = factories.shelter(status=ShelterStatus.CLOSED)
    hq = factories.bearer(factories.account(Role.HQ))
    assert _served_is_fresh(client, hq)["totals"]["occupancy"] == 0
    assert builds == ["hq"]
    people = family(3, needs=[ELDERLY, 0, 0], pets=1)
    check_in(client, hq, a.id, people)
    assert _served_is_fresh(client, hq)["totals"]["occupancy"] == 3
    check_in(client, hq, b.id, family(4))  # 4 of 5: near full
    assert _served_is_fresh(client, hq)["totals"]["near_full"] == 1
    check_out(client, hq, [people[0]], reason="at_home")
    assert _served_is_fresh(client, hq)["totals"]["at_home"] == 1
    check_out(client, hq, [people[1]])
    _served_is_fresh(client, hq)
    db.session.execute(update(Shelter).where(Shelter.id == a.id).values(name="改名した避難所"))
    db.session.commit()
    assert any(s["name"] == "改名した避難所" for s in _served_is_fresh(client, hq)["shelters"])
    assert client.patch(f"/api/v1/shelters/{a.id}", json={"capacity": 1}, headers=hq).status_code == 200  # 1 of 1
    assert _served_is_fresh(client, hq)["totals"]["full"] == 1
    assert client.patch(f"/api/v1/shelters/{a.id}", json={"capacity": None}, headers=hq).status_code == 200
    assert _served_is_fresh(client, hq)["totals"]["capacity_unknown"] == 1
    assert client.patch(f"/api/v1/shelters/{closed.id}", json={"status": "open"}, headers=hq).status_code == 200
    assert _served_is_fresh(client, hq)["totals"]["open_shelters"] == 3
    assert client.patch(f"/api/v1/shelters/{closed.id}", json={"status": "closed"}, headers=hq).status_code == 200
    body = _served_is_fresh(client, hq)
    assert [s["id"] for s in body["shelters"]] == [a.id, b.id]
    # A stamp a hair before the next second (SQLite's own time functions work in milliseconds).
    db.session.execute(update(ShelterTally).where(ShelterTally.shelter_id == b.id)
                       .values(updated_at=datetime.now(UTC).replace(microsecond=999_900)))
    db.session.commit()
    _served_is_fresh(client, hq)
    assert builds == ["hq"], "every change above was merged into the kept summary, not built again"


def test_a_change_stamped_long_before_the_kept_read_is_not_missed(
        client: FlaskClient, db: Any, builds: list[str]) -> None:
    """A server whose clock is far behind stamps a change older than the refresh reads back: the
    merged rows no longer add up to the version, and the summary is built again."""
    a = factories.shelter(capacity=100)
    b = factories.shelter(capacity=100)
    hq = factories.bearer(factories.account(Role.HQ))
    check_in(client, hq, a.id, family(2))
    behind = datetime.now(UTC) - summary.DELTA_OVERLAP - timedelta(minutes=5)
    # Nothing else recent about either shelter, so a refresh has no other way to come across them.
    db.session.execute(update(Shelter).values(updated_at=behind - timedelta(minutes=1)))
    db.session.execute(update(ShelterTally).values(updated_at=behind - timedelta(minutes=1)))
    db.session.commit()
    _served_is_fresh(client, hq)
    db.session.execute(update(Shelter).where(Shelter.id == b.id).values(name="遅れた時計", updated_at=behind))
    db.session.commit()
    assert any(s["name"] == "遅れた時計" for s in _served_is_fresh(client, hq)["shelters"])
    db.session.execute(update(ShelterTally).where(ShelterTally.shelter_id == a.id)
                       .values(occupancy=ShelterTally.occupancy + 1, updated_at=behind))
    db.session.commit()
    assert _served_is_fresh(client, hq)["totals"]["occupancy"] == 3
    # A counter row gone without a trace (a rebuild that dropped it): no stamp to find it by.
    db.session.execute(ShelterTally.__table__.delete().where(ShelterTally.shelter_id == a.id))
    db.session.commit()
    assert _served_is_fresh(client, hq)["totals"]["occupancy"] == 0
    assert builds == ["hq"] * 4


def test_switching_the_incident_builds_the_summary_again(client: FlaskClient, db: Any, builds: list[str]) -> None:
    hq = factories.bearer(factories.account(Role.HQ))
    assert client.post("/api/v1/incidents", json={"name": "訓練", "kind": "drill"}, headers=hq).status_code == 201
    shelter = factories.shelter(capacity=10)
    check_in(client, hq, shelter.id, family(2))
    drill_id = _served_is_fresh(client, hq)["incident_id"]
    assert client.post("/api/v1/incidents/current/close", json={}, headers=hq).status_code == 200
    assert _served_is_fresh(client, hq)["incident_id"] is None
    assert client.post("/api/v1/incidents", json={"name": "台風", "kind": "disaster"}, headers=hq).status_code == 201
    body = _served_is_fresh(client, hq)
    assert body["incident_id"] not in (None, drill_id) and body["totals"]["occupancy"] == 0
    assert builds == ["hq"] * 3


def test_a_new_incident_with_nothing_open_is_a_new_answer(client: FlaskClient, db: Any) -> None:
    """No shelter open before or after: only the incident differs, and the tag must still move."""
    hq = factories.bearer(factories.account(Role.HQ))
    assert client.post("/api/v1/incidents", json={"name": "訓練", "kind": "drill"}, headers=hq).status_code == 201
    first = _poll(client, hq)
    assert client.post("/api/v1/incidents/current/close", json={}, headers=hq).status_code == 200
    assert client.post("/api/v1/incidents", json={"name": "訓練2", "kind": "drill"}, headers=hq).status_code == 201
    again = _poll(client, hq, first.headers["ETag"])
    assert again.status_code == 200
    assert again.get_json()["incident_id"] != first.get_json()["incident_id"]


def test_a_kept_answer_is_never_served_to_another_role(client: FlaskClient, db: Any) -> None:
    for i in range(30):  # enough for a gzipped answer
        factories.shelter(capacity=100 + i)
    hq = factories.bearer(factories.account(Role.HQ))
    admin = factories.bearer(factories.account(Role.ADMIN))
    real = client.get(PATH, headers=hq).get_json()
    kept = summary.cache().kept("hq")
    assert kept is not None and kept.role == "hq"
    # Mark the HQ role's kept answer: HQ is served it (so the cache is what answers) …
    marked = {**real, "totals": {**real["totals"], "occupancy": 4242}}
    kept._body = json.dumps(marked, ensure_ascii=False).encode()
    kept._gzipped = gzip.compress(kept._body)
    assert client.get(PATH, headers=hq).get_json()["totals"]["occupancy"] == 4242
    zipped = _poll(client, hq, **{"Accept-Encoding": "gzip"})
    assert json.loads(gzip.decompress(zipped.data))["totals"]["occupancy"] == 4242
    # … and admin, polling the same version, never is.
    for answer in (client.get(PATH, headers=admin), _poll(client, admin, **{"Accept-Encoding": "gzip"})):
        data = gzip.decompress(answer.data) if answer.headers.get("Content-Encoding") == "gzip" else answer.data
        assert json.loads(data)["totals"]["occupancy"] == 0
    admin_kept = summary.cache().kept("admin")
    assert admin_kept is not None and admin_kept is not kept and admin_kept.role == "admin"
    staff = factories.bearer(factories.account(Role.STAFF, shelters=[factories.shelter()]))
    assert client.get(PATH, headers=staff).status_code == 403
    assert client.get(PATH).status_code == 401
