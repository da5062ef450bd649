"""evac: shelter check-in and evacuee information for a Japanese town."""

from evac.app import create_app

__all__ = ["create_app"]
