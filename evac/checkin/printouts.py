"""Printouts for the desk: the roster for when power or network fails, a person's QR card,
the shelter's poster and blank evacuee cards. evac gathers the data; `printables` draws it."""

from __future__ import annotations

from flask import current_app, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from evac.accounts.auth import ensure_shelter_access
from evac.accounts.service import Principal
from evac.audit import service as audit
from evac.cards.service import CardSelection, cards_for_printing
from evac.common.db import now_utc, read_only
from evac.common.errors import NotFound
from evac.common.vocab import SEX_SHORT, STATUS_SHORT, age, need_keys, tokyo_today
from evac.extensions import db
from evac.incidents import service as incidents
from evac.people.models import Household, Person
from evac.shelters import service as shelters
from evac.stays.models import Stay
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


def _town() -> str:
    return str(current_app.config.get("EVAC_TOWN_NAME", ""))


def roster_pdf(account: Principal | None, shelter_id: int) -> bytes:
    """Every open stay of the shelter on A4 landscape pages; audited as a read of those persons.

    `account` None is the server's operator on the command line (audited without an account).
    The rows are read in one read-only unit; the PDF is drawn after it.
    """
    header, printed = _roster(account, shelter_id)
    pdf, _report = render_roster(printed, header)
    return pdf


@read_only
def _roster(account: Principal | None, shelter_id: int) -> tuple[RosterHeader, list[RosterRow]]:
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
    today = tokyo_today()
    printed = [
        RosterRow(
            ref=str(person.id), name=f"{person.family_name} {person.given_name}".strip(),
            kana=f"{person.family_name_kana} {person.given_name_kana}".strip(), sex=SEX_SHORT[person.sex],
            age=age(person.birth_date, today), household_number=number or "",
            status=STATUS_SHORT.get(stay.status, ""),
            checked_in_at=stay.checked_in_at, needs=frozenset(need_keys(person.needs)),
            note="・".join(x for x in (person.allergy or "", f"ペット{person.pets}" if person.pets else "") if x),
        )
        for stay, person, number in rows
    ]
    counts: dict[str, int] = {}
    for row in printed:
        counts[row.status] = counts.get(row.status, 0) + 1
    header = RosterHeader(shelter_name=shelter.name, printed_at=now_utc(), town_name=_town(),
                          summary="・".join(f"{k} {v} 名" for k, v in counts.items()), drill=_drill())
    audit.read("person.read", subject_type="roster", subject_id=shelter_id, shelter_id=shelter_id,
               detail={"person_ids": [int(r.ref) for r in printed], "purpose": "roster.print"})
    return header, printed


@read_only
def _may_print_card(account: Principal, shelter_id: int, person_id: int) -> None:
    """A desk prints the card of someone staying at its shelter (a walk-in just registered, a lost card).

    Anyone else's card is HQ's or an admin's to print: the current card's QR and fallback code are
    a copy of the card at the resident's home, so a desk printing it for whoever it likes would
    clone cards. Refused as if unknown, and audited.
    """
    from evac.people import service as people
    from evac.stays import service as stays

    ensure_shelter_access(account, shelter_id)
    people.person_in_scope(account, person_id)
    if account.sees_all:
        return
    stay = stays.open_stays_of([person_id]).get(person_id)
    if stay is None or stay.shelter_id != shelter_id:
        audit.refused("card.print_refused", subject_type="person", subject_id=person_id, shelter_id=shelter_id)
        raise NotFound(_("該当する人が見つかりません"), fields={"person_id": "not staying at this shelter"})


def card_pdf(person_id: int, *, account: Principal | None = None, shelter_id: int | None = None) -> bytes:
    """One person's QR card (their active card, or a new one) on a card sheet.

    From a desk (`account` and `shelter_id` given) only for a person within the account's scope.
    """
    if account is not None and shelter_id is not None:
        _may_print_card(account, shelter_id, person_id)
    cards = list(cards_for_printing(CardSelection(person_ids=(person_id,))))
    pdf, _issues = render_cards(cards, CardOptions(town_name=_town(), drill=drill_now()))
    return pdf


def _drill() -> bool:
    """Is a 訓練 under way (joins the caller's unit)? Its printouts say so on every page."""
    found = incidents.current()
    return found is not None and found.drill


@read_only
def drill_now() -> bool:
    """`_drill` as a unit of its own."""
    return _drill()


@read_only
def _shelter(shelter_id: int) -> tuple[str, str, str, bool]:
    shelter = shelters.get_shelter(shelter_id)
    return shelter.name, shelter.name_kana or "", shelter.address or "", _drill()


def poster_pdf(shelter_id: int, public_url: str | None = None) -> bytes:
    """The shelter's A4 poster, with a QR code of the public crowding page."""
    name, kana, address, drill = _shelter(shelter_id)
    # The configured public address (EVAC_PUBLIC_URL): the poster is scanned by residents' phones,
    # not by whoever printed it from a LAN address or a proxy's inner host name.
    configured = str(current_app.config.get("EVAC_PUBLIC_URL") or "").rstrip("/")
    public_url = public_url or (configured + "/" if configured else request.host_url.rstrip("/") + url_for("web.index"))
    return render_poster(ShelterPoster(shelter_name=name, crowding_url=public_url, town_name=_town(),
                                       shelter_kana=kana, address=address, drill=drill))


def evacuee_cards_pdf(shelter_id: int | None, copies: int) -> bytes:
    """Blank 避難者カード for filling in by hand when the tablets are down."""
    name, _kana, _address, drill = _shelter(shelter_id) if shelter_id else ("", "", "", drill_now())
    return render_evacuee_cards(EvacueeCardForm(town_name=_town(), shelter_name=name, drill=drill), copies=copies)
