"""Recomputing the per-shelter counters from the stays: the reference they must equal, and a rebuild.

The counters themselves move with every stay change (`evac.stays.counters`); this is for after a
restore, a bulk change made outside evac, or a check (`evac hq rebuild-tallies [--check]`).
Needs and pets are taken from the persons as they are now, which is why this lives above
`people` rather than beside the counters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, func, insert, or_, select, text, update

from evac.audit import service as audit
from evac.common.db import current_unit, now_utc, read_only, writing
from evac.common.vocab import StayStatus
from evac.extensions import db
from evac.people.models import Person
from evac.stays.counters import COUNT_COLUMNS, counts_of, record_hour, stored
from evac.stays.models import NEED_COLUMNS, HouseholdTally, ShelterTally, Stay

__all__ = ["RebuildReport", "rebuild", "recompute", "recompute_now", "stored_now"]

log = logging.getLogger(__name__)


def _open_stays_counts() -> Any:
    occupying = Stay.status.in_([StayStatus.PRESENT, StayStatus.OUTING])
    flags = [func.sum(case((Person.needs.op("&")(flag) != 0, 1), else_=0)) for flag in NEED_COLUMNS.values()]
    return (
        select(
            Stay.shelter_id,
            func.sum(case((occupying, 1), else_=0)),
            func.sum(case((Stay.status == StayStatus.AT_HOME, 1), else_=0)),
            func.sum(case((Stay.status == StayStatus.IN_CAR, 1), else_=0)),
            func.coalesce(func.sum(Person.pets), 0),
            *flags,
        )
        .join(Person, Person.id == Stay.person_id)
        .where(Stay.checked_out_at.is_(None))
        .group_by(Stay.shelter_id)
    )


def recompute() -> dict[int, dict[str, int]]:
    """Every shelter's counts computed from its open stays and the persons as they are now.

    Shelters with nothing to count are left out. Joins the caller's unit.
    """
    result: dict[int, dict[str, int]] = {}
    for row in db.session.execute(_open_stays_counts()):
        occupancy, at_home, in_car, pets, *needs = (int(v or 0) for v in row[1:])
        result[row[0]] = {"occupancy": occupancy, "households": 0, "at_home": at_home, "in_car": in_car,
                          "pets": pets, **dict(zip(NEED_COLUMNS, needs, strict=True))}
    households = db.session.execute(
        select(Stay.shelter_id, func.count(func.distinct(func.coalesce(Stay.household_id, -Stay.person_id))))
        .where(Stay.checked_out_at.is_(None), Stay.status.in_([StayStatus.PRESENT, StayStatus.OUTING]))
        .group_by(Stay.shelter_id))
    for shelter_id, n in households:
        result[shelter_id]["households"] = int(n)
    return {sid: counts for sid, counts in result.items() if any(counts.values())}


@read_only
def recompute_now() -> dict[int, dict[str, int]]:
    """`recompute` as a unit of its own (for checks)."""
    return recompute()


@read_only
def stored_now() -> dict[int, dict[str, int]]:
    """The counters as stored, as a unit of its own (for checks)."""
    return stored()


@dataclass(frozen=True)
class RebuildReport:
    """What a rebuild found and changed."""

    shelters: int  # shelters with anything counted after the rebuild
    corrected: list[int]  # shelters whose stored counts were wrong (ids)
    open_stays: int
    dry_run: bool

    def summary(self) -> str:
        """One line for the operator."""
        verb = "差異あり differing" if self.dry_run else "修正 corrected"
        return (f"避難所 shelters {self.shelters}, 在所等 open stays {self.open_stays}, "
                f"{verb} {len(self.corrected)}")


def rebuild(*, dry_run: bool = False) -> RebuildReport:
    """Recompute every counter and household count from the open stays, and what each is counted with.

    On PostgreSQL the counter tables are locked for the rebuild: desks wait a few seconds rather
    than change counts the rebuild is recomputing. `dry_run` only reports (a read-only unit).
    """
    return _compare() if dry_run else _rebuild()


def _differences() -> tuple[dict[int, dict[str, int]], dict[int, ShelterTally], list[int], int]:
    fresh = recompute()
    current = {t.shelter_id: t for t in db.session.scalars(select(ShelterTally))}
    zero = dict.fromkeys(COUNT_COLUMNS, 0)
    corrected = sorted(sid for sid in set(fresh) | set(current)
                       if fresh.get(sid, zero) != (counts_of(current[sid]) if sid in current else zero))
    open_stays = db.session.scalar(select(func.count()).select_from(Stay).where(Stay.checked_out_at.is_(None))) or 0
    return fresh, current, corrected, int(open_stays)


@read_only
def _compare() -> RebuildReport:
    fresh, _current, corrected, open_stays = _differences()
    return RebuildReport(len(fresh), corrected, open_stays, True)


@writing
def _rebuild() -> RebuildReport:
    unit_ = current_unit()
    session = db.session
    if unit_.postgres:
        # The stays first: a desk's unit writes a stay, then its counters; taken in the same order,
        # the rebuild waits for the desks that already began, and they do not wait for it.
        session.execute(text("LOCK TABLE stay, hq_shelter_tally, hq_household_tally IN EXCLUSIVE MODE"))
    fresh, current, corrected, open_stays = _differences()
    report = RebuildReport(len(fresh), corrected, open_stays, False)
    now = now_utc()
    stay = Stay.__table__
    of_person = Person.id == stay.c.person_id
    needs = func.coalesce(select(Person.needs).where(of_person).scalar_subquery(), 0)
    pets = func.coalesce(select(Person.pets).where(of_person).scalar_subquery(), 0)
    # Only the stays counted with other values than their person's now: a repair rewrites few rows.
    session.execute(update(stay).where(stay.c.checked_out_at.is_(None), or_(
        stay.c.counted_needs != needs, stay.c.counted_pets != pets)).values(
        counted_needs=needs, counted_pets=pets,
        updated_at=stay.c.updated_at))  # not a change of the stay: the desks' undo and the sync look at this
    session.execute(delete(HouseholdTally))
    key = func.coalesce(Stay.household_id, -Stay.person_id)
    session.execute(insert(HouseholdTally).from_select(
        ["shelter_id", "household_key", "members"],
        select(Stay.shelter_id, key, func.count())
        .where(Stay.checked_out_at.is_(None), Stay.status.in_([StayStatus.PRESENT, StayStatus.OUTING]))
        .group_by(Stay.shelter_id, key)))
    zero = dict.fromkeys(COUNT_COLUMNS, 0)
    for shelter_id in corrected:
        counts = fresh.get(shelter_id, zero)
        row = current.get(shelter_id)
        before = row.occupancy if row is not None else 0
        if row is None:
            session.add(ShelterTally(shelter_id=shelter_id, updated_at=now, **counts))
        else:
            for column, value in counts.items():
                setattr(row, column, value)
            row.updated_at = now
        if before != counts["occupancy"]:
            session.flush()
            record_hour(unit_, shelter_id, before, counts["occupancy"], now)
    audit.record("hq.rebuild_tallies", subject_type="shelter",
                 detail={"shelters": report.shelters, "corrected": corrected[:1000], "open_stays": report.open_stays})
    if corrected:
        log.warning("tallies corrected", extra={"shelters": len(corrected)})
    return report
