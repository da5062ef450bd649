"""HQ's delta poll (issue 14, point 4): GET /api/v1/occupancy?since=… sends the totals in full but
only the shelters changed since the last answer (with a minute's overlap) and the ids of those
closed since; merged into the last full answer it is the full answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import update

from evac.accounts.models import Role
from evac.shelters.models import Shelter
from evac.stays.models import ShelterTally
from tests import factories
from tests.hq.helpers import check_in, family

PATH = "/api/v1/occupancy"


def _age(db: Any, shelter_id: int, minutes: int = 10) -> None:
    """Make a shelter's last change `minutes` old, as if nothing had happened there since."""
    then = datetime.now().astimezone() - timedelta(minutes=minutes)
    db.session.execute(update(Shelter).where(Shelter.id == shelter_id).values(updated_at=then))
    db.session.execute(update(ShelterTally).where(ShelterTally.shelter_id == shelter_id).values(updated_at=then))
    db.session.commit()


def _delta(client: FlaskClient, headers: dict[str, str], since: str) -> dict[str, Any]:
    answer = client.get(PATH, query_string={"since": since}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["delta"] is True and body["since"] == datetime.fromisoformat(since).isoformat()
    return body


def _merged(full: dict[str, Any], delta: dict[str, Any]) -> dict[int, dict[str, Any]]:
    rows = {row["id"]: row for row in full["shelters"]}
    rows.update({row["id"]: row for row in delta["shelters"]})
    for closed in delta["closed_ids"]:
        rows.pop(closed, None)
    return rows


def test_a_delta_holds_only_what_changed_and_merges_into_the_full_answer(client: FlaskClient, db: Any) -> None:
    quiet, busy, closing = (factories.shelter(capacity=100) for _ in range(3))
    hq = factories.bearer(factories.account(Role.HQ))
    check_in(client, hq, quiet.id, family(2))
    check_in(client, hq, busy.id, family(1))
    for shelter in (quiet, busy, closing):
        _age(db, shelter.id)
    full = client.get(PATH, headers=hq).get_json()
    assert "delta" not in full and len(full["shelters"]) == 3
    check_in(client, hq, busy.id, family(3))
    assert client.patch(f"/api/v1/shelters/{closing.id}", json={"status": "closed"}, headers=hq).status_code == 200
    delta = _delta(client, hq, full["generated_at"])
    assert [row["id"] for row in delta["shelters"]] == [busy.id], "the quiet shelter is not sent again"
    assert delta["closed_ids"] == [closing.id]
    assert delta["totals"]["occupancy"] == 6 and delta["totals"]["open_shelters"] == 2, "totals in full"
    assert delta["incident_id"] == full["incident_id"] is not None
    now = client.get(PATH, headers=hq).get_json()
    assert _merged(full, delta) == {row["id"]: row for row in now["shelters"]}


def test_a_change_just_before_the_last_answer_is_sent_again(client: FlaskClient, db: Any) -> None:
    """Stamped by an application server's clock before its commit: a change may become visible
    only after the answer that its stamp precedes. The overlap sends it again."""
    shelter = factories.shelter(capacity=100)
    hq = factories.bearer(factories.account(Role.HQ))
    full = client.get(PATH, headers=hq).get_json()
    late = datetime.fromisoformat(full["generated_at"]) - timedelta(seconds=20)
    check_in(client, hq, shelter.id, family(2))
    db.session.execute(update(ShelterTally).where(ShelterTally.shelter_id == shelter.id).values(updated_at=late))
    db.session.commit()
    delta = _delta(client, hq, full["generated_at"])
    assert [(row["id"], row["occupancy"]) for row in delta["shelters"]] == [(shelter.id, 2)]


def test_an_unchanged_delta_poll_is_a_304(client: FlaskClient, db: Any) -> None:
    factories.shelter(capacity=100)
    hq = factories.bearer(factories.account(Role.HQ))
    first = client.get(PATH, headers=hq)
    again = client.get(PATH, query_string={"since": first.get_json()["generated_at"]},
                       headers={**hq, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_a_since_without_a_utc_offset_or_not_a_time_is_a_422(client: FlaskClient, db: Any) -> None:
    hq = factories.bearer(factories.account(Role.HQ))
    for since in ("2026-12-03T12:00:00", "yesterday", "2026-13-40T00:00:00+00:00"):
        answer = client.get(PATH, query_string={"since": since}, headers=hq)
        assert answer.status_code == 422, since
        assert "since" in str(answer.get_json()["error"]["fields"])
