"""Login and logout pages."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from evac.accounts import service
from evac.accounts.forms import LoginForm
from evac.accounts.models import Role
from evac.accounts.throttle import TooManyAttempts
from evac.common.urls import local_path
from evac.extensions import limiter

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None, role: Role) -> str:
    """Where to go after login: the page asked for (same site only), else the role's home page."""
    return local_path(target) or (
        url_for("desk.choose") if role is Role.STAFF else url_for("hq.dashboard"))


@bp.route("/login", methods=["GET", "POST"])
# Password guessing: a few tries a minute per address is plenty for a person at a desk.
@limiter.limit(lambda: current_app.config["EVAC_LOGIN_RATE_LIMIT"], methods=["POST"])
def login() -> ResponseReturnValue:
    """Sign in with user name and password; a session cookie follows."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            account = service.authenticate(form.username.data or "", form.password.data or "",
                                           address=request.remote_addr)
        except TooManyAttempts as refused:
            flash(refused.message, "error")
            response = make_response(render_template("login.html", form=form), 429)
            response.headers["Retry-After"] = str(refused.extra["retry_after"])
            return response
        if account is not None:
            login_user(account)
            return redirect(_safe_next(request.args.get("next"), account.role))
        flash(_("ユーザー名またはパスワードが違います"), "error")
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form)


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    """End the session (a POST, so another site cannot log a desk out with a link), here and in the
    database: a copy of the cookie kept from before stops working too."""
    service.end_session(current_user._get_current_object())
    logout_user()
    flash(_("ログアウトしました"), "info")
    return redirect(url_for("accounts.login"))
