"""Keeping the per-shelter counters in step with the stays, in the unit of work that changes them.

The stay functions of `evac.stays.service` report each change here (`opened`, `moved`); the
changes wait in the unit and are applied together as it commits (a `before_commit` hook), or
earlier when the unit reads an occupancy back (`apply`):

- one atomic ``UPDATE … SET n = n + :d … RETURNING`` per shelter touched, never a read-modify-write,
  so concurrent desks at one shelter cannot lose each other's counts; run last in the transaction
  (a `last` before-commit hook, after the outbox and audit rows), it holds a shelter's counter row
  (PostgreSQL) for the shortest possible time, and what it returns is the answer's occupancy;
- households through a per-(shelter, household) member count, upserted with ``RETURNING``: a
  household is counted when its first member arrives and uncounted when its last one leaves,
  exactly, even when two desks check in two members of one family at the same moment;
- rows are touched in shelter order (and household order within a shelter), so two transactions
  moving people A→B and B→A lock in the same order and cannot deadlock on PostgreSQL;
- the hour's occupancy row of the trend is upserted with the value the counter returned.

A rolled-back unit takes its waiting changes with it. `evac.hq.service.rebuild_tallies`
recomputes everything from the stays.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update

from evac.common.db import UnitOfWork, current_unit, now_utc, prepared
from evac.common.statements import run
from evac.common.vocab import StayStatus
from evac.extensions import db
from evac.incidents import service as incidents
from evac.stays.models import NEED_COLUMNS, HouseholdTally, OccupancyHour, ShelterTally

if TYPE_CHECKING:
    from evac.stays.service import StayRow

_PENDING = "stays.pending_counts"
_SETTLED = "stays.settled_counts"
# The counter columns, in a fixed order (also the order `recompute` and `counts_of` use).
COUNT_COLUMNS = ("occupancy", "households", "at_home", "in_car", "pets", *NEED_COLUMNS)

# Which counter an open stay of each status adds to; closed statuses add to none.
BUCKET = {
    StayStatus.PRESENT: "occupancy",
    StayStatus.OUTING: "occupancy",  # an outing keeps the place
    StayStatus.AT_HOME: "at_home",
    StayStatus.IN_CAR: "in_car",
}


@dataclass
class _Change:
    """One stay's move between counters within the current unit, with what it is counted with."""

    stay_id: int
    shelter_id: int
    household_key: int
    before: str | None  # counter the stay was in (None: it did not exist or was closed)
    after: str | None
    needs: int
    pets: int


def household_key(household_id: int | None, person_id: int) -> int:
    """The household a stay counts for: its household id, or minus the person id if none."""
    return household_id if household_id is not None else -person_id


def _pending(unit_: UnitOfWork) -> list[_Change]:
    pending: list[_Change] | None = unit_.state.get(_PENDING)
    if pending is None:
        pending = unit_.state[_PENDING] = []
        unit_.before_commit(apply, last=True)
    return pending


def opened(stay: StayRow) -> None:
    """Count a stay just opened (or reopened) with the needs and pets stored on it."""
    _pending(current_unit()).append(_Change(
        stay.id, stay.shelter_id, household_key(stay.household_id, stay.person_id), None, BUCKET.get(stay.status),
        stay.counted_needs, stay.counted_pets))


def moved(stay: StayRow, after: StayStatus) -> None:
    """Move an open stay between counters: a status change (外出, 在宅, 車中泊, 戻り) or its closing."""
    old, new = BUCKET.get(stay.status), BUCKET.get(after)
    if old != new:
        _pending(current_unit()).append(_Change(
            stay.id, stay.shelter_id, household_key(stay.household_id, stay.person_id), old, new,
            stay.counted_needs, stay.counted_pets))


@dataclass
class _ShelterDelta:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    households: dict[int, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True)
class Settled:
    """A shelter's counters as this unit's update left them (its ``RETURNING``)."""

    occupancy: int
    households: int
    updated_at: datetime


def settled() -> dict[int, Settled]:
    """The counters of every shelter this unit has updated so far, as its updates returned them."""
    found: dict[int, Settled] = current_unit().state.get(_SETTLED, {})
    return found


def apply() -> dict[int, int]:
    """Apply the changes waiting in the unit to the counters; the new occupancy of each shelter touched.

    What each update returned is kept in the unit too (`settled`), so an answer built before the
    commit reads the counters without a query of its own.
    """
    unit_ = current_unit()
    changes: list[_Change] = unit_.state.get(_PENDING) or []
    if not changes:
        return {}
    # The hook registered with the first change still runs at commit, for changes made after this.
    unit_.state[_PENDING] = []
    # The net move of each stay: where it was, and with what, before these changes; where it is now.
    net: dict[int, tuple[_Change, _Change]] = {}
    for change in changes:
        net[change.stay_id] = (net.get(change.stay_id, (change, change))[0], change)
    deltas: dict[int, _ShelterDelta] = defaultdict(_ShelterDelta)
    for first, last in net.values():
        before, after = first.before, last.after
        if before == after and (before is None or (first.needs, first.pets) == (last.needs, last.pets)):
            continue
        delta = deltas[first.shelter_id]
        # Every open stay counts its needs and pets, whatever its counter (在宅 and 車中泊 included).
        for sign, change, bucket in ((-1, first, before), (1, last, after)):
            if bucket is None:
                continue
            delta.counts[bucket] += sign
            delta.counts["pets"] += sign * change.pets
            for column, flag in NEED_COLUMNS.items():
                if change.needs & flag:
                    delta.counts[column] += sign
        sleeping = (after == "occupancy") - (before == "occupancy")
        if sleeping:
            delta.households[first.household_key] += sleeping
    now = now_utc()
    done = unit_.state.setdefault(_SETTLED, {})
    for shelter_id in sorted(deltas):
        done[shelter_id] = _apply_shelter(unit_, shelter_id, deltas[shelter_id], now)
    return {shelter_id: done[shelter_id].occupancy for shelter_id in deltas}


