"""The `evac` command's Flask CLI groups (see `evac.cli` for the command list and the entry point).

Refusals (`DomainError`) raised by any command are printed once, here, on stderr without a
traceback, with exit status 1; a database that cannot be had exits 75 (EX_TEMPFAIL), so a script
may try again. Commands therefore just raise.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import TYPE_CHECKING, Any

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup, ScriptInfo

from evac.cli import CLI_HELP, COMMANDS, EX_TEMPFAIL, PLUGIN_HELP

if TYPE_CHECKING:
    from flask import Flask


def _feature_command(name: str) -> click.Command:
    module, attribute, _help = COMMANDS[name]
    assert module is not None
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    return command


class _Refusals:
    """Mixin for click groups: domain refusals become a message and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        from evac.common.db import DatabaseUnavailable
        from evac.common.errors import DomainError

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
    """The `evac` entry point's group: commands are imported one at a time, when asked for."""

    _plugin_entry_points: dict[str, metadata.EntryPoint] | None = None

    def _plugins(self) -> dict[str, metadata.EntryPoint]:
        if self._plugin_entry_points is None:  # reading every installed package's metadata: once
            self._plugin_entry_points = {ep.name: ep for ep in metadata.entry_points(group="flask.commands")}
        return self._plugin_entry_points

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, without building the app or importing a command."""
        return sorted(set(COMMANDS) | set(self._plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The named command, importing only its module (the app's own commands build the app)."""
        if name in COMMANDS and COMMANDS[name][0] is not None:
            command = _feature_command(name)
        elif name in self._plugins() and name not in COMMANDS:
            command = self._plugins()[name].load()
        else:
            return super().get_command(ctx, name)  # the app's own commands: Flask builds the app
        # As Flask does for the app's commands: the command runs inside the app's context.
        app = ctx.ensure_object(ScriptInfo).load_app()
        if not current_app or current_app._get_current_object() is not app:  # type: ignore[attr-defined]
            ctx.with_resource(app.app_context())
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `evac --help`, from COMMANDS and PLUGIN_HELP where they know the line."""
        rows = []
        for name in self.list_commands(ctx):
            line = COMMANDS[name][2] if name in COMMANDS else PLUGIN_HELP.get(name)
            if line is None:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                line = command.get_short_help_str(formatter.width - 6 - max(len(n) for n in COMMANDS))
            rows.append((name, line))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class EvacAppGroup(_Refusals, AppGroup):
    """`app.cli` (also what `flask --app evac …` and the test runner invoke).

    Its feature commands are imported when first asked for, so that building the app (every
    gunicorn worker) does not import every command's module — Faker through `evac demo` above all.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The app's own commands and every feature command."""
        return sorted(set(super().list_commands(ctx)) | {n for n, (m, _a, _h) in COMMANDS.items() if m})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The named command, importing its module the first time."""
        command = super().get_command(ctx, name)
        if command is None and name in COMMANDS and COMMANDS[name][0] is not None:
            command = _feature_command(name)
            self.add_command(command, name)
        return command


def _create_app() -> Flask:
    from evac.app import create_app

    return create_app()


@click.group(cls=EvacGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False, help=CLI_HELP)
def cli() -> None:
    pass
