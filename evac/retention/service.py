"""After the disaster: drop what is no longer needed and anonymise those who were never residents.

Kept: residents from the register (they are the town's own records), stays and audit events
(ids only), counts. Removed: the stored answers of desk requests older than the cutoff (they
hold households' personal data). Anonymised: walk-ins registered at the desk (paper card,
My Number card, IC card) whose last stay ended before the cutoff — names, kana, birth date,
address, phone and notes are cleared, needs are kept for the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, select, update

from evac.audit import service as audit
from evac.cards.models import Card, ICCard
from evac.checkin.models import ClientRequest
from evac.common.db import now_utc, read_only, writing
from evac.extensions import db
from evac.people.models import Person, PersonSource
from evac.stays.models import Stay

WALK_IN_SOURCES = (PersonSource.PAPER, PersonSource.MYNUMBER, PersonSource.IC)
ANONYMOUS = "匿名"


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed or anonymised (or would, in a dry run)."""

    client_requests: int
    anonymised: int
    dry_run: bool


def purge(cutoff: datetime, *, dry_run: bool = False) -> PurgeReport:
    """Purge everything older than `cutoff` as the module says; one writing unit, audited.

    A dry run only counts, in a read-only unit.
    """
    return _count(cutoff) if dry_run else _purge(cutoff)


def _candidates(cutoff: datetime) -> tuple[int, list[int]]:
    old_requests = select(ClientRequest.id).where(ClientRequest.created_at < cutoff)
    open_stay = exists().where(Stay.person_id == Person.id, Stay.checked_out_at.is_(None))
    recent_stay = exists().where(Stay.person_id == Person.id, Stay.checked_out_at >= cutoff)
    walk_ins = select(Person.id).where(Person.source.in_(WALK_IN_SOURCES), Person.family_name != ANONYMOUS,
                                       ~open_stay, ~recent_stay)
    n_requests = db.session.scalar(select(func.count()).select_from(old_requests.subquery())) or 0
    return int(n_requests), list(db.session.scalars(walk_ins))


@read_only
def _count(cutoff: datetime) -> PurgeReport:
    n_requests, ids = _candidates(cutoff)
    return PurgeReport(n_requests, len(ids), True)


@writing
def _purge(cutoff: datetime) -> PurgeReport:
    n_requests, ids = _candidates(cutoff)
    db.session.execute(delete(ClientRequest).where(ClientRequest.created_at < cutoff))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        db.session.execute(
            update(Person).where(Person.id.in_(chunk)).values(
                family_name=ANONYMOUS, given_name="", family_name_kana="", given_name_kana="",
                name_key=ANONYMOUS, kana_key="", birth_date=None, address=None, postal_code=None,
                phone=None, allergy=None, condition_note=None, pet_note=None, nationality=None,
                updated_at=now_utc())
            .execution_options(synchronize_session=False))
        db.session.execute(update(Card).where(Card.person_id.in_(chunk), Card.revoked_at.is_(None))
                           .values(revoked_at=now_utc()))
        db.session.execute(update(ICCard).where(ICCard.person_id.in_(chunk), ICCard.revoked_at.is_(None))
                           .values(revoked_at=now_utc()))
    audit.record("purge", detail={"cutoff": cutoff.isoformat(), "client_requests": n_requests,
                                  "anonymised": len(ids)})
    return PurgeReport(n_requests, len(ids), False)