# Statements are built once and reused (`prepared`): building an upsert costs more CPU than
# running it, on every check-in of the day. Keyed by what shapes them (the dialect, the columns).
def _statement(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    return prepared(("counters", *key), build)


# The upserts name the tables, not the mapped classes: an ORM-enabled INSERT goes through the
# ORM's bulk-insert machinery on every execution, four times the cost of the statement itself.
def _household_upsert(unit_: UnitOfWork) -> Any:
    table = HouseholdTally.__table__
    return (unit_.insert(table)
            .values(shelter_id=bindparam("p_shelter_id"), household_key=bindparam("p_key"), members=bindparam("p_change"))
            .on_conflict_do_update(index_elements=[table.c.shelter_id, table.c.household_key],
                                   set_={"members": table.c.members + bindparam("p_again")})
            .returning(table.c.members))


def _apply_shelter(unit_: UnitOfWork, shelter_id: int, delta: _ShelterDelta, now: datetime) -> Settled:
    households = 0
    upsert = _statement(("household", unit_.dialect), lambda: _household_upsert(unit_))
    for key in sorted(delta.households):
        change = delta.households[key]
        if not change:
            continue
        members = run(upsert, {"p_shelter_id": shelter_id, "p_key": key, "p_change": change,
                                           "p_again": change}).scalar_one()
        households += (members > 0) - (members - change > 0)
    counts = {column: n for column, n in delta.counts.items() if n}
    if households:
        counts["households"] = households
    result = bump(unit_, shelter_id, counts, now)
    if counts.get("occupancy"):
        record_hour(unit_, shelter_id, result.occupancy - counts["occupancy"], result.occupancy, now)
    return result


def _bump_statement(columns: tuple[str, ...]) -> Any:
    table = ShelterTally.__table__
    return (update(table).where(table.c.shelter_id == bindparam("p_shelter_id"))
            .values({**{table.c[col]: table.c[col] + bindparam(f"p_add_{col}") for col in columns},
                     table.c.updated_at: bindparam("p_now")})
            .returning(table.c.occupancy, table.c.households, table.c.updated_at))


def bump(unit_: UnitOfWork, shelter_id: int, counts: dict[str, int], now: datetime) -> Settled:
    """Add `counts` to the shelter's counters (creating the row on first use); the counters after it."""
    columns = tuple(sorted(counts))
    stmt = _statement(("bump", columns), lambda: _bump_statement(columns))
    params = {"p_shelter_id": shelter_id, "p_now": now, **{f"p_add_{col}": counts[col] for col in columns}}
    row = run(stmt, params).first()
    if row is None:
        table = ShelterTally.__table__
        db.session.execute(unit_.insert(table).values(shelter_id=shelter_id, updated_at=now).on_conflict_do_nothing())
        row = db.session.execute(stmt, params).one()
    return Settled(int(row.occupancy), int(row.households), row.updated_at)


def record_hour(unit_: UnitOfWork, shelter_id: int, before: int, after: int, now: datetime) -> None:
    """Note a change of occupancy in the incident's trend: the hour's row keeps its first `before`, the last `after`."""
    incident = incidents.current()
    if incident is None:
        return  # counts corrected between incidents belong to no trend
    hour = now.replace(minute=0, second=0, microsecond=0)
    hours = OccupancyHour.__table__
    stmt = _statement(("hour", unit_.dialect), lambda: unit_.insert(hours).values(
        incident_id=bindparam("p_incident_id"), shelter_id=bindparam("p_shelter_id"), hour=bindparam("p_hour"),
        opening=bindparam("p_opening"), closing=bindparam("p_closing"),
    ).on_conflict_do_update(index_elements=[hours.c.incident_id, hours.c.shelter_id, hours.c.hour],
                            set_={"closing": bindparam("p_again")}))
    run(stmt, {"p_incident_id": incident.id, "p_shelter_id": shelter_id, "p_hour": hour, "p_opening": before,
                              "p_closing": after, "p_again": after})


def counts_of(tally: Any) -> dict[str, int]:
    """The counter columns of a tally row as a dict."""
    return {column: int(getattr(tally, column) or 0) for column in COUNT_COLUMNS}


def stored() -> dict[int, dict[str, int]]:
    """The counters as stored, shelters with nothing counted left out (comparable with a recompute)."""
    rows = db.session.execute(select(ShelterTally))
    return {t.shelter_id: c for (t,) in rows if any((c := counts_of(t)).values())}
