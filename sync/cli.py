"""`evac sync …`: the sender, one pass, status, retrying a parked batch, and the reference receiver.

Reaches the `evac` command through the `flask.commands` entry point in pyproject.toml, so that
evac itself never imports sync.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from sync.config import CONNECTORS, SyncConfig


def _config(**overrides: Any) -> SyncConfig:
    try:
        return SyncConfig.from_app(current_app.config, **{k: v for k, v in overrides.items() if v is not None})
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


def _drill_config(**overrides: Any) -> SyncConfig:
    try:
        return SyncConfig.for_drills(current_app.config, **{k: v for k, v in overrides.items() if v is not None})
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


def _configs(**overrides: Any) -> list[SyncConfig]:
    """The connectors to run: the real one and the drills', each unless it is `none`."""
    found = [_config(**overrides), _drill_config(interval=overrides.get("interval"))]
    return [cfg for cfg in found if cfg.connector != "none"]


def _print(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@click.group(cls=AppGroup)
def sync() -> None:
    """被災者支援システムへの同期 / roster sync to the cloud victim-support system."""


@sync.command("run")
@click.option("--connector", type=click.Choice(CONNECTORS), default=None, help="Overrides EVAC_SYNC_CONNECTOR.")
@click.option("--interval", type=float, default=None, help="Seconds between passes (EVAC_SYNC_INTERVAL).")
def run(connector: str | None, interval: float | None) -> None:
    """常駐して定期的に送信 / run the scheduler until SIGTERM (after the batch in flight)."""
    from sync.runner import SyncRunner
    from sync.scheduler import run_until_stopped, stop_on_signals

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    runners = [SyncRunner(app, cfg) for cfg in _configs(connector=connector, interval=interval)]
    if not runners:
        raise click.ClickException("EVAC_SYNC_CONNECTOR and EVAC_SYNC_DRILL_CONNECTOR are none: nothing to run")
    stop = threading.Event()
    stop_on_signals(stop)
    run_until_stopped(runners, runners[0].cfg.interval, stop)


@sync.command("once")
@click.option("--connector", type=click.Choice(CONNECTORS), default=None, help="Overrides EVAC_SYNC_CONNECTOR.")
@click.option("--max-seconds", type=float, default=60.0, show_default=True,
              help="Give up retrying after this long (the events stay queued).")
@click.option("--drill", is_flag=True, help="The drills' connector (EVAC_SYNC_DRILL_CONNECTOR) instead.")
def once(connector: str | None, max_seconds: float, drill: bool) -> None:
    """1回だけ送信 / one pass; exit 1 if something is left unsent."""
    from sync.runner import SyncRunner

    cfg = _drill_config() if drill else _config(connector=connector)
    runner = SyncRunner(current_app._get_current_object(), cfg)  # type: ignore[attr-defined]
    try:
        report = runner.run_pass(deadline=time.monotonic() + max_seconds)
    finally:
        runner.close()
    _print(report.as_dict())
    if not report.lease or not report.drained:
        sys.exit(1)


@sync.command("status")
def status() -> None:
    """同期の状態 / backlog, last success, last error and parked batches, as JSON."""
    from evac.outbox import state

    _print(state.sync_status(current_app.config["EVAC_SYNC_CONNECTOR"]))


@sync.command("retry")
@click.argument("batch", type=int)
def retry(batch: int) -> None:
    """保留バッチの再送 / queue a parked batch (its id from `evac sync status`) for the next pass."""
    from evac.common.errors import DomainError
    from evac.outbox import state

    try:
        _print(state.request_retry(batch, account_id=None))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None


def _show_batch(batch_id: str, events: list[dict[str, Any]], new: int, duplicates: int) -> None:
    """One line per batch received, for a person watching: types, shelters and incidents, ids only."""
    from collections import Counter

    kinds = Counter(str(e.get("type")) for e in events)
    shelters = sorted({int(s["id"]) for e in events if (s := e.get("shelter")) and s.get("id") is not None})
    incidents = sorted({f"{i.get('name')} ({i.get('kind')})" for e in events if (i := e.get("incident"))})
    click.echo(f"受信 received batch {batch_id[:8]}: {len(events)} events (new {new}, repeats {duplicates}) "
               f"{', '.join(f'{k}×{n}' for k, n in sorted(kinds.items()))}; shelters {shelters}; "
               f"{'; '.join(incidents)}")


@sync.command("receiver", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, required=True)
@click.option("--store", default="receiver.sqlite3", show_default=True, help="SQLite file for what arrives.")
@click.option("--secret", envvar="EVAC_SYNC_SECRET", required=True, help="HMAC secret (EVAC_SYNC_SECRET).")
@click.option("--fail-rate", type=float, default=0.0, help="Share of requests answered with --fail-status.")
@click.option("--fail-status", "fail_statuses", type=int, multiple=True, help="500, 429, … (repeatable).")
@click.option("--stall-rate", type=float, default=0.0, help="Share of requests answered after --stall-seconds.")
@click.option("--stall-seconds", type=float, default=0.0)
@click.option("--reject-person", "reject_persons", type=int, multiple=True,
              help="Answer 422 to batches holding this person id (repeatable).")
@click.option("--retry-after", type=int, default=1, show_default=True, help="Retry-After sent with 429s.")
@click.option("--seed", type=int, default=None)
@click.option("--quiet", is_flag=True, help="No request log.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None, help="Serve HTTPS.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None)
def receiver(host: str, port: int, store: str, secret: str, fail_rate: float, fail_statuses: tuple[int, ...],
             stall_rate: float, stall_seconds: float, reject_persons: tuple[int, ...], retry_after: int,
             seed: int | None, quiet: bool, tls_cert: str | None, tls_key: str | None) -> None:
    """受信テスト用サーバ / the reference receiver: verify, drop repeats, store (SIGTERM stops it)."""
    from evac.common.logging import configure
    from sync.receiver import Chaos, Receiver, Store, serve
    from sync.scheduler import stop_on_signals

    configure("INFO")
    chaos = Chaos(fail_rate=fail_rate, fail_statuses=fail_statuses or (500,), stall_rate=stall_rate,
                  stall_seconds=stall_seconds, reject_persons=frozenset(reject_persons), retry_after=retry_after,
                  seed=seed)
    stop = threading.Event()
    stop_on_signals(stop)
    db = Store(store)
    try:
        if bool(tls_cert) != bool(tls_key):
            raise click.UsageError("--tls-cert and --tls-key go together")
        serve(host, port, Receiver(db, secret, chaos, on_batch=None if quiet else _show_batch), stop, quiet=quiet,
              tls=(tls_cert, tls_key) if tls_cert and tls_key else None)
    finally:
        db.close()
