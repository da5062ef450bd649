"""Outbox events and the state of their delivery by the sync connectors."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from evac.common.db import BigId, UTCDateTime, now_utc, str_enum
from evac.extensions import db


class OutboxEvent(db.Model):  # type: ignore[name-defined]
    """A change to send to the cloud victim-support system; `seq` is the delivery order."""

    __tablename__ = "outbox_event"
    # SQLite: never hand out a seq again, even after the newest events were purged (see the migration).
    __table_args__ = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    type: Mapped[str] = mapped_column(String(30))  # checkin, checkout, outing, return, transfer, …
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    # A drill's events never reach the real connectors; kept beside the id so claims filter cheaply.
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    person_id: Mapped[int | None] = mapped_column(index=True)
    shelter_id: Mapped[int | None] = mapped_column()
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class BatchStatus(enum.StrEnum):
    """Where a batch of outbox events stands with its connector.

    `queued` batches are sent in `first_seq` order (the head may already have been sent once, before
    a crash); `held` ones wait behind the parked batch named by `blocked_by`, so that a person's
    later events never overtake their parked earlier ones.
    """

    QUEUED = "queued"
    DELIVERED = "delivered"
    PARKED = "parked"
    HELD = "held"


class SyncConnector(db.Model):  # type: ignore[name-defined]
    """Per-connector sync state: how far the outbox has been claimed, and how the far end answers.

    `cursor` is the last outbox `seq` claimed into a batch (claims and the cursor move in one
    transaction); delivery itself is recorded on the batches. The horizon columns remember, on
    PostgreSQL, a gap in `seq` that may still be filled by a transaction in flight.
    """

    __tablename__ = "sync_connector"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    horizon_seq: Mapped[int | None] = mapped_column(BigInteger)
    horizon_xmax: Mapped[int | None] = mapped_column(BigInteger)
    horizon_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A short code and HTTP status, never a response body: bodies may echo personal data.
    last_error_code: Mapped[str | None] = mapped_column(String(40))
    last_error_status: Mapped[int | None] = mapped_column(Integer)
    delivered_events: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)


class SyncBatch(db.Model):  # type: ignore[name-defined]
    """A set of outbox events sent together, persisted before the first attempt.

    The `batch_id` is the `Idempotency-Key`: a batch re-sent after a crash carries the same one.
    `seqs` and `person_ids` are what the batch holds (ids only).
    """

    __tablename__ = "sync_batch"
    __table_args__ = (
        Index("ix_sync_batch_connector_status_first_seq", "connector", "status", "first_seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector: Mapped[str] = mapped_column(String(20))
    # A batch holds the events of one incident only: a claim stops where the incident changes.
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    batch_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    status: Mapped[BatchStatus] = mapped_column(str_enum(BatchStatus, "batch_status"))
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    event_count: Mapped[int] = mapped_column(Integer)
    seqs: Mapped[list[int]] = mapped_column(JSON)
    person_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    blocked_by: Mapped[int | None] = mapped_column(ForeignKey("sync_batch.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    http_status: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_requested_by: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    retries: Mapped[int] = mapped_column(Integer, default=0)


class SyncLease(db.Model):  # type: ignore[name-defined]
    """The SQLite sender lease: one row per connector, taken with a conditional UPDATE.

    PostgreSQL uses a session advisory lock instead and never writes here.
    """

    __tablename__ = "sync_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
