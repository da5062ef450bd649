"""Finding, matching, registering and describing persons. Every staff read is audited.

These functions join the caller's unit of work, except `search`, which is a unit of its own.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, or_, select

from evac.accounts.service import Principal
from evac.audit import service as audit
from evac.common.db import prepared, read_only
from evac.common.errors import DomainError, NotFound, ValidationFailed
from evac.common.statements import run
from evac.common.textnorm import is_kana, kana_key, looks_like_individual_number, name_key, split_name
from evac.common.vocab import NEED_KEYS, Sex, need_keys, needs_mask
from evac.common.wareki import parse_birth_date
from evac.extensions import db
from evac.people.models import Household, Person, PersonSource
from evac.shelters.models import Shelter
from evac.stays import service as stays
from evac.stays.models import Stay

__all__ = ["NEED_KEYS", "need_keys", "needs_mask"]

# Card readers hand over the code the card stores: ISO 5218 (0 not known, 1 male, 2 female, 9 not
# applicable), which the My Number card uses; some bridges write 3 for "other".
SEX_WORDS = {
    "male": Sex.MALE, "female": Sex.FEMALE, "other": Sex.OTHER, "男": Sex.MALE, "女": Sex.FEMALE,
    "男性": Sex.MALE, "女性": Sex.FEMALE, "0": Sex.OTHER, "1": Sex.MALE, "2": Sex.FEMALE, "3": Sex.OTHER,
    "9": Sex.OTHER, "回答しない": Sex.OTHER, "その他": Sex.OTHER,
}
_ADDRESS_NUMBERS = [
    (re.compile(r"(\d+)丁目"), r"\1-"), (re.compile(r"(\d+)番地?"), r"\1-"), (re.compile(r"(\d+)号"), r"\1-"),
]
SEARCH_LIMIT = 50
_PERSON = Person.__table__
_HOUSEHOLD = Household.__table__


class PossibleDuplicate(DomainError):
    """A registered person looks like the one being registered: staff should choose."""

    status = 409
    code = "possible_duplicate"


class AmbiguousMatch(DomainError):
    """Several registered persons match a My Number card's four items: staff should choose."""

    status = 409
    code = "ambiguous_match"


# Fields that cannot carry a 個人番号 by construction: a card code is checked against its own
# format (and never stored), an IC card UID is hex that is only ever stored as a keyed hash, a
# pairing code is 8 characters, and passwords and CSRF tokens are never stored as typed. Any value
# that is exactly a UUID (client ids, desk ids, read ids) is not one either: its last group may be
# 12 digits by chance.
_NOT_PERSONAL = frozenset({"qr", "ic_uid", "uid", "code", "csrf_token", "password", "current_password",
                           "new_password"})
_MAX_DEPTH = 32
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def individual_number_paths(values: Any, path: str = "") -> list[str]:
    """Where in a request's data (body, query, form) something reads as a 12-digit 個人番号.

    Every string, key and integer is looked at, at any depth; a key that holds one is reported as
    `<field name>` (never echoed).
    """

    def walk(value: Any, at: str, depth: int = 0) -> Iterable[str]:
        if at.rsplit(".", 1)[-1] in _NOT_PERSONAL:
            return
        if depth > _MAX_DEPTH:
            raise ValidationFailed(_("入れ子が深すぎます"), fields={at: f"nested deeper than {_MAX_DEPTH}"})
        if isinstance(value, str):
            if not _UUID.match(value) and looks_like_individual_number(value):
                yield at
        elif isinstance(value, dict):
            for key, inner in value.items():
                name = str(key)
                if looks_like_individual_number(name):
                    yield f"{at}.<field name>" if at else "<field name>"
                    continue
                yield from walk(inner, f"{at}.{name}" if at else name, depth + 1)
        elif isinstance(value, (list, tuple)):
            for i, inner in enumerate(value):
                yield from walk(inner, f"{at}.{i}" if at else str(i), depth + 1)
        elif isinstance(value, int) and not isinstance(value, bool) and 10**11 <= abs(value) < 10**12:
            yield at
        elif isinstance(value, float) and 10**11 <= abs(value) < 10**12:
            yield at

    return sorted(set(walk(values, path)))


