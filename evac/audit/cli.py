"""`evac audit …`: store the audit journals now (after a crash, or before reading the audit log)."""

from __future__ import annotations

import click

from evac.audit import service


@click.group("audit")
def audit_group() -> None:
    """監査ログ / the audit log."""


@audit_group.command("flush")
def flush() -> None:
    """Store every journaled audit entry now, including journals left by processes that died."""
    stored = service.flush()
    click.echo(f"監査ログ audit entries stored: {stored}")
