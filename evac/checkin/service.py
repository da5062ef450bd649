"""Check-in, check-out, outing, return and transfer: idempotent, audited, safe under concurrency.

`checkin` and `checkout` are writing units: in one transaction they change the stays (and, with
them, the counters), record the outbox events that describe the change and the audit events, and
claim the request's client id with the answer stored for replays (`_idempotent`). `lookup` and `roster` are
read-only units. The desk pages and the JSON API both call these.

The path is kept short because every check-in of a busy shelter waits for the one before it on
SQLite: Core statements on plain rows, events and audit rows inserted together at the end, the
counters last, and no household rebuilt for the answer unless the caller asks for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, case, func, select, update

from evac.accounts.auth import ensure_shelter_access
from evac.accounts.service import Principal
from evac.audit import service as audit
from evac.cards import service as cards
from evac.checkin.models import ClientRequest
from evac.common import signals
from evac.common.db import UnitConflict, active_unit, current_unit, now_utc, prepared, read_only, writing
from evac.common.errors import DomainError, NotFound, ValidationFailed
from evac.common.statements import run
from evac.common.textnorm import is_kana, kana_key, name_key
from evac.common.vocab import NEED_KEYS, CheckinMethod, StayStatus, needs_mask
from evac.extensions import db
from evac.incidents import service as incidents
from evac.incidents.service import CurrentIncident
from evac.outbox import service as outbox
from evac.people import service as people
from evac.people.models import Person, PersonSource
from evac.shelters import service as shelters
from evac.shelters.models import Shelter, ShelterStatus
from evac.shelters.service import ShelterFacts
from evac.stays import service as stays
from evac.stays.models import Stay
from evac.stays.service import Arrival, Occupancy, StayRow


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
_REQUESTS = ClientRequest.__table__


# --- idempotency ---------------------------------------------------------------------------------


def _request_hash(kind: str, body: dict[str, Any]) -> str:
    canonical = json.dumps({"kind": kind, "body": body}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Request:
    """A desk request's identity: what kind it is, its client id, and a hash of what it asked."""

    kind: str
    client_id: str
    request_hash: str

    @classmethod
    def of(cls, kind: str, body: dict[str, Any]) -> _Request:
        return cls(kind, str(body["client_id"]), _request_hash(kind, body))


class _Taken(Exception):
    """The client id was stored by another request meanwhile: this unit rolls back and replays that answer."""


def _idempotent(kind: str, account: Principal, body: dict[str, Any],
                work: Callable[[Principal, dict[str, Any], _Request], Outcome]) -> Outcome:
    """Run a desk operation once per client id: the first run's answer is stored, a repeat gets it back.

    The client id is claimed by the operation's last statement, which stores the answer with it
    (`_remember`: an insert that does nothing on a conflict). A repeat therefore runs the
    operation again — on PostgreSQL a concurrent one waits on the first's row locks and then on
    the client id — finds the id taken, rolls everything back and answers what the first run
    stored. A repeat refused where the first run succeeded (the person has moved on since) is
    answered the same way. Each request costs one statement for its idempotency, not two.
    """
    if active_unit() is not None:  # a repeat is found out by rolling the unit back: it must be its own
        raise UnitConflict("a desk operation runs as a unit of its own")
    request = _Request.of(kind, body)
    if body.get("person"):
        # A walk-in's first run registered the family: run again, it would meet them as possible
        # duplicates and journal a read of candidates nobody was shown. Its answer is looked for first.
        replayed = _replay(account, request)
        if replayed is not None:
            return replayed
    try:
        return work(account, body, request)
    except _Taken:
        pass
    except DomainError:
        replayed = _replay(account, request)
        if replayed is None:
            raise
        return replayed
    replayed = _replay(account, request)
    if replayed is None:  # taken by a request that rolled back after all: this one's turn again
        return work(account, body, request)
    return replayed


_STORED = select(_REQUESTS.c.request_hash, _REQUESTS.c.account_id, _REQUESTS.c.response).where(
    _REQUESTS.c.client_id == bindparam("p_client_id"))


@read_only
def _replay(account: Principal, request: _Request) -> Outcome | None:
    """The answer stored under the request's client id (a replay, audited), or None if there is none.

    A read-only unit (its audit row is journaled as it ends): looking costs a refused request no write lock.
    """
    stored = run(_STORED, {"p_client_id": request.client_id}).first()
    if stored is None:
        return None
    # Another account's client id is not theirs to replay: the stored answer holds personal data.
    if stored.request_hash != request.request_hash or stored.account_id != account.id or stored.response is None:
        raise ClientIdReused(_("この client_id は別の内容の受付で使われています"), fields={"client_id": "reused"})
    person_ids = [s["person_id"] for s in stored.response.get("stays", [])]
    audit.read("person.read", subject_type="client_request", subject_id=request.client_id,
               detail={"person_ids": person_ids, "purpose": "replay"})
    return Outcome(200, _public(stored.response))


