"""Keeping the per-shelter counters in step with the stays, in the transaction that changes them.

The check-in service reports each stay change here (`stay_opened`, `stay_changed`); the changes
wait in the session and are applied together, just before the service reads the occupancy back
or at the latest when the transaction commits:

- one atomic ``UPDATE … SET n = n + :d`` per shelter touched, never a read-modify-write, so
  concurrent desks at one shelter cannot lose each other's counts;
- households through a per-(shelter, household) member count, upserted with ``RETURNING``: a
  household is counted when its first member arrives and uncounted when its last one leaves,
  exactly, even when two desks check in two members of one family at the same moment;
- rows are touched in shelter order (and household order within a shelter), so two transactions
  moving people A→B and B→A lock in the same order and cannot deadlock on PostgreSQL;
- the hour's occupancy row of the trend is upserted with the value the counter returned.

A rollback drops what was waiting. `rebuild` recomputes everything from the stays (the
`evac hq rebuild-tallies` command), and `recompute` is the reference the tests compare with.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, event, func, insert, select, text, update
from sqlalchemy.orm import Session

from evac.checkin.models import Stay, StayStatus
from evac.common.db import begin_write, now_utc
from evac.extensions import db
from evac.hq.models import NEED_COLUMNS, HouseholdTally, OccupancyHour, ShelterTally, StayTally
from evac.people.models import Person

log = logging.getLogger(__name__)

_PENDING = "evac.hq.pending_tallies"
# The counter columns, in a fixed order (also the order `recompute` and `counts_of` use).
COUNT_COLUMNS = ("occupancy", "households", "at_home", "in_car", "pets", *NEED_COLUMNS)

# Which counter an open stay of each status adds to; closed statuses add to none.
_BUCKET = {
    StayStatus.PRESENT: "occupancy",
    StayStatus.OUTING: "occupancy",  # an outing keeps the place
    StayStatus.AT_HOME: "at_home",
    StayStatus.IN_CAR: "in_car",
}


@dataclass
class _Change:
    """One stay's move between counters within the current transaction."""

    stay_id: int
    shelter_id: int
    household_key: int
    before: str | None  # counter the stay was in (None: it did not exist or was closed)
    after: str | None
    needs: int | None = None  # known for stays opened in this transaction
    pets: int | None = None


def household_key(stay: Stay) -> int:
    """The household a stay counts for: its household id, or minus the person id if none."""
    return stay.household_id if stay.household_id is not None else -stay.person_id


def _pending(session: Any) -> list[_Change]:
    return session.info.setdefault(_PENDING, [])  # type: ignore[no-any-return]


def stay_opened(stay: Stay, person: Person) -> None:
    """Count a stay just opened (flushed, so it has an id) with the person's needs and pets."""
    _pending(db.session()).append(_Change(
        stay.id, stay.shelter_id, household_key(stay), None, _BUCKET.get(stay.status),
        needs=person.needs or 0, pets=person.pets or 0,
    ))


def stay_changed(stay: Stay, before: StayStatus, after: StayStatus) -> None:
    """Move a stay between counters: a status change (外出, 在宅, 車中泊, 戻り) or its closing."""
    old, new = _BUCKET.get(before), _BUCKET.get(after)
    if old != new:
        _pending(db.session()).append(_Change(stay.id, stay.shelter_id, household_key(stay), old, new))


@dataclass
class _ShelterDelta:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    households: dict[int, int] = field(default_factory=lambda: defaultdict(int))


