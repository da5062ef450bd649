"""Issuing, revoking and resolving QR cards and IC cards."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, case, func, insert, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from evac.accounts import throttle
from evac.audit import service as audit
from evac.cards import tokens
from evac.cards.models import Card, ICCard
from evac.common.db import WRITE, affected, current_unit, now_utc, read_only, unit, writing
from evac.common.errors import Conflict, DomainError, NotFound, ValidationFailed
from evac.common.statements import run
from evac.common.vocab import TOKYO
from evac.extensions import db
from evac.people.models import Household, Person

if TYPE_CHECKING:
    from printables.cards import CardData


class CardMalformed(DomainError):
    """The scanned text is not an evac card payload."""

    status = 422
    code = "card_malformed"


class CardInvalid(DomainError):
    """Not a card of this town: forged, altered or unknown here — one answer for all three.

    Which of them it was (a real serial with a wrong code, say) would tell a guesser that the
    serial exists; only the audit keeps it (`detail.kind`: card_forged, card_altered, card_unknown).
    """

    status = 403
    code = "card_invalid"


class CardRevoked(DomainError):
    """The card was replaced by a newer one (lost, reissued)."""

    status = 410
    code = "card_revoked"


def card_key() -> bytes:
    """The HMAC key of the cards (EVAC_CARD_KEY)."""
    return str(current_app.config["CARD_KEY"]).encode("utf-8")


@writing
def issue_card(person_id: int) -> tuple[Card, str]:
    """Issue a new card for the person, revoking any earlier one; returns the card and its payload."""
    if db.session.scalar(select(Person.id).where(Person.id == person_id)) is None:
        raise NotFound(_("該当する人が見つかりません"), person_id=person_id)
    db.session.execute(
        update(Card).where(Card.person_id == person_id, Card.revoked_at.is_(None)).values(revoked_at=now_utc())
    )
    serial = _new_serial()
    card = Card(person_id=person_id, serial=serial, issued_at=now_utc())
    db.session.add(card)
    db.session.flush()
    audit.record("card.issue", subject_type="person", subject_id=person_id, detail={"serial": serial})
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


def _refuse(error: DomainError, *, shelter_id: int | None, detail: dict[str, Any]) -> DomainError:
    # Audited whatever becomes of the unit: the request's own work rolls back.
    audit.refused("card.refused", subject_type="card", shelter_id=shelter_id,
                  detail={"code": error.code, **detail})
    return error


def _invalid(kind: str, *, shelter_id: int | None, detail: dict[str, Any], keys: list[throttle.Key]) -> DomainError:
    throttle.count_failure(keys)
    return _refuse(CardInvalid(_("このカードは使えません。本人確認のうえ、避難者カードで受付してください")),
                   shelter_id=shelter_id, detail={"kind": kind, **detail})


def guess_keys() -> list[throttle.Key]:
    """What a wrong card code counts against: the account that scanned it and the address it came from."""
    config = current_app.config
    account = audit.actor_id()
    address = request.remote_addr if has_request_context() else None
    keys = [throttle.Key("card-address", address or "-", int(config["EVAC_CARD_MAX_FAILURES_PER_ADDRESS"]))]
    if account is not None:
        keys.insert(0, throttle.Key("card-account", str(account), int(config["EVAC_CARD_MAX_FAILURES"])))
    return keys


@dataclass(frozen=True)
class CardHolder:
    """Who a scanned card names: the person's id and household."""

    person_id: int
    household_id: int | None


_HOLDER = (select(Card.__table__.c.person_id, Card.__table__.c.serial, Card.__table__.c.revoked_at, Person.household_id)
           .join(Person, Person.id == Card.__table__.c.person_id).where(Card.__table__.c.serial == bindparam("p_serial")))