def _remember(account: Principal, request: _Request, outcome: Outcome, changes: _Changes | None = None) -> Outcome:
    """Claim the client id with the answer stored for replays, and what the operation changed (for an undo).

    `_Taken` if another request holds the id: its transaction has committed by the time the
    insert returns (it waited on the unique index), and this one's is rolled back.
    """
    stored = outcome.body if changes is None or not changes.items else {**outcome.body, _UNDO: changes.stored()}
    incident = incidents.current()
    unit_ = current_unit()
    stmt = prepared(("checkin.claim", unit_.dialect), lambda: unit_.insert(_REQUESTS).on_conflict_do_nothing(
        index_elements=["client_id"]).returning(_REQUESTS.c.id))
    claimed = run(stmt, {
        "client_id": request.client_id, "kind": request.kind, "request_hash": request.request_hash,
        "account_id": account.id, "incident_id": incident.id if incident else None, "created_at": now_utc(),
        "status_code": outcome.status_code, "response": stored}).scalar()
    if claimed is None:
        raise _Taken(request.client_id)
    return outcome


def _answer_at_commit(account: Principal, request: _Request, outcome: Outcome, changes: _Changes,
                      named: dict[str, ShelterFacts]) -> Outcome:
    """Complete the answer with each named shelter's occupancy and store it for replays, as the unit commits.

    Both wait for the counters' update, the last statement but this one of the transaction: its
    ``RETURNING`` is the occupancy, so no query reads it back and no shelter's counter row is
    held while the answer is built.
    """
    def finish(occ: dict[int, Occupancy]) -> None:
        for key, shelter in named.items():
            outcome.body[key] = _shelter_answer(shelter, occ.get(shelter.id, Occupancy()))
        _remember(account, request, outcome, changes)

    stays.occupancy_at_commit([shelter.id for shelter in named.values()], finish)
    return outcome


def _public(response: dict[str, Any]) -> dict[str, Any]:
    """A stored answer without what only the server keeps in it (the undo record)."""
    return {k: v for k, v in response.items() if not k.startswith("_")}


# The key of a stored answer that keeps what the operation changed, and the one that says it was undone.
_UNDO = "_undo"
_UNDONE = "_undone"


@dataclass
class _Changes:
    """What one desk operation did to each stay, so that it can be taken back exactly.

    `before` is the stay's status before the operation (None: the operation opened it), `after`
    its status after; every stay the operation touched got `updated_at = at`, so a stay changed
    since by anything else is told apart by its `updated_at`.
    """

    at: Any
    items: list[dict[str, Any]]

    def add(self, stay_id: int, before: StayStatus | None, after: StayStatus, event_id: str | None) -> None:
        """Note one stay's change and the event that told the cloud system about it."""
        self.items.append({"stay_id": stay_id, "before": before.value if before else None, "after": after.value,
                           "event_id": event_id})

    def stored(self) -> dict[str, Any]:
        """As kept in the stored answer (JSON)."""
        return {"at": self.at.isoformat(), "changes": self.items}


# --- shared steps --------------------------------------------------------------------------------


def _open_shelter(shelter_id: int, account: Principal | None) -> ShelterFacts:
    """The shelter, if open or full; checks the account's scope unless `account` is None."""
    if account is not None:
        ensure_shelter_access(account, shelter_id)
    shelter = shelters.shelter_facts(shelter_id)
    if shelter.status is ShelterStatus.CLOSED:
        raise ShelterClosed(_("%(name)s は開設されていません。本部に開設を依頼してください", name=shelter.name),
                            shelter_id=shelter.id)
    return shelter


def _shelter_answer(shelter: ShelterFacts, occ: Occupancy) -> dict[str, Any]:
    return {**shelters.shelter_payload(shelter), "occupancy": occ.occupancy, "households": occ.households}


def _emit(event_type: str, stay: StayRow, person: Any, shelter: ShelterFacts, **extra: Any) -> str | None:
    """Record the outbox event and the audit row of one stay's change; the event's id."""
    event_id = outbox.record(event_type, person_id=person.id, shelter_id=shelter.id, payload={
        "shelter": shelters.shelter_payload(shelter), "person": people.sync_payload(person),
        "stay": stay.payload(), **extra,
    })
    audit.record(f"stay.{event_type}", subject_type="person", subject_id=person.id, shelter_id=shelter.id,
                 detail={"stay_id": stay.id})
    return event_id


def _candidates(account: Principal, rows: list[Any]) -> tuple[list[dict[str, Any]], int]:
    """The candidates staff may see (in scope) and how many others matched; audited as a read."""
    shown, hidden = people.scoped_candidates(account, rows)
    # Shown with a refusal (the unit rolls back), so the read is journaled whatever happens.
    if shown:
        audit.read("person.read", subject_type="person", detail={"person_ids": [p.id for p in shown],
                                                                 "purpose": "candidates"}, kept=True)
    return [people.person_summary(p) for p in shown], hidden


def _slim(person: Any) -> dict[str, Any]:
    """The person an answer is about, as much as the desk needs to say who was checked in."""
    return {"id": person.id, "family_name": person.family_name, "given_name": person.given_name,
            "family_name_kana": person.family_name_kana, "given_name_kana": person.given_name_kana,
            "household_id": person.household_id}


@dataclass(frozen=True)
class _Identified:
    person_id: int
    household_id: int | None
    method: CheckinMethod
    # The walk-in's family, registered with them: checked in with them, whatever `members` says.
    family: tuple[int, ...] = ()


# What a family member has of the card holder's: one household, one address, one way to reach them.
_SHARED_WITH_HOLDER = ("postal_code", "address", "phone", "nationality", "language", "consent")


