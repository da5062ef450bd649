"""`evac purge`, `evac backup`, `evac restore`: the data's life after (and around) a disaster."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from flask import current_app

from evac.common.db import now_utc
from evac.retention import backup as backups
from evac.retention.service import purge as run_purge


def _backups_dir() -> Path:
    return Path(current_app.instance_path) / "backups"


@click.command("purge")
@click.option("--incident", "incident_id", type=int, default=None,
              help="Purge this (closed) incident now, whatever its age.")
@click.option("--older-than-days", type=click.IntRange(0, 3650), default=None,
              help="Closed disasters that ended this many days ago [default: EVAC_RETENTION_DAYS].")
@click.option("--dry-run", is_flag=True, help="Count, change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--no-backup", is_flag=True, help="Do not take the pre-purge backup (the restore window).")
def purge(incident_id: int | None, older_than_days: int | None, dry_run: bool, yes: bool, no_backup: bool) -> None:
    """個人情報の消去 / purge closed disasters past the retention period (see evac/retention/service.py)."""
    days = older_than_days if older_than_days is not None else int(current_app.config["EVAC_RETENTION_DAYS"])
    cutoff = now_utc() - timedelta(days=days)
    plan = run_purge(cutoff, incident_id=incident_id, dry_run=True)
    for item in plan.incidents:
        click.echo(f"#{item.incident_id} {item.name}: 匿名化 anonymise {item.anonymised} walk-ins, "
                   f"消去 remove {item.client_requests} desk answers, {item.outbox_events} delivered events, "
                   f"{item.sync_batches} batches, {item.trend_hours} trend hours")
    if not plan.incidents:
        click.echo(f"対象なし: no closed disaster ended before {cutoff:%Y-%m-%d}")
        return
    if dry_run:
        return
    if not yes:
        click.confirm("消去します（元に戻すには事前のバックアップから復元します）。よろしいですか", abort=True)
    keep = timedelta(days=int(current_app.config["EVAC_PURGE_BACKUP_DAYS"]))
    if not no_backup:
        taken = backups.backup(_backups_dir() / f"pre-purge-{now_utc():%Y%m%dT%H%M%SZ}.backup")
        click.echo(f"バックアップ backup: {taken.path} ({taken.size / 1e6:.1f} MB, kept {keep.days} days)")
    report = run_purge(cutoff, incident_id=incident_id)
    click.echo(f"完了 done: 匿名化 anonymised {report.total('anonymised')}, "
               f"消去 removed {report.total('client_requests')} desk answers and {report.total('outbox_events')} events")
    for gone in backups.prune(_backups_dir(), older_than=keep):
        click.echo(f"古いバックアップを削除 removed old backup: {gone.name}")


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def backup(target: Path) -> None:
    """Write a consistent copy of the database to TARGET while evac keeps running (SQLite's online
    backup, or pg_dump's custom format on PostgreSQL). Put it back with `evac restore`."""
    try:
        taken = backups.backup(target)
    except backups.BackupFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup: {taken.path} ({taken.size / 1e6:.1f} MB, {taken.kind}, checked)")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore(source: Path, yes: bool) -> None:
    """Replace the whole database with a backup. Stop evac serve and evac sync run first."""
    if not yes:
        click.confirm("データベース全体を置き換えます（evac serve を止めてから）。よろしいですか", abort=True)
    try:
        backups.restore(source)
    except backups.BackupFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored from {source}; run `evac hq rebuild-tallies --check` to verify the counters")
