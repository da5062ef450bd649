"""`evac hq …`: thin wrappers over `evac.hq.tallies`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from evac.hq import tallies


@click.group("hq")
def hq() -> None:
    """本部 (HQ): occupancy counters."""


@hq.command("rebuild-tallies")
@click.option("--check", is_flag=True, help="Only compare the counters with the stays; change nothing.")
@with_appcontext
def rebuild_tallies(check: bool) -> None:
    """Recompute every shelter's counters from the open stays (after a restore or a bulk change).

    With --check, exit 1 if any shelter's counters differ from the stays.
    """
    report = tallies.rebuild(dry_run=check)
    click.echo(report.summary())
    if check and report.corrected:
        raise click.ClickException("counters differ at shelters: " + " ".join(str(s) for s in report.corrected[:50]))