def individual_number_message() -> str:
    """What a refusal of a 12-digit number says (in the request's language)."""
    return _("個人番号（12桁の数字）は受け付けません。入力から削除してください")


def refuse_individual_numbers(values: Any) -> None:
    """Refuse data holding anything that reads as a 12-digit 個人番号, without echoing it."""
    offending = individual_number_paths(values)
    if offending:
        raise ValidationFailed(individual_number_message(), fields={p: "12-digit number refused" for p in offending})


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


def person_summary(person: Any, household_number: str | None = None,
                   district: str | None = None) -> dict[str, Any]:
    """What staff see of a person at the desk (from an ORM person or a row of the person table)."""
    return {
        "id": person.id,
        "family_name": person.family_name,
        "given_name": person.given_name,
        "family_name_kana": person.family_name_kana,
        "given_name_kana": person.given_name_kana,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "sex": Sex(person.sex).value,
        "address": person.address,
        "household_id": person.household_id,
        "household_number": household_number,
        "district": district,
        "needs": need_keys(person.needs or 0),
        "allergy": person.allergy,
        "pets": person.pets or 0,
        "language": person.language,
    }


def sync_payload(person: Any) -> dict[str, Any]:
    """The person as the victim-support system receives it (安否情報収集様式 items)."""
    return {
        "id": person.id,
        "family_name": person.family_name,
        "given_name": person.given_name,
        "family_name_kana": person.family_name_kana,
        "given_name_kana": person.given_name_kana,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "sex": Sex(person.sex).value,
        "postal_code": person.postal_code,
        "address": person.address,
        "phone": person.phone,
        "nationality": person.nationality,
        "language": person.language,
        "needs": need_keys(person.needs or 0),
        "allergy": person.allergy,
        "condition_note": person.condition_note,
        "household_id": person.household_id,
        "consent": {
            "relatives": bool(person.consent_relatives),
            "acquaintances": bool(person.consent_acquaintances),
            "public": bool(person.consent_public),
        },
    }


def persons_by_id(person_ids: Sequence[int], *, lock: bool = False) -> dict[int, Any]:
    """Person rows (all columns) by id; with `lock`, row-locked on PostgreSQL in id order."""
    if not person_ids:
        return {}
    # Id order on every desk: two desks locking overlapping households cannot deadlock.
    stmt = prepared(("persons_by_id", lock), lambda: _locked(
        select(_PERSON).where(_PERSON.c.id.in_(bindparam("p_ids", expanding=True))).order_by(_PERSON.c.id), lock))
    return {row.id: row for row in run(stmt, {"p_ids": list(person_ids)})}


def _locked(stmt: Any, lock: bool) -> Any:
    return stmt.with_for_update() if lock else stmt


def household_numbers(household_ids: Iterable[int | None]) -> dict[int, tuple[str, str | None]]:
    """Household number and district by household id."""
    ids = sorted({h for h in household_ids if h is not None})
    if not ids:
        return {}
    return {r.id: (r.number, r.district) for r in run(prepared("people.household_numbers", lambda: select(
        _HOUSEHOLD.c.id, _HOUSEHOLD.c.number, _HOUSEHOLD.c.district).where(
        _HOUSEHOLD.c.id.in_(bindparam("p_ids", expanding=True)))), {"p_ids": ids})}


def household_member_ids(household_id: int | None, person_id: int) -> list[int]:
    """The ids of a person's household (the person alone if they have none), in id order."""
    if household_id is None:
        return [person_id]
    return run(prepared("people.household_member_ids", lambda: select(_PERSON.c.id).where(
        _PERSON.c.household_id == bindparam("p_household_id")).order_by(_PERSON.c.id)),
        {"p_household_id": household_id}).scalars()


def match_card(card: dict[str, str]) -> tuple[list[Any], dict[str, Any]]:
    """Persons matching a My Number card's four basic items (birth date + name + address).

    Returns the matching person rows and the parsed items (for registering a new person when
    none match).
    """
    family, given = split_name(card["name"])
    birth = parse_date_field(card["birth_date"], "card.birth_date")
    sex = parse_sex(card["sex"])
    key = name_key(family, given)
    same_name = list(db.session.execute(
        select(_PERSON).where(_PERSON.c.birth_date == birth, _PERSON.c.name_key == key).order_by(_PERSON.c.id)))
    wanted = address_key(card["address"])
    matches = [p for p in same_name if address_key(p.address) == wanted]
    parsed = {"family_name": family, "given_name": given, "birth_date": birth, "sex": sex,
              "address": unicodedata.normalize("NFKC", card["address"]).strip()}
    return matches, parsed


