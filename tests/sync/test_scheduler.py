"""The APScheduler job: one, with an explicit id, never overlapping itself, missed runs coalesced."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from flask import Flask

from sync.config import SyncConfig
from sync.runner import SyncRunner
from sync.scheduler import build_scheduler, job_id
from tests.sync.conftest import SECRET, FakeSender


def test_one_job_with_an_explicit_id_max_one_instance_coalesced(app: Flask, db: Any) -> None:
    cfg = SyncConfig.from_app(app.config, connector="http", url="http://127.0.0.1:9/", secret=SECRET, interval=10)
    runner = SyncRunner(app, cfg, sender=FakeSender())
    scheduler = build_scheduler(runner, cfg.interval, threading.Event())
    (job,) = scheduler.get_jobs()
    assert job.id == job_id("http") == "evac-sync-http"
    assert job.max_instances == 1 and job.coalesce is True
    assert job.trigger.interval == timedelta(seconds=10)
    assert job.func == runner.run_pass
    runner.close()
