"""Issuing cards and refusing forged, altered, revoked, unknown and malformed ones, each audited."""

from __future__ import annotations

import base64

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.cards import service as cards
from evac.cards import tokens
from evac.cards.models import Card
from evac.stays.models import Stay
from tests import factories
from tests.checkin.helpers import post_checkin


@pytest.fixture
def desk(db):
    shelter = factories.shelter()
    return {"shelter": shelter, "headers": factories.bearer(factories.account(Role.STAFF, shelters=[shelter]))}


def test_new_card_revokes_the_old_one(db) -> None:
    person = factories.person()
    first, _ = cards.issue_card(person.id)
    second, payload = cards.issue_card(person.id)
    db.session.refresh(first)
    assert first.revoked_at is not None and second.revoked_at is None and first.serial != second.serial
    assert cards.resolve(payload).person_id == person.id


def _refusal(client, desk, payload: str):
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, qr=payload)
    return response.status_code, response.get_json()["error"]["code"]


def test_bad_cards_do_not_tell_which_serials_exist_and_the_audit_keeps_each_kind(client: FlaskClient, db, desk) -> None:
    person = factories.person()
    old, old_payload = cards.issue_card(person.id)
    card, payload = cards.issue_card(person.id)
    raw = bytearray(base64.b32decode(payload[4:] + "======"))
    raw[-1] ^= 0x01  # flip a bit of the MAC of a real card
    altered = "EV1:" + tokens.encode_raw(bytes(raw))
    forged = tokens.encode(b"a guessed key", 999, 123456)
    unknown = tokens.encode(cards.card_key(), person.id, 4242)
    results = {name: _refusal(client, desk, p) for name, p in [
        ("revoked", old_payload), ("altered", altered), ("forged", forged), ("unknown", unknown),
        ("malformed", "HELLO WORLD")]}
    assert results == {
        "revoked": (410, "card_revoked"), "altered": (403, "card_invalid"), "forged": (403, "card_invalid"),
        "unknown": (403, "card_invalid"), "malformed": (422, "card_malformed"),
    }
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "card.refused")
                                 .order_by(AuditEvent.id)).all()
    assert [e.detail["code"] for e in refused] == [
        "card_revoked", "card_invalid", "card_invalid", "card_invalid", "card_malformed"]
    assert [e.detail.get("kind") for e in refused] == [None, "card_altered", "card_forged", "card_unknown", None]
    assert all(e.outcome == "refused" and e.shelter_id == desk["shelter"].id and e.account_id for e in refused)
    assert db.session.scalars(select(Stay)).all() == []


def test_fallback_code_checks_in_like_the_qr(client: FlaskClient, db, desk) -> None:
    person = factories.person()
    card, _ = cards.issue_card(person.id)
    response = post_checkin(client, desk["headers"], shelter_id=desk["shelter"].id, qr=cards.fallback_for(card))
    assert response.status_code == 201 and response.get_json()["stays"][0]["person_id"] == person.id


def test_cli_cards_token_prints_only_a_verifying_payload(runner, db) -> None:
    person = factories.person()
    result = runner.invoke(args=["cards", "token", str(person.id)])
    assert result.exit_code == 0, result.output
    payload = result.output.strip()
    assert result.output == payload + "\n" and payload.startswith("EV1:")
    assert cards.resolve(payload).person_id == person.id
    assert db.session.scalars(select(Card)).one().person_id == person.id


def test_cli_cards_token_for_unknown_person(runner, db) -> None:
    result = runner.invoke(args=["cards", "token", "999"])
    assert result.exit_code == 1
