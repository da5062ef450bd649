"""The `evac` command: a Flask CLI group whose commands are thin wrappers over services.

Refusals (`DomainError`) raised by any command are printed once, here, on stderr without a
traceback, with exit status 1; a database that cannot be had exits 75 (EX_TEMPFAIL), so a script
may try again. Commands therefore just raise.
"""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup

from evac import settings
from evac.common.db import DatabaseUnavailable
from evac.common.errors import DomainError

EX_TEMPFAIL = 75


class _Refusals:
    """Mixin for click groups: domain refusals become a message and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except DomainError as exc:
            click.echo(str(exc), err=True)
            ctx.exit(1)
        except DatabaseUnavailable as exc:
            click.echo(f"データベースを使えません。しばらくしてからやり直してください / database unavailable ({exc.reason})",
                       err=True)
            ctx.exit(EX_TEMPFAIL)


class EvacGroup(_Refusals, FlaskGroup):
    """The `evac` entry point's group."""


class EvacAppGroup(_Refusals, AppGroup):
    """`app.cli` (also what `flask --app evac …` and the test runner invoke)."""


def _create_app() -> Flask:
    from evac.app import create_app

    return create_app()


@click.group(cls=EvacGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def cli() -> None:
    """evac — 避難所受付・避難者情報システム (shelter check-in and evacuee information)."""


def main() -> None:
    """Entry point of the `evac` script: make sure the instance keys exist, then run the command."""
    settings.ensure_instance_secrets(settings.instance_path())
    cli.main(prog_name="evac")


def register(app: Flask) -> None:
    """Attach every feature's commands to the app's CLI."""
    from evac.accounts.cli import users
    from evac.audit.cli import audit_group
    from evac.cards.cli import cards
    from evac.checkin.cli import print_group
    from evac.demo.cli import demo
    from evac.hq.cli import hq, incident
    from evac.people.cli import import_residents
    from evac.readers.cli import readers
    from evac.retention.cli import backup, purge, restore
    from evac.shelters.cli import import_shelters
    from evac.web.cli import health, serve

    group = EvacAppGroup(app.name)
    for name, command in app.cli.commands.items():  # Flask-Migrate's `db`, registered by its init_app
        group.add_command(command, name)
    app.cli = group
    for command in (users, audit_group, cards, demo, hq, incident, import_residents, import_shelters, serve, health, backup,
                    print_group, purge, restore, readers):
        app.cli.add_command(command)