def _walk_in_values(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The card holder's and each family member's values, parsed, each with the path naming it in errors."""
    holder = body["person"]
    entries = [("person", {**holder})]
    for index, member in enumerate(body.get("family") or []):
        values = {**{key: holder.get(key) for key in _SHARED_WITH_HOLDER}, **member,
                  "family_name": member.get("family_name") or holder["family_name"],
                  "family_name_kana": member.get("family_name_kana") or holder["family_name_kana"]}
        entries.append((f"family[{index}]", values))
    seen: dict[tuple[str, Any], str] = {}
    for path, values in entries:
        values["birth_date"] = people.parse_date_field(values["birth_date"], f"{path}.birth_date")
        values["sex"] = people.parse_sex(values["sex"])
        for field in ("family_name_kana", "given_name_kana"):
            if values.get(field) and not is_kana(values[field]):
                raise ValidationFailed(_("フリガナはカタカナかひらがなで入力してください"),
                                       fields={f"{path}.{field}": "kana only"})
        # The same person twice on one card (a block added twice) would be two stays of one person.
        who = (name_key(values["family_name"], values.get("given_name")), values["birth_date"])
        if who in seen:
            raise ValidationFailed(_("同じ氏名・生年月日の人が二度入力されています"),
                                   fields={path: f"the same person as {seen[who]}"})
        seen[who] = path
    return entries


def _register_walk_ins(body: dict[str, Any], account: Principal, shelter: ShelterFacts,
                       incident: CurrentIncident) -> _Identified:
    """Register the paper card's holder and the family with them into one household (new, or the one named).

    Nothing is registered while any of them looks like someone already registered (unless
    `confirm_new`): the refusal says which of them, with the candidates staff may see.
    """
    household_id = body["person"].get("household_id")
    if household_id is not None:
        # First: an unreachable household is refused as unknown, whatever else is wrong with the card.
        people.household_in_scope(account, household_id)
    entries = _walk_in_values(body)
    if not body.get("confirm_new"):
        for path, values in entries:
            twins = people.duplicates_of(values)
            if not twins:
                continue
            shown, hidden = _candidates(account, twins)
            name = " ".join(filter(None, [values["family_name"], values.get("given_name")]))
            if path == "person":
                message = (_("同じ氏名・生年月日の人が登録されています。同一人物なら選んでください") if shown else
                           _("同じ氏名・生年月日の人が別の避難所に受付済みです。同一人物かどうか本部に確認してください"))
            else:
                message = (_("%(name)s さんと同じ氏名・生年月日の人が登録されています。確認してください", name=name)
                           if shown else
                           _("%(name)s さんと同じ氏名・生年月日の人が別の避難所に受付済みです。本部に確認してください",
                             name=name))
            raise people.PossibleDuplicate(message, fields={path: "similar persons exist"}, member=path,
                                           candidates=shown, hidden_matches=hidden)
    created: list[Person] = []
    for path, values in entries:
        values["relationship_to_head"] = values.pop("relationship", None)
        person = people.create_person(values, source=PersonSource.PAPER, household_id=household_id,
                                      incident_id=incident.id)
        household_id = person.household_id
        created.append(person)
        audit.record("person.create", subject_type="person", subject_id=person.id, shelter_id=shelter.id,
                     detail={"source": "paper", "household_id": household_id, "member": path})
    if body["person"].get("household_id") is not None:
        audit.record("household.extend", subject_type="household", subject_id=household_id, shelter_id=shelter.id,
                     detail={"person_ids": [p.id for p in created]})
    holder = created[0]
    return _Identified(holder.id, holder.household_id, CheckinMethod.PAPER, tuple(p.id for p in created[1:]))


def _identify(body: dict[str, Any], account: Principal, shelter: ShelterFacts, incident: CurrentIncident) -> _Identified:
    """The person a check-in is about, by QR, My Number card, IC card, paper card or id."""
    if body.get("qr"):
        holder = cards.resolve(body["qr"], shelter_id=shelter.id)
        return _Identified(holder.person_id, holder.household_id, CheckinMethod.QR)
    if body.get("card"):
        matches, parsed = people.match_card(body["card"])
        if len(matches) > 1:
            shown, hidden = _candidates(account, matches)
            raise people.AmbiguousMatch(_("同じ氏名・生年月日・住所の人が複数います。本人を選んでください"),
                                        candidates=shown, hidden_matches=hidden)
        if matches:
            return _Identified(matches[0].id, matches[0].household_id, CheckinMethod.MYNUMBER)
        created = people.create_person(parsed, source=PersonSource.MYNUMBER, incident_id=incident.id)
        audit.record("person.create", subject_type="person", subject_id=created.id, shelter_id=shelter.id,
                     detail={"source": "mynumber"})
        return _Identified(created.id, created.household_id, CheckinMethod.MYNUMBER)
    if body.get("ic_uid"):
        linked = cards.person_for_ic(body["ic_uid"])
        if linked is None:
            if not body.get("person_id"):
                raise ICCardUnlinked(_("このICカードは未登録です。本人を検索して選び、もう一度タッチしてください"))
            person = people.person_in_scope(account, body["person_id"])
            cards.link_ic(body["ic_uid"], person.id, staff_id=account.id, incident_id=incident.id)
            return _Identified(person.id, person.household_id, CheckinMethod.IC)
        return _Identified(linked.person_id, linked.household_id, CheckinMethod.IC)
    if body.get("person"):
        return _register_walk_ins(body, account, shelter, incident)
    person = people.person_in_scope(account, body["person_id"])
    return _Identified(person.id, person.household_id, CheckinMethod.MANUAL)


def _targets(account: Principal, principal: _Identified, members: list[int] | None) -> list[int]:
    """Who is checked in or out: the household members named, or the principal alone.

    A member staying at a shelter outside the account's scope is refused as if they were not of
    the household: a household is no way around the shelter scope (the principal, reached by a
    presented card or within scope, is exempt).
    """
    if not members:
        return [principal.person_id]
    household = set(people.household_member_ids(principal.household_id, principal.person_id))
    hidden = people.out_of_scope(account, (household & set(members)) - {principal.person_id})
    strangers = sorted((set(members) - household) | hidden)
    if strangers:
        if hidden:
            audit.refused("person.scope_refused", subject_type="household", subject_id=principal.household_id,
                          detail={"person_ids": sorted(hidden)})
        raise ValidationFailed(_("同じ世帯でない人か、この避難所で扱えない人が含まれています"),
                               fields={"members": strangers})
    return sorted(set(members))


def _arrivals(person_ids: list[int], persons: dict[int, Any]) -> list[Arrival]:
    """What opening a stay for each of these persons counts: their household, needs and pets."""
    return [Arrival(pid, persons[pid].household_id, persons[pid].needs or 0, persons[pid].pets or 0)
            for pid in person_ids]


def household_view(account: Principal, person_id: int, household_id: int | None) -> dict[str, Any]:
    """The person's household with each member's whereabouts; audited as a read (joins the caller's unit).

    Within the account's scope only (see `people.out_of_scope`): members staying at another
    shelter are left out and only counted (`elsewhere`: "N more are at another shelter — ask HQ"),
    never named, and neither is that shelter — a card in someone else's hands must not tell
    where a family member (a DV or stalking victim, say) has gone. The principal is always shown,
    as they are at the desk; if they are staying elsewhere the answer says so, not where.
    """
    ids = people.household_member_ids(household_id, person_id)
    where = people.whereabouts(ids)
    # `people.out_of_scope`'s rule, on the whereabouts already read (one query less on every scan).
    scope = account.scope()
    hidden = set() if scope is None else {pid for pid, w in where.items() if w.stay.shelter_id not in scope}
    shown = [pid for pid in ids if pid == person_id or pid not in hidden]
    members = people.persons_by_id(shown)
    numbers = people.household_numbers([household_id])
    number, district = numbers.get(household_id, (None, None)) if household_id is not None else (None, None)
    audit.read("person.read", subject_type="household", subject_id=household_id,
               detail={"person_ids": shown})
    out = []
    for pid in shown:
        found = where.get(pid)
        whereabouts: dict[str, Any] | None = None if found is None else {
            "stay_id": found.stay.id, "status": found.stay.status.value,
            "shelter_id": found.stay.shelter_id, "shelter_name": found.shelter_name,
            "checked_in_at": found.stay.checked_in_at.isoformat()}
        if pid in hidden:
            whereabouts = {"stay_id": None, "status": "elsewhere", "shelter_id": None, "shelter_name": None,
                           "checked_in_at": None}
        out.append({**people.person_summary(members[pid], number, district), "whereabouts": whereabouts})
    return {"id": household_id, "number": number, "members": out, "elsewhere": len(hidden - {person_id})}


# --- check-in and check-out ------------------------------------------------------------------------


def checkin(account: Principal, body: dict[str, Any]) -> Outcome:
    """Check a person, or the members of their household present, into a shelter.

    201 when a stay was opened or changed, 200 when everyone was already there or for a replay
    of the same `client_id`; 409 when someone is at another shelter (unless `transfer`).
    """
    people.refuse_individual_numbers(body)
    return _idempotent("checkin", account, body, _checkin)


@writing
def _checkin(account: Principal, body: dict[str, Any], request: _Request) -> Outcome:
    incident = incidents.required(lock=True)
    shelter = _open_shelter(body["shelter_id"], account)
    principal = _identify(body, account, shelter, incident)
    targets = ([principal.person_id, *principal.family] if principal.family
               else _targets(account, principal, body.get("members")))
    # The card holder is in the answer even when the ticked members leave them out (already here).
    persons = people.persons_by_id(sorted({*targets, principal.person_id}), lock=current_unit().postgres)
    missing = sorted(set(targets) - set(persons))
    if missing:
        raise NotFound(_("該当する人が見つかりません"), fields={"members": missing})
    where = people.whereabouts(targets)
    elsewhere = [{"person_id": pid, "shelter_id": w.stay.shelter_id, "shelter_name": w.shelter_name}
                 for pid, w in where.items() if w.stay.shelter_id != shelter.id]
    if elsewhere and not body.get("transfer"):
        if account.sees_all:
            raise CheckedInElsewhere(
                _("%(name)s に受付済みです。移動の場合は「移動」で受付してください", name=elsewhere[0]["shelter_name"]),
                elsewhere=elsewhere)
        # Staff learn that, not where: the shelter is named only if it is one of their own.
        scope: set[int] = set(account.scope() or ())
        raise CheckedInElsewhere(
            _("別の避難所に受付済みです。移動の場合は「移動」で受付してください"),
            elsewhere=[e if e["shelter_id"] in scope else {**e, "shelter_id": None, "shelter_name": None}
                       for e in elsewhere])
    initial = StayStatus(body.get("whereabouts") or StayStatus.PRESENT)
    now = now_utc()
    done = _Changes(now, [])
    changed = False
    result: dict[int, StayRow] = {}
    arriving: list[int] = []
    origins: dict[int, int] = {}
    for pid in targets:
        current = where.get(pid)
        if current is None:
            arriving.append(pid)
        elif current.stay.shelter_id == shelter.id:
            stay = current.stay
            if stay.status is not initial and initial is StayStatus.PRESENT:
                before = stay.status
                stay = stays.change_status(stay, StayStatus.PRESENT, at=now)
                done.add(stay.id, before, stay.status, _emit("return", stay, persons[pid], shelter))
                changed = True
            result[pid] = stay
        else:
            stays.close_stay(current.stay, StayStatus.TRANSFERRED, transferred_to=shelter.id, at=now)
            done.add(current.stay.id, current.stay.status, StayStatus.TRANSFERRED, None)
            origins[pid] = current.stay.shelter_id
            arriving.append(pid)
    if arriving:
        opened = stays.open_stays(
            _arrivals(arriving, persons), shelter.id, incident_id=incident.id, status=initial, method=principal.method,
            client_id=str(body["client_id"]), staff_id=account.id, at=now)
        current_unit().after_commit(lambda: signals.checked_in.send(
            None, method=principal.method.value, stays=len(opened)))
        for stay in opened:
            result[stay.person_id] = stay
            if stay.person_id in origins:
                event_id = _emit("transfer", stay, persons[stay.person_id], shelter,
                                 from_shelter_id=origins[stay.person_id])
            else:
                event_id = _emit("checkin", stay, persons[stay.person_id], shelter)
            done.add(stay.id, None, stay.status, event_id)
        changed = True
    answer: dict[str, Any] = {
        "stays": [result[pid].payload() for pid in targets],
        "shelter": None,  # the occupancy as the counters' update leaves it, at the commit
        "person": _slim(persons[principal.person_id]),
        "warnings": ["shelter_full"] if shelter.status is ShelterStatus.FULL else [],
    }
    if body.get("include_household"):
        answer["household"] = household_view(account, principal.person_id, principal.household_id)
    return _answer_at_commit(account, request, Outcome(201 if changed else 200, answer), done, {"shelter": shelter})


def checkout(account: Principal, body: dict[str, Any]) -> Outcome:
    """Check-out (`left`), outing and `return`, `transfer`, or whereabouts `at_home` / `in_car`."""
    people.refuse_individual_numbers(body)
    return _idempotent("checkout", account, body, _checkout)


@writing
def _checkout(account: Principal, body: dict[str, Any], request: _Request) -> Outcome:
    incident = incidents.required(lock=True)
    if body.get("qr"):
        holder = cards.resolve(body["qr"])
        principal = _Identified(holder.person_id, holder.household_id, CheckinMethod.QR)
    else:
        found = people.person_in_scope(account, body["person_id"])
        principal = _Identified(found.id, found.household_id, CheckinMethod.MANUAL)
    targets = _targets(account, principal, body.get("members"))
    # The card holder is in the answer even when the ticked members leave them out (already here).
    persons = people.persons_by_id(sorted({*targets, principal.person_id}), lock=current_unit().postgres)
    where = people.whereabouts(targets)
    absent = [pid for pid in targets if pid not in where]
    if absent:
        raise NotCheckedIn(_("受付されていない人が含まれています"), fields={"members": absent})
    reason = body["reason"]
    target_shelter = None
    if reason == "transfer":
        # Desk staff may send people on to any open shelter: HQ routes them, not the desk.
        target_shelter = _open_shelter(body["to_shelter_id"], None)
    now = now_utc()
    done = _Changes(now, [])
    changed, result = False, []
    origin: ShelterFacts | None = None
    moving: list[tuple[int, StayRow]] = []
    for pid in targets:
        person = persons[pid]
        stay = where[pid].stay
        if not account.can_access_shelter(stay.shelter_id):
            # A card holder staying at another shelter: refused without saying which (audited).
            audit.refused("stay.scope_refused", subject_type="person", subject_id=pid)
            raise NotCheckedIn(_("この避難所に受付されていない人が含まれています"), fields={"members": [pid]})
        shelter = origin if origin is not None and origin.id == stay.shelter_id else shelters.get_shelter(stay.shelter_id)
        origin = origin or shelter
        if reason == "left":
            before = stay.status
            stay = stays.close_stay(stay, StayStatus.LEFT, at=now)
            done.add(stay.id, before, stay.status, _emit("checkout", stay, person, shelter))
            changed = True
        elif reason == "transfer":
            assert target_shelter is not None
            if shelter.id == target_shelter.id:
                raise ValidationFailed(_("移動先が現在の避難所と同じです"), fields={"to_shelter_id": "same shelter"})
            stays.close_stay(stay, StayStatus.TRANSFERRED, transferred_to=target_shelter.id, at=now)
            done.add(stay.id, stay.status, StayStatus.TRANSFERRED, None)
            moving.append((pid, stay))
            changed = True
            continue
        else:
            new_status = {"outing": StayStatus.OUTING, "return": StayStatus.PRESENT,
                          "at_home": StayStatus.AT_HOME, "in_car": StayStatus.IN_CAR}[reason]
            if stay.status is not new_status and not (reason == "return" and stay.status is StayStatus.PRESENT):
                before = stay.status
                stay = stays.change_status(stay, new_status, at=now)
                done.add(stay.id, before, new_status, _emit(_EVENT_FOR_STATUS[new_status], stay, person, shelter))
                changed = True
        result.append(stay)
    if moving:
        assert target_shelter is not None
        opened = stays.open_stays(
            _arrivals([pid for pid, _old in moving], persons), target_shelter.id, incident_id=incident.id,
            status=StayStatus.PRESENT,
            method=CheckinMethod.MANUAL, client_id=str(body["client_id"]), staff_id=account.id, at=now)
        for (_pid, old), new in zip(moving, opened, strict=True):
            event_id = _emit("transfer", new, persons[new.person_id], target_shelter, from_shelter_id=old.shelter_id)
            done.add(new.id, None, new.status, event_id)
            result.append(new)
    assert origin is not None
    answer: dict[str, Any] = {
        "stays": [s.payload() for s in result],
        "shelter": None,  # filled at the commit, as in `checkin`
        "person": _slim(persons[principal.person_id]),
        "warnings": [],
    }
    named = {"shelter": origin}
    if target_shelter is not None:
        answer["to_shelter"] = None
        named["to_shelter"] = target_shelter
    return _answer_at_commit(account, request, Outcome(201 if changed else 200, answer), done, named)


# --- undo ------------------------------------------------------------------------------------------


class OperationUnknown(DomainError):
    """No desk operation of this id that the account may see (outside its scope reads the same)."""

    status = 404
    code = "operation_unknown"


class AlreadyUndone(DomainError):
    """The operation was taken back already (by another request)."""

    status = 409
    code = "already_undone"


class ChangedSince(DomainError):
    """Something happened to the operation's stays after it: taking it back would lose that."""

    status = 409
    code = "changed_since"


class UndoTooLate(DomainError):
    """Past the time staff may correct an operation (or it belongs to an incident no longer open)."""

    status = 409
    code = "undo_too_late"


class NothingToUndo(DomainError):
    """The operation changed no stay (everyone was already there)."""

    status = 409
    code = "nothing_to_undo"


def undo(account: Principal, body: dict[str, Any]) -> Outcome:
    """Take back a desk operation (check-in, check-out, outing, return, transfer) exactly.

    The operation is named by its `operation_id` (the client id it was sent with) or by a stay it
    opened (`stay_id`, the roster's correction). A stay it opened is voided (removed, never a
    fake 退所), a stay it closed or moved is put back with its earlier status; the counters move
    with them, one `correction` event per stay tells the cloud system which events to cancel,
    and `stay.undo` is audited. Idempotent by `client_id` like every desk request.
    """
    return _idempotent("undo", account, body, _undo)


@writing
def _undo(account: Principal, body: dict[str, Any], request: _Request) -> Outcome:
    incident = incidents.required(lock=True)
    operation = _operation(account, body)
    response = dict(operation.response)
    shelter_id = int(response["shelter"]["id"])
    record = response.get(_UNDO)
    if not record or not record["changes"]:
        raise NothingToUndo(_("この受付では何も変わっていないため、取り消すものがありません"))
    # Stay ids (as JSON keys) already taken back, each with the client id of the undo that did it.
    undone: dict[str, str] = dict(response.get(_UNDONE) or {})
    changes = [c for c in record["changes"] if str(c["stay_id"]) not in undone]
    if not changes or str(body.get("stay_id")) in undone:
        raise AlreadyUndone(_("この受付はすでに取り消されています"))
    if operation.incident_id != incident.id:
        raise UndoTooLate(_("前の災害・訓練の受付は取り消せません"))
    hours = int(current_app.config["EVAC_UNDO_STAFF_HOURS"])
    if not account.sees_all and now_utc() - operation.created_at > timedelta(hours=hours):
        raise UndoTooLate(_("%(hours)s 時間を過ぎた受付の訂正は本部に依頼してください", hours=hours))
    at = datetime.fromisoformat(record["at"])
    versions = stays.stay_versions(c["stay_id"] for c in changes)
    if body.get("stay_id"):
        # The roster corrects one person of a household's check-in: their stays only (both ends of a move).
        if body["stay_id"] not in versions:
            raise ChangedSince(_("この受付の後に同じ人の受付・退所などがあったため取り消せません。名簿から訂正してください"),
                               fields={"stay_id": body["stay_id"]})
        person_id = versions[body["stay_id"]][0].person_id
        changes = [c for c in changes if c["stay_id"] in versions and versions[c["stay_id"]][0].person_id == person_id]
    persons = people.persons_by_id(sorted({versions[c["stay_id"]][0].person_id for c in changes
                                           if c["stay_id"] in versions}), lock=current_unit().postgres)
    # Read again now that the persons are locked: a concurrent desk request on them has finished.
    versions = stays.stay_versions(c["stay_id"] for c in changes)
    for change in changes:
        found = versions.get(change["stay_id"])
        if found is None or found[1] != at or found[0].status.value != change["after"]:
            raise ChangedSince(_("この受付の後に同じ人の受付・退所などがあったため取り消せません。名簿から訂正してください"),
                               fields={"stay_id": change["stay_id"]})
    ours = set(versions)
    reopening = [versions[c["stay_id"]][0].person_id for c in changes
                 if c["before"] is not None and versions[c["stay_id"]][0].checked_out_at is not None]
    elsewhere = {pid for pid, stay in stays.open_stays_of(reopening).items() if stay.id not in ours}
    if elsewhere:
        raise ChangedSince(_("この受付の後に同じ人が別に受付されているため取り消せません"),
                           fields={"members": sorted(elsewhere)})
    now = now_utc()
    voided: list[int] = []
    restored: dict[int, StayRow] = {}
    touched: dict[int, Shelter] = {}
    # Voided stays first: a transfer's new stay must be gone before the old one opens again.
    for change in sorted(changes, key=lambda c: c["before"] is not None):
        stay = versions[change["stay_id"]][0]
        person = persons[stay.person_id]
        shelter = touched.get(stay.shelter_id) or shelters.get_shelter(stay.shelter_id)
        touched[shelter.id] = shelter
        if change["before"] is None:
            stays.void_stay(stay)
            voided.append(stay.id)
            _correct("void", stay, person, shelter, change, operation.client_id)
            continue
        before = StayStatus(change["before"])
        if shelter.status is ShelterStatus.CLOSED:
            # Nobody stays at a closed shelter: reopening a stay there would hide someone from every count.
            raise ShelterClosed(_("%(name)s は閉鎖されているため取り消せません。本部に相談してください", name=shelter.name),
                                shelter_id=shelter.id)
        if stay.open:
            now_stay = stays.change_status(stay, before, at=now)
        else:
            now_stay = stays.reopen_stay(stay, before, needs=person.needs or 0, pets=person.pets or 0, at=now)
        restored[stay.id] = now_stay
        _correct("restore", now_stay, person, shelter, change, operation.client_id)
    audit.record("stay.undo", subject_type="client_request", subject_id=operation.client_id, shelter_id=shelter_id,
                 detail={"operation": operation.kind, "voided": voided, "restored": sorted(restored),
                         "person_ids": sorted(persons)})
    undone.update({str(c["stay_id"]): str(body["client_id"]) for c in changes})
    db.session.execute(update(_REQUESTS).where(_REQUESTS.c.id == operation.id)
                       .values(response={**response, _UNDONE: undone}))
    occ = stays.occupancy_for(sorted({shelter_id, *touched}))
    shelter = touched.get(shelter_id) or shelters.get_shelter(shelter_id)
    answer: dict[str, Any] = {
        "operation_id": operation.client_id,
        "stays": [s.payload() for s in restored.values()],
        "voided_stay_ids": voided,
        "shelter": _shelter_answer(shelter, occ.get(shelter_id, Occupancy())),
        "person": response["person"],
        "warnings": [],
    }
    to_shelter = response.get("to_shelter")
    if to_shelter is not None and to_shelter["id"] in touched:
        answer["to_shelter"] = _shelter_answer(touched[to_shelter["id"]], occ.get(to_shelter["id"], Occupancy()))
    return _remember(account, request, Outcome(201, answer))


@dataclass(frozen=True)
class _Operation:
    id: int
    client_id: str
    kind: str
    account_id: int | None
    incident_id: int | None
    created_at: datetime
    response: dict[str, Any]


def _operation(account: Principal, body: dict[str, Any]) -> _Operation:
    """The desk operation an undo names, if the account may undo it; locked for the unit."""
    if body.get("stay_id"):
        opened_by = stays.stay_versions([body["stay_id"]]).get(body["stay_id"])
        client_id = opened_by[2] if opened_by is not None else None
    else:
        client_id = str(body["operation_id"])
    stmt = (select(_REQUESTS).where(_REQUESTS.c.client_id == client_id,
                                    _REQUESTS.c.kind.in_(["checkin", "checkout"]))
            .with_for_update())
    row = db.session.execute(stmt).first() if client_id else None
    unknown = _("取り消す受付が見つかりません")
    if row is None or not row.response or "shelter" not in row.response:
        raise OperationUnknown(unknown)
    if not account.can_access_shelter(int(row.response["shelter"]["id"])):
        # Staff of another shelter are told what a stranger is told (audited).
        audit.refused("stay.scope_refused", subject_type="client_request", subject_id=row.client_id)
        raise OperationUnknown(unknown)
    return _Operation(row.id, row.client_id, row.kind, row.account_id, row.incident_id, row.created_at, row.response)


def _correct(action: str, stay: StayRow, person: Any, shelter: ShelterFacts, change: dict[str, Any],
             operation_id: str) -> None:
    """The `correction` event of one stay: what to cancel, and the stay as it stands now (or as it was, voided)."""
    outbox.record("correction", person_id=person.id, shelter_id=shelter.id, payload={
        "shelter": shelters.shelter_payload(shelter), "person": people.sync_payload(person),
        "stay": stay.payload(),
        "correction": {"action": action, "stay_id": stay.id, "operation_id": operation_id,
                       "cancels": [change["event_id"]] if change.get("event_id") else [],
                       "restored_status": stay.status.value if action == "restore" else None},
    })


# --- reading ---------------------------------------------------------------------------------------


def lookup(account: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """Who a scan or tap names, with their household and whereabouts, changing nothing (the desk's preview)."""
    people.refuse_individual_numbers(body)
    return _lookup(account, body)


@read_only
def _lookup(account: Principal, body: dict[str, Any]) -> dict[str, Any]:
    shelter = _open_shelter(body["shelter_id"], account)
    if body.get("ic_uid"):
        holder = cards.person_for_ic(body["ic_uid"])
        if holder is None:
            raise ICCardUnlinked(_("このICカードは未登録です。本人を検索して選び、もう一度タッチしてください"))
        person_id, household_id = holder.person_id, holder.household_id
    elif body.get("card"):
        matches, _parsed = people.match_card(body["card"])
        if len(matches) != 1:
            shown, hidden = _candidates(account, matches) if matches else ([], 0)
            return {"person": None, "household": None, "candidates": shown, "hidden_matches": hidden}
        person_id, household_id = matches[0].id, matches[0].household_id
    elif body.get("qr"):
        holder = cards.resolve(body["qr"], shelter_id=shelter.id)
        person_id, household_id = holder.person_id, holder.household_id
    else:
        found = people.person_in_scope(account, body["person_id"])
        person_id, household_id = found.id, found.household_id
    household = household_view(account, person_id, household_id)
    person = next(m for m in household["members"] if m["id"] == person_id)
    return {"person": {k: v for k, v in person.items() if k != "whereabouts"}, "household": household,
            "candidates": []}


@read_only
def roster(account: Principal, shelter_id: int, *, status: str | None = None, needs: list[str] | None = None,
           q: str | None = None, limit: int = 200, cursor: int | None = None) -> dict[str, Any]:
    """The shelter's open stays with who they are; filters by whereabouts, needs and name; audited."""
    from sqlalchemy import or_

    ensure_shelter_access(account, shelter_id)
    shelter = shelters.get_shelter(shelter_id)
    stay_t, person_t = Stay.__table__, Person.__table__
    stmt = (select(stay_t.c.id.label("stay_id"), stay_t.c.status, stay_t.c.method, stay_t.c.checked_in_at,
                   stay_t.c.checked_out_at, stay_t.c.transferred_to_id, stay_t.c.shelter_id,
                   stay_t.c.household_id.label("stay_household_id"), person_t)
            .join(person_t, person_t.c.id == stay_t.c.person_id)
            .where(stay_t.c.shelter_id == shelter_id, stay_t.c.checked_out_at.is_(None)))
    if status:
        stmt = stmt.where(stay_t.c.status == StayStatus(status).value)
    mask = needs_mask(needs or [])
    if mask:
        stmt = stmt.where(person_t.c.needs.op("&")(mask) != 0)
    if q:
        # Within one shelter the roster is small, so given names are searched too ("はなこ").
        kana, name = kana_key(q), name_key(q)
        kana_match = or_(people.prefix(person_t.c.kana_key, kana), people.prefix(person_t.c.given_name_kana, kana))
        name_match = or_(people.prefix(person_t.c.name_key, name), people.prefix(person_t.c.given_name, name))
        stmt = stmt.where(kana_match if is_kana(q) else or_(kana_match, name_match))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if cursor is not None:
        stmt = stmt.where(stay_t.c.id > cursor)
    rows = list(db.session.execute(stmt.order_by(stay_t.c.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    audit.read("person.read", subject_type="roster", subject_id=shelter_id, shelter_id=shelter_id,
               detail={"person_ids": [r.id for r in rows]})
    occ = stays.occupancy_for([shelter_id]).get(shelter_id, Occupancy())
    numbers = people.household_numbers(r.household_id for r in rows)
    items = []
    for r in rows:
        stay = StayRow(r.stay_id, r.id, r.shelter_id, r.stay_household_id, StayStatus(r.status),
                       CheckinMethod(r.method), r.checked_in_at, r.checked_out_at, r.transferred_to_id)
        number, district = numbers.get(r.household_id, (None, None))
        items.append({"stay": stay.payload(), "person": people.person_summary(r, number, district)})
    return {
        "shelter": _shelter_answer(shelter, occ),
        "counts": stays.status_counts(shelter_id),
        "needs": _need_counts(shelter_id),
        "items": items,
        "total": total,
        "next": rows[-1].stay_id if more else None,
    }


def _need_counts(shelter_id: int) -> dict[str, int]:
    """Open stays of the shelter per need, unfiltered: the desk's needs strip, each count a filter.

    From the persons' needs as they are now, not the counters' snapshot, so that a count is exactly
    the number of rows its filter shows.
    """
    stay_t, person_t = Stay.__table__, Person.__table__
    sums = [func.coalesce(func.sum(case((person_t.c.needs.op("&")(int(flag)) != 0, 1), else_=0)), 0)
            for flag in NEED_KEYS.values()]
    row = db.session.execute(
        select(*sums).select_from(stay_t.join(person_t, person_t.c.id == stay_t.c.person_id))
        .where(stay_t.c.shelter_id == shelter_id, stay_t.c.checked_out_at.is_(None))).one()
    return {key: int(n) for key, n in zip(NEED_KEYS, row, strict=True)}


@dataclass(frozen=True)
class DeskPage:
    """What the desk page of one shelter shows when it opens."""

    shelter: Shelter
    occupancy: Occupancy
    transfer_targets: list[dict[str, Any]]


@read_only
def desk_page(account: Principal, shelter_id: int) -> DeskPage:
    """The shelter, its counts, and the open shelters people may be moved to."""
    ensure_shelter_access(account, shelter_id)
    shelter = shelters.get_shelter(shelter_id)
    occupancy = stays.occupancy_for([shelter_id]).get(shelter_id, Occupancy())
    targets = db.session.execute(
        select(Shelter.id, Shelter.name)
        .where(Shelter.status.in_([ShelterStatus.OPEN, ShelterStatus.FULL]), Shelter.id != shelter_id)
        .order_by(Shelter.name_kana, Shelter.id)).all()
    return DeskPage(shelter, occupancy, [{"id": i, "name": n} for i, n in targets])
