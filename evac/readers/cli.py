"""`evac readers …`: list paired card readers, revoke one, clear expired reads."""

from __future__ import annotations

from datetime import datetime

import click

from evac.common.vocab import TOKYO
from evac.readers import service


def _when(text: str | None) -> str:
    return datetime.fromisoformat(text).astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if text else "—"


@click.group("readers")
def readers() -> None:
    """カードリーダー / card readers paired with desk screens."""


@readers.command("list")
@click.option("--shelter", "shelter_id", type=int, help="Only the readers of this shelter.")
@click.option("--all", "include_revoked", is_flag=True, help="Revoked readers too.")
def list_command(shelter_id: int | None, include_revoked: bool) -> None:
    """One line per reader: id, shelter, desk, name, paired at, last read (Tokyo time), state."""
    items = service.list_readers(None, shelter_id=shelter_id, include_revoked=include_revoked)
    for item in items:
        state = "active" if item["active"] else f"revoked {_when(item['revoked_at'])}"
        click.echo("\t".join([str(item["id"]), f"{item['shelter_id']} {item['shelter_name']}", item["desk_label"] or "—",
                              item["name"], _when(item["paired_at"]), _when(item["last_read_at"]), state]))
    if not items:
        click.echo("ペアリングされたカードリーダーはありません / no paired readers", err=True)


@readers.command("revoke")
@click.argument("reader_id", type=int)
def revoke_command(reader_id: int) -> None:
    """Revoke a reader at once: its token stops working, its undelivered reads are dropped."""
    item = service.revoke_reader(reader_id, by=None)
    click.echo(f"解除しました revoked: {item['id']} {item['name']} ({item['shelter_name']})")


@readers.command("sweep")
def sweep_command() -> None:
    """Clear card reads that waited too long for their desk (the desk's poll does this too)."""
    click.echo(f"期限切れの読み取り expired reads cleared: {service.sweep_reads()}")
