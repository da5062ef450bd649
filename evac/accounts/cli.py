"""`evac users …`: create accounts and issue API tokens."""

from __future__ import annotations

import click

from evac.accounts import service
from evac.accounts.models import Role


@click.group()
def users() -> None:
    """職員アカウント / staff accounts."""


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--shelter", "shelters", type=int, multiple=True, help="Shelter id (staff; repeatable).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--display-name", default="")
def create(name: str, role: str, shelters: tuple[int, ...], password: str, display_name: str) -> None:
    """Create an account; staff are scoped to the given shelters."""
    account = service.create_account(
        name, role=Role(role), password=password, shelter_ids=shelters, display_name=display_name
    )
    click.echo(f"created {account.username} ({account.role.value})")


@users.command("token")
@click.argument("name")
@click.option("--label", default="cli")
def token(name: str, label: str) -> None:
    """Print a new API token for the account, and nothing else."""
    click.echo(service.issue_token(name, label=label))