def apply_pending(session: Any = None) -> None:
    """Apply the stay changes waiting in the session to the counters (see the module docstring)."""
    session = session if session is not None else db.session()
    changes: list[_Change] | None = session.info.pop(_PENDING, None)
    if not changes:
        return
    # The net move of each stay: where it was before this transaction, where it is now.
    net: dict[int, list[Any]] = {}
    for change in changes:
        entry = net.setdefault(change.stay_id, [change.before, change.after, change])
        entry[1] = change.after
        if change.needs is not None:
            entry[2] = change
    values = _stay_values(session, [sid for sid, (before, _a, c) in net.items() if c.needs is None])
    deltas: dict[int, _ShelterDelta] = defaultdict(_ShelterDelta)
    snapshots_new: list[dict[str, int]] = []
    snapshots_gone: list[int] = []
    for stay_id, (before, after, change) in net.items():
        if before == after:
            continue
        needs, pets = (change.needs, change.pets) if change.needs is not None else values.get(stay_id, (0, 0))
        delta = deltas[change.shelter_id]
        if before is not None:
            delta.counts[before] -= 1
        if after is not None:
            delta.counts[after] += 1
        opened = (after is not None) - (before is not None)
        if opened:
            delta.counts["pets"] += opened * (pets or 0)
            for column, flag in NEED_COLUMNS.items():
                if (needs or 0) & flag:
                    delta.counts[column] += opened
            if opened > 0:
                snapshots_new.append({"stay_id": stay_id, "needs": needs or 0, "pets": pets or 0})
            else:
                snapshots_gone.append(stay_id)
        sleeping = (after == "occupancy") - (before == "occupancy")
        if sleeping:
            delta.households[change.household_key] += sleeping
    now = now_utc()
    for shelter_id in sorted(deltas):
        _apply_shelter(session, shelter_id, deltas[shelter_id], now)
    if snapshots_gone:
        session.execute(delete(StayTally).where(StayTally.stay_id.in_(snapshots_gone)))
    if snapshots_new:
        session.execute(insert(StayTally), snapshots_new)


