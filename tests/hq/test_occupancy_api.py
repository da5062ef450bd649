"""GET /api/v1/occupancy and its trend: shape, counts after every kind of stay change, roles."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from evac.accounts.models import Role
from evac.common.db import now_utc
from evac.shelters.models import ShelterStatus
from evac.stays.models import OccupancyHour
from tests import factories
from tests.hq.helpers import ALLERGY, ELDERLY, INFANT, check_in, check_out, family


def _by_id(body: dict) -> dict[int, dict]:
    return {s["id"]: s for s in body["shelters"]}


def test_summary_counts_every_kind_of_change(client: FlaskClient, db) -> None:
    a = factories.shelter(capacity=10, municipality_name="精華町")
    b = factories.shelter(capacity=None, status=ShelterStatus.FULL)
    closed = factories.shelter(status=ShelterStatus.CLOSED)
    headers = factories.bearer(factories.account(Role.HQ))
    smiths = family(3, needs=[ELDERLY, INFANT | ALLERGY, 0], pets=2)
    jones = family(2)
    alone = family(1, needs=[ELDERLY])
    check_in(client, headers, a.id, smiths)
    check_in(client, headers, a.id, jones)
    check_in(client, headers, b.id, alone)
    check_out(client, headers, [jones[0]], reason="outing")  # an outing keeps the place
    check_out(client, headers, [jones[1]], reason="at_home")  # at home: registered, not sleeping there
    check_out(client, headers, [smiths[2]], reason="transfer", to_shelter_id=b.id)

    body = client.get("/api/v1/occupancy", headers=headers).get_json()
    shelters = _by_id(body)
    assert set(shelters) == {a.id, b.id} and closed.id not in shelters
    sa_, sb = shelters[a.id], shelters[b.id]
    assert (sa_["occupancy"], sa_["households"], sa_["at_home"], sa_["in_car"]) == (3, 2, 1, 0)
    assert sa_["needs"]["elderly"] == 1 and sa_["needs"]["infant"] == 1 and sa_["needs"]["allergy"] == 1
    assert sa_["pets"] == 2 and sa_["capacity"] == 10 and sa_["fill"] == 0.3 and sa_["updated_at"]
    assert (sb["occupancy"], sb["households"], sb["capacity"], sb["fill"]) == (2, 2, None, None)
    totals = body["totals"]
    assert totals["open_shelters"] == 2 and totals["occupancy"] == 5 and totals["households"] == 4
    assert totals["capacity"] == 10 and totals["capacity_unknown"] == 1 and totals["full"] == 1
    assert totals["needs"]["elderly"] == 2 and totals["at_home"] == 1

    check_out(client, headers, smiths[:2])
    check_out(client, headers, [jones[0]], reason="return")
    shelters = _by_id(client.get("/api/v1/occupancy", headers=headers).get_json())
    assert (shelters[a.id]["occupancy"], shelters[a.id]["households"]) == (1, 1)
    assert shelters[a.id]["needs"]["elderly"] == 0 and shelters[a.id]["pets"] == 0


def test_only_hq_and_admin(client: FlaskClient, db) -> None:
    shelter = factories.shelter()
    staff = factories.bearer(factories.account(Role.STAFF, shelters=[shelter]))
    admin = factories.bearer(factories.account(Role.ADMIN))
    assert client.get("/api/v1/occupancy").status_code == 401
    denied = client.get("/api/v1/occupancy", headers=staff)
    assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/v1/occupancy/trend", headers=staff).status_code == 403
    assert client.get("/api/v1/occupancy", headers=admin).status_code == 200


def test_trend_walks_back_through_the_hours(client: FlaskClient, db) -> None:
    shelter = factories.shelter(capacity=50)
    headers = factories.bearer(factories.account(Role.HQ))
    check_in(client, headers, shelter.id, family(4))
    # Two hours ago the shelter went from 0 to 6, an hour ago down to 4 (as if recorded then).
    hour = now_utc().replace(minute=0, second=0, microsecond=0)
    db.session.add_all([
        OccupancyHour(incident_id=factories.incident().id, shelter_id=shelter.id, hour=hour - timedelta(hours=2),
                      opening=0, closing=6),
        OccupancyHour(incident_id=factories.incident().id, shelter_id=shelter.id, hour=hour - timedelta(hours=1),
                      opening=6, closing=4),
    ])
    row = db.session.scalars(select(OccupancyHour).where(OccupancyHour.hour == hour)).one()
    row.opening, row.closing = 4, 8  # and this hour from 4 to 8, which is the counter's value
    db.session.commit()
    from evac.stays.models import ShelterTally

    db.session.get(ShelterTally, shelter.id).occupancy = 8
    db.session.commit()

    for path in (f"/api/v1/occupancy/trend?shelter_id={shelter.id}", "/api/v1/occupancy/trend"):
        body = client.get(path, headers=headers).get_json()
        values = [p["occupancy"] for p in body["points"]]
        assert len(values) == 24 and values[-3:] == [6, 4, 8] and set(values[:-3]) == {0}
        assert body["start"] == 0
    assert client.get("/api/v1/occupancy/trend?shelter_id=999999", headers=headers).status_code == 404


def test_patch_from_hq_is_reflected_and_audited(client: FlaskClient, db) -> None:
    shelter = factories.shelter(status=ShelterStatus.CLOSED, capacity=None)
    factories.incident()
    headers = factories.bearer(factories.account(Role.HQ))
    found = client.get("/api/v1/hq/shelters?q=テスト避難所&status=closed", headers=headers).get_json()["items"]
    assert [s["id"] for s in found] == [shelter.id]
    assert client.patch(f"/api/v1/shelters/{shelter.id}", json={"status": "open", "capacity": 40},
                        headers=headers).status_code == 200
    body = client.get("/api/v1/occupancy", headers=headers).get_json()
    assert _by_id(body)[shelter.id]["capacity"] == 40 and _by_id(body)[shelter.id]["status"] == "open"


def test_sync_state_per_shelter(app, client: FlaskClient, db) -> None:
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.HQ))
    check_in(client, headers, shelter.id, family(2))
    off = client.get(f"/api/v1/occupancy/sync?shelter_id={shelter.id}", headers=headers).get_json()
    assert off["shelters"][str(shelter.id)]["state"] == "off"
    app.config["EVAC_SYNC_CONNECTOR"] = "http"
    waiting = client.get(f"/api/v1/occupancy/sync?shelter_id={shelter.id}", headers=headers).get_json()
    assert waiting["shelters"][str(shelter.id)] == {"state": "pending", "pending": 2}