def resolve(payload: str, *, shelter_id: int | None = None) -> CardHolder:
    """The person a scanned QR payload or typed fallback code names; refusals are audited.

    Joins the caller's unit: the signature is checked first (no database), then one lookup.
    Codes that are not this town's (forged, altered, unknown) count as guesses; past the limit
    (per account and per address) every code is refused for a while with `TooManyAttempts`.
    """
    keys = guess_keys()
    throttle.refuse_if_limited(keys, _("無効なカードの読み取りが続いたため、しばらく読み取りを止めています。"
                                       "本部に連絡してください"))
    key = card_key()
    # Nothing derived from a refused payload is kept but its length: it might be anything typed.
    shape = {"length": len(payload)}
    card_table = Card.__table__
    try:
        if tokens.looks_like_fallback(payload):
            serial = tokens.decode_fallback(key, payload)
            row = run(_HOLDER, {"p_serial": serial}).first()
        else:
            ref = tokens.decode(key, payload)
            row = run(_HOLDER, {"p_serial": ref.serial}).first()
            if row is not None and row.person_id != ref.person_id:
                row = None
    except tokens.TokenMalformed:
        raise _refuse(CardMalformed(_("カードのコードを読み取れません。もう一度読み取るか、手入力してください")),
                      shelter_id=shelter_id, detail=shape) from None
    except tokens.TokenSignatureInvalid as exc:
        genuine = db.session.scalar(select(card_table.c.id).where(card_table.c.serial == exc.serial)) is not None
        raise _invalid("card_altered" if genuine else "card_forged", shelter_id=shelter_id, keys=keys,
                       detail={**shape, "serial": exc.serial if genuine else None}) from None
    if row is None:
        raise _invalid("card_unknown", shelter_id=shelter_id, detail=shape, keys=keys)
    if row.revoked_at is not None:
        raise _refuse(CardRevoked(_("このカードは再発行により無効になっています。新しいカードか本人確認で受付してください")),
                      shelter_id=shelter_id, detail={"serial": row.serial, "person_id": row.person_id})
    return CardHolder(row.person_id, row.household_id)


def ic_uid_hash(uid: str) -> str:
    """Keyed hash of an IC card UID (hex, any case or separators); the UID itself is never stored."""
    text = "".join(c for c in unicodedata.normalize("NFKC", uid).upper() if c.isalnum())
    if not (8 <= len(text) <= 32) or any(c not in "0123456789ABCDEF" for c in text):
        raise ValidationFailed(_("ICカードのIDは16進数で入力してください"), fields={"ic_uid": "hex, 8-32 digits"})
    return hmac.new(card_key(), b"evac-ic-v1|" + text.encode("ascii"), hashlib.sha256).hexdigest()


def person_for_ic(uid: str) -> CardHolder | None:
    """The person an IC card is linked to, or None at its first use (joins the caller's unit)."""
    row = db.session.execute(
        select(ICCard.person_id, Person.household_id).join(Person, Person.id == ICCard.person_id)
        .where(ICCard.uid_hash == ic_uid_hash(uid), ICCard.revoked_at.is_(None))).first()
    return None if row is None else CardHolder(row.person_id, row.household_id)


def link_ic(uid: str, person_id: int, *, staff_id: int | None, incident_id: int | None = None) -> None:
    """Link an IC card to a person (first use at the desk). Joins the caller's writing unit."""
    uid_hash = ic_uid_hash(uid)
    existing = db.session.scalar(select(ICCard).where(ICCard.uid_hash == uid_hash))
    if existing is not None and existing.revoked_at is None and existing.person_id != person_id:
        raise Conflict(_("このICカードは別の人に登録されています"), fields={"ic_uid": "linked to another person"})
    if existing is not None:
        existing.person_id, existing.revoked_at, existing.linked_by_id = person_id, None, staff_id
        existing.incident_id = incident_id
    else:
        db.session.add(ICCard(person_id=person_id, uid_hash=uid_hash, linked_by_id=staff_id, linked_at=now_utc(),
                              incident_id=incident_id))
    db.session.flush()
    audit.record("ic.link", subject_type="person", subject_id=person_id)


# --- Printing cards ------------------------------------------------------------------------------

