"""Desk pages: choose a shelter (staff see only theirs)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required

from evac.accounts.auth import current_account
from evac.shelters import service as shelters

bp = Blueprint("desk", __name__, url_prefix="/desk")


@bp.get("")
@login_required
def choose() -> ResponseReturnValue:
    """List the shelters this account works at, open ones first."""
    page = shelters.list_shelters(current_account(), limit=1000)
    items = sorted(page.items, key=lambda item: (item[0].status.value == "closed", item[0].id))
    return render_template("desk/choose.html", items=items, total=page.total)
