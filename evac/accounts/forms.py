"""Login form (Flask-WTF handles the CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    """User name and password."""

    username = StringField(_l("ユーザー名"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("パスワード"), validators=[DataRequired(), Length(max=200)])
