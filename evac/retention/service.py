"""After a disaster: what evac keeps, for how long, and what it then removes or anonymises.

The rule a town adopts (`EVAC_RETENTION_DAYS`, default 40): a closed disaster's records stay
whole for that many days after it ended — long enough for 安否確認, the 被災者台帳 and the
cloud system's reconciliation — and are then purged, incident by incident:

- removed: the desk's stored answers (they hold households' personal data), the hourly trend,
  and the outbox events and sync batches already delivered (or that no connector will ever take);
- anonymised: the walk-ins registered in it (paper card, My Number card, IC card) whose stays
  have all ended — names, kana, birth date, address, phone and notes cleared, needs kept for the
  statistics — with their cards and IC links revoked, and a `person.updated` event so the cloud
  system anonymises them too;
- kept: the town's residents from the register (its own records), stays and audit entries (ids
  only), the incident itself.

Like Person Finder's 40-day record expiry with a 3-day restore window: evac makes the purge
undoable for a while by taking a backup first (`evac purge` does, into `instance/backups/`) and
deletes those pre-purge backups after `EVAC_PURGE_BACKUP_DAYS` (3). A drill needs none of this:
its data goes when it closes (`evac.hq.incidents`). An open incident is never touched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, exists, func, select, update

from evac.audit import service as audit
from evac.cards.models import Card, ICCard
from evac.checkin.models import ClientRequest
from evac.common.db import now_utc, read_only, writing
from evac.common.errors import Conflict, NotFound
from evac.extensions import db
from evac.incidents.models import Incident, IncidentKind
from evac.incidents.service import CurrentIncident
from evac.outbox import service as outbox
from evac.outbox.models import BatchStatus, OutboxEvent, SyncBatch, SyncConnector
from evac.people import service as people
from evac.people.models import Person, PersonSource
from evac.stays.models import OccupancyHour, Stay

WALK_IN_SOURCES = (PersonSource.PAPER, PersonSource.MYNUMBER, PersonSource.IC)
ANONYMOUS = "匿名"
CHUNK = 500


class IncidentStillOpen(Conflict):
    """An open incident is never purged."""

    code = "incident_open"


@dataclass
class IncidentPurge:
    """What purging one incident removed or anonymised (or would)."""

    incident_id: int
    name: str
    client_requests: int = 0
    trend_hours: int = 0
    outbox_events: int = 0
    sync_batches: int = 0
    anonymised: int = 0
    events_queued: int = 0  # person.updated events sent so the cloud system anonymises too


@dataclass
class PurgeReport:
    """What a purge did (or, in a dry run, would do), per incident."""

    dry_run: bool
    cutoff: datetime
    incidents: list[IncidentPurge] = field(default_factory=list)

    def total(self, key: str) -> int:
        """One count summed over the incidents."""
        return sum(int(getattr(i, key)) for i in self.incidents)

    def as_dict(self) -> dict[str, Any]:
        """For the CLI, the audit detail and metrics."""
        return {"dry_run": self.dry_run, "cutoff": self.cutoff.isoformat(),
                "incidents": [asdict(i) for i in self.incidents]}


def _due(cutoff: datetime, incident_id: int | None) -> list[Incident]:
    if incident_id is not None:
        incident = db.session.get(Incident, incident_id)
        if incident is None:
            raise NotFound(_("指定された災害・訓練が見つかりません"), fields={"incident_id": incident_id})
        if incident.is_open:
            raise IncidentStillOpen(_("開始中の災害・訓練は消去できません。終了してから実行してください"),
                                    fields={"incident_id": incident_id})
        return [incident]
    return list(db.session.scalars(select(Incident).where(
        Incident.is_open.is_(False), Incident.kind == IncidentKind.DISASTER, Incident.ended_at < cutoff)
        .order_by(Incident.id)))


def _pending_seqs() -> set[int]:
    """Events some connector may still send: in a batch not yet delivered."""
    pending: set[int] = set()
    for (seqs,) in db.session.execute(select(SyncBatch.seqs).where(
            SyncBatch.status.in_([BatchStatus.QUEUED, BatchStatus.HELD, BatchStatus.PARKED]))):
        pending.update(int(s) for s in seqs or [])
    return pending


def _floor() -> int | None:
    """The seq every connector with state has claimed up to (None: no connector has run)."""
    return db.session.scalar(select(func.min(SyncConnector.cursor)))


def _walk_ins(incident_id: int) -> list[int]:
    open_stay = exists().where(Stay.person_id == Person.id, Stay.checked_out_at.is_(None))
    return list(db.session.scalars(select(Person.id).where(
        Person.incident_id == incident_id, Person.source.in_(WALK_IN_SOURCES), Person.family_name != ANONYMOUS,
        ~open_stay).order_by(Person.id)))


def _deliverable_events(incident_id: int) -> Any:
    """The incident's events no connector will send again (delivered, or past every cursor)."""
    floor = _floor()
    stmt = select(OutboxEvent.seq).where(OutboxEvent.incident_id == incident_id)
    if floor is not None:
        stmt = stmt.where(OutboxEvent.seq <= floor)
    return stmt


