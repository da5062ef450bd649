"""`/metrics` in the Prometheus text format: what an operator watches on the day.

Counted as they happen (prometheus-client; in `evac serve` its multiprocess mode, so every
gunicorn worker's counts add up): check-ins by method, error answers by status and code. Read
from the database at each scrape: open shelters and occupancy, each connector's backlog, parked
events and lag, and what purges have removed. Counts and ids only, never personal data.

Only loopback may scrape unless `EVAC_METRICS_TOKEN` is set (then `Authorization: Bearer <it>`):
set a token when a proxy on the same host forwards requests.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import func, select

from evac.common.db import read_only
from evac.common.errors import Forbidden
from evac.extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _counters() -> tuple[Any, Any]:
    # Imported at first use: in `evac serve` the multiprocess directory is set before the fork.
    # Made once under a lock: the threads of a worker count their first check-ins at once.
    global _CHECKINS, _ERRORS
    if _CHECKINS is None:
        with _MAKING:
            if _CHECKINS is None:
                from prometheus_client import Counter

                _ERRORS = Counter("evac_http_errors", "Error answers, by status and error code", ["status", "code"])
                _CHECKINS = Counter("evac_checkins", "Stays opened at the desk, by how the person was identified",
                                    ["method"])
    return _CHECKINS, _ERRORS


_CHECKINS: Any = None
_ERRORS: Any = None
_MAKING = threading.Lock()


def count_checkins(_sender: object, *, method: str, stays: int) -> None:
    """Stays opened (the `checked_in` signal, sent after their unit committed). Never raises:
    a check-in that has committed must not be answered as failed because counting it failed."""
    if not stays:
        return
    try:
        _counters()[0].labels(method=method).inc(stays)
    except Exception as exc:  # noqa: BLE001 - counting is never worth a failed answer
        log.warning("check-in not counted", extra={"error": type(exc).__name__})


def install() -> None:
    """Count what the services signal (connected once per process; a repeat connect is a no-op)."""
    from evac.common.signals import checked_in

    checked_in.connect(count_checkins, weak=False)


def count_error(status: int, code: str) -> None:
    """An error answer went out (never raises, like `count_checkins`)."""
    try:
        _counters()[1].labels(status=str(status), code=code).inc()
    except Exception as exc:  # noqa: BLE001 - counting is never worth a failed answer
        log.warning("error not counted", extra={"error": type(exc).__name__})


@read_only
def _from_database(configured: str) -> dict[str, Any]:
    from evac.audit.models import AuditEvent
    from evac.outbox import state
    from evac.shelters.models import Shelter, ShelterStatus
    from evac.stays.models import ShelterTally

    open_shelters = db.session.scalar(select(func.count()).select_from(Shelter).where(
        Shelter.status.in_([ShelterStatus.OPEN, ShelterStatus.FULL]))) or 0
    occupancy = db.session.scalar(select(func.coalesce(func.sum(ShelterTally.occupancy), 0))) or 0
    purges = [detail for (detail,) in db.session.execute(
        select(AuditEvent.detail).where(AuditEvent.action == "purge", AuditEvent.outcome == "ok"))]
    last_purge = db.session.scalar(select(func.max(AuditEvent.occurred_at)).where(AuditEvent.action == "purge"))
    return {"open_shelters": int(open_shelters), "occupancy": int(occupancy),
            "sync": state.sync_status(configured)["connectors"], "purges": purges, "last_purge": last_purge}


def _gauges(configured: str) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    data = _from_database(configured)
    yield GaugeMetricFamily("evac_open_shelters", "Shelters open or full", value=data["open_shelters"])
    yield GaugeMetricFamily("evac_occupancy", "People staying at the shelters", value=data["occupancy"])
    backlog = GaugeMetricFamily("evac_sync_backlog_events", "Events waiting to be sent", labels=["connector"])
    parked = GaugeMetricFamily("evac_sync_parked_events", "Events refused by the far end", labels=["connector"])
    lag = GaugeMetricFamily("evac_sync_lag_seconds", "Age of the oldest event not yet delivered", labels=["connector"])
    delivered = CounterMetricFamily("evac_sync_delivered_events", "Events delivered", labels=["connector"])
    for connector in data["sync"]:
        name = connector["name"]
        backlog.add_metric([name], connector["backlog"])
        parked.add_metric([name], connector["parked_events"])
        lag.add_metric([name], connector["lag_seconds"])
        delivered.add_metric([name], connector["delivered_events"])
    yield from (backlog, parked, lag, delivered)
    purged = CounterMetricFamily("evac_purged_records", "Records purged or anonymised by evac purge", labels=["kind"])
    totals: dict[str, int] = {}
    for detail in data["purges"]:
        for item in (detail or {}).get("incidents", []):
            for kind in ("anonymised", "client_requests", "outbox_events", "sync_batches", "trend_hours"):
                totals[kind] = totals.get(kind, 0) + int(item.get(kind, 0))
    for kind, n in sorted(totals.items()):
        purged.add_metric([kind], n)
    yield purged
    if data["last_purge"] is not None:
        yield GaugeMetricFamily("evac_purge_last_timestamp_seconds", "When evac purge last ran",
                                value=data["last_purge"].timestamp())


class _DatabaseCollector:
    def __init__(self, configured: str) -> None:
        self.configured = configured

    def collect(self) -> Iterator[Any]:
        yield from _gauges(self.configured)


def _allowed() -> bool:
    token = current_app.config.get("EVAC_METRICS_TOKEN") or ""
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    return (request.remote_addr or "") in _LOOPBACK


@bp.get("/metrics")
def metrics() -> Response:
    """The Prometheus exposition of evac's counters and gauges (loopback or token only)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    if not _allowed():
        raise Forbidden("metrics: loopback only unless EVAC_METRICS_TOKEN is set")
    _counters()
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in (_CHECKINS, _ERRORS):
            registry.register(_Forward(collector))
    registry.register(_DatabaseCollector(current_app.config["EVAC_SYNC_CONNECTOR"]))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class _Forward:
    """One of our counters in a registry of the request's own (outside multiprocess mode)."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric

    def collect(self) -> Iterator[Any]:
        yield from self.metric.collect()
