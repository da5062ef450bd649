"""Safety inquiries (安否確認): HQ looks a person up for someone asking after them.

What may be told depends on who is asking and on the person's own consent, as in 国民保護法
安否情報 様式第1号: ⑫ relatives and housemates, ⑬ acquaintances, ⑭ anyone else (and
publication). The officer sees where the person is in order to answer; the answer says, for the
requester at hand, whether it may be given and in what words. Every inquiry is audited with ids,
the kind of requester and which search keys were used — never the names searched for.
"""

from __future__ import annotations

import enum
import unicodedata
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from evac.audit import service as audit
from evac.common.db import read_only
from evac.common.errors import ValidationFailed
from evac.common.vocab import STATUS_LABELS, StayStatus, label
from evac.extensions import db
from evac.people import service as people
from evac.people.models import Person
from evac.shelters.models import Shelter
from evac.stays.models import Stay

LIMIT = 30


class Requester(enum.StrEnum):
    """Who is asking, in the three classes of the consent items ⑫ ⑬ ⑭."""

    RELATIVE = "relative"  # ⑫ 親族・同居者
    ACQUAINTANCE = "acquaintance"  # ⑬ 知人
    OTHER = "other"  # ⑭ その他の者


def consents(person: Person) -> dict[str, bool]:
    """The person's consent per requester class."""
    return {
        Requester.RELATIVE.value: bool(person.consent_relatives),
        Requester.ACQUAINTANCE.value: bool(person.consent_acquaintances),
        Requester.OTHER.value: bool(person.consent_public),
    }


def _status_label(status: StayStatus) -> str:
    return label(STATUS_LABELS[status])


def _answer_text(stay: Stay | None, shelter: Shelter | None) -> str:
    """What the officer may say when consent allows it."""
    if stay is None or shelter is None:
        return _("避難所での受付記録はありません")
    if stay.checked_out_at is None:
        if stay.status in (StayStatus.PRESENT, StayStatus.OUTING):
            return _("%(shelter)s に避難しています", shelter=shelter.name)
        if stay.status is StayStatus.AT_HOME:
            return _("在宅で避難しています（%(shelter)s で受付）", shelter=shelter.name)
        return _("車中泊で避難しています（%(shelter)s で受付）", shelter=shelter.name)
    return _("%(shelter)s で受付しましたが、その後退所しています", shelter=shelter.name)


@read_only
def inquire(*, query: str, birth_date: str | None, requester: str, incident_id: int | None = None) -> dict[str, Any]:
    """Find persons by kana or kanji (prefix) and/or birth date; say what may be told to `requester`.

    Owns its transaction (a read, plus its audit event).
    """
    who = Requester(requester)
    text = unicodedata.normalize("NFKC", query or "").strip()
    born: date | None = people.parse_date_field(birth_date, "birth_date") if birth_date else None
    if not text and born is None:
        raise ValidationFailed(_("氏名・フリガナか生年月日を入力してください"), fields={"q": "required"})
    stmt = select(Person)
    key: Any = Person.kana_key
    if text:
        condition, key = people.name_match(text)
        stmt = stmt.where(condition)
    if born is not None:
        stmt = stmt.where(Person.birth_date == born)
    persons = sorted(db.session.scalars(stmt.order_by(key, Person.id).limit(LIMIT)), key=lambda p: (p.kana_key, p.id))
    from evac.hq.incidents import chosen

    incident = chosen(incident_id)
    latest = _latest_stays([p.id for p in persons], incident.id if incident else None)
    results = []
    for person in persons:
        stay, shelter = latest.get(person.id, (None, None))
        allowed = consents(person)
        results.append({
            "person": {
                "id": person.id,
                "family_name": person.family_name, "given_name": person.given_name,
                "family_name_kana": person.family_name_kana, "given_name_kana": person.given_name_kana,
                "birth_date": person.birth_date.isoformat() if person.birth_date else None,
                "sex": person.sex.value, "address": person.address,
            },
            "whereabouts": None if stay is None or shelter is None else {
                "shelter_id": shelter.id, "shelter_name": shelter.name, "shelter_address": shelter.address,
                "status": stay.status.value, "status_label": _status_label(stay.status),
                "open": stay.checked_out_at is None,
                "since": (stay.checked_out_at or stay.checked_in_at).isoformat(),
            },
            "consent": allowed,
            "may_answer": allowed[who.value],
            "answer": (_("回答できます: %(text)s", text=_answer_text(stay, shelter)) if allowed[who.value]
                       else _("回答できません: ご本人の同意がないため、安否情報はお答えできません")),
        })
    audit.read("inquiry.search", subject_type="person", detail={
        "results": [p.id for p in persons], "requester": who.value,
        "by_name": bool(text), "by_birth_date": born is not None,
        "answerable": [r["person"]["id"] for r in results if r["may_answer"]],
    })
    return {"requester": who.value, "items": results, "total": len(results), "limit": LIMIT,
            "incident_id": incident.id if incident else None}


def _latest_stays(person_ids: list[int], incident_id: int | None) -> dict[int, tuple[Stay, Shelter]]:
    """Each person's open stay, or else the stay they checked in to last."""
    if not person_ids or incident_id is None:
        return {}
    rows = db.session.execute(
        select(Stay, Shelter).join(Shelter, Shelter.id == Stay.shelter_id)
        .where(Stay.person_id.in_(person_ids), Stay.incident_id == incident_id)
        .order_by(Stay.person_id, Stay.checked_in_at, Stay.id))
    latest: dict[int, tuple[Stay, Shelter]] = {}
    for stay, shelter in rows:
        current = latest.get(stay.person_id)
        if current is None or current[0].checked_out_at is not None:
            latest[stay.person_id] = (stay, shelter)
    return latest