PRINT_PAGE = 1000  # persons read, issued and committed together
_ISSUE_RETRIES = 3


@dataclass(frozen=True)
class CardSelection:
    """Whose cards to print: everyone, or the union of districts, households (世帯番号) and persons."""

    everyone: bool = False
    districts: tuple[str, ...] = ()
    households: tuple[str, ...] = ()
    person_ids: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        """True if nobody was named at all."""
        return not (self.everyone or self.districts or self.households or self.person_ids)


@dataclass
class PrintTally:
    """What a printing run did to the cards, filled in as the cards are yielded."""

    printed: int = 0
    issued: int = 0  # new cards, including replacements
    revoked: int = 0  # active cards replaced (--reissue)
    reused: int = 0  # active cards printed again with their own payload


def _selection_filter(selection: CardSelection) -> Any:
    if selection.everyone:
        return None
    parts = []
    if selection.districts:
        parts.append(Household.district.in_(selection.districts))
    if selection.households:
        parts.append(Household.number.in_(selection.households))
    if selection.person_ids:
        parts.append(Person.id.in_(selection.person_ids))
    return or_(*parts)


@read_only
def check_selection(selection: CardSelection) -> None:
    """Refuse a selection that names nobody, or names districts, households or persons that do not exist."""
    if selection.empty:
        raise ValidationFailed(_("印刷する対象を指定してください（--all、--district、--household、--person）"))
    unknown: dict[str, list[Any]] = {}
    if selection.districts:
        known = set(db.session.scalars(select(Household.district).where(Household.district.in_(selection.districts))))
        unknown["district"] = [d for d in selection.districts if d not in known]
    if selection.households:
        known = set(db.session.scalars(select(Household.number).where(Household.number.in_(selection.households))))
        unknown["household"] = [h for h in selection.households if h not in known]
    if selection.person_ids:
        known_ids = set(db.session.scalars(select(Person.id).where(Person.id.in_(selection.person_ids))))
        unknown["person"] = [p for p in selection.person_ids if p not in known_ids]
    unknown = {k: v for k, v in unknown.items() if v}
    if unknown:
        raise NotFound(_("指定された地区・世帯・人が見つかりません: %(names)s",
                         names="; ".join(f"{k} {', '.join(map(str, v))}" for k, v in unknown.items())),
                       fields=unknown)


def _print_order() -> tuple[Any, ...]:
    """The order cards are handed out in: district, household number, person; people without a household last.

    Compared in code-point order on both databases (PostgreSQL's "C" collation) so that the
    keyset pagination below and the printed order are the same everywhere.
    """
    district: Any = func.coalesce(Household.district, "")
    number: Any = func.coalesce(Household.number, "")
    if current_unit().postgres:
        district, number = district.collate("C"), number.collate("C")
    return case((Person.household_id.is_(None), 1), else_=0), district, number, Person.id


@read_only
def count_for_printing(selection: CardSelection) -> int:
    """How many cards `selection` prints (for a progress bar)."""
    stmt = select(func.count()).select_from(Person).outerjoin(Household, Household.id == Person.household_id)
    condition = _selection_filter(selection)
    if condition is not None:
        stmt = stmt.where(condition)
    return int(db.session.scalar(stmt) or 0)


def _fresh_serials(count: int) -> list[int]:
    """`count` random serials unused so far, checked against the table in one query per round."""
    chosen: set[int] = set()
    while len(chosen) < count:
        candidates = {secrets.randbelow(tokens.MAX_ID) + 1 for _ in range(count - len(chosen))} - chosen
        taken = set(db.session.scalars(select(Card.serial).where(Card.serial.in_(candidates))))
        chosen |= candidates - taken
    return list(chosen)


