"""An undone desk operation reaches the receiver as a `correction` it can apply (real HTTP, real sender)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask.testing import FlaskClient

from tests.checkin.helpers import post_checkin, post_checkout
from tests.sync.conftest import ReceiverProcess, Senders, add_persons


def _undo(client: FlaskClient, headers: dict[str, str], operation_id: str) -> None:
    response = client.post("/api/v1/undo", json={"client_id": str(uuid.uuid4()), "operation_id": operation_id},
                           headers=headers)
    assert response.status_code == 201, response.get_json()


def test_the_receiver_accepts_and_applies_corrections(client: FlaskClient, db: Any, desk: dict[str, Any],
                                                      receiver: ReceiverProcess, senders: Senders) -> None:
    receiver.start()
    shelter = desk["shelters"][0]
    headers = desk["headers"]
    mistaken, stays, left = add_persons(3)
    checkin = str(uuid.uuid4())
    assert post_checkin(client, headers, client_id=checkin, shelter_id=shelter.id, person_id=mistaken).status_code == 201
    for pid in (stays, left):
        assert post_checkin(client, headers, shelter_id=shelter.id, person_id=pid).status_code == 201
    checkout = str(uuid.uuid4())
    assert post_checkout(client, headers, client_id=checkout, person_id=left, reason="left").status_code == 201
    _undo(client, headers, checkin)
    _undo(client, headers, checkout)

    proc = senders.start(receiver.url, "--max-seconds", "20", command="once")
    assert proc.wait(timeout=60) == 0, senders.log(0)

    rows = receiver.query("SELECT type, person_id, body FROM event ORDER BY seq")
    corrections = [(pid, json.loads(body)) for kind, pid, body in rows if kind == "correction"]
    assert [pid for pid, _body in corrections] == [mistaken, left]
    voided, restored = (body["stay"]["correction"] for _pid, body in corrections)
    checkin_event = next(json.loads(b)["event_id"] for k, p, b in rows if k == "checkin" and p == mistaken)
    checkout_event = next(json.loads(b)["event_id"] for k, p, b in rows if k == "checkout" and p == left)
    assert voided["action"] == "void" and voided["cancels"] == [checkin_event]
    assert restored["action"] == "restore" and restored["cancels"] == [checkout_event]
    assert restored["restored_status"] == "present"
    # What the far end now holds: no stay at all for the mistaken check-in (never a 退所), the
    # undone check-out open again.
    held = {pid: (status, bool(is_open)) for pid, status, is_open in
            receiver.query("SELECT person_id, status, open FROM stay")}
    assert held == {stays: ("present", True), left: ("present", True)}
