"""A desk screen at a shelter, a staff account working there, and helpers to pair readers and post reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from evac.accounts.models import Role
from evac.shelters.models import Shelter
from tests import factories

CARD = {"name": "精華　花子", "address": "京都府相楽郡精華町光台７丁目４３番地", "birth_date": "19800102", "sex": "2"}


@dataclass
class Desk:
    """One desk screen: its shelter, the staff's headers, its random id."""

    shelter: Shelter
    headers: dict[str, str]
    desk_id: str
    client: FlaskClient

    def code(self, **extra: Any) -> str:
        """Ask for a pairing code, as the desk page does."""
        response = self.client.post("/api/v1/readers/pairings", headers=self.headers,
                                    json={"shelter_id": self.shelter.id, "desk_id": self.desk_id, **extra})
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["code"])

    def pair(self, name: str = "受付1") -> dict[str, Any]:
        """A reader paired with this desk screen: the pairing answer."""
        response = self.client.post("/api/v1/readers/pair", json={"code": self.code(), "name": name})
        assert response.status_code == 201, response.get_json()
        return dict(response.get_json())

    def poll(self, *ack: str, headers: dict[str, str] | None = None) -> Any:
        """The desk screen's poll."""
        return self.client.post("/api/v1/readers/desk-reads", headers=headers or self.headers,
                                json={"shelter_id": self.shelter.id, "desk_id": self.desk_id, "ack": list(ack)})


def post_read(client: FlaskClient, token: str, read_id: str | None = None, **read: Any) -> Any:
    """POST one read as evac-reader does (a My Number card by default)."""
    body = {"read_id": read_id or str(uuid.uuid4()), **(read or {"type": "mynumber", "card": CARD})}
    return client.post("/api/v1/readers/reads", json=body, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def desk(client: FlaskClient, db: Any) -> Desk:
    shelter = factories.shelter(name="精華町立東光小学校")
    staff = factories.account(Role.STAFF, shelters=[shelter])
    return Desk(shelter, factories.bearer(staff), str(uuid.uuid4()), client)

