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


_LABELS = {"disaster": "災害 disaster", "drill": "訓練 drill"}
_REMOVED = (("shelters_closed", "閉鎖する避難所 shelters closed"), ("stays", "受付記録 stays"),
            ("walk_ins", "避難所で登録した人 walk-ins"), ("households", "その世帯 their households"),
            ("cards", "そのQRカード their cards"), ("ic_links", "ICカードの登録 IC card links"),
            ("client_requests", "受付の応答記録 desk answers"), ("outbox_events", "同期イベント outbox events"),
            ("sync_batches", "送信バッチ sync batches"), ("trend_hours", "推移の記録 trend hours"))


@click.group("incident")
def incident() -> None:
    """災害・訓練 / incidents: one disaster or drill at a time."""


@incident.command("open")
@click.argument("name")
@click.option("--kind", type=click.Choice(["disaster", "drill"]), required=True)
def open_(name: str, kind: str) -> None:
    """Open a disaster or a drill (shelters can be opened and people checked in from then on)."""
    from evac.hq import incidents

    opened = incidents.open_incident(None, name, kind)
    click.echo(f"開始 opened: #{opened['id']} {opened['name']} ({_LABELS[opened['kind']]})")


@incident.command("list")
def list_() -> None:
    """Incidents, the open one first."""
    from evac.hq import incidents

    for item in incidents.list_incidents():
        state = "開始中 open" if item["open"] else f"終了 closed {item['ended_at']:%Y-%m-%d %H:%M}"
        click.echo(f"#{item['id']}\t{_LABELS[item['kind']]}\t{item['name']}\t{item['started_at']:%Y-%m-%d %H:%M}\t{state}")


@incident.command("close")
@click.option("--dry-run", is_flag=True, help="Show what closing would do; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def close(dry_run: bool, yes: bool) -> None:
    """End the open incident. A drill's stays, walk-ins and sync records are removed (shown first);
    a disaster needs its shelters closed and nobody checked in."""
    from evac.hq import incidents

    plan = incidents.close_incident(None, dry_run=True)
    click.echo(f"#{plan.incident_id} {plan.name} ({_LABELS[plan.kind]})")
    if plan.kind == "drill":
        for key, label in _REMOVED:
            click.echo(f"  {label}: {getattr(plan, key)}")
    elif plan.shelters_closed or plan.stays:
        click.echo(f"  開設中の避難所 shelters still open: {plan.shelters_closed}, 在所 checked in: {plan.stays}")
    if dry_run:
        return
    if not yes:
        click.confirm("終了しますか / close it?", abort=True)
    report = incidents.close_incident(None)
    click.echo(f"終了 closed: #{report.incident_id} {report.name}")
