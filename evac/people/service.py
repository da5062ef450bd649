"""Finding, matching, registering and describing persons. Every staff read is audited."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, or_, select

from evac.accounts.models import Role, StaffAccount, staff_shelter
from evac.audit import service as audit
from evac.checkin.models import Stay
from evac.common.errors import DomainError, NotFound, ValidationFailed
from evac.common.textnorm import is_kana, kana_key, looks_like_individual_number, name_key, split_name
from evac.common.wareki import parse_birth_date
from evac.extensions import db
from evac.people.models import Household, Need, Person, PersonSource, Sex
from evac.shelters.models import Shelter

NEED_KEYS: dict[str, Need] = {
    "elderly": Need.ELDERLY, "disability": Need.DISABILITY, "infant": Need.INFANT,
    "pregnant": Need.PREGNANT, "language": Need.LANGUAGE, "allergy": Need.ALLERGY,
    "medical": Need.MEDICAL, "care": Need.CARE, "injury": Need.INJURY,
}
SEX_WORDS = {
    "male": Sex.MALE, "female": Sex.FEMALE, "other": Sex.OTHER, "男": Sex.MALE, "女": Sex.FEMALE,
    "男性": Sex.MALE, "女性": Sex.FEMALE, "1": Sex.MALE, "2": Sex.FEMALE, "3": Sex.OTHER, "9": Sex.OTHER,
    "回答しない": Sex.OTHER, "その他": Sex.OTHER,
}
_ADDRESS_NUMBERS = [
    (re.compile(r"(\d+)丁目"), r"\1-"), (re.compile(r"(\d+)番地?"), r"\1-"), (re.compile(r"(\d+)号"), r"\1-"),
]
SEARCH_LIMIT = 50


class PossibleDuplicate(DomainError):
    """A registered person looks like the one being registered: staff should choose."""

    status = 409
    code = "possible_duplicate"


class AmbiguousMatch(DomainError):
    """Several registered persons match a My Number card's four items: staff should choose."""

    status = 409
    code = "ambiguous_match"


# Fields that cannot carry a 個人番号 by construction: a UUID's last group may be 12 digits, a card
# code is checked against its own format (and never stored), and an IC card UID is hex that is
# only ever stored as a keyed hash.
_NOT_PERSONAL = frozenset({"client_id", "qr", "ic_uid"})


