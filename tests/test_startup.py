"""`evac --help` imports only what listing the commands needs (issue 14, point 5).

Not a timed test (bench/startup.py measures the time): it checks which modules a real
`evac --help` process ends up with, and that the command lines it prints are the commands' own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import click
import pytest

from evac.cli import COMMANDS, PLUGIN_HELP

HEAVY = ("reportlab", "faker", "alembic", "sqlalchemy", "argon2", "evac.app", "evac.extensions", "sync",
         "flask", "werkzeug", "jinja2", "evac.cli_groups")

PROBE = """
import json, sys
sys.argv = ["evac", "--help"]
from evac.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _help_run() -> tuple[str, dict]:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    *help_lines, last = done.stdout.rstrip("\n").split("\n")
    return "\n".join(help_lines), json.loads(last)


def test_help_imports_no_heavy_module() -> None:
    text, probe = _help_run()
    assert probe["code"] in (0, None)
    loaded = [m for m in probe["modules"] if m.split(".")[0] in HEAVY or m in HEAVY]
    assert loaded == []
    # …and still lists every command, the sync plugin's included.
    for name in (*COMMANDS, *PLUGIN_HELP):
        assert f"\n  {name} " in text


def test_the_quick_help_is_what_the_flask_group_prints(app) -> None:
    """`evac --help` is printed without Flask: it must say exactly what the real group says."""
    from click.testing import CliRunner

    from evac.cli import quick_help
    from evac.cli_groups import cli

    real = CliRunner().invoke(cli, ["--help"], prog_name="evac")
    quick = CliRunner().invoke(quick_help(), ["--help"], prog_name="evac")
    assert real.exit_code == quick.exit_code == 0
    assert "--env-file" in real.output and "import-residents" in real.output
    assert quick.output == real.output


def test_help_lines_are_the_commands_own(app) -> None:
    """The lines in COMMANDS and PLUGIN_HELP are what click would print from the commands themselves."""
    with click.Context(app.cli) as ctx:
        assert set(app.cli.list_commands(ctx)) == set(COMMANDS)
        for name, (_module, _attribute, line) in COMMANDS.items():
            command = app.cli.get_command(ctx, name)
            assert command is not None and command.get_short_help_str(limit=line_limit(line)) == line, name
    plugins = {ep.name: ep for ep in metadata.entry_points(group="flask.commands")}
    for name, line in PLUGIN_HELP.items():
        assert plugins[name].load().get_short_help_str(limit=line_limit(line)) == line, name


def line_limit(line: str) -> int:
    """The width click cuts a command's line to in `evac --help`: 78 columns (80 less click's
    margin), less 6 and the longest name (`import-residents`)."""
    return 78 - 6 - len("import-residents")


def test_building_the_app_imports_no_command_module() -> None:
    """A gunicorn worker builds the app: the commands' modules (and Faker through `evac demo`)
    are not part of it."""
    probe = ("import json, sys; from evac import create_app; create_app(); "
             "print(json.dumps(sorted(m for m in sys.modules if m == 'faker' or m.startswith('evac.') and m.endswith('.cli'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True,
                          env={"EVAC_SECRET_KEY": "x" * 32, "EVAC_CARD_KEY": "y" * 32, "PATH": "/usr/bin:/bin"})
    assert [m for m in json.loads(done.stdout.strip().splitlines()[-1]) if m != "evac.cli"] == []  # evac.cli: the group itself


@pytest.mark.parametrize("argv", [["health"], ["hq", "--help"]])
def test_a_command_still_runs_in_the_app(argv: list[str], tmp_path) -> None:
    env = {"EVAC_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "EVAC_INSTANCE_PATH": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "evac", "db", "upgrade"], env=env, capture_output=True, check=True,
                   timeout=300)
    done = subprocess.run([sys.executable, "-m", "evac", *argv], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert ("database ok" in done.stdout) if argv == ["health"] else ("rebuild-tallies" in done.stdout)
