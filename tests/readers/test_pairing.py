"""Pairing a reader with a desk screen: the code's shape, single use, expiry, replacement, throttling."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from evac.accounts.models import AuthState, Role
from evac.audit import service as audit
from evac.audit.journal import existing_journal
from evac.audit.models import AuditEvent
from evac.common.db import now_utc
from evac.readers.models import CardReader, ReaderPairing
from evac.readers.service import CODE_ALPHABET, normalise_code
from tests import factories
from tests.readers.conftest import Desk

CODE = re.compile(rf"^[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}$")


def _pair(desk: Desk, code: str, name: str = "受付1") -> Any:
    return desk.client.post("/api/v1/readers/pair", json={"code": code, "name": name})


def _epoch(db: Any) -> int:
    db.session.rollback()
    return int(db.session.scalar(select(AuthState.epoch).where(AuthState.id == 1)) or 0)


def test_a_code_is_grouped_unambiguous_and_stored_only_as_a_keyed_hash(desk: Desk, db: Any) -> None:
    response = desk.client.post("/api/v1/readers/pairings", headers=desk.headers,
                                json={"shelter_id": desk.shelter.id, "desk_id": desk.desk_id, "desk_label": "受付1"})
    assert response.status_code == 201
    body = response.get_json()
    assert CODE.match(body["code"]), body["code"]
    assert not set(body["code"]) & set("01OILU")
    assert body["expires_in"] == 600 and body["desk_id"] == desk.desk_id and body["shelter_id"] == desk.shelter.id
    stored = db.session.scalars(select(ReaderPairing)).one()
    assert body["code"].replace("-", "") not in stored.code_hash and len(stored.code_hash) == 64
    assert (stored.desk_id, stored.desk_label) == (desk.desk_id, "受付1")
    assert timedelta(minutes=9) < stored.expires_at - now_utc() <= timedelta(minutes=10)


@pytest.mark.parametrize("typed", [
    lambda c: c, lambda c: c.lower(), lambda c: c.replace("-", ""), lambda c: " " + c.lower().replace("-", " ") + " ",
    lambda c: c.translate(str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-",
                                        "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺー")),
])
def test_the_code_is_taken_in_any_case_with_or_without_the_dash(desk: Desk, db: Any, typed: Any) -> None:
    code = desk.code()
    response = _pair(desk, typed(code))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["token"].startswith("evr_") and body["shelter_id"] == desk.shelter.id
    assert body["shelter_name"] == "精華町立東光小学校"
    reader = db.session.get(CardReader, body["reader_id"])
    assert (reader.desk_id, reader.shelter_id, reader.name) == (desk.desk_id, desk.shelter.id, "受付1")
    assert body["token"] not in reader.token_hash and len(reader.token_hash) == 64


def test_a_code_pairs_one_reader_only(desk: Desk, db: Any) -> None:
    code = desk.code()
    epoch = _epoch(db)
    assert _pair(desk, code).status_code == 201
    assert _epoch(db) > epoch, "a new credential moves the credentials epoch"
    again = _pair(desk, code, name="別のPC")
    assert again.status_code == 410
    assert again.get_json()["error"]["code"] == "pairing_code_used"
    assert db.session.scalars(select(CardReader)).all().__len__() == 1


def test_two_readers_typing_the_same_code_at_once_get_one_pairing(desk: Desk, db: Any, app: Flask) -> None:
    code = desk.code()
    answers: list[int] = []
    barrier = threading.Barrier(4)

    def attempt(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        answers.append(client.post("/api/v1/readers/pair", json={"code": code, "name": f"PC{n}"}).status_code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    audit.flush()  # the threads' refusal audits, stored while the database is there
    assert sorted(answers) == [201, 410, 410, 410]
    db.session.rollback()
    assert len(db.session.scalars(select(CardReader)).all()) == 1


def test_an_expired_code_is_gone(desk: Desk, db: Any) -> None:
    code = desk.code()
    db.session.execute(update(ReaderPairing).values(expires_at=now_utc() - timedelta(seconds=1)))
    db.session.commit()
    response = _pair(desk, code)
    assert response.status_code == 410 and response.get_json()["error"]["code"] == "pairing_code_expired"
    assert "有効期限" in response.get_json()["error"]["message"]
    assert db.session.scalars(select(CardReader)).all() == []


def test_a_new_code_replaces_the_one_shown_before_on_that_desk_screen(desk: Desk, db: Any) -> None:
    first = desk.code()
    second = desk.code()
    assert _pair(desk, first).status_code == 410
    assert _pair(desk, second).status_code == 201
    # Another desk screen's code is its own.
    other = Desk(desk.shelter, desk.headers, str(uuid.uuid4()), desk.client)
    theirs = other.code()
    desk.code()
    assert _pair(other, theirs).status_code == 201


@pytest.mark.parametrize("code", ["ZZZZ-ZZZZ", "K7Q4-PX2", "K7Q4-PX2MM", "K0Q4-PX2M", "", "KQ4-PX2M-"])
def test_unknown_and_malformed_codes_are_404_and_audited(desk: Desk, db: Any, code: str) -> None:
    desk.code()
    response = _pair(desk, code)
    if code == "":
        assert response.status_code == 422  # the schema wants a code at all
        return
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "pairing_code_unknown"
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reader.pair")).all()
    assert [a.outcome for a in refused] == ["refused"]


def test_staff_get_codes_only_for_their_own_shelters(desk: Desk, db: Any) -> None:
    other = factories.shelter()
    response = desk.client.post("/api/v1/readers/pairings", headers=desk.headers,
                                json={"shelter_id": other.id, "desk_id": desk.desk_id})
    assert response.status_code == 403
    assert desk.client.post("/api/v1/readers/pairings", json={"shelter_id": other.id,
                                                              "desk_id": desk.desk_id}).status_code == 401
    hq = factories.bearer(factories.account(Role.HQ))
    assert desk.client.post("/api/v1/readers/pairings", headers=hq,
                            json={"shelter_id": other.id, "desk_id": desk.desk_id}).status_code == 201


def test_pairing_again_under_the_same_name_replaces_the_earlier_reader(desk: Desk, db: Any) -> None:
    first = desk.pair("東光小 受付1")
    other = desk.pair("東光小 受付2")
    again = desk.pair("東光小 受付1")
    db.session.rollback()
    active = {r.id for r in db.session.scalars(select(CardReader).where(CardReader.revoked_at.is_(None)))}
    assert active == {other["reader_id"], again["reader_id"]}
    assert first["reader_id"] not in active


def test_the_pairing_is_audited_with_ids_only(desk: Desk, db: Any) -> None:
    paired = desk.pair("東光小 受付1")
    events = {a.action: a for a in db.session.scalars(select(AuditEvent))}
    assert events["reader.pairing_code"].shelter_id == desk.shelter.id
    audit = events["reader.pair"]
    assert audit.subject_id == str(paired["reader_id"]) and audit.shelter_id == desk.shelter.id
    assert audit.account_id is not None, "the staff who showed the code"
    assert "東光小" not in str(audit.detail) and paired["token"] not in str(audit.detail)


def test_normalise_code() -> None:
    assert normalise_code("k7q4-px2m") == "K7Q4PX2M"
    assert normalise_code("K7Q4ーPX2M") == "K7Q4PX2M"
    assert normalise_code("K7Q4 PX2M") == "K7Q4PX2M"
    assert normalise_code("K1Q4-PX2M") is None  # 1 is not in the alphabet: it would be I or L
    assert normalise_code("K7Q4-PX2") is None


def test_wrong_codes_are_throttled_per_address_and_a_good_pairing_is_not_counted(app: Flask, db: Any) -> None:
    from evac import create_app
    from tests.conftest import IsolatedClient

    limited = create_app({**{k: app.config[k] for k in (
        "SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "CARD_KEY", "EVAC_STRICT_UNITS", "EVAC_AUDIT_JOURNAL_DIR")},
        "TESTING": True, "EVAC_SECRETS_PERSISTENT": True, "RATELIMIT_ENABLED": True,
        "EVAC_READER_PAIR_RATE_LIMIT": "3 per minute"})
    limited.test_client_class = IsolatedClient
    client = limited.test_client()
    shelter = factories.shelter()
    headers = factories.bearer(factories.account(Role.STAFF, shelters=[shelter]))
    try:
        desk = Desk(shelter, headers, str(uuid.uuid4()), client)
        for n in range(4):  # successful pairings never count
            assert desk.pair(f"PC{n}")["token"]
        code = desk.code()
        wrong = [client.post("/api/v1/readers/pair", json={"code": "ZZZZ-ZZZZ"}).status_code for _ in range(3)]
        assert wrong == [404, 404, 404]
        blocked = client.post("/api/v1/readers/pair", json={"code": code})
        assert blocked.status_code == 429 and blocked.get_json()["error"]["code"] == "too_many_requests"
        # Another address is not held up by this one's guesses.
        other = client.post("/api/v1/readers/pair", json={"code": code}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert other.status_code == 201
    finally:
        with limited.app_context():  # its own engine and audit journal: closed now, not at exit
            journal = existing_journal(limited)
            if journal is not None:
                journal.close()
            db.engine.dispose()
