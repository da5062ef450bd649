"""Opening and closing incidents (災害 or 訓練), and what closing a drill removes.

One incident is open at a time (a partial unique index says so). Closing a disaster needs every
shelter closed and nobody checked in: nobody may drop out of the counts, and its data is kept for
the retention period (`evac purge`). Closing a drill — even with people still checked in — closes
its shelters and removes, in one audited unit, everything the drill made: its stays, the walk-ins
registered in it (with their households, cards and IC links), the IC links made in it, its desk
answers, outbox events, sync batches and trend. Residents imported before the drill and their
cards stay. A dry run counts the same things and changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update

from evac.accounts.service import Principal
from evac.audit import service as audit
from evac.cards.models import Card, ICCard
from evac.checkin.models import ClientRequest
from evac.common.db import WRITE, current_unit, now_utc, read_only, writing
from evac.common.errors import Conflict, NotFound, ValidationFailed
from evac.extensions import db
from evac.incidents.models import Incident, IncidentKind
from evac.outbox.models import OutboxEvent, SyncBatch
from evac.people.models import Household, Person, PersonSource
from evac.shelters.models import Shelter, ShelterStatus
from evac.stays.models import HouseholdTally, OccupancyHour, ShelterTally, Stay

WALK_IN_SOURCES = (PersonSource.PAPER, PersonSource.MYNUMBER, PersonSource.IC)


class IncidentAlreadyOpen(Conflict):
    """Only one incident at a time."""

    code = "incident_open"


class IncidentNotClosable(Conflict):
    """A disaster closes only once its shelters are closed and nobody is checked in."""

    code = "incident_not_closable"


def incident_out(incident: Incident) -> dict[str, Any]:
    """An incident as the API and the pages show it."""
    return {"id": incident.id, "name": incident.name, "kind": incident.kind.value, "open": incident.is_open,
            "public": incident.public, "started_at": incident.started_at, "ended_at": incident.ended_at,
            "purged_at": incident.purged_at}


@read_only
def list_incidents(limit: int = 50) -> list[dict[str, Any]]:
    """Incidents, the open one and the newest first."""
    rows = db.session.scalars(select(Incident).order_by(Incident.is_open.desc(), Incident.started_at.desc(),
                                                        Incident.id.desc()).limit(limit))
    return [incident_out(i) for i in rows]


@read_only
def get_incident(incident_id: int) -> dict[str, Any]:
    """One incident, or `NotFound`."""
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(_("指定された災害・訓練が見つかりません"), fields={"incident_id": incident_id})
    return incident_out(incident)


@dataclass(frozen=True)
class Chosen:
    """The incident a view of HQ's is about: the open one by default, an earlier one on request."""

    id: int
    name: str
    kind: str
    open: bool
    started_at: Any
    ended_at: Any


def chosen(incident_id: int | None) -> Chosen | None:
    """`incident_id`'s incident, or (None) the open one, else the newest; None if there has never been one.

    Joins the caller's unit; `NotFound` for an id that names none.
    """
    if incident_id is not None:
        incident = db.session.get(Incident, incident_id)
        if incident is None:
            raise NotFound(_("指定された災害・訓練が見つかりません"), fields={"incident_id": incident_id})
    else:
        incident = db.session.scalar(select(Incident).order_by(Incident.is_open.desc(), Incident.started_at.desc(),
                                                               Incident.id.desc()).limit(1))
        if incident is None:
            return None
    return Chosen(incident.id, incident.name, incident.kind.value, incident.is_open, incident.started_at,
                  incident.ended_at)


@writing
def open_incident(account: Principal | None, name: str, kind: str) -> dict[str, Any]:
    """Open a disaster or a drill; `IncidentAlreadyOpen` while another is open. Audited."""
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed(_("名称を入力してください（例: 令和8年台風10号）"), fields={"name": "required"})
    kind_ = IncidentKind(kind)
    open_now = db.session.scalar(select(Incident).where(Incident.is_open.is_(True)))
    if open_now is not None:
        raise IncidentAlreadyOpen(_("「%(name)s」が開始されています。終了してから開始してください", name=open_now.name),
                                  fields={"incident_id": open_now.id})
    incident = Incident(name=name, kind=kind_, is_open=True, public=kind_ is IncidentKind.DISASTER,
                        started_at=now_utc(), opened_by=account.id if account else None)
    db.session.add(incident)
    db.session.flush()
    audit.record("incident.open", subject_type="incident", subject_id=incident.id,
                 account_id=account.id if account else None, detail={"kind": kind_.value})
    return incident_out(incident)


@writing
def set_public(account: Principal | None, incident_id: int, public: bool) -> dict[str, Any]:
    """Show (or hide) an incident's shelters on the public page (a drill is hidden by default)."""
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(_("指定された災害・訓練が見つかりません"), fields={"incident_id": incident_id})
    if incident.public is not public:
        incident.public = public
        audit.record("incident.public", subject_type="incident", subject_id=incident.id,
                     account_id=account.id if account else None, detail={"public": public})
    return incident_out(incident)


@dataclass
class CloseReport:
    """What closing an incident did (or, in a dry run, would do)."""

    incident_id: int
    name: str
    kind: str
    dry_run: bool
    shelters_closed: int = 0
    stays: int = 0
    walk_ins: int = 0
    households: int = 0
    cards: int = 0
    ic_links: int = 0
    client_requests: int = 0
    outbox_events: int = 0
    sync_batches: int = 0
    trend_hours: int = 0

    def as_dict(self) -> dict[str, Any]:
        """For the API, the CLI and the audit detail."""
        return asdict(self)


