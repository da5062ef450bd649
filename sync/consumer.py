"""Claiming outbox events into batches and recording what became of them.

The rules, in one place:

* Per connector, `cursor` is the last outbox `seq` claimed into a batch. A claim reads the events
  after it in `seq` order (count and byte caps), writes them into a batch row and moves the cursor,
  in one transaction. A batch is therefore persisted, with its `batch_id`, before its first attempt:
  after a crash it is sent again under the same id.
* Batches wait as `queued` and are sent one at a time in `first_seq` order; nothing new is claimed
  while one is queued, so a batch that keeps failing with 5xx/429/timeouts holds everything behind
  it (order kept). Only a 2xx marks it `delivered`.
* A batch refused with another 4xx is `parked` and the cursor has already moved on, so later events
  flow. To keep each person's events in order, later events of the persons in a parked batch are
  claimed into `held` batches blocked by it (and a queued batch that shares a person with a batch
  just parked is put on hold too). Retrying the parked batch queues it again; once it is delivered,
  its held batches are queued in `first_seq` order behind it.
* Gaps in `seq`. On SQLite writers are serialised and a `seq` is handed out under the write lock,
  so commit order is `seq` order and a gap is never filled later. On PostgreSQL a sequence value is
  taken before commit, so a gap may belong to a transaction still in flight: events up to the first
  gap are claimed at once; past it only when the gap is settled — every transaction that was running
  when the gap was first seen has ended (`pg_snapshot_xmin` has passed the `xmax` recorded then) and
  `gap_grace` seconds have passed (a value is drawn a moment before the row's transaction id).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text, update

from evac.common.db import READ, WRITE, affected, current_unit, now_utc, unit
from evac.extensions import db
from evac.outbox.models import BatchStatus, OutboxEvent, SyncBatch, SyncConnector
from sync.lease import Lease
from sync.wire import EventLike, encode_event

log = logging.getLogger("sync.consumer")
_NO_LIMIT = 2**62
# Plain rows, not ORM objects: a claim reads hundreds of events and needs no identity map.
_EVENT_COLUMNS = (OutboxEvent.seq, OutboxEvent.event_id, OutboxEvent.type, OutboxEvent.occurred_at,
                  OutboxEvent.incident_id, OutboxEvent.drill,
                  OutboxEvent.person_id, OutboxEvent.shelter_id, OutboxEvent.payload)


@dataclass
class Claimed:
    """A batch ready to send, with its events' wire bytes in `seq` order."""

    batch_pk: int
    batch_id: str
    seqs: list[int]
    person_ids: list[int]
    encoded: list[bytes]
    attempts: int = 0


@dataclass
class ClaimResult:
    """What one claim did: a batch to send (or none), events put on hold, and whether a gap stopped it."""

    batch: Claimed | None = None
    claimed: int = 0
    held: int = 0
    gap_pending: bool = False
    skipped: int = 0  # the other kind's events stepped over (the cursor moved past them)


@dataclass
class Caps:
    """How much one batch may carry."""

    count: int
    bytes: int


@dataclass
class Scan:
    """Events after the cursor that may be taken now, and whether a gap kept later ones back."""

    events: list[EventLike] = field(default_factory=list)
    encoded: list[bytes] = field(default_factory=list)
    gap_pending: bool = False
    last_seq: int | None = None  # the last seq looked at, taken or skipped (the other kind's events)
    skipped: int = 0


def _postgres() -> bool:
    return current_unit().postgres


def ensure_state(name: str) -> None:
    """Create the connector's state row if it is missing (idempotent, safe between processes)."""
    with unit(READ):
        exists = db.session.get(SyncConnector, name) is not None
    if not exists:
        with unit(WRITE) as unit_:
            db.session.execute(unit_.insert(SyncConnector).values(
                name=name, cursor=0, delivered_events=0, updated_at=now_utc()).on_conflict_do_nothing())


