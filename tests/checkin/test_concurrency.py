"""Twenty desks at once, replaying each other's requests: the database keeps every count exact."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from flask.testing import FlaskClient
from sqlalchemy import func, select

from evac.accounts.models import Role
from evac.checkin.models import ClientRequest
from evac.common.vocab import StayStatus
from evac.extensions import db as _db
from evac.outbox.models import OutboxEvent
from evac.people.models import Person
from evac.stays.models import Stay
from tests import factories

PERSONS = 200
THREADS = 20


def test_concurrent_checkins_and_replays_keep_every_invariant(app, client: FlaskClient, db) -> None:
    rng = random.Random(7)
    shelters = [factories.shelter(capacity=1000) for _ in range(3)]
    headers = factories.bearer(factories.account(Role.HQ))
    rows = [{"family_name": "試験", "given_name": f"{i}", "family_name_kana": "シケン", "given_name_kana": "テスト",
             "name_key": f"試験{i}", "kana_key": "シケンテスト", "sex": "other", "source": "demo", "needs": 0,
             "pets": 0, "consent_relatives": False, "consent_acquaintances": False, "consent_public": False}
            for i in range(PERSONS)]
    db.session.execute(Person.__table__.insert(), rows)
    db.session.commit()
    person_ids = db.session.scalars(select(Person.id)).all()

    # Each person gets two requests (to random shelters, the second maybe a transfer); every
    # request is sent three times by different desks at about the same moment.
    requests = []
    for pid in person_ids:
        for _ in range(2):
            requests.append({"client_id": str(uuid.uuid4()), "person_id": pid,
                             "shelter_id": rng.choice(shelters).id, "transfer": rng.random() < 0.5})
    sends = [r for r in requests for _ in range(3)]
    rng.shuffle(sends)

    def send(body: dict) -> tuple[str, int]:
        response = client.post("/api/v1/checkins", json=body, headers=headers)
        return body["client_id"], response.status_code

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(send, sends))

    codes = Counter(code for _, code in results)
    assert set(codes) <= {200, 201, 409}, codes
    # Replays of one client id always get the same answer class (first 201 → later 200).
    by_client: dict[str, list[int]] = {}
    for client_id, code in results:
        by_client.setdefault(client_id, []).append(code)
    for client_id, seen in by_client.items():
        assert seen.count(201) <= 1, (client_id, seen)

    _db.session.rollback()
    open_per_person = db.session.execute(
        select(Stay.person_id, func.count()).where(Stay.checked_out_at.is_(None)).group_by(Stay.person_id)).all()
    assert open_per_person and max(n for _, n in open_per_person) == 1
    stays = db.session.scalar(select(func.count()).select_from(Stay))
    events = db.session.scalar(select(func.count()).select_from(OutboxEvent))
    assert events == stays  # one checkin or transfer event per stay opened, no more, no less
    assert db.session.scalar(select(func.count()).select_from(ClientRequest)) == codes[201] + sum(
        1 for seen in by_client.values() if 201 not in seen and 200 in seen and seen.count(200) == 3)

    api = client.get("/api/v1/shelters", headers=headers).get_json()["items"]
    for item in api:
        present = db.session.scalar(select(func.count()).select_from(Stay).where(
            Stay.shelter_id == item["id"], Stay.checked_out_at.is_(None),
            Stay.status.in_([StayStatus.PRESENT, StayStatus.OUTING])))
        assert item["occupancy"] == present
    assert sum(item["occupancy"] for item in api) == len(open_per_person)
