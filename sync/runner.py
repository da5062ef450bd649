"""One sync pass: take the lease, then drain the outbox through the configured connector.

A pass ends when nothing is left to send, when `stop` is set (after the batch in flight), when a
`deadline` would be crossed by the next backoff, or when the lease is lost. The scheduler runs
passes; `evac sync once` runs one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from flask import Flask
from sqlalchemy.exc import DBAPIError

from evac.common.db import READ, WRITE, DatabaseUnavailable, unit
from evac.extensions import db
from evac.outbox.models import SyncConnector
from sync import consumer, csvout
from sync.config import SyncConfig
from sync.http import Attempt, HttpConnector, Verdict, backoff_delay
from sync.lease import Lease, LeaseLost, make_lease

log = logging.getLogger("sync.runner")
# Test hook (fault tests only): after a 2xx, write the batch id to this file and hang before
# marking the batch delivered, so a test can SIGKILL the sender at exactly that point.
STALL_HOOK = "EVAC_SYNC_TEST_STALL_AFTER_2XX"
CSV_SCAN = 5000


class Sender(Protocol):
    """What the runner needs of a batch connector (the HTTP one, or a fake in tests)."""

    def send(self, batch_id: str, events: list[bytes]) -> Attempt:
        """One attempt at delivering a batch."""

    def close(self) -> None:
        """Free the connector's resources."""


@dataclass
class PassReport:
    """What a pass did, in counts and ids only."""

    connector: str
    lease: bool = True
    claimed: int = 0
    delivered: int = 0
    batches: int = 0
    parked: int = 0
    held: int = 0
    retries: int = 0
    files: int = 0
    drained: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """For logs and the CLI."""
        return asdict(self)