def _count(stmt: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def _drill_plan(incident: Incident, report: CloseReport) -> dict[str, Any]:
    """What a drill's close removes: the ids and conditions, counted into `report`."""
    walk_ins = select(Person.id).where(Person.incident_id == incident.id, Person.source.in_(WALK_IN_SOURCES))
    walk_in_ids = list(db.session.scalars(walk_ins))
    active = select(Shelter.id).where(Shelter.status != ShelterStatus.CLOSED)
    report.shelters_closed = _count(active)
    report.stays = _count(select(Stay.id).where(Stay.incident_id == incident.id))
    report.walk_ins = len(walk_in_ids)
    walk_in_households = select(Person.household_id).where(Person.id.in_(walk_in_ids))
    # A walk-in household goes when nobody else is in it (a walk-in added to a resident's stays with it).
    lonely = select(Household.id).where(
        Household.id.in_(walk_in_households),
        ~select(Person.id).where(Person.household_id == Household.id, Person.id.not_in(walk_in_ids)).exists())
    households = list(db.session.scalars(lonely))
    report.households = len(households)
    report.cards = _count(select(Card.id).where(Card.person_id.in_(walk_in_ids)))
    ic_links = select(ICCard.id).where((ICCard.incident_id == incident.id) | ICCard.person_id.in_(walk_in_ids))
    report.ic_links = _count(ic_links)
    report.client_requests = _count(select(ClientRequest.id).where(ClientRequest.incident_id == incident.id))
    report.outbox_events = _count(select(OutboxEvent.seq).where(OutboxEvent.incident_id == incident.id))
    report.sync_batches = _count(select(SyncBatch.id).where(SyncBatch.incident_id == incident.id))
    report.trend_hours = _count(select(OccupancyHour.hour).where(OccupancyHour.incident_id == incident.id))
    return {"walk_ins": walk_in_ids, "households": households, "ic_links": ic_links}


def _purge_drill(incident: Incident, plan: dict[str, Any]) -> None:
    session = db.session
    now = now_utc()
    session.execute(update(Shelter).where(Shelter.status != ShelterStatus.CLOSED)
                    .values(status=ShelterStatus.CLOSED, closed_at=now, updated_at=now))
    session.execute(delete(Stay).where(Stay.incident_id == incident.id))
    # Only one incident is ever open, so with its stays gone nobody is counted anywhere.
    session.execute(delete(HouseholdTally))
    session.execute(delete(ShelterTally))
    session.execute(delete(OccupancyHour).where(OccupancyHour.incident_id == incident.id))
    session.execute(delete(ICCard).where(ICCard.id.in_(plan["ic_links"])))
    walk_ins = plan["walk_ins"]
    for start in range(0, len(walk_ins), 500):
        chunk = walk_ins[start:start + 500]
        session.execute(delete(Card).where(Card.person_id.in_(chunk)))
        session.execute(delete(Person).where(Person.id.in_(chunk)))
    for start in range(0, len(plan["households"]), 500):
        session.execute(delete(Household).where(Household.id.in_(plan["households"][start:start + 500])))
    session.execute(delete(ClientRequest).where(ClientRequest.incident_id == incident.id))
    session.execute(delete(SyncBatch).where(SyncBatch.incident_id == incident.id))
    session.execute(delete(OutboxEvent).where(OutboxEvent.incident_id == incident.id))


def close_incident(account: Principal | None, *, dry_run: bool = False,
                   incident_id: int | None = None) -> CloseReport:
    """Close the open incident (see the module doc); a dry run only reports (a read-only unit)."""
    return _plan_close(incident_id) if dry_run else _close(account, incident_id)


def _open_incident(incident_id: int | None) -> Incident:
    stmt = select(Incident).where(Incident.is_open.is_(True))
    unit_ = current_unit()
    if unit_.postgres and unit_.mode is WRITE:
        stmt = stmt.with_for_update()  # check-ins share-lock it: closing waits for them
    incident = db.session.scalar(stmt)
    if incident is None or (incident_id is not None and incident.id != incident_id):
        raise NotFound(_("開始中の災害・訓練はありません"), fields={"incident_id": incident_id})
    return incident


def _disaster_blockers(report: CloseReport) -> None:
    report.shelters_closed = _count(select(Shelter.id).where(Shelter.status != ShelterStatus.CLOSED))
    report.stays = _count(select(Stay.id).where(Stay.incident_id == report.incident_id,
                                                Stay.checked_out_at.is_(None)))


@read_only
def _plan_close(incident_id: int | None) -> CloseReport:
    incident = _open_incident(incident_id)
    report = CloseReport(incident.id, incident.name, incident.kind.value, True)
    if incident.drill:
        _drill_plan(incident, report)
    else:
        _disaster_blockers(report)
    return report


@writing
def _close(account: Principal | None, incident_id: int | None) -> CloseReport:
    incident = _open_incident(incident_id)
    report = CloseReport(incident.id, incident.name, incident.kind.value, False)
    if incident.drill:
        plan = _drill_plan(incident, report)
        _purge_drill(incident, plan)
        incident.purged_at = now_utc()
    else:
        _disaster_blockers(report)
        if report.shelters_closed or report.stays:
            raise IncidentNotClosable(
                _("開設中の避難所が %(shelters)d か所、在所中の人が %(people)d 人います。"
                  "全員の退所・移動を記録し、避難所を閉鎖してから終了してください",
                  shelters=report.shelters_closed, people=report.stays),
                fields={"shelters_open": report.shelters_closed, "checked_in": report.stays})
    incident.is_open = False
    incident.ended_at = now_utc()
    incident.closed_by = account.id if account else None
    db.session.flush()
    audit.record("incident.close", subject_type="incident", subject_id=incident.id,
                 account_id=account.id if account else None, detail=report.as_dict())
    return report
