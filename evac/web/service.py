"""What the web layer itself asks of the database: is it there?"""

from __future__ import annotations

from sqlalchemy import text

from evac.common.db import read_only
from evac.extensions import db


@read_only
def database_answers() -> None:
    """Run one trivial statement; `DatabaseUnavailable` if the database cannot be had."""
    db.session.execute(text("SELECT 1"))