def lock_state(name: str) -> SyncConnector:
    """The state row, row-locked on PostgreSQL so two claims can never interleave."""
    query = select(SyncConnector).where(SyncConnector.name == name)
    if _postgres():
        query = query.with_for_update()
    state = db.session.scalar(query)
    if state is None:
        raise RuntimeError(f"sync connector state {name!r} missing; ensure_state() first")
    return state


def _snapshot_bounds() -> tuple[int, int]:
    row = db.session.execute(text(
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
        "pg_snapshot_xmax(pg_current_snapshot())::text::bigint")).one()
    return int(row[0]), int(row[1])


def scan(state: SyncConnector, caps: Caps, gap_grace: float, after: int | None = None, *,
         drill: bool = False) -> Scan:
    """Read the events after the cursor (or `after`) that may be taken now, within the caps.

    Events of the other kind (drill or real) are stepped over: they move the cursor but are never
    taken, so a drill's check-ins cannot reach the real connector. The events taken belong to one
    incident: the scan stops where the incident changes. Must run inside the claim's transaction,
    after `lock_state`. See the module doc for gaps.
    """
    postgres = _postgres()
    start = state.cursor if after is None else after
    safe_seq = _NO_LIMIT
    if postgres:
        safe_seq = start
        # Settled means settled before the rows are read: this snapshot is taken first.
        xmin, _xmax = _snapshot_bounds()
        if (state.horizon_seq is not None and state.horizon_xmax is not None and state.horizon_at is not None
                and xmin >= state.horizon_xmax
                and now_utc() - state.horizon_at >= timedelta(seconds=gap_grace)):
            safe_seq = max(start, state.horizon_seq)
            state.horizon_seq = state.horizon_xmax = state.horizon_at = None
    query = select(*_EVENT_COLUMNS).where(OutboxEvent.seq > start).order_by(OutboxEvent.seq).limit(caps.count)
    if postgres:
        # The lease makes one sender; should two ever overlap, the second skips rows the first has
        # claimed instead of queueing behind them, and the gap rule keeps it from jumping past them.
        query = query.with_for_update(skip_locked=True)
    rows: list[Any] = list(db.session.execute(query))
    out = Scan()
    expected, size = start + 1, 0
    incident: int | None = None
    for event in rows:
        if event.seq != expected and event.seq - 1 > safe_seq:
            out.gap_pending = True
            break
        if bool(event.drill) is not drill:
            out.skipped += 1
            out.last_seq = event.seq
            expected = event.seq + 1
            continue
        if incident is not None and event.incident_id != incident:
            break
        encoded = encode_event(event)
        if out.events and size + len(encoded) + 1 > caps.bytes:
            break
        incident = event.incident_id
        out.events.append(event)
        out.encoded.append(encoded)
        out.last_seq = event.seq
        size += len(encoded) + 1
        expected = event.seq + 1
    if out.gap_pending and postgres and state.horizon_seq is None:
        # Recorded after the rows were read: every transaction that could still fill a gap below
        # the highest seq seen was running by now, so its id is below this xmax.
        _xmin, xmax = _snapshot_bounds()
        state.horizon_seq, state.horizon_xmax, state.horizon_at = rows[-1].seq, xmax, now_utc()
    return out


def _blockers(name: str) -> dict[int, int]:
    """Person id → the parked batch whose delivery releases them (from parked and held batches)."""
    rows = db.session.execute(
        select(SyncBatch.id, SyncBatch.status, SyncBatch.blocked_by, SyncBatch.person_ids)
        .where(SyncBatch.connector == name, SyncBatch.status.in_([BatchStatus.PARKED, BatchStatus.HELD]))
    )
    blockers: dict[int, int] = {}
    for pk, status, blocked_by, person_ids in rows:
        root = pk if status is BatchStatus.PARKED else blocked_by
        if root is None:
            continue  # a held batch always names its blocker; nothing to hold behind otherwise
        for person_id in person_ids or []:
            blockers[int(person_id)] = int(root)
    return blockers


