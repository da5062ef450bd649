"""Check-in, check-out, outing, return and transfer: idempotent, audited, safe under concurrency.

Every function here owns its transaction and writes, in it, the stays, the outbox events that
describe them and the audit events. The desk pages and the JSON API both call these.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from evac.accounts.auth import ensure_shelter_access
from evac.accounts.models import StaffAccount
from evac.audit import service as audit
from evac.cards import service as cards
from evac.checkin.models import CheckinMethod, ClientRequest, Stay, StayStatus
from evac.common.db import begin_write, now_utc
from evac.common.errors import DomainError, NotFound, ValidationFailed
from evac.extensions import db
from evac.hq import tallies
from evac.outbox import service as outbox
from evac.people import service as people
from evac.people.models import Person, PersonSource
from evac.shelters import service as shelters
from evac.shelters.models import Shelter, ShelterStatus


class ShelterClosed(DomainError):
    """Check-ins go only to open (or full) shelters."""

    status = 409
    code = "shelter_closed"


class CheckedInElsewhere(DomainError):
    """The person has an open stay at another shelter; a transfer is needed."""

    status = 409
    code = "checked_in_elsewhere"


class NotCheckedIn(DomainError):
    """Check-out, outing or transfer of someone with no open stay."""

    status = 409
    code = "not_checked_in"


class ClientIdReused(DomainError):
    """A client id already used for a different request."""

    status = 409
    code = "client_id_reused"


class ICCardUnlinked(DomainError):
    """An IC card's first tap: staff must choose the person to link it to."""

    status = 404
    code = "ic_card_unlinked"


@dataclass(frozen=True)
class Outcome:
    """An answer to a desk request: HTTP status and JSON body (stored for replays)."""

    status_code: int
    body: dict[str, Any]


# What each whereabouts change is called on the wire (DESIGN.md's sync event types).
_EVENT_FOR_STATUS = {
    StayStatus.OUTING: "outing",
    StayStatus.PRESENT: "return",
    StayStatus.AT_HOME: "checkout",
    StayStatus.IN_CAR: "checkout",
}


