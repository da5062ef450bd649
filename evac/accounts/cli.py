"""`evac users …`: accounts and API tokens for the town's IT admin, from the command line."""

from __future__ import annotations

from datetime import datetime, timedelta

import click

from evac.accounts import service
from evac.accounts.models import Role


@click.group()
def users() -> None:
    """職員アカウント / staff accounts."""


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


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


@users.command("list")
def list_() -> None:
    """Every account: role, state, shelters, last login and usable tokens (tab-separated)."""
    click.echo("\t".join(("user", "role", "state", "shelters", "last_login", "tokens", "name")))
    for row in service.list_accounts():
        click.echo("\t".join((row.username, row.role.value, "active" if row.active else "disabled",
                              ",".join(map(str, row.shelter_ids)) or "-", _when(row.last_login_at),
                              str(row.tokens), row.display_name)))


@users.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    """Disable an account: its sessions and tokens stop on the next request."""
    service.set_active(name, False)
    click.echo(f"disabled {name}")


@users.command("enable")
@click.argument("name")
def enable(name: str) -> None:
    """Enable a disabled account again (it logs in anew; its tokens work again unless revoked)."""
    service.set_active(name, True)
    click.echo(f"enabled {name}")


@users.command("password")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def password(name: str, password: str) -> None:
    """Set a new password (the policy applies); every session of the account ends."""
    service.set_password(name, password)
    click.echo(f"password changed for {name}; its sessions have ended")


@users.command("set-shelters")
@click.argument("name")
@click.option("--shelter", "shelters", type=int, multiple=True, help="Shelter id (repeatable); replaces the list.")
def set_shelters(name: str, shelters: tuple[int, ...]) -> None:
    """Replace the shelters a staff account works at."""
    service.set_shelters(name, shelters)
    click.echo(f"{name}: shelters {','.join(map(str, shelters)) or '-'}")


@users.command("token")
@click.argument("name")
@click.option("--label", default="cli")
@click.option("--expires-days", type=click.IntRange(min=1), default=None,
              help="The token stops working after this many days (default: until revoked).")
def token(name: str, label: str, expires_days: int | None) -> None:
    """Print a new API token for the account, and nothing else."""
    expires = None if expires_days is None else timedelta(days=expires_days)
    click.echo(service.issue_token(name, label=label, expires_in=expires))


@users.command("tokens")
@click.argument("name")
def tokens(name: str) -> None:
    """An account's API tokens (id, label, dates, state); the tokens themselves are never stored."""
    click.echo("\t".join(("id", "label", "created", "last_used", "expires", "state")))
    now = datetime.now().astimezone()
    for row in service.list_tokens(name):
        state = ("revoked" if row.revoked_at is not None
                 else "expired" if row.expires_at is not None and row.expires_at <= now else "active")
        click.echo("\t".join((str(row.id), row.label or "-", _when(row.created_at), _when(row.last_used_at),
                              _when(row.expires_at), state)))


@users.command("revoke-token")
@click.argument("name")
@click.option("--id", "token_id", type=int, default=None, help="The token's id (from `evac users tokens`).")
@click.option("--all", "every", is_flag=True, help="Revoke every token of the account.")
def revoke_token(name: str, token_id: int | None, every: bool) -> None:
    """Revoke one API token (--id) or all of them (--all); effective on the next request."""
    if (token_id is None) == (not every):
        raise click.UsageError("give --id N or --all")
    revoked = service.revoke_tokens(name, token_id)
    click.echo(f"revoked {revoked} token(s) of {name}")
