"""`evac purge`: after the disaster, drop stored desk answers and anonymise walk-ins."""

from __future__ import annotations

from datetime import timedelta

import click

from evac.common.db import now_utc
from evac.retention.service import purge as run_purge


@click.command("purge")
@click.option("--older-than-days", type=click.IntRange(1, 3650), default=30, show_default=True,
              help="Only what ended (or was stored) before this many days ago.")
@click.option("--dry-run", is_flag=True, help="Count, change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(older_than_days: int, dry_run: bool, yes: bool) -> None:
    """個人情報の消去 / purge: drop old desk answers, anonymise walk-ins whose stays ended."""
    cutoff = now_utc() - timedelta(days=older_than_days)
    if not dry_run and not yes:
        click.confirm(f"{cutoff:%Y-%m-%d} より前の受付記録を消去し、避難所で登録した人を匿名化します。よろしいですか", abort=True)
    report = run_purge(cutoff, dry_run=dry_run)
    prefix = "dry run: " if report.dry_run else ""
    click.echo(f"{prefix}消去 removed {report.client_requests} desk answers, "
               f"匿名化 anonymised {report.anonymised} walk-ins (before {cutoff:%Y-%m-%d})")
