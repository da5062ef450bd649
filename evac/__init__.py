"""evac: shelter check-in and evacuee information for a Japanese town."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evac.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # `from evac import create_app` (gunicorn, tests) still works, but importing any evac module —
    # `evac.cli` for `evac --help` above all — no longer builds the whole app's import graph first.
    if name == "create_app":
        from evac.app import create_app

        return create_app
    raise AttributeError(f"module 'evac' has no attribute {name!r}")
