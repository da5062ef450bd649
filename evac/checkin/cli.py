"""`evac print …`: the desk's printouts from the command line (posters before a disaster, say)."""

from __future__ import annotations

from pathlib import Path

import click

from evac.checkin import printouts

_OUT = click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))


@click.group("print")
def print_group() -> None:
    """印刷物 / posters, blank evacuee cards and rosters as PDF."""


def _write(out: Path, data: bytes) -> None:
    out.write_bytes(data)
    click.echo(f"{out} ({len(data) / 1024:.0f} KB)")


@print_group.command("poster")
@click.argument("shelter_id", type=int)
@click.option("--public-url", required=True, help="The public crowding page the poster's QR code opens.")
@_OUT
def poster(shelter_id: int, public_url: str, out: Path) -> None:
    """The shelter's A4 poster."""
    _write(out, printouts.poster_pdf(shelter_id, public_url))


@print_group.command("evacuee-cards")
@click.option("--shelter", "shelter_id", type=int, default=None, help="Pre-print this shelter's name.")
@click.option("--copies", type=click.IntRange(1, 1000), default=10, show_default=True)
@_OUT
def evacuee_cards(shelter_id: int | None, copies: int, out: Path) -> None:
    """Blank 避難者カード for when the tablets are down."""
    _write(out, printouts.evacuee_cards_pdf(shelter_id, copies))


@print_group.command("roster")
@click.argument("shelter_id", type=int)
@_OUT
def roster(shelter_id: int, out: Path) -> None:
    """The shelter's current roster (personal data: audited)."""
    _write(out, printouts.roster_pdf(None, shelter_id))