def _stay_values(session: Any, stay_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Needs and pets that stays opened earlier were counted with (their snapshot, else the person's)."""
    if not stay_ids:
        return {}
    found = {sid: (needs, pets) for sid, needs, pets in session.execute(
        select(StayTally.stay_id, StayTally.needs, StayTally.pets).where(StayTally.stay_id.in_(stay_ids)))}
    missing = [sid for sid in stay_ids if sid not in found]
    if missing:
        # Stays opened before the counters existed: count them with the person as they are now.
        found.update((sid, (needs or 0, pets or 0)) for sid, needs, pets in session.execute(
            select(Stay.id, Person.needs, Person.pets).join(Person, Person.id == Stay.person_id)
            .where(Stay.id.in_(missing))))
    return found


def _dialect_insert(session: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _apply_shelter(session: Any, shelter_id: int, delta: _ShelterDelta, now: datetime) -> None:
    upsert = _dialect_insert(session)
    households = 0
    for key in sorted(delta.households):
        change = delta.households[key]
        if not change:
            continue
        stmt = upsert(HouseholdTally).values(shelter_id=shelter_id, household_key=key, members=change)
        stmt = stmt.on_conflict_do_update(
            index_elements=[HouseholdTally.shelter_id, HouseholdTally.household_key],
            set_={"members": HouseholdTally.members + change},
        ).returning(HouseholdTally.members)
        members = session.execute(stmt).scalar_one()
        households += (members > 0) - (members - change > 0)
    counts = {column: n for column, n in delta.counts.items() if n}
    if households:
        counts["households"] = households
    occupancy = _bump(session, shelter_id, counts, now)
    if counts.get("occupancy"):
        record_hour(session, shelter_id, occupancy - counts["occupancy"], occupancy, now)


def _bump(session: Any, shelter_id: int, counts: dict[str, int], now: datetime) -> int:
    """Add `counts` to the shelter's counters (creating the row on first use); the new occupancy."""
    table = ShelterTally.__table__
    stmt = (update(table).where(table.c.shelter_id == shelter_id)
            .values({**{table.c[col]: table.c[col] + n for col, n in counts.items()}, table.c.updated_at: now})
            .returning(table.c.occupancy))
    occupancy = session.execute(stmt).scalar()
    if occupancy is None:
        upsert = _dialect_insert(session)
        session.execute(upsert(table).values(shelter_id=shelter_id, updated_at=now).on_conflict_do_nothing())
        occupancy = session.execute(stmt).scalar_one()
    return int(occupancy)


def record_hour(session: Any, shelter_id: int, before: int, after: int, now: datetime) -> None:
    """Note a change of occupancy in the trend: the hour's row keeps its first `before`, the last `after`."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    upsert = _dialect_insert(session)
    stmt = upsert(OccupancyHour).values(shelter_id=shelter_id, hour=hour, opening=before, closing=after)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[OccupancyHour.shelter_id, OccupancyHour.hour], set_={"closing": after}))


@event.listens_for(Session, "before_commit")
def _apply_before_commit(session: Session) -> None:
    """Whatever the service did not read back yet still commits with the stays it counts."""
    if session.info.get(_PENDING):
        apply_pending(session)


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


# ---------------------------------------------------------------------------------------------
# Recomputing from the stays


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


def recompute(session: Any = None) -> dict[int, dict[str, int]]:
    """Every shelter's counts computed from its open stays and the persons as they are now.

    Shelters with nothing to count are left out. This is the reference the counters must equal.
    """
    session = session if session is not None else db.session
    result: dict[int, dict[str, int]] = {}
    for row in session.execute(_open_stays_counts()):
        occupancy, at_home, in_car, pets, *needs = (int(v or 0) for v in row[1:])
        result[row[0]] = {"occupancy": occupancy, "households": 0, "at_home": at_home, "in_car": in_car,
                          "pets": pets, **dict(zip(NEED_COLUMNS, needs, strict=True))}
    households = session.execute(
        select(Stay.shelter_id, func.count(func.distinct(func.coalesce(Stay.household_id, -Stay.person_id))))
        .where(Stay.checked_out_at.is_(None), Stay.status.in_([StayStatus.PRESENT, StayStatus.OUTING]))
        .group_by(Stay.shelter_id))
    for shelter_id, n in households:
        result[shelter_id]["households"] = int(n)
    return {sid: counts for sid, counts in result.items() if any(counts.values())}


def counts_of(tally: ShelterTally | Any) -> dict[str, int]:
    """The counter columns of a tally row as a dict."""
    return {column: int(getattr(tally, column) or 0) for column in COUNT_COLUMNS}


def stored(session: Any = None) -> dict[int, dict[str, int]]:
    """The counters as stored, shelters with nothing counted left out (comparable with `recompute`)."""
    session = session if session is not None else db.session
    rows = session.scalars(select(ShelterTally))
    return {t.shelter_id: c for t in rows if any((c := counts_of(t)).values())}


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
    """Recompute every counter, household count and needs snapshot from the open stays.

    Needs and pets are taken from the persons as they are now (so it also picks up needs changed
    during a stay). On PostgreSQL the counter tables are locked for the rebuild: desks wait a few
    seconds rather than change counts the rebuild is recomputing. `dry_run` only reports.
    """
    session = db.session
    begin_write(session)
    if session.get_bind().dialect.name == "postgresql" and not dry_run:
        session.execute(text("LOCK TABLE hq_shelter_tally, hq_household_tally, hq_stay_tally IN EXCLUSIVE MODE"))
    fresh = recompute(session)
    current = {t.shelter_id: t for t in session.scalars(select(ShelterTally))}
    corrected = sorted(sid for sid in set(fresh) | set(current)
                       if fresh.get(sid, dict.fromkeys(COUNT_COLUMNS, 0))
                       != (counts_of(current[sid]) if sid in current else dict.fromkeys(COUNT_COLUMNS, 0)))
    open_stays = session.scalar(select(func.count()).select_from(Stay).where(Stay.checked_out_at.is_(None))) or 0
    report = RebuildReport(len(fresh), corrected, int(open_stays), dry_run)
    if dry_run:
        session.rollback()
        return report
    now = now_utc()
    session.execute(delete(StayTally))
    session.execute(insert(StayTally).from_select(
        ["stay_id", "needs", "pets"],
        select(Stay.id, Person.needs, Person.pets).join(Person, Person.id == Stay.person_id)
        .where(Stay.checked_out_at.is_(None))))
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
            record_hour(session, shelter_id, before, counts["occupancy"], now)
    from evac.audit import service as audit

    audit.record("hq.rebuild_tallies", subject_type="shelter",
                 detail={"shelters": report.shelters, "corrected": corrected[:1000], "open_stays": report.open_stays})
    session.commit()
    if corrected:
        log.warning("tallies corrected", extra={"shelters": len(corrected)})
    return report
