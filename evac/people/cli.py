"""`evac import-residents FILE`: load a resident-register extract CSV."""

from __future__ import annotations

from pathlib import Path

import click

from evac.people.importers import import_residents_file


@click.command("import-residents")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_residents(file: Path) -> None:
    """住民データ取込 / import residents from a register extract CSV (UTF-8, BOM or CP932).

    All or nothing: a file with any bad row is refused, each problem listed, nothing stored.
    """
    report = import_residents_file(file)
    click.echo(report.summary())
    for warning in report.warnings:
        click.echo(f"注意 warning: {warning}")
