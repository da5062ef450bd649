"""Helpers for the desk API tests."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient

from evac.cards import service as cards


def post_checkin(client: FlaskClient, headers: dict[str, str], **body: Any):
    body.setdefault("client_id", str(uuid.uuid4()))
    return client.post("/api/v1/checkins", json=body, headers=headers)


def post_checkout(client: FlaskClient, headers: dict[str, str], **body: Any):
    body.setdefault("client_id", str(uuid.uuid4()))
    return client.post("/api/v1/checkouts", json=body, headers=headers)


def qr_for(person_id: int) -> str:
    """Issue a card and return its QR payload."""
    return cards.issue_card(person_id)[1]
