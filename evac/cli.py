"""The `evac` command: a Flask CLI group whose commands are thin wrappers over services."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup

from evac import settings


def _create_app() -> Flask:
    from evac.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
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
    from evac.cards.cli import cards
    from evac.checkin.cli import print_group
    from evac.demo.cli import demo
    from evac.hq.cli import hq
    from evac.people.cli import import_residents
    from evac.people.purge_cli import purge
    from evac.shelters.cli import import_shelters
    from evac.web.backup import backup
    from evac.web.cli import health, serve

    for command in (users, cards, demo, hq, import_residents, import_shelters, serve, health, backup,
                    print_group, purge):
        app.cli.add_command(command)


def fail(message: str) -> Any:
    """Print a refusal on stderr and exit 1 (no traceback for an operator's mistake)."""
    click.echo(message, err=True)
    sys.exit(1)
