"""Shelter queries and changes shared by the API, the pages and the CLI."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, select

from evac.audit import service as audit
from evac.common.db import now_utc, read_only, writing
from evac.common.errors import Conflict, NotFound, ValidationFailed
from evac.common.statements import run
from evac.common.textnorm import kana_key
from evac.extensions import db
from evac.incidents import service as incidents
from evac.outbox import service as outbox
from evac.shelters.models import Shelter, ShelterStatus
from evac.stays import service as stays
from evac.stays.service import Occupancy

__all__ = ["Occupancy", "ShelterFacts", "ShelterNotEmpty", "ShelterPage", "get_shelter", "list_shelters", "reading_order",
           "shelter_facts", "shelter_payload", "update_shelter"]


class ShelterNotEmpty(Conflict):
    """A shelter with open stays cannot close: its people would drop out of every count while still there."""

    code = "shelter_not_empty"


_SMALL_KANA = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_VOICING_MARKS = dict.fromkeys((0x3099, 0x309A))  # combining (han)dakuten, after NFD


def reading_order(name_kana: str | None, name: str) -> tuple[int, str, str, str]:
    """Sort key of a shelter in 五十音 order of its reading (name_kana).

    Code point order of kana is close to 五十音 but not it: ガ would sort apart from カ's other
    words once a second letter differs, small ッ/ャ before their big letter, hiragana after every
    katakana. As dictionaries do, voiced and small kana sort as their plain letter first, and only
    break ties. A shelter without a reading sorts after those with one, by its name.
    """
    reading = kana_key(name_kana)
    plain = unicodedata.normalize("NFD", reading).translate(_VOICING_MARKS).translate(_SMALL_KANA)
    return (0 if reading else 1, plain, reading, name)


@dataclass(frozen=True)
class ShelterPage:
    """One page of shelters with their occupancy."""

    items: Sequence[tuple[Shelter, Occupancy]]
    total: int
    next_cursor: int | None


@read_only
def list_shelters(scope: frozenset[int] | None, *, limit: int = 100, cursor: int | None = None,
                  status: str | None = None) -> ShelterPage:
    """Shelters within `scope` (None: every shelter), by id, keyset-paginated so deep pages stay fast."""
    query = select(Shelter)
    if scope is not None:
        query = query.where(Shelter.id.in_(sorted(scope)))
    if status:
        query = query.where(Shelter.status == ShelterStatus(status))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if cursor is not None:
        query = query.where(Shelter.id > cursor)
    shelters = list(db.session.scalars(query.order_by(Shelter.id).limit(limit + 1)))
    more = len(shelters) > limit
    shelters = shelters[:limit]
    counts = stays.occupancy_for(s.id for s in shelters)
    items = [(s, counts.get(s.id, Occupancy())) for s in shelters]
    return ShelterPage(items, total, shelters[-1].id if more else None)


def get_shelter(shelter_id: int, *, lock: bool = False) -> Shelter:
    """The shelter with this id, or `NotFound` (joins the caller's unit); `lock`: row-locked on
    PostgreSQL until the unit ends (SQLite's writing units hold the database's write lock anyway)."""
    shelter = db.session.get(Shelter, shelter_id, with_for_update=lock or None)
    if shelter is None:
        raise NotFound(_("避難所が見つかりません"), shelter_id=shelter_id)
    return shelter


class ShelterFacts(Protocol):
    """What a desk operation reads of a shelter: a `Shelter`, or the row `shelter_facts` reads."""

    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> ShelterStatus: ...
    @property
    def capacity(self) -> int | None: ...
    @property
    def municipality_code(self) -> str | None: ...


_SHELTERS = Shelter.__table__
_FACTS = select(_SHELTERS.c.id, _SHELTERS.c.code, _SHELTERS.c.name, _SHELTERS.c.status, _SHELTERS.c.capacity,
                _SHELTERS.c.municipality_code).where(_SHELTERS.c.id == bindparam("p_id"))


def shelter_facts(shelter_id: int) -> ShelterFacts:
    """The shelter's id, code, name, status, capacity and municipality, or `NotFound` (joins the
    caller's unit): one row read as it is, for the check-in path, where loading the whole
    mapped object cost more than the statement."""
    row: ShelterFacts | None = run(_FACTS, {"p_id": shelter_id}).first()
    if row is None:
        raise NotFound(_("避難所が見つかりません"), shelter_id=shelter_id)
    return row


@read_only
def shelter_with_occupancy(shelter_id: int) -> tuple[Shelter, Occupancy]:
    """One shelter and its live counts."""
    shelter = get_shelter(shelter_id)
    return shelter, stays.occupancy_for([shelter_id]).get(shelter_id, Occupancy())


def shelter_payload(shelter: ShelterFacts) -> dict[str, object]:
    """The shelter as the sync wire format carries it (no personal data in a shelter)."""
    return {
        "id": shelter.id,
        "code": shelter.code,
        "name": shelter.name,
        "status": shelter.status.value,
        "capacity": shelter.capacity,
        "municipality_code": shelter.municipality_code,
    }


def _refuse_closing_with_people(shelter: Shelter) -> None:
    """Refuse to close a shelter that still has open stays (present, out, at home or in a car).

    Closed shelters are left out of HQ's totals, its table and the public page, so closing one
    with people registered there would make them vanish from the counts while the database still
    holds them as staying. HQ moves them first (every stay to another open shelter, as
    transfers) or the desk records them as left.
    """
    counts = stays.status_counts(shelter.id)
    present = sum(counts.values())
    if present:
        raise ShelterNotEmpty(
            _("%(name)s には受付中の人が %(n)s 人います。全員を別の避難所へ移動するか、退所を記録してから閉鎖してください",
              name=shelter.name, n=present),
            fields={"status": "shelter has open stays"}, shelter_id=shelter.id, present=present, counts=counts)


@writing
def update_shelter(shelter_id: int, *, status: str | None = None, capacity: int | None = None,
                   capacity_given: bool = False) -> tuple[Shelter, Occupancy]:
    """Open, close, mark full or set the capacity; audited, with a `shelter.updated` outbox event."""
    # Locked: a close and HQ's move of everyone out (evac.hq.closing) on the same shelter take turns.
    shelter = get_shelter(shelter_id, lock=True)
    changes: dict[str, object] = {}
    if capacity_given and capacity != shelter.capacity:
        if capacity is not None and capacity < 0:
            raise ValidationFailed(_("収容人数は0以上にしてください"), fields={"capacity": "must be >= 0"})
        changes["capacity"] = [shelter.capacity, capacity]
        shelter.capacity = capacity
    if status is not None and ShelterStatus(status) is not shelter.status:
        new = ShelterStatus(status)
        if shelter.status is ShelterStatus.CLOSED:
            incidents.required(lock=True)  # shelters open under an incident (a disaster or a drill)
        if new is ShelterStatus.CLOSED:
            _refuse_closing_with_people(shelter)
        changes["status"] = [shelter.status.value, new.value]
        if shelter.status is ShelterStatus.CLOSED:
            shelter.opened_at, shelter.closed_at = now_utc(), None
        if new is ShelterStatus.CLOSED:
            shelter.closed_at = now_utc()
        shelter.status = new
    if changes:
        shelter.updated_at = now_utc()
        db.session.flush()
        audit.record("shelter.update", subject_type="shelter", subject_id=shelter.id,
                     shelter_id=shelter.id, detail=changes)
        outbox.record("shelter.updated", payload={"shelter": shelter_payload(shelter)}, shelter_id=shelter.id)
    return shelter, stays.occupancy_for([shelter_id]).get(shelter_id, Occupancy())
