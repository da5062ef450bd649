"""Placeholder being replaced."""

import click


@click.command("import-residents")
def import_residents() -> None:
    """Not written yet."""
    raise click.ClickException("not implemented yet")
