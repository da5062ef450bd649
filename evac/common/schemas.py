"""The base of every request and response schema: text and numbers that cannot break what
comes after them.

Each feature's `schemas.py` declares its schemas on `evac.common.schemas.Schema` instead of
marshmallow's, and gets, for every field it declares, nested and listed ones included:

- **text** is refused (422) if it holds a control character (U+0000–U+001F, U+007F) or a lone
  surrogate. A NUL cannot be stored by PostgreSQL, a lone surrogate cannot be encoded at all,
  and either makes a spreadsheet export fail; a line break in a name breaks every list it is
  printed in. A note that may have lines says so with ``metadata={"multiline": True}``: tab
  and line breaks are allowed there, nothing else.
- **integers** are refused when given as a fraction: marshmallow would read ``1.5`` as ``1``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import marshmallow
from marshmallow import ValidationError, fields, pre_load

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_NOTE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

CONTROL_MESSAGE = "control characters are not allowed"
NOTE_CONTROL_MESSAGE = "control characters other than tab and line breaks are not allowed"
SURROGATE_MESSAGE = "not valid Unicode text (a lone surrogate)"
FRACTION_MESSAGE = "Not a valid integer."


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """What makes `value` unfit to store (in English, for the API's field messages), or None.

    The importers ask the same of every cell they read, so a file cannot bring in what the API refuses.
    """
    if _SURROGATE.search(value):
        return SURROGATE_MESSAGE
    if (_CONTROL_IN_NOTE if multiline else _CONTROL).search(value):
        return NOTE_CONTROL_MESSAGE if multiline else CONTROL_MESSAGE
    return None


class _PlainText:
    """A validator of every string field (non-strings, such as a UUID field's value, pass)."""

    def __init__(self, multiline: bool) -> None:
        self.multiline = multiline

    def __call__(self, value: Any) -> None:
        if isinstance(value, str):
            problem = text_problem(value, multiline=self.multiline)
            if problem:
                raise ValidationError(problem)


def _is_integer(field: fields.Field) -> bool:
    return isinstance(field, fields.Integer)


def _fractions(field: fields.Field, value: Any) -> bool:
    """Whether `value` gives a fraction (a JSON number with a point) to an integer field."""
    if _is_integer(field):
        return isinstance(value, float)
    if isinstance(field, fields.List) and _is_integer(field.inner) and isinstance(value, list):
        return any(isinstance(item, float) for item in value)
    return False


class Schema(marshmallow.Schema):
    """marshmallow's Schema (unknown fields refused), with evac's rules for text and integers."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        """Give every string field, and the strings of a list, the plain-text check."""
        super().on_bind_field(field_name, field_obj)
        for field in (field_obj, getattr(field_obj, "inner", None)):
            # A new list, never an append: marshmallow's field copies share the class's list,
            # so appending at each bind grew it by one check per schema instance (per request).
            if isinstance(field, fields.String) and not any(isinstance(v, _PlainText) for v in field.validators):
                field.validators = [*field.validators, _PlainText(bool(field.metadata.get("multiline")))]

    @pre_load
    def _refuse_fractions(self, data: Any, **_kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        errors = {}
        for name, field in self.load_fields.items():
            key = field.data_key or name
            if key in data and _fractions(field, data[key]):
                errors[key] = [FRACTION_MESSAGE]
        if errors:
            raise ValidationError(errors)
        return data