def duplicates_of(values: dict[str, Any]) -> list[Any]:
    """Registered persons with the same birth date and normalised name (rows)."""
    key = name_key(values["family_name"], values.get("given_name"))
    return list(db.session.execute(
        select(_PERSON).where(_PERSON.c.birth_date == values["birth_date"], _PERSON.c.name_key == key)
        .order_by(_PERSON.c.id).limit(10)))


def create_person(values: dict[str, Any], *, source: PersonSource, household_id: int | None = None,
                  incident_id: int | None = None) -> Person:
    """Register a person (walk-in or card), in a household of their own unless one is given.

    Joins the caller's writing unit; the caller writes the audit and outbox events.
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
        relationship_to_head=values.get("relationship_to_head"),
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
        incident_id=incident_id,
    )
    db.session.add(person)
    db.session.flush()
    return person


def prefix(column: Any, start: str) -> Any:
    """`column` starts with `start`, as an index range."""
    # A range rather than LIKE: both databases answer it from a plain b-tree index.
    return and_(column >= start, column < start + "\U0010ffff")


def name_match(text: str) -> tuple[Any, Any]:
    """The condition of a kana or kanji (or Latin) prefix search, and the key column it ranges over.

    Kana text searches the kana key, anything else the name key — never both: an OR of two index
    ranges has no order, so the database would sort every match before taking the first few.
    Order by the returned column (then id) and both databases walk one index range and stop at
    the limit, whatever the prefix's length.
    """
    if is_kana(text):
        return prefix(_PERSON.c.kana_key, kana_key(text)), _PERSON.c.kana_key
    return prefix(_PERSON.c.name_key, name_key(text)), _PERSON.c.name_key


@dataclass(frozen=True)
class Found:
    """A person found by a search, with their open stay (if they have one)."""

    person: Any
    stay_shelter_id: int | None
    stay_status: str | None
    household_number: str | None
    district: str | None

    def summary(self) -> dict[str, Any]:
        """The person as the desk shows them, with their whereabouts (shelter id and status)."""
        item = person_summary(self.person, self.household_number, self.district)
        item["whereabouts"] = (None if self.stay_shelter_id is None
                               else {"shelter_id": self.stay_shelter_id, "status": self.stay_status})
        return item


@dataclass(frozen=True)
class SearchResult:
    """The first persons a search found (by reading), and whether more match than were returned."""

    found: list[Found]
    more: bool


@read_only
def search(account: Principal, query: str, *, birth_date: date | None = None,
           limit: int = SEARCH_LIMIT) -> SearchResult:
    """Prefix search by kana or kanji (normalised), optionally by birth date; scoped and audited.

    Staff find anyone not staying elsewhere (to identify walk-ins) and those at their shelters;
    HQ and admin find everyone. Nothing is counted over the register: one row past the limit
    says whether there are more.
    """
    text = unicodedata.normalize("NFKC", query).strip()
    if not text and birth_date is None:
        raise ValidationFailed(_("検索する名前かフリガナを入力してください"), fields={"q": "required"})
    stay = Stay.__table__
    stmt = (select(_PERSON, stay.c.shelter_id.label("stay_shelter_id"), stay.c.status.label("stay_status"),
                   _HOUSEHOLD.c.number.label("household_number"), _HOUSEHOLD.c.district.label("household_district"))
            .outerjoin(stay, and_(stay.c.person_id == _PERSON.c.id, stay.c.checked_out_at.is_(None)))
            .outerjoin(_HOUSEHOLD, _HOUSEHOLD.c.id == _PERSON.c.household_id))
    key = _PERSON.c.kana_key
    if text:
        condition, key = name_match(text)
        stmt = stmt.where(condition)
    if birth_date is not None:
        stmt = stmt.where(_PERSON.c.birth_date == birth_date)
    scope = account.scope()
    if scope is not None:
        stmt = stmt.where(or_(stay.c.id.is_(None), stay.c.shelter_id.in_(sorted(scope))))
    rows = db.session.execute(stmt.order_by(key, _PERSON.c.id).limit(limit + 1)).all()
    more = len(rows) > limit
    # Shown by reading (a kanji search walked the name key): the first `limit` matches, sorted.
    rows = sorted(rows[:limit], key=lambda r: (r.kana_key, r.id))
    audit.read("person.search", subject_type="person",
               detail={"results": [r.id for r in rows], "by_birth_date": birth_date is not None})
    return SearchResult([Found(r, r.stay_shelter_id, r.stay_status, r.household_number, r.household_district)
                         for r in rows], more)


def person_in_scope(account: Principal, person_id: int) -> Any:
    """The person row, if this account may look them up by id; else `NotFound` (as if unknown).

    The same rule as `search`: staff reach people with no open stay (walk-ins to identify) and
    people at their own shelters, never people staying at another shelter — so ids cannot be
    walked to read other shelters' evacuees. A presented card (QR, My Number, IC) is not limited
    by this: the person is standing at the desk.
    """
    person = persons_by_id([person_id]).get(person_id)
    if person is None:
        raise NotFound(_("該当する人が見つかりません"), fields={"person_id": "unknown"})
    if out_of_scope(account, [person_id]):
        # Answered as if unknown (the refusal must not tell that, or where, they stay), and audited.
        audit.refused("person.scope_refused", subject_type="person", subject_id=person_id)
        raise NotFound(_("該当する人が見つかりません"), fields={"person_id": "unknown"})
    return person


def out_of_scope(account: Principal, person_ids: Iterable[int]) -> set[int]:
    """Those of these persons staying at a shelter outside the account's scope (never any for HQ/admin).

    The scope rule of every staff read and change: staff reach people with no open stay and
    people at their own shelters; people staying at another shelter are not theirs to see or
    move — not through a search, an id, a household member, a candidate list or an error.
    """
    scope = account.scope()
    ids = list(person_ids)
    if scope is None or not ids:
        return set()
    return {pid for pid, stay in stays.open_stays_of(ids).items() if stay.shelter_id not in scope}


def scoped_candidates(account: Principal, rows: Sequence[Any]) -> tuple[list[Any], int]:
    """Candidate rows the account may see, and how many others matched (staying elsewhere: not shown)."""
    hidden = out_of_scope(account, [r.id for r in rows])
    return [r for r in rows if r.id not in hidden], len(hidden)


def household_in_scope(account: Principal, household_id: int) -> None:
    """Refuse (`NotFound`, as if unknown) a household this account may not add a walk-in to.

    The rule of `person_in_scope`, for a household: staff reach it through any member they could
    look up by id — one with no open stay, or staying at one of their shelters (a scanned
    household always has the card holder). A household whose members all stay at other shelters
    is not theirs, and the refusal must not tell that it exists (audited).
    """
    unknown = _("世帯が見つかりません")
    member_ids = list(db.session.scalars(select(_PERSON.c.id).where(_PERSON.c.household_id == household_id)))
    if not member_ids:
        raise NotFound(unknown, fields={"household_id": "unknown"})
    if len(out_of_scope(account, member_ids)) == len(member_ids):
        audit.refused("household.scope_refused", subject_type="household", subject_id=household_id)
        raise NotFound(unknown, fields={"household_id": "unknown"})


@dataclass(frozen=True)
class Whereabouts:
    """Where a person with an open stay is."""

    stay: stays.StayRow
    shelter_name: str


def whereabouts(person_ids: Sequence[int]) -> dict[int, Whereabouts]:
    """Open stays (with their shelters' names) of the given persons."""
    found = stays.open_stays_of(person_ids)
    if not found:
        return {}
    shelters = Shelter.__table__
    names = dict(run(prepared("people.shelter_names", lambda: select(shelters.c.id, shelters.c.name).where(
        shelters.c.id.in_(bindparam("p_ids", expanding=True)))), {"p_ids": sorted({s.shelter_id for s in found.values()})}))
    return {pid: Whereabouts(stay, names.get(stay.shelter_id, "")) for pid, stay in found.items()}
