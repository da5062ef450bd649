"""`evac import-shelters FILE`: a thin wrapper over `evac.shelters.importers`."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from evac.shelters.importers import import_shelters_file


@click.command("import-shelters")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@with_appcontext
def import_shelters(file: Path) -> None:
    """Import shelters from a GSI CSV/GeoJSON or 自治体標準オープンデータ CSV file (format auto-detected)."""
    report = import_shelters_file(file)
    click.echo(report.summary())
    for warning in report.warnings:
        click.echo(warning, err=True)
