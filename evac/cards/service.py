"""Issuing, revoking and resolving QR cards and IC cards."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from evac.audit import service as audit
from evac.cards import tokens
from evac.cards.models import Card, ICCard
from evac.common.db import now_utc
from evac.common.errors import Conflict, DomainError, NotFound, ValidationFailed
from evac.extensions import db
from evac.people.models import Person


class CardMalformed(DomainError):
    """The scanned text is not an evac card payload."""

    status = 422
    code = "card_malformed"


class CardForged(DomainError):
    """The payload's signature does not verify and names no real card."""

    status = 403
    code = "card_forged"


class CardAltered(DomainError):
    """The payload names a real card, but its signature does not verify: it was changed."""

    status = 403
    code = "card_altered"


class CardUnknown(DomainError):
    """A correctly signed payload for a card this database does not hold."""

    status = 404
    code = "card_unknown"


class CardRevoked(DomainError):
    """The card was replaced by a newer one (lost, reissued)."""

    status = 410
    code = "card_revoked"


def card_key() -> bytes:
    """The HMAC key of the cards (EVAC_CARD_KEY)."""
    return str(current_app.config["CARD_KEY"]).encode("utf-8")


def issue_card(person_id: int, *, commit: bool = True) -> tuple[Card, str]:
    """Issue a new card for the person, revoking any earlier one; returns the card and its payload."""
    person = db.session.get(Person, person_id)
    if person is None:
        raise NotFound(_("該当する人が見つかりません"), person_id=person_id)
    db.session.execute(
        update(Card).where(Card.person_id == person_id, Card.revoked_at.is_(None)).values(revoked_at=now_utc())
    )
    serial = _new_serial()
    card = Card(person_id=person_id, serial=serial)
    db.session.add(card)
    audit.record("card.issue", subject_type="person", subject_id=person_id, detail={"serial": serial})
    if commit:
        db.session.commit()
    return card, tokens.encode(card_key(), person_id, serial)


def _new_serial() -> int:
    """A random 32-bit serial not yet used: unguessable, and no counter to race on."""
    while True:
        serial = secrets.randbelow(tokens.MAX_ID) + 1
        if db.session.scalar(select(Card.id).where(Card.serial == serial)) is None:
            return serial


def payload_for(card: Card) -> str:
    """The QR payload of an existing card."""
    return tokens.encode(card_key(), card.person_id, card.serial)


def fallback_for(card: Card) -> str:
    """The human-readable code printed under the card's QR."""
    return tokens.fallback_code(card_key(), card.serial)


def _refuse(error: DomainError, *, shelter_id: int | None, detail: dict[str, object]) -> DomainError:
    # The refusal is audited in its own transaction: the request's own work rolls back.
    audit.record_now("card.refused", outcome="refused", subject_type="card", shelter_id=shelter_id,
                     detail={"code": error.code, **detail})
    return error


def resolve(payload: str, *, shelter_id: int | None = None) -> Person:
    """The person a scanned QR payload or typed fallback code names; refusals are audited."""
    key = card_key()
    # Nothing derived from a refused payload is kept but its length: it might be anything typed.
    shape = {"length": len(payload)}
    try:
        if tokens.looks_like_fallback(payload):
            serial = tokens.decode_fallback(key, payload)
            card = db.session.scalar(select(Card).where(Card.serial == serial))
        else:
            ref = tokens.decode(key, payload)
            card = db.session.scalar(select(Card).where(Card.serial == ref.serial))
            if card is not None and card.person_id != ref.person_id:
                card = None
    except tokens.TokenMalformed:
        raise _refuse(CardMalformed(_("カードのコードを読み取れません。もう一度読み取るか、手入力してください")),
                      shelter_id=shelter_id, detail=shape) from None
    except tokens.TokenSignatureInvalid as exc:
        genuine = db.session.scalar(select(Card.id).where(Card.serial == exc.serial)) is not None
        error: DomainError = (
            CardAltered(_("このカードは改変されています。本人確認のうえ、カードを再発行してください"))
            if genuine else CardForged(_("このカードは無効です（偽造の可能性）。本人確認をしてください"))
        )
        raise _refuse(error, shelter_id=shelter_id,
                      detail={**shape, "serial": exc.serial if genuine else None}) from None
    if card is None:
        raise _refuse(CardUnknown(_("このカードは登録されていません。避難者カードで受付してください")),
                      shelter_id=shelter_id, detail=shape)
    if card.revoked_at is not None:
        raise _refuse(CardRevoked(_("このカードは再発行により無効になっています。新しいカードか本人確認で受付してください")),
                      shelter_id=shelter_id, detail={"serial": card.serial, "person_id": card.person_id})
    person = db.session.get(Person, card.person_id)
    assert person is not None  # the foreign key guarantees it
    return person


def ic_uid_hash(uid: str) -> str:
    """Keyed hash of an IC card UID (hex, any case or separators); the UID itself is never stored."""
    text = "".join(c for c in unicodedata.normalize("NFKC", uid).upper() if c.isalnum())
    if not (8 <= len(text) <= 32) or any(c not in "0123456789ABCDEF" for c in text):
        raise ValidationFailed(_("ICカードのIDは16進数で入力してください"), fields={"ic_uid": "hex, 8-32 digits"})
    return hmac.new(card_key(), b"evac-ic-v1|" + text.encode("ascii"), hashlib.sha256).hexdigest()


def person_for_ic(uid: str) -> Person | None:
    """The person an IC card is linked to, or None at its first use."""
    link = db.session.scalar(
        select(ICCard).where(ICCard.uid_hash == ic_uid_hash(uid), ICCard.revoked_at.is_(None))
    )
    return None if link is None else db.session.get(Person, link.person_id)


def link_ic(uid: str, person_id: int, *, staff_id: int | None) -> ICCard:
    """Link an IC card to a person (first use at the desk). Joins the caller's transaction."""
    uid_hash = ic_uid_hash(uid)
    existing = db.session.scalar(select(ICCard).where(ICCard.uid_hash == uid_hash))
    if existing is not None and existing.revoked_at is None and existing.person_id != person_id:
        raise Conflict(_("このICカードは別の人に登録されています"), fields={"ic_uid": "linked to another person"})
    if existing is not None:
        existing.person_id, existing.revoked_at, existing.linked_by_id = person_id, None, staff_id
        return existing
    link = ICCard(person_id=person_id, uid_hash=uid_hash, linked_by_id=staff_id)
    db.session.add(link)
    audit.record("ic.link", subject_type="person", subject_id=person_id)
    return link
