"""`evac cards …`: card tokens (and, with the printables, card sheets)."""

from __future__ import annotations

import click

from evac.cards import service
from evac.cli import fail
from evac.common.errors import DomainError


@click.group()
def cards() -> None:
    """QRカード / resident QR cards."""


@cards.command("token")
@click.argument("person_id", type=int)
def token(person_id: int) -> None:
    """Issue a new card for the person (revoking the old one) and print its QR payload, nothing else."""
    try:
        _card, payload = service.issue_card(person_id)
    except DomainError as exc:
        fail(exc.message)
    click.echo(payload)
