"""The `evac` command: a Flask CLI group whose commands are thin wrappers over services.

This module is what `evac --help` loads: the command list and the entry point, without Flask.
The groups themselves are in `evac.cli_groups`, imported when a command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flask import Flask

EX_TEMPFAIL = 75
# The group's own line in `evac --help`.
CLI_HELP = "evac — 避難所受付・避難者情報システム (shelter check-in and evacuee information)."

# Every command of `evac`: name → (module, attribute, the one line `evac --help` shows, as click
# cuts it in 80 columns). The module is imported only when its command runs, so `evac --help`
# builds no app and imports neither alembic, reportlab nor Faker (1.4 s before, most of it in
# create_app; bench/startup.py). A module of None is a command the app itself registers
# (Flask-Migrate's `db`, flask-smorest's `openapi`): asking for it builds the app.
# tests/test_startup.py checks that these lines are the commands' own.
COMMANDS: dict[str, tuple[str | None, str, str]] = {
    "audit": ("evac.audit.cli", "audit_group", "監査ログ / the audit log."),
    "backup": ("evac.retention.cli", "backup", "Write a consistent copy of the database to TARGET..."),
    "cards": ("evac.cards.cli", "cards", "QRカード / resident QR cards."),
    "db": (None, "db", "Perform database migrations."),
    "demo": ("evac.demo.cli", "demo", "デモの町 / build the demo town: Seika's 22 real shelters..."),
    "health": ("evac.web.cli", "health", "Exit 0 if the database answers (and, with --url, the..."),
    "hq": ("evac.hq.cli", "hq", "本部 (HQ): occupancy counters."),
    "import-residents": ("evac.people.cli", "import_residents",
                         "住民データ取込 / import residents from a register extract..."),
    "import-shelters": ("evac.shelters.cli", "import_shelters",
                        "Import shelters: GSI 指定避難所 / 指定緊急避難場所 (CSV, XLSX or..."),
    "incident": ("evac.hq.cli", "incident", "災害・訓練 / incidents: one disaster or drill at a time."),
    "openapi": (None, "openapi", "OpenAPI commands."),
    "print": ("evac.checkin.cli", "print_group", "印刷物 / posters, blank evacuee cards and rosters as PDF."),
    "purge": ("evac.retention.cli", "purge", "個人情報の消去 / purge closed disasters past the retention..."),
    "readers": ("evac.readers.cli", "readers", "カードリーダー / card readers paired with desk screens."),
    "restore": ("evac.retention.cli", "restore", "Replace the whole database with a backup."),
    "serve": ("evac.web.cli", "serve", "Serve evac with gunicorn."),
    "users": ("evac.accounts.cli", "users", "職員アカウント / staff accounts."),
}
# Flask CLI plugins (the `flask.commands` entry points: sync/'s `sync`, Flask-Limiter's `limiter`)
# whose line is known, so that listing them does not import them either.
PLUGIN_HELP = {"limiter": "Flask-Limiter maintenance & utility commands",
               "sync": "被災者支援システムへの同期 / roster sync to the cloud..."}


# The options FlaskGroup gives `evac`, as its --help prints them: `evac --help` lists them
# without importing Flask (a third of its time). tests/test_startup.py keeps them Flask's own.
FLASK_OPTION_HELP = (
    (("-e", "--env-file"), "FILE", "Load environment variables from this file, taking precedence over those set by "
     "'.env' and '.flaskenv'. Variables set directly in the environment take highest precedence. python-dotenv "
     "must be installed."),
    (("-A", "--app"), "IMPORT", "The Flask application or factory function to load, in the form 'module:name'. "
     "Module can be a dotted import or file path. Name is not required if it is 'app', 'application', "
     "'create_app', or 'make_app', and can be 'name(args)' to pass arguments."),
    (("--debug/--no-debug",), None, "Set debug mode."),
)


class _Listing(click.Group):
    """`evac --help` as EvacGroup prints it, from COMMANDS, PLUGIN_HELP and FLASK_OPTION_HELP alone."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        lines = {**PLUGIN_HELP, **{name: line for name, (_m, _a, line) in COMMANDS.items()}}
        with formatter.section("Commands"):
            formatter.write_dl(sorted(lines.items()))


def quick_help() -> click.Group:
    """A group that only prints `evac --help`: no Flask, no app, no command module, no package metadata."""
    params: list[click.Parameter] = []
    for opts, metavar, text in FLASK_OPTION_HELP:
        if metavar is None:
            params.append(click.Option(list(opts), is_flag=True, help=text))
        else:
            params.append(click.Option(list(opts), metavar=metavar, help=text))
    return _Listing("evac", params=params, help=CLI_HELP)


def main() -> None:
    """Entry point of the `evac` script: make sure the instance keys exist, then run the command."""
    import sys

    if sys.argv[1:] == ["--help"]:  # what the group prints by itself, without building anything
        quick_help().main(["--help"], prog_name="evac")
    from evac import settings
    from evac.cli_groups import cli

    settings.ensure_instance_secrets(settings.instance_path())
    cli.main(prog_name="evac")


def register(app: Flask) -> None:
    """Give the app its CLI group (what `flask --app evac` and tests run); commands load lazily."""
    from evac.cli_groups import EvacAppGroup

    group = EvacAppGroup(app.name)
    for name, command in app.cli.commands.items():  # Flask-Migrate's `db`, registered by its init_app
        group.add_command(command, name)
    app.cli = group
