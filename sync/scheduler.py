"""APScheduler 3 around the runner: one interval job, never two at once, missed runs coalesced.

APScheduler cannot coordinate processes; the database lease does that. Any number of `evac sync
run` processes may be started: one sends, the others find the lease taken and wait their turn.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from sync.runner import SyncRunner

log = logging.getLogger("sync.scheduler")


def job_id(connector: str) -> str:
    """The scheduler job's explicit id (one job per connector)."""
    return f"evac-sync-{connector}"


def build_scheduler(runners: SyncRunner | list[SyncRunner], interval: float,
                    stop: threading.Event) -> BackgroundScheduler:
    """A scheduler holding one job per connector (the real one, and the drills' if configured);
    the first passes run at once."""
    scheduler = BackgroundScheduler(timezone=UTC)
    for runner in runners if isinstance(runners, list) else [runners]:
        scheduler.add_job(
            runner.run_pass,
            trigger=IntervalTrigger(seconds=interval, timezone=UTC),
            id=job_id(runner.name),
            name=f"sync {runner.name}",
            max_instances=1,
            coalesce=True,
            # A pass that overran its interval just runs once more, late, rather than being dropped.
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
            kwargs={"stop": stop},
            replace_existing=True,
        )
    return scheduler


def run_until_stopped(runners: SyncRunner | list[SyncRunner], interval: float, stop: threading.Event) -> None:
    """Run the scheduler until `stop` is set; then let the batch in flight finish and release the leases."""
    group = runners if isinstance(runners, list) else [runners]
    scheduler = build_scheduler(group, interval, stop)
    scheduler.start()
    names = [r.name for r in group]
    log.info("sync scheduler started", extra={"connectors": names, "interval": interval,
                                               "jobs": [job_id(n) for n in names]})
    try:
        while not stop.wait(0.2):
            pass
    finally:
        stop.set()
        scheduler.shutdown(wait=True)  # waits for the running passes, which stop after their batch
        for runner in group:
            runner.close()
        log.info("sync scheduler stopped", extra={"connectors": names})


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask for a clean stop (main thread only)."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