class SyncRunner:
    """Runs passes for one connector in one process; safe to call from a scheduler thread."""

    def __init__(self, app: Flask, cfg: SyncConfig, sender: Sender | None = None) -> None:
        self.app = app
        self.cfg = cfg
        self.name = cfg.name
        self.caps = consumer.Caps(cfg.batch_size, cfg.batch_bytes)
        self._sender = sender
        self._lease: Lease | None = None
        self._busy = threading.Lock()

    @property
    def sender(self) -> Sender:
        """The HTTP connector, made on first use (one keep-alive client per process)."""
        if self._sender is None:
            self._sender = HttpConnector(self.cfg)
        return self._sender

    def run_pass(self, stop: threading.Event | None = None, deadline: float | None = None) -> PassReport:
        """Take the lease and drain what can be sent now. Never raises: failures land in the report and the state."""
        stop = stop or threading.Event()
        report = PassReport(self.name)
        if self.cfg.connector == "none":
            report.drained = True
            return report
        if not self._busy.acquire(blocking=False):
            report.error = "pass_already_running"
            return report
        try:
            with self.app.app_context():
                try:
                    if self._lease is None:
                        self._lease = make_lease(f"sync:{self.name}", self.cfg.lease_ttl)
                    if not self._lease.acquire():
                        report.lease = False
                        return report
                    consumer.ensure_state(self.name)
                    if self.cfg.connector == "http":
                        self._http_pass(self._lease, stop, deadline, report)
                    else:
                        self._csv_pass(self._lease, stop, report)
                except LeaseLost:
                    log.warning("lease lost; stopping this pass", extra={"connector": self.name})
                    report.error = "lease_lost"
                except (DBAPIError, DatabaseUnavailable, OSError) as exc:
                    log.error("sync pass failed", extra={"connector": self.name, "error": type(exc).__name__})
                    report.error = type(exc).__name__
                    try:
                        consumer.record_error(self.name, type(exc).__name__)
                    except (DBAPIError, DatabaseUnavailable):
                        pass
                finally:
                    db.session.remove()
        finally:
            self._busy.release()
        if report.claimed or report.delivered or report.parked or report.error or report.files:
            log.info("sync pass", extra=report.as_dict())
        return report

    def _wait(self, lease: Lease, stop: threading.Event, seconds: float) -> bool:
        """Sleep up to `seconds`, renewing the lease meanwhile; True if asked to stop."""
        end = time.monotonic() + seconds
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return False
            if stop.wait(min(remaining, max(0.5, self.cfg.lease_ttl / 3))):
                return True
            lease.heartbeat()

    def _http_pass(self, lease: Lease, stop: threading.Event, deadline: float | None, report: PassReport) -> None:
        gap_waits = 0
        while not stop.is_set():
            claimed = consumer.next_queued(self.name)
            if claimed is None:
                result = consumer.claim(self.name, lease, self.caps, self.cfg.gap_grace, drill=self.cfg.drill)
                report.claimed += result.claimed
                report.held += result.held
                claimed = result.batch
                if claimed is None:
                    if result.claimed or result.skipped:
                        continue  # held behind a parked batch, or the other kind's events stepped over
                    if result.gap_pending and gap_waits < 3 and not self._past(deadline, self.cfg.gap_grace):
                        # A gap in seq that a transaction in flight may fill: wait until it settles.
                        gap_waits += 1
                        if self._wait(lease, stop, self.cfg.gap_grace + 0.1):
                            return
                        continue
                    report.drained = not result.gap_pending
                    return
            if not self._deliver(lease, claimed, stop, deadline, report):
                return

    @staticmethod
    def _past(deadline: float | None, wait: float) -> bool:
        return deadline is not None and time.monotonic() + wait > deadline

    def _deliver(self, lease: Lease, claimed: consumer.Claimed, stop: threading.Event, deadline: float | None,
                 report: PassReport) -> bool:
        """Send one batch until it is delivered or parked (True), or until stopped or out of time (False)."""
        if not claimed.encoded:
            # Its events were purged meanwhile: nothing left to send.
            consumer.mark_delivered(self.name, lease, claimed, None)
            return True
        failures = 0
        while True:
            attempt = self.sender.send(claimed.batch_id, claimed.encoded)
            if attempt.verdict is Verdict.DELIVERED:
                self._stall_hook(claimed)
                consumer.mark_delivered(self.name, lease, claimed, attempt.status)
                report.delivered += len(claimed.seqs)
                report.batches += 1
                return True
            if attempt.verdict is Verdict.PARK:
                consumer.mark_parked(self.name, lease, claimed, attempt.status, attempt.code or "rejected")
                report.parked += 1
                return True
            failures += 1
            report.retries += 1
            consumer.record_failure(self.name, claimed, attempt.status, attempt.code or "error")
            delay = backoff_delay(failures, self.cfg.backoff_base, self.cfg.backoff_max, attempt.retry_after,
                                  self.cfg.retry_after_max)
            log.warning("batch not delivered; retrying", extra={
                "connector": self.name, "batch": claimed.batch_id, "code": attempt.code, "http_status": attempt.status,
                "attempt": failures, "delay": round(delay, 3)})
            if self._past(deadline, delay):
                report.error = attempt.code
                return False
            if self._wait(lease, stop, delay):
                return False

    def _stall_hook(self, claimed: consumer.Claimed) -> None:
        path = os.environ.get(STALL_HOOK)
        if not path:
            return
        with open(path, "a", encoding="ascii") as handle:
            handle.write(claimed.batch_id + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        log.warning("test hook: stalling after a 2xx, before marking", extra={"batch": claimed.batch_id})
        time.sleep(3600)

    def _csv_pass(self, lease: Lease, stop: threading.Event, report: PassReport) -> None:
        with unit(READ):
            first = db.session.get(SyncConnector, self.name)
            initial = first is not None and first.last_success_at is None
            shelters: set[int] = csvout.open_shelter_ids() if initial else set()
        after, events, gap_waits = None, 0, 0
        last_seq: int | None = None
        while not stop.is_set():
            with unit(WRITE):
                lease.verify()
                state = consumer.lock_state(self.name)
                found = consumer.scan(state, consumer.Caps(CSV_SCAN, 2**62), self.cfg.gap_grace,
                                      after=after)
                shelters |= csvout.changed_shelters(found.events)
                moved = found.last_seq is not None
                if moved:
                    last_seq = after = found.last_seq
                    events += len(found.events)
            if moved:
                continue
            if found.gap_pending and gap_waits < 3:
                gap_waits += 1
                if self._wait(lease, stop, self.cfg.gap_grace + 0.1):
                    break
                continue
            report.drained = not found.gap_pending
            break
        if shelters:
            with unit(READ):
                written = csvout.write_snapshots(shelters, self.cfg.sync_dir, self.cfg.csv_encoding,
                                                 self.cfg.town_code)
            report.files = len(written)
        report.claimed = report.delivered = events
        if last_seq is not None or initial:
            consumer.advance_cursor(self.name, lease, last_seq or 0, events)

    def close(self) -> None:
        """Release the lease and close the HTTP client (at shutdown)."""
        if self._lease is not None:
            with self.app.app_context():
                self._lease.release()
                db.session.remove()
            self._lease = None
        if self._sender is not None:
            self._sender.close()
            self._sender = None