def _new_batch(name: str, status: BatchStatus, events: list[EventLike], blocked_by: int | None = None) -> SyncBatch:
    batch = SyncBatch(
        connector=name, status=status, incident_id=events[0].incident_id, first_seq=events[0].seq,
        last_seq=events[-1].seq, event_count=len(events),
        seqs=[e.seq for e in events], person_ids=sorted({e.person_id for e in events if e.person_id is not None}),
        blocked_by=blocked_by, attempts=0, retries=0,
    )
    db.session.add(batch)
    return batch


def next_queued(name: str) -> Claimed | None:
    """The queued batch to send next (a retry, a released held batch, or one a crash interrupted)."""
    with unit(READ):
        batch = db.session.scalar(
            select(SyncBatch).where(SyncBatch.connector == name, SyncBatch.status == BatchStatus.QUEUED)
            .order_by(SyncBatch.first_seq, SyncBatch.id).limit(1)
        )
        if batch is None:
            return None
        events: list[Any] = list(db.session.execute(
            select(*_EVENT_COLUMNS).where(OutboxEvent.seq.in_(batch.seqs)).order_by(OutboxEvent.seq)))
        return Claimed(batch.id, batch.batch_id, [e.seq for e in events], list(batch.person_ids or []),
                       [encode_event(e) for e in events], batch.attempts)


def claim(name: str, lease: Lease, caps: Caps, gap_grace: float, *, drill: bool = False) -> ClaimResult:
    """Claim the next events after the cursor into a queued batch (and held ones), moving the cursor."""
    with unit(WRITE):
        result = _claim(name, lease, caps, gap_grace, drill)
    if result.held:
        log.info("events held behind parked batches", extra={"connector": name, "held": result.held})
    return result


def _claim(name: str, lease: Lease, caps: Caps, gap_grace: float, drill: bool) -> ClaimResult:
    lease.verify()
    state = lock_state(name)
    found = scan(state, caps, gap_grace, drill=drill)
    result = ClaimResult(gap_pending=found.gap_pending, skipped=found.skipped)
    if not found.events:
        if found.last_seq is not None and found.last_seq > state.cursor:
            state.cursor = found.last_seq  # only the other kind's events: step past them
        return result  # the unit commits, keeping a newly recorded gap horizon
    blockers = _blockers(name)
    sendable: list[EventLike] = []
    encoded: list[bytes] = []
    held: dict[int, list[EventLike]] = defaultdict(list)
    for event, data in zip(found.events, found.encoded, strict=True):
        root = blockers.get(event.person_id) if event.person_id is not None else None
        if root is None:
            sendable.append(event)
            encoded.append(data)
        else:
            held[root].append(event)
    batch = _new_batch(name, BatchStatus.QUEUED, sendable) if sendable else None
    for root, events in held.items():
        _new_batch(name, BatchStatus.HELD, events, blocked_by=root)
        result.held += len(events)
    assert found.last_seq is not None
    state.cursor = found.last_seq
    db.session.flush()
    if batch is not None:
        result.batch = Claimed(batch.id, batch.batch_id, batch.seqs, batch.person_ids, encoded)
    result.claimed = len(found.events)
    return result


def mark_delivered(name: str, lease: Lease, claimed: Claimed, http_status: int | None) -> int:
    """Record a 2xx: the batch is delivered and the batches held behind it are queued. Returns how many."""
    with unit(WRITE):
        released = _mark_delivered(name, lease, claimed, http_status)
    if released:
        log.info("held batches released", extra={"connector": name, "batch": claimed.batch_id, "released": released})
    return released


