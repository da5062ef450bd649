"""Printouts for the desk: the roster for when power or network fails, a person's QR card,
the shelter's poster and blank evacuee cards. evac gathers the data; `printables` draws it."""

from __future__ import annotations

from datetime import date

from flask import current_app, request, url_for
from sqlalchemy import select

from evac.accounts.auth import ensure_shelter_access
from evac.accounts.models import StaffAccount
from evac.audit import service as audit
from evac.cards.service import CardSelection, cards_for_printing
from evac.checkin.models import Stay, StayStatus
from evac.common.db import now_utc
from evac.extensions import db
from evac.people.models import Household, Person, Sex
from evac.people.service import need_keys
from evac.shelters import service as shelters
from printables import (
    CardOptions,
    EvacueeCardForm,
    RosterHeader,
    RosterRow,
    ShelterPoster,
    render_cards,
    render_evacuee_cards,
    render_poster,
    render_roster,
)

_STATUS = {StayStatus.PRESENT: "在所", StayStatus.OUTING: "外出", StayStatus.AT_HOME: "在宅",
           StayStatus.IN_CAR: "車中泊"}
_SEX = {Sex.MALE: "男", Sex.FEMALE: "女", Sex.OTHER: "—"}


def _town() -> str:
    return str(current_app.config.get("EVAC_TOWN_NAME", ""))


def _age(born: date | None, today: date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def roster_pdf(account: StaffAccount | None, shelter_id: int) -> bytes:
    """Every open stay of the shelter on A4 landscape pages; audited as a read of those persons.

    `account` None is the server's operator on the command line (audited without an account).
    """
    if account is not None:
        ensure_shelter_access(account, shelter_id)
    shelter = shelters.get_shelter(shelter_id)
    rows = db.session.execute(
        select(Stay, Person, Household.number)
        .join(Person, Person.id == Stay.person_id)
        .outerjoin(Household, Household.id == Person.household_id)
        .where(Stay.shelter_id == shelter_id, Stay.checked_out_at.is_(None))
        .order_by(Person.kana_key, Person.id)
    ).all()
    today = now_utc().date()
    printed = [
        RosterRow(
            ref=str(person.id), name=f"{person.family_name} {person.given_name}".strip(),
            kana=f"{person.family_name_kana} {person.given_name_kana}".strip(), sex=_SEX[person.sex],
            age=_age(person.birth_date, today), household_number=number or "", status=_STATUS.get(stay.status, ""),
            checked_in_at=stay.checked_in_at, needs=frozenset(need_keys(person.needs)),
            note="・".join(x for x in (person.allergy or "", f"ペット{person.pets}" if person.pets else "") if x),
        )
        for stay, person, number in rows
    ]
    counts: dict[str, int] = {}
    for row in printed:
        counts[row.status] = counts.get(row.status, 0) + 1
    header = RosterHeader(shelter_name=shelter.name, printed_at=now_utc(), town_name=_town(),
                          summary="・".join(f"{k} {v} 名" for k, v in counts.items()))
    audit.record("person.read", subject_type="roster", subject_id=shelter_id, shelter_id=shelter_id,
                 detail={"person_ids": [int(r.ref) for r in printed], "purpose": "roster.print"})
    db.session.commit()
    pdf, _report = render_roster(printed, header)
    return pdf


def card_pdf(person_id: int) -> bytes:
    """One person's QR card (their active card, or a new one) on a card sheet."""
    cards = list(cards_for_printing(CardSelection(person_ids=(person_id,))))
    pdf, _issues = render_cards(cards, CardOptions(town_name=_town()))
    return pdf


def poster_pdf(shelter_id: int, public_url: str | None = None) -> bytes:
    """The shelter's A4 poster, with a QR code of the public crowding page."""
    shelter = shelters.get_shelter(shelter_id)
    public_url = public_url or request.host_url.rstrip("/") + url_for("web.index")
    return render_poster(ShelterPoster(shelter_name=shelter.name, crowding_url=public_url, town_name=_town(),
                                       shelter_kana=shelter.name_kana or "", address=shelter.address or ""))


def evacuee_cards_pdf(shelter_id: int | None, copies: int) -> bytes:
    """Blank 避難者カード for filling in by hand when the tablets are down."""
    name = shelters.get_shelter(shelter_id).name if shelter_id else ""
    return render_evacuee_cards(EvacueeCardForm(town_name=_town(), shelter_name=name), copies=copies)