def _plan(incident: Incident, item: IncidentPurge) -> tuple[list[int], list[int]]:
    pending = _pending_seqs()
    seqs = [s for s in db.session.scalars(_deliverable_events(incident.id)) if s not in pending]
    item.outbox_events = len(seqs)
    item.sync_batches = int(db.session.scalar(select(func.count()).select_from(SyncBatch).where(
        SyncBatch.incident_id == incident.id, SyncBatch.status == BatchStatus.DELIVERED)) or 0)
    item.client_requests = int(db.session.scalar(select(func.count()).select_from(ClientRequest).where(
        ClientRequest.incident_id == incident.id)) or 0)
    item.trend_hours = int(db.session.scalar(select(func.count()).select_from(OccupancyHour).where(
        OccupancyHour.incident_id == incident.id)) or 0)
    walk_ins = _walk_ins(incident.id)
    item.anonymised = item.events_queued = len(walk_ins)
    return seqs, walk_ins


@read_only
def _count(cutoff: datetime, incident_id: int | None) -> PurgeReport:
    report = PurgeReport(True, cutoff)
    for incident in _due(cutoff, incident_id):
        item = IncidentPurge(incident.id, incident.name)
        _plan(incident, item)
        report.incidents.append(item)
    return report


def _anonymise(incident: Incident, person_ids: list[int]) -> None:
    now = now_utc()
    target = CurrentIncident(incident.id, incident.name, incident.kind, incident.public, incident.started_at)
    for start in range(0, len(person_ids), CHUNK):
        chunk = person_ids[start:start + CHUNK]
        db.session.execute(
            update(Person).where(Person.id.in_(chunk)).values(
                family_name=ANONYMOUS, given_name="", family_name_kana="", given_name_kana="",
                name_key=ANONYMOUS, kana_key="", birth_date=None, address=None, postal_code=None,
                phone=None, allergy=None, condition_note=None, pet_note=None, nationality=None,
                updated_at=now)
            .execution_options(synchronize_session=False))
        db.session.execute(update(Card).where(Card.person_id.in_(chunk), Card.revoked_at.is_(None))
                           .values(revoked_at=now))
        db.session.execute(update(ICCard).where(ICCard.person_id.in_(chunk), ICCard.revoked_at.is_(None))
                           .values(revoked_at=now))
        # The cloud system holds these people too: tell it, under the incident they belonged to.
        for person in people.persons_by_id(chunk).values():
            outbox.record("person.updated", person_id=person.id, payload={"person": people.sync_payload(person),
                                                                          "reason": "retention"},
                          incident=target)


@writing
def _purge(cutoff: datetime, incident_id: int | None) -> PurgeReport:
    report = PurgeReport(False, cutoff)
    for incident in _due(cutoff, incident_id):
        item = IncidentPurge(incident.id, incident.name)
        seqs, walk_ins = _plan(incident, item)
        db.session.execute(delete(ClientRequest).where(ClientRequest.incident_id == incident.id))
        db.session.execute(delete(OccupancyHour).where(OccupancyHour.incident_id == incident.id))
        db.session.execute(delete(SyncBatch).where(SyncBatch.incident_id == incident.id,
                                                   SyncBatch.status == BatchStatus.DELIVERED))
        for start in range(0, len(seqs), CHUNK):
            db.session.execute(delete(OutboxEvent).where(OutboxEvent.seq.in_(seqs[start:start + CHUNK])))
        _anonymise(incident, walk_ins)
        incident.purged_at = now_utc()
        report.incidents.append(item)
    audit.record("purge", detail=report.as_dict())
    return report


def purge(cutoff: datetime | None = None, *, retention_days: int = 40, incident_id: int | None = None,
          dry_run: bool = False) -> PurgeReport:
    """Purge every closed disaster that ended before `cutoff` (default: `retention_days` ago), or one incident.

    One writing unit, audited; a dry run only counts (a read-only unit). Running it again removes
    what was still waiting to be delivered the first time.
    """
    cutoff = cutoff or now_utc() - timedelta(days=retention_days)
    return _count(cutoff, incident_id) if dry_run else _purge(cutoff, incident_id)