def _mark_delivered(name: str, lease: Lease, claimed: Claimed, http_status: int | None) -> int:
    lease.verify()
    state = lock_state(name)
    now = now_utc()
    batch = db.session.get(SyncBatch, claimed.batch_pk)
    assert batch is not None
    batch.status, batch.delivered_at, batch.http_status = BatchStatus.DELIVERED, now, http_status
    batch.attempts += 1
    batch.last_attempt_at = now
    state.last_attempt_at = state.last_success_at = now
    state.delivered_events += batch.event_count
    return affected(db.session.execute(
        update(SyncBatch).where(SyncBatch.blocked_by == batch.id, SyncBatch.status == BatchStatus.HELD)
        .values(status=BatchStatus.QUEUED, blocked_by=None).execution_options(synchronize_session=False)
    ))


def mark_parked(name: str, lease: Lease, claimed: Claimed, http_status: int | None, code: str) -> None:
    """Record a refusal: park the batch and hold any unsent queued batch that shares a person with it."""
    with unit(WRITE):
        batch_range = _mark_parked(name, lease, claimed, http_status, code)
    log.warning("batch parked", extra={"connector": name, "batch": claimed.batch_id, "first_seq": batch_range[0],
                                       "last_seq": batch_range[1], "http_status": http_status, "code": code})


def _mark_parked(name: str, lease: Lease, claimed: Claimed, http_status: int | None, code: str) -> tuple[int, int]:
    lease.verify()
    state = lock_state(name)
    now = now_utc()
    batch = db.session.get(SyncBatch, claimed.batch_pk)
    assert batch is not None
    batch.status, batch.parked_at, batch.http_status, batch.error_code = BatchStatus.PARKED, now, http_status, code
    batch.attempts += 1
    batch.last_attempt_at = now
    state.last_attempt_at = state.last_error_at = now
    state.last_error_code, state.last_error_status = code, http_status
    persons = set(batch.person_ids or [])
    # A batch parked again after a retry still has batches held behind it; their persons wait too.
    for held_persons in db.session.scalars(select(SyncBatch.person_ids).where(
            SyncBatch.blocked_by == batch.id, SyncBatch.status == BatchStatus.HELD)):
        persons |= set(held_persons or [])
    queued = db.session.scalars(
        select(SyncBatch).where(SyncBatch.connector == name, SyncBatch.status == BatchStatus.QUEUED,
                                SyncBatch.id != batch.id, SyncBatch.attempts == 0)
        .order_by(SyncBatch.first_seq, SyncBatch.id)
    )
    for other in queued:
        # Transitively: a batch held now makes its own persons wait too.
        if persons & set(other.person_ids or []):
            other.status, other.blocked_by = BatchStatus.HELD, batch.id
            persons |= set(other.person_ids or [])
    return batch.first_seq, batch.last_seq


def record_failure(name: str, claimed: Claimed, http_status: int | None, code: str) -> None:
    """Note a failed attempt that will be retried (on the batch and as the connector's last error)."""
    with unit(WRITE):
        state = lock_state(name)
        now = now_utc()
        batch = db.session.get(SyncBatch, claimed.batch_pk)
        if batch is not None:
            batch.attempts += 1
            batch.last_attempt_at, batch.http_status, batch.error_code = now, http_status, code
        state.last_attempt_at = state.last_error_at = now
        state.last_error_code, state.last_error_status = code, http_status
    claimed.attempts += 1


def advance_cursor(name: str, lease: Lease, to_seq: int, events: int) -> None:
    """Move the cursor without making batches (the CSV connector, once its files are written)."""
    with unit(WRITE):
        lease.verify()
        state = lock_state(name)
        now = now_utc()
        if to_seq > state.cursor:
            state.cursor = to_seq
            state.delivered_events += events
        state.last_attempt_at = state.last_success_at = now


def record_error(name: str, code: str) -> None:
    """Note a failure that is not about one batch (a full disk, a database hiccup)."""
    with unit(WRITE):
        state = db.session.get(SyncConnector, name)
        if state is None:  # failed before its first pass could even start: nothing to note it on
            return
        now = now_utc()
        state.last_attempt_at = state.last_error_at = now
        state.last_error_code, state.last_error_status = code[:40], None