def _print_page(selection: CardSelection, after: tuple[Any, ...] | None, reissue: bool, key: bytes,
                tally: PrintTally, page_size: int) -> tuple[list[CardData], tuple[Any, ...] | None]:
    """One page of persons in print order: issue the cards they need, commit, and describe them."""
    # Imported here, not at the top: the web processes load this module but never print.
    from printables.cards import CardData
    order = _print_order()
    stmt = (
        select(Person.id, Person.family_name, Person.given_name, Person.family_name_kana, Person.given_name_kana,
               Household.number, Household.district, Card.serial, Card.issued_at, *order)
        .outerjoin(Household, Household.id == Person.household_id)
        .outerjoin(Card, and_(Card.person_id == Person.id, Card.revoked_at.is_(None)))
        .order_by(*order)
        .limit(page_size)
    )
    condition = _selection_filter(selection)
    if condition is not None:
        stmt = stmt.where(condition)
    if after is not None:
        stmt = stmt.where(tuple_(*order) > tuple_(*after))
    rows = db.session.execute(stmt).all()
    if not rows:
        return [], None
    needing = [row.id for row in rows if reissue or row.serial is None]
    issued: dict[int, tuple[int, datetime]] = {}
    revoked = 0
    if needing:
        now = now_utc()
        if reissue:
            revoked = affected(db.session.execute(
                update(Card).where(Card.person_id.in_(needing), Card.revoked_at.is_(None)).values(revoked_at=now)
            ))
        serials = _fresh_serials(len(needing))
        db.session.execute(insert(Card), [{"person_id": pid, "serial": serial, "issued_at": now}
                                          for pid, serial in zip(needing, serials, strict=True)])
        issued = {pid: (serial, now) for pid, serial in zip(needing, serials, strict=True)}
        audit.record("card.issue", subject_type="person",
                     detail={"person_ids": needing, "serials": serials, "revoked": revoked, "bulk": True})
    audit.read("person.read", subject_type="card_print",
               detail={"person_ids": [row.id for row in rows], "purpose": "card.print"})
    tally.issued += len(issued)
    tally.revoked += revoked
    tally.reused += len(rows) - len(issued)
    cards = []
    for row in rows:
        serial, issued_at = issued.get(row.id, (row.serial, row.issued_at))
        cards.append(CardData(
            ref=str(row.id),
            name="\u3000".join(p for p in (row.family_name, row.given_name) if p),
            kana="\u3000".join(p for p in (row.family_name_kana, row.given_name_kana) if p),
            household_number=row.number or "",
            district=row.district or "",
            # What payload_for / fallback_for give, computed from the row (no Card objects loaded).
            payload=tokens.encode(key, row.id, serial),
            fallback_code=tokens.fallback_code(key, serial),
            issued_on=issued_at.astimezone(TOKYO).date(),
        ))
    last = rows[-1]
    return cards, tuple(last[-len(order):])


def cards_for_printing(selection: CardSelection, *, reissue: bool = False, tally: PrintTally | None = None,
                       page_size: int = PRINT_PAGE) -> Iterator[CardData]:
    """The cards of `selection`, in the order they are handed out, issuing cards as needed.

    Without `reissue`, a person with an active card gets that card again (same payload, same
    fallback code) and a person without one gets a new card. With `reissue`, every selected
    person's active card is revoked and a new one issued. Persons are read `page_size` at a time
    by keyset pagination, and each page's cards are inserted in bulk and committed before its
    cards are yielded, so memory stays bounded and a run broken off midway leaves every card it
    issued valid: running it again without `reissue` prints them.
    """
    check_selection(selection)
    key = card_key()
    tally = tally if tally is not None else PrintTally()
    after: tuple[Any, ...] | None = None
    while True:
        for attempt in range(_ISSUE_RETRIES):
            try:
                # One writing unit per page: each page's cards are committed before they are yielded.
                with unit(WRITE):
                    cards, last = _print_page(selection, after, reissue, key, tally, page_size)
                break
            except IntegrityError:
                # A desk issued a card for one of these persons at the same moment, or a
                # serial was taken meanwhile: read the page again and redo it.
                if attempt == _ISSUE_RETRIES - 1:
                    raise
        if not cards:
            return
        tally.printed += len(cards)
        yield from cards
        after = last
