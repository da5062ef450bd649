"""Sync health as HQ sees it, and the one change HQ may make: retrying a parked batch.

The sender itself lives in `sync/` (which imports evac, never the reverse); these functions only
read and write the state tables it shares with the web app.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from evac.audit import service as audit
from evac.common.db import current_unit, now_utc, read_only, writing
from evac.common.errors import Conflict, NotFound
from evac.extensions import db
from evac.outbox.models import BatchStatus, OutboxEvent, SyncBatch, SyncConnector, SyncLease

CONNECTORS = ("http", "csv")
DRILL = "drill"  # the drills' connector (EVAC_SYNC_DRILL_CONNECTOR), when one is configured


class BatchNotParked(Conflict):
    """Only a parked batch can be retried."""

    code = "batch_not_parked"


def _batch_out(batch: SyncBatch, held: int = 0) -> dict[str, Any]:
    return {
        "id": batch.id,
        "batch_id": batch.batch_id,
        "connector": batch.connector,
        "status": batch.status.value,
        "events": batch.event_count,
        "first_seq": batch.first_seq,
        "last_seq": batch.last_seq,
        "http_status": batch.http_status,
        "error_code": batch.error_code,
        "attempts": batch.attempts,
        "retries": batch.retries,
        "parked_at": batch.parked_at,
        "retry_requested_at": batch.retry_requested_at,
        "held_events": held,
    }


def connector_status(name: str, *, configured: bool) -> dict[str, Any]:
    """Backlog, last success, last error and parked batches of one connector (no personal data)."""
    state = db.session.get(SyncConnector, name)
    cursor = state.cursor if state else 0
    # Each connector takes one kind: the drills' connector drill events, the real ones the rest.
    unclaimed = db.session.scalar(select(func.count()).select_from(OutboxEvent).where(
        OutboxEvent.seq > cursor, OutboxEvent.drill.is_(name == DRILL))) or 0
    pending = dict(db.session.execute(
        select(SyncBatch.status, func.coalesce(func.sum(SyncBatch.event_count), 0))
        .where(SyncBatch.connector == name,
               SyncBatch.status.in_([BatchStatus.QUEUED, BatchStatus.HELD, BatchStatus.PARKED]))
        .group_by(SyncBatch.status)
    ).all())
    parked = list(db.session.scalars(
        select(SyncBatch).where(SyncBatch.connector == name, SyncBatch.status == BatchStatus.PARKED)
        .order_by(SyncBatch.first_seq)
    ))
    held_by = dict(db.session.execute(
        select(SyncBatch.blocked_by, func.sum(SyncBatch.event_count))
        .where(SyncBatch.connector == name, SyncBatch.status == BatchStatus.HELD)
        .group_by(SyncBatch.blocked_by)
    ).all())
    lease = db.session.get(SyncLease, f"sync:{name}")
    oldest = _oldest_waiting(name, cursor)
    return {
        "name": name,
        "configured": configured,
        "cursor": cursor,
        # Everything not yet delivered except what is parked (and what waits behind it).
        "backlog": int(unclaimed) + int(pending.get(BatchStatus.QUEUED, 0)),
        "held_events": int(pending.get(BatchStatus.HELD, 0)),
        "parked_events": int(pending.get(BatchStatus.PARKED, 0)),
        "delivered_events": state.delivered_events if state else 0,
        # How long the oldest event not yet delivered has waited (0 when nothing waits).
        "lag_seconds": 0.0 if oldest is None else max(0.0, (now_utc() - oldest).total_seconds()),
        "last_attempt_at": state.last_attempt_at if state else None,
        "last_success_at": state.last_success_at if state else None,
        "last_error": None if not state or state.last_error_at is None else {
            "at": state.last_error_at, "code": state.last_error_code, "http_status": state.last_error_status,
        },
        "lease": None if lease is None or lease.holder is None else {
            "holder": lease.holder, "expires_at": lease.expires_at,
        },
        "parked": [_batch_out(b, int(held_by.get(b.id, 0))) for b in parked],
    }


def _oldest_waiting(name: str, cursor: int) -> Any:
    """When the oldest event this connector has still to deliver happened (None if none waits)."""
    kind = OutboxEvent.drill.is_(name == DRILL)
    unclaimed = db.session.scalar(select(func.min(OutboxEvent.occurred_at)).where(OutboxEvent.seq > cursor, kind))
    first_queued = db.session.scalar(select(func.min(SyncBatch.first_seq)).where(
        SyncBatch.connector == name, SyncBatch.status.in_([BatchStatus.QUEUED, BatchStatus.HELD])))
    queued = None if first_queued is None else db.session.scalar(
        select(OutboxEvent.occurred_at).where(OutboxEvent.seq == first_queued))
    found = [t for t in (unclaimed, queued) if t is not None]
    return min(found) if found else None


@read_only
def sync_status(configured: str) -> dict[str, Any]:
    """Every connector that has state, plus the configured one even before its first pass."""
    names = set(db.session.scalars(select(SyncConnector.name)))
    if configured in CONNECTORS:
        names.add(configured)
    connectors = [connector_status(n, configured=n == configured) for n in sorted(names)]
    return {"connector": configured, "connectors": connectors, "checked_at": now_utc()}


@writing
def request_retry(batch_pk: int, *, account_id: int | None) -> dict[str, Any]:
    """Queue a parked batch for another attempt, under a fresh batch id; audited.

    The new id is persisted here, before any attempt, so a sender that crashes mid-retry re-sends
    under the same one. A fresh id (rather than the parked one) because a receiver may remember its
    4xx answer under the old `Idempotency-Key`; the events keep their ids, so nothing doubles.
    """
    query = select(SyncBatch).where(SyncBatch.id == batch_pk)
    if current_unit().postgres:
        query = query.with_for_update()
    batch = db.session.scalar(query)
    if batch is None:
        raise NotFound(_("指定された送信バッチが見つかりません"), fields={"batch": batch_pk})
    if batch.status is not BatchStatus.PARKED:
        raise BatchNotParked(_("この送信バッチは保留中ではないため再送できません"), batch_status=batch.status.value)
    previous = batch.batch_id
    batch.batch_id = str(uuid.uuid4())
    batch.status = BatchStatus.QUEUED
    batch.attempts = 0
    batch.retries += 1
    batch.retry_requested_at = now_utc()
    batch.retry_requested_by = account_id
    audit.record("sync.retry", subject_type="sync_batch", subject_id=batch.id, account_id=account_id,
                 detail={"connector": batch.connector, "previous_batch_id": previous, "batch_id": batch.batch_id,
                         "events": batch.event_count, "first_seq": batch.first_seq, "last_seq": batch.last_seq})
    return _batch_out(batch)

