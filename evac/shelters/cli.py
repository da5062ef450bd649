"""Placeholder being replaced."""

import click


@click.command("import-shelters")
def import_shelters() -> None:
    """Not written yet."""
    raise click.ClickException("not implemented yet")