def refuse_individual_numbers(values: dict[str, Any]) -> None:
    """Refuse a request holding anything shaped like a 12-digit 個人番号, without echoing it."""

    def walk(value: Any, path: str) -> Iterable[str]:
        if path in _NOT_PERSONAL:
            return
        if isinstance(value, str):
            if looks_like_individual_number(value):
                yield path
        elif isinstance(value, dict):
            for key, inner in value.items():
                yield from walk(inner, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for i, inner in enumerate(value):
                yield from walk(inner, f"{path}.{i}")
        elif isinstance(value, int) and not isinstance(value, bool) and 10**11 <= abs(value) < 10**12:
            yield path

    offending = sorted(set(walk(values, "")))
    if offending:
        raise ValidationFailed(
            _("個人番号（12桁の数字）は受け付けません。入力から削除してください"),
            fields={p: "12-digit number refused" for p in offending},
        )


def needs_mask(keys: Iterable[str]) -> int:
    """Need keys (elderly, infant, …) as the stored bitmask."""
    mask = 0
    for key in keys:
        mask |= NEED_KEYS[key]
    return mask


def need_keys(mask: int) -> list[str]:
    """The stored bitmask as need keys, in a stable order."""
    return [key for key, flag in NEED_KEYS.items() if mask & flag]


def parse_sex(text: str) -> Sex:
    """Sex as a card reader, a paper card or the API writes it."""
    sex = SEX_WORDS.get(unicodedata.normalize("NFKC", text).strip().lower())
    if sex is None:
        raise ValidationFailed(_("性別を読み取れません"), fields={"sex": "male, female or other"})
    return sex


def parse_date_field(text: str | date, field: str) -> date:
    """A birth date in ISO, YYYYMMDD or 和暦, or a 422 naming the field."""
    if isinstance(text, date):
        return text
    raw = unicodedata.normalize("NFKC", text).strip()
    if re.fullmatch(r"\d{8}", raw):
        raw = f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"
    try:
        return parse_birth_date(raw)
    except ValueError as exc:
        raise ValidationFailed(_("生年月日を読み取れません"), fields={field: str(exc)}) from None


def address_key(address: str | None) -> str:
    """Address for matching: NFKC, no spaces, prefecture and 郡 dropped, 7丁目43番地 → 7-43."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", address or ""))
    text = text.replace("ー", "-").replace("−", "-").replace("‐", "-")
    text = re.sub(r"^(京都府|大阪府|東京都|北海道|.{2,3}県)", "", text)
    text = re.sub(r"^[^市町村]{1,4}郡", "", text)
    text = text.replace("大字", "").replace("小字", "")
    for pattern, repl in _ADDRESS_NUMBERS:
        text = pattern.sub(repl, text)
    return text.strip("-")


def person_summary(person: Person) -> dict[str, Any]:
    """What staff see of a person at the desk."""
    household = person.household
    return {
        "id": person.id,
        "family_name": person.family_name,
        "given_name": person.given_name,
        "family_name_kana": person.family_name_kana,
        "given_name_kana": person.given_name_kana,
        "birth_date": person.birth_date,
        "sex": person.sex.value,
        "address": person.address,
        "household_id": person.household_id,
        "household_number": household.number if household else None,
        "district": household.district if household else None,
        "needs": need_keys(person.needs),
        "allergy": person.allergy,
        "pets": person.pets,
        "language": person.language,
    }


def sync_payload(person: Person) -> dict[str, Any]:
    """The person as the victim-support system receives it (安否情報収集様式 items)."""
    return {
        "id": person.id,
        "family_name": person.family_name,
        "given_name": person.given_name,
        "family_name_kana": person.family_name_kana,
        "given_name_kana": person.given_name_kana,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "sex": person.sex.value,
        "postal_code": person.postal_code,
        "address": person.address,
        "phone": person.phone,
        "nationality": person.nationality,
        "language": person.language,
        "needs": need_keys(person.needs),
        "allergy": person.allergy,
        "condition_note": person.condition_note,
        "household_id": person.household_id,
        "consent": {
            "relatives": person.consent_relatives,
            "acquaintances": person.consent_acquaintances,
            "public": person.consent_public,
        },
    }


def match_card(card: dict[str, str]) -> tuple[list[Person], dict[str, Any]]:
    """Persons matching a My Number card's four basic items (birth date + name + address).

    Returns the matches and the parsed items (for registering a new person when none match).
    """
    family, given = split_name(card["name"])
    birth = parse_date_field(card["birth_date"], "card.birth_date")
    sex = parse_sex(card["sex"])
    key = name_key(family, given)
    same_name = list(db.session.scalars(
        select(Person).where(Person.birth_date == birth, Person.name_key == key).order_by(Person.id)
    ))
    wanted = address_key(card["address"])
    matches = [p for p in same_name if address_key(p.address) == wanted]
    parsed = {"family_name": family, "given_name": given, "birth_date": birth, "sex": sex,
              "address": unicodedata.normalize("NFKC", card["address"]).strip()}
    return matches, parsed


def duplicates_of(values: dict[str, Any]) -> list[Person]:
    """Registered persons with the same birth date and normalised name."""
    key = name_key(values["family_name"], values.get("given_name"))
    return list(db.session.scalars(
        select(Person).where(Person.birth_date == values["birth_date"], Person.name_key == key)
        .order_by(Person.id).limit(10)
    ))


def create_person(values: dict[str, Any], *, source: PersonSource, household_id: int | None = None) -> Person:
    """Register a person (walk-in or card), in a household of their own unless one is given.

    Joins the caller's transaction; the caller writes the audit and outbox events.
    """
    kana = [values.get("family_name_kana") or "", values.get("given_name_kana") or ""]
    if any(k and not is_kana(k) for k in kana):
        raise ValidationFailed(_("フリガナはカタカナかひらがなで入力してください"),
                               fields={"family_name_kana": "kana only"})
    if household_id is None:
        household = Household(number=f"W-{uuid.uuid4().hex[:12]}", address=values.get("address"),
                              postal_code=values.get("postal_code"))
        db.session.add(household)
        db.session.flush()
        household_id = household.id
    elif db.session.get(Household, household_id) is None:
        raise ValidationFailed(_("世帯が見つかりません"), fields={"household_id": "unknown"})
    consent = values.get("consent") or {}
    person = Person(
        household_id=household_id,
        family_name=values["family_name"],
        given_name=values.get("given_name") or "",
        family_name_kana=kana_key(kana[0]),
        given_name_kana=kana_key(kana[1]),
        name_key=name_key(values["family_name"], values.get("given_name")),
        kana_key=kana_key(*kana),
        birth_date=values.get("birth_date"),
        sex=values.get("sex") or Sex.OTHER,
        postal_code=values.get("postal_code"),
        address=values.get("address"),
        phone=values.get("phone"),
        nationality=values.get("nationality"),
        language=values.get("language"),
        needs=needs_mask(values.get("needs") or []),
        allergy=values.get("allergy"),
        condition_note=values.get("condition_note"),
        pets=values.get("pets") or 0,
        pet_note=values.get("pet_note"),
        consent_relatives=bool(consent.get("relatives")),
        consent_acquaintances=bool(consent.get("acquaintances")),
        consent_public=bool(consent.get("public")),
        source=source,
    )
    db.session.add(person)
    db.session.flush()
    return person


def prefix(column: Any, start: str) -> Any:
    """`column` starts with `prefix`, as an index range."""
    # A range rather than LIKE: both databases answer it from a plain b-tree index.
    return and_(column >= start, column < start + "\U0010ffff")


def search(account: StaffAccount, query: str, *, birth_date: date | None = None,
           limit: int = SEARCH_LIMIT) -> list[tuple[Person, Stay | None]]:
    """Prefix search by kana or kanji (normalised), optionally by birth date; scoped and audited.

    Staff find anyone not staying elsewhere (to identify walk-ins) and those at their shelters;
    HQ and admin find everyone.
    """
    text = unicodedata.normalize("NFKC", query).strip()
    if not text and birth_date is None:
        raise ValidationFailed(_("検索する名前かフリガナを入力してください"), fields={"q": "required"})
    stmt = select(Person, Stay).outerjoin(Stay, and_(Stay.person_id == Person.id, Stay.checked_out_at.is_(None)))
    if text:
        stmt = stmt.where(prefix(Person.kana_key, kana_key(text)) if is_kana(text)
                          else or_(prefix(Person.name_key, name_key(text)),
                                   prefix(Person.kana_key, kana_key(text))))
    if birth_date is not None:
        stmt = stmt.where(Person.birth_date == birth_date)
    if account.role is Role.STAFF:
        mine = select(staff_shelter.c.shelter_id).where(staff_shelter.c.account_id == account.id)
        stmt = stmt.where(or_(Stay.id.is_(None), Stay.shelter_id.in_(mine)))
    rows = [(p, s) for p, s in db.session.execute(stmt.order_by(Person.kana_key, Person.id).limit(limit))]
    audit.record("person.search", subject_type="person", outcome="ok",
                 detail={"results": [p.id for p, _ in rows], "by_birth_date": birth_date is not None})
    db.session.commit()
    return rows


def person_in_scope(account: StaffAccount, person_id: int) -> Person:
    """The person, if this account may look them up by id; else `NotFound` (as if unknown).

    The same rule as `search`: staff reach people with no open stay (walk-ins to identify) and
    people at their own shelters, never people staying at another shelter — so ids cannot be
    walked to read other shelters' evacuees. A presented card (QR, My Number, IC) is not limited
    by this: the person is standing at the desk.
    """
    person = db.session.get(Person, person_id)
    if person is None:
        raise NotFound(_("該当する人が見つかりません"), fields={"person_id": "unknown"})
    if account.role is Role.STAFF:
        stay = db.session.scalar(select(Stay).where(Stay.person_id == person_id, Stay.checked_out_at.is_(None)))
        if stay is not None and not account.can_access_shelter(stay.shelter_id):
            raise NotFound(_("該当する人が見つかりません"), fields={"person_id": "unknown"})
    return person


def household_in_scope(account: StaffAccount, household_id: int, shelter_id: int) -> None:
    """Staff may add a walk-in to a household only if one of its members is at their shelter."""
    if account.role is not Role.STAFF:
        return
    here = db.session.scalar(
        select(Stay.id).join(Person, Person.id == Stay.person_id)
        .where(Person.household_id == household_id, Stay.shelter_id == shelter_id, Stay.checked_out_at.is_(None))
        .limit(1))
    if here is None:
        raise ValidationFailed(_("この避難所に受付済みの世帯員がいる世帯だけを指定できます"),
                               fields={"household_id": "no member at this shelter"})


def whereabouts(person_ids: Sequence[int]) -> dict[int, tuple[Stay, Shelter]]:
    """Open stays (and their shelters) of the given persons."""
    if not person_ids:
        return {}
    rows = db.session.execute(
        select(Stay, Shelter).join(Shelter, Shelter.id == Stay.shelter_id)
        .where(Stay.person_id.in_(person_ids), Stay.checked_out_at.is_(None))
    )
    return {stay.person_id: (stay, shelter) for stay, shelter in rows}