def _request_hash(kind: str, body: dict[str, Any]) -> str:
    canonical = json.dumps({"kind": kind, "body": body}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _replay(row: ClientRequest, request_hash: str, account_id: int) -> Outcome:
    # Another account's client id is not theirs to replay: the stored answer holds personal data.
    if row.request_hash != request_hash or row.account_id != account_id:
        raise ClientIdReused(_("この client_id は別の内容の受付で使われています"), fields={"client_id": "reused"})
    assert row.response is not None
    return Outcome(200, row.response)


def _idempotent(kind: str, account: StaffAccount, body: dict[str, Any],
                work: Callable[[], Outcome]) -> Outcome:
    """Run `work` once per client id; a repeat (even a concurrent one) gets the first answer."""
    client_id = str(body["client_id"])
    request_hash = _request_hash(kind, body)
    account_id = account.id
    begin_write(db.session)
    existing = db.session.scalar(select(ClientRequest).where(ClientRequest.client_id == client_id))
    if existing is not None:
        outcome = _replay(existing, request_hash, account_id)
        db.session.rollback()
        return outcome
    row = ClientRequest(client_id=client_id, kind=kind, request_hash=request_hash, account_id=account_id)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        # A concurrent request with this client id committed first: answer as it did.
        db.session.rollback()
        existing = db.session.scalar(select(ClientRequest).where(ClientRequest.client_id == client_id))
        if existing is None:
            raise
        return _replay(existing, request_hash, account_id)
    outcome = work()
    row.status_code, row.response = outcome.status_code, outcome.body
    db.session.commit()
    return outcome


def _lock_persons(person_ids: list[int]) -> dict[int, Person]:
    """Load and, on PostgreSQL, row-lock the persons in id order (no deadlocks between desks)."""
    rows = db.session.scalars(
        select(Person).where(Person.id.in_(person_ids)).order_by(Person.id).with_for_update()
    )
    persons = {p.id: p for p in rows}
    missing = sorted(set(person_ids) - set(persons))
    if missing:
        raise NotFound(_("該当する人が見つかりません"), fields={"members": missing})
    return persons


def _stay_payload(stay: Stay) -> dict[str, Any]:
    return {
        "id": stay.id, "person_id": stay.person_id, "shelter_id": stay.shelter_id,
        "household_id": stay.household_id, "status": stay.status.value, "method": stay.method.value,
        "checked_in_at": stay.checked_in_at.isoformat(),
        "checked_out_at": stay.checked_out_at.isoformat() if stay.checked_out_at else None,
        "transferred_to_id": stay.transferred_to_id,
    }


def _emit(event_type: str, stay: Stay, person: Person, shelter: Shelter, **extra: Any) -> None:
    outbox.record(event_type, person_id=person.id, shelter_id=shelter.id, payload={
        "shelter": shelters.shelter_payload(shelter), "person": people.sync_payload(person),
        "stay": _stay_payload(stay), **extra,
    })
    audit.record(f"stay.{event_type}", subject_type="person", subject_id=person.id, shelter_id=shelter.id,
                 detail={"stay_id": stay.id})


def _open_stay(person: Person, shelter: Shelter, *, status: StayStatus, method: CheckinMethod,
               client_id: str, staff_id: int) -> Stay:
    stay = Stay(person_id=person.id, shelter_id=shelter.id, household_id=person.household_id, status=status,
                method=method, client_id=client_id, staff_id=staff_id, checked_in_at=now_utc())
    db.session.add(stay)
    db.session.flush()
    tallies.stay_opened(stay, person)
    return stay


def _close_stay(stay: Stay, status: StayStatus, *, transferred_to: int | None = None) -> None:
    tallies.stay_changed(stay, stay.status, status)
    stay.status, stay.checked_out_at, stay.transferred_to_id = status, now_utc(), transferred_to
    db.session.flush()


def _open_shelter(shelter_id: int, account: StaffAccount | None) -> Shelter:
    """The shelter, if open or full; checks the account's scope unless `account` is None."""
    if account is not None:
        ensure_shelter_access(account, shelter_id)
    shelter = shelters.get_shelter(shelter_id)
    if shelter.status is ShelterStatus.CLOSED:
        raise ShelterClosed(_("%(name)s は開設されていません。本部に開設を依頼してください", name=shelter.name),
                            shelter_id=shelter.id)
    return shelter


def _candidates(persons: list[Person]) -> list[dict[str, Any]]:
    audit.record_now("person.read", subject_type="person", detail={"person_ids": [p.id for p in persons],
                                                                    "purpose": "candidates"})
    return [_jsonable(people.person_summary(p)) for p in persons]


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _identify(body: dict[str, Any], account: StaffAccount, shelter: Shelter) -> tuple[Person, CheckinMethod]:
    """The person a check-in is about, by QR, My Number card, IC card, paper card or id."""
    if body.get("qr"):
        return cards.resolve(body["qr"], shelter_id=shelter.id), CheckinMethod.QR
    if body.get("card"):
        matches, parsed = people.match_card(body["card"])
        if len(matches) > 1:
            raise people.AmbiguousMatch(_("同じ氏名・生年月日・住所の人が複数います。本人を選んでください"),
                                        candidates=_candidates(matches))
        if matches:
            return matches[0], CheckinMethod.MYNUMBER
        return people.create_person(parsed, source=PersonSource.MYNUMBER), CheckinMethod.MYNUMBER
    if body.get("ic_uid"):
        person = cards.person_for_ic(body["ic_uid"])
        if person is None:
            if not body.get("person_id"):
                raise ICCardUnlinked(_("このICカードは未登録です。本人を検索して選び、もう一度タッチしてください"))
            person = people.person_in_scope(account, body["person_id"])
            cards.link_ic(body["ic_uid"], person.id, staff_id=account.id)
        return person, CheckinMethod.IC
    if body.get("person"):
        values = {**body["person"],
                  "birth_date": people.parse_date_field(body["person"]["birth_date"], "person.birth_date"),
                  "sex": people.parse_sex(body["person"]["sex"])}
        if not body.get("confirm_new"):
            twins = people.duplicates_of(values)
            if twins:
                raise people.PossibleDuplicate(
                    _("同じ氏名・生年月日の人が登録されています。同一人物なら選んでください"),
                    candidates=_candidates(twins))
        if values.get("household_id") is not None:
            people.household_in_scope(account, values["household_id"], shelter.id)
        person = people.create_person(values, source=PersonSource.PAPER, household_id=values.get("household_id"))
        audit.record("person.create", subject_type="person", subject_id=person.id, shelter_id=shelter.id)
        return person, CheckinMethod.PAPER
    return people.person_in_scope(account, body["person_id"]), CheckinMethod.MANUAL


def _targets(principal: Person, members: list[int] | None) -> list[int]:
    """Who is checked in: the household members present, or the principal alone."""
    if not members:
        return [principal.id]
    household = {principal.id}
    if principal.household_id is not None:
        household |= set(db.session.scalars(select(Person.id).where(Person.household_id == principal.household_id)))
    strangers = sorted(set(members) - household)
    if strangers:
        raise ValidationFailed(_("同じ世帯でない人が含まれています"), fields={"members": strangers})
    return sorted(set(members))


def household_view(person: Person) -> dict[str, Any]:
    """The person's household with each member's whereabouts; audited as a read."""
    members = (list(db.session.scalars(select(Person).where(Person.household_id == person.household_id)
                                       .order_by(Person.id)))
               if person.household_id is not None else [person])
    where = people.whereabouts([m.id for m in members])
    audit.record("person.read", subject_type="household", subject_id=person.household_id,
                 detail={"person_ids": [m.id for m in members]})
    household = person.household
    return _jsonable({
        "id": person.household_id,
        "number": household.number if household else None,
        "members": [
            {**people.person_summary(m),
             "whereabouts": None if m.id not in where else {
                 "stay_id": where[m.id][0].id, "status": where[m.id][0].status.value,
                 "shelter_id": where[m.id][1].id, "shelter_name": where[m.id][1].name}}
            for m in members
        ],
    })


def _answer(status_code: int, stays: list[Stay], shelter: Shelter, principal: Person,
            **extra: Any) -> Outcome:
    occ = shelters.occupancy_for([shelter.id]).get(shelter.id, shelters.Occupancy())
    body = {
        "stays": [_stay_payload(s) for s in stays],
        "shelter": _jsonable({**shelters.shelter_payload(shelter), "occupancy": occ.occupancy,
                              "households": occ.households}),
        "person": _jsonable(people.person_summary(principal)),
        "household": household_view(principal),
        **extra,
    }
    return Outcome(status_code, body)


def checkin(account: StaffAccount, body: dict[str, Any]) -> Outcome:
    """Check a person, or the members of their household present, into a shelter.

    201 when a stay was opened or changed, 200 when everyone was already there or for a replay
    of the same `client_id`; 409 when someone is at another shelter (unless `transfer`).
    """
    people.refuse_individual_numbers(body)

    def work() -> Outcome:
        shelter = _open_shelter(body["shelter_id"], account)
        principal, method = _identify(body, account, shelter)
        targets = _targets(principal, body.get("members"))
        persons = _lock_persons(targets)
        where = people.whereabouts(targets)
        elsewhere = [{"person_id": pid, "shelter_id": s.id, "shelter_name": s.name}
                     for pid, (stay, s) in where.items() if s.id != shelter.id]
        if elsewhere and not body.get("transfer"):
            raise CheckedInElsewhere(
                _("%(name)s に受付済みです。移動の場合は「移動」で受付してください", name=elsewhere[0]["shelter_name"]),
                elsewhere=elsewhere)
        initial = StayStatus(body.get("whereabouts") or StayStatus.PRESENT)
        changed, stays = False, []
        for pid in targets:
            person = persons[pid]
            current = where.get(pid)
            if current is None:
                stay = _open_stay(person, shelter, status=initial, method=method,
                                  client_id=body["client_id"], staff_id=account.id)
                _emit("checkin", stay, person, shelter)
                changed = True
            elif current[1].id == shelter.id:
                stay = current[0]
                if stay.status is not initial and initial is StayStatus.PRESENT:
                    tallies.stay_changed(stay, stay.status, StayStatus.PRESENT)
                    stay.status = StayStatus.PRESENT
                    _emit("return", stay, person, shelter)
                    changed = True
            else:
                old, origin = current
                _close_stay(old, StayStatus.TRANSFERRED, transferred_to=shelter.id)
                stay = _open_stay(person, shelter, status=initial, method=method,
                                  client_id=body["client_id"], staff_id=account.id)
                _emit("transfer", stay, person, shelter, from_shelter_id=origin.id)
                changed = True
            stays.append(stay)
        warnings = ["shelter_full"] if shelter.status is ShelterStatus.FULL else []
        return _answer(201 if changed else 200, stays, shelter, principal, warnings=warnings)

    return _idempotent("checkin", account, body, work)


def checkout(account: StaffAccount, body: dict[str, Any]) -> Outcome:
    """Check-out (`left`), outing and `return`, `transfer`, or whereabouts `at_home` / `in_car`."""
    people.refuse_individual_numbers(body)

    def work() -> Outcome:
        if body.get("qr"):
            principal = cards.resolve(body["qr"])
        else:
            principal = db.session.get(Person, body["person_id"])
            if principal is None:
                raise NotFound(_("該当する人が見つかりません"), fields={"person_id": "unknown"})
        targets = _targets(principal, body.get("members"))
        persons = _lock_persons(targets)
        where = people.whereabouts(targets)
        absent = [pid for pid in targets if pid not in where]
        if absent:
            raise NotCheckedIn(_("受付されていない人が含まれています"), fields={"members": absent})
        reason = body["reason"]
        target_shelter = None
        if reason == "transfer":
            # Desk staff may send people on to any open shelter: HQ routes them, not the desk.
            target_shelter = _open_shelter(body["to_shelter_id"], None)
        changed, stays, origin = False, [], None
        for pid in targets:
            person = persons[pid]
            stay, shelter = where[pid]
            ensure_shelter_access(account, shelter.id)
            origin = origin or shelter
            if reason == "left":
                _close_stay(stay, StayStatus.LEFT)
                _emit("checkout", stay, person, shelter)
                changed = True
            elif reason == "transfer":
                assert target_shelter is not None
                if shelter.id == target_shelter.id:
                    raise ValidationFailed(_("移動先が現在の避難所と同じです"), fields={"to_shelter_id": "same shelter"})
                _close_stay(stay, StayStatus.TRANSFERRED, transferred_to=target_shelter.id)
                new = _open_stay(person, target_shelter, status=StayStatus.PRESENT, method=CheckinMethod.MANUAL,
                                 client_id=body["client_id"], staff_id=account.id)
                _emit("transfer", new, person, target_shelter, from_shelter_id=shelter.id)
                stay, changed = new, True
            else:
                new_status = {"outing": StayStatus.OUTING, "return": StayStatus.PRESENT,
                              "at_home": StayStatus.AT_HOME, "in_car": StayStatus.IN_CAR}[reason]
                if reason == "return" and stay.status is StayStatus.PRESENT:
                    pass  # already back: nothing to record
                elif stay.status is not new_status:
                    tallies.stay_changed(stay, stay.status, new_status)
                    stay.status = new_status
                    db.session.flush()
                    _emit(_EVENT_FOR_STATUS[new_status], stay, person, shelter)
                    changed = True
            stays.append(stay)
        assert origin is not None
        extra: dict[str, Any] = {}
        if target_shelter is not None:
            occ = shelters.occupancy_for([target_shelter.id]).get(target_shelter.id, shelters.Occupancy())
            extra["to_shelter"] = _jsonable({**shelters.shelter_payload(target_shelter),
                                             "occupancy": occ.occupancy, "households": occ.households})
        return _answer(201 if changed else 200, stays, origin, principal, **extra)

    return _idempotent("checkout", account, body, work)


def lookup(account: StaffAccount, body: dict[str, Any]) -> dict[str, Any]:
    """Who a scan or tap names, with their household and whereabouts, changing nothing (the desk's preview)."""
    people.refuse_individual_numbers(body)
    shelter = _open_shelter(body["shelter_id"], account)
    if body.get("ic_uid"):
        person = cards.person_for_ic(body["ic_uid"])
        if person is None:
            raise ICCardUnlinked(_("このICカードは未登録です。本人を検索して選び、もう一度タッチしてください"))
    elif body.get("card"):
        matches, _parsed = people.match_card(body["card"])
        if len(matches) != 1:
            db.session.commit()
            return {"person": None, "household": None,
                    "candidates": _candidates(matches) if matches else []}
        person = matches[0]
    elif body.get("qr"):
        person = cards.resolve(body["qr"], shelter_id=shelter.id)
    else:
        person = people.person_in_scope(account, body["person_id"])
    result = {"person": _jsonable(people.person_summary(person)), "household": household_view(person),
              "candidates": []}
    db.session.commit()
    return result


def roster(account: StaffAccount, shelter_id: int, *, status: str | None = None, needs: list[str] | None = None,
           q: str | None = None, limit: int = 200, cursor: int | None = None) -> dict[str, Any]:
    """The shelter's open stays with who they are; filters by whereabouts, needs and name; audited."""
    from sqlalchemy import func, or_

    from evac.common.textnorm import is_kana, kana_key, name_key

    ensure_shelter_access(account, shelter_id)
    shelter = shelters.get_shelter(shelter_id)
    stmt = (select(Stay, Person).join(Person, Person.id == Stay.person_id)
            .where(Stay.shelter_id == shelter_id, Stay.checked_out_at.is_(None)))
    if status:
        stmt = stmt.where(Stay.status == StayStatus(status))
    mask = people.needs_mask(needs or [])
    if mask:
        stmt = stmt.where(Person.needs.op("&")(mask) != 0)
    if q:
        # Within one shelter the roster is small, so given names are searched too ("はなこ").
        kana, name = kana_key(q), name_key(q)
        kana_match = or_(people.prefix(Person.kana_key, kana), people.prefix(Person.given_name_kana, kana))
        name_match = or_(people.prefix(Person.name_key, name), people.prefix(Person.given_name, name))
        stmt = stmt.where(kana_match if is_kana(q) else or_(kana_match, name_match))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if cursor is not None:
        stmt = stmt.where(Stay.id > cursor)
    rows = list(db.session.execute(stmt.order_by(Stay.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    audit.record("person.read", subject_type="roster", subject_id=shelter_id, shelter_id=shelter_id,
                 detail={"person_ids": [p.id for _s, p in rows]})
    occ = shelters.occupancy_for([shelter_id]).get(shelter_id, shelters.Occupancy())
    counts = dict(db.session.execute(
        select(Stay.status, func.count()).where(Stay.shelter_id == shelter_id, Stay.checked_out_at.is_(None))
        .group_by(Stay.status)).all())
    db.session.commit()
    return _jsonable({
        "shelter": {**shelters.shelter_payload(shelter), "occupancy": occ.occupancy, "households": occ.households},
        "counts": {s.value: n for s, n in counts.items()},
        "items": [{"stay": _stay_payload(stay), "person": people.person_summary(person)} for stay, person in rows],
        "total": total,
        "next": rows[-1][0].id if more else None,
    })
