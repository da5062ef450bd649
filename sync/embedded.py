"""The sender inside `evac serve`: each gunicorn worker runs the scheduler, the lease lets one send.

evac never imports sync: `evac serve` finds `start` through the `evac.workers` entry point
(pyproject.toml) and calls it in every worker after the fork. With `EVAC_SYNC_CONNECTOR` (or the
drills' connector) set, the worker runs the same scheduler as `evac sync run`; whichever worker
holds the database lease sends, the others find it taken and wait. A worker that stops cleanly
lets its pass finish and releases the lease.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Flask

from sync.config import SyncConfig
from sync.runner import SyncRunner
from sync.scheduler import build_scheduler

log = logging.getLogger("sync.embedded")


def start(app: Flask) -> Callable[[], None] | None:
    """Start the embedded sender in this worker; returns how to stop it (None when nothing is configured)."""
    configs = []
    for make in (SyncConfig.from_app, SyncConfig.for_drills):
        try:
            cfg = make(app.config)
        except RuntimeError as exc:
            log.error("sync not started: %s", exc)
            continue
        if cfg.connector != "none":
            configs.append(cfg)
    if not configs or app.config.get("EVAC_SYNC_EMBEDDED") is False:
        return None
    runners = [SyncRunner(app, cfg) for cfg in configs]
    stop = threading.Event()
    scheduler = build_scheduler(runners, configs[0].interval, stop)
    scheduler.start()
    log.info("embedded sync started", extra={"connectors": [r.name for r in runners]})

    def shutdown() -> None:
        stop.set()
        scheduler.shutdown(wait=True)
        for runner in runners:
            runner.close()

    return shutdown
