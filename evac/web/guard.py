"""Guards in front of every request: requests the app cannot read safely, and the 個人番号.

`refuse_unreadable_requests` runs first of all: a URL over `EVAC_MAX_URL_LENGTH` (414), a body
over `MAX_CONTENT_LENGTH` even when sent chunked (413), JSON nested deeper than
`EVAC_MAX_JSON_DEPTH` (400 `json_too_deep`: Python's parser would run out of stack, and every
walk over the body after it), and a NUL or a lone surrogate anywhere — path, query, form, JSON
key or string (422): PostgreSQL cannot store a NUL, nothing can encode a lone surrogate, and
the schemas of known fields refuse other control characters themselves.

Nothing that reads as a 個人番号 gets in, wherever it is put.

Services check the bodies they take too (`people.refuse_individual_numbers`); this hook makes the
rule hold for every route, known field or not: the path, every query and form value and name, and
every string, key and number of a JSON body, at any depth. The refusal is a 422 that names where it
was found, never what, and is audited (field names only).
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from evac.audit import service as audit
from evac.common.errors import DomainError, ValidationFailed
from evac.common.textnorm import looks_like_individual_number
from evac.people import service as people


def _fields(values: Any) -> dict[str, Any]:
    """A MultiDict as name → value (a list only where the name is repeated)."""
    return {k: v[0] if len(v) == 1 else v for k, v in values.to_dict(flat=False).items()}


def refuse_individual_numbers_in_request() -> None:
    """`before_request` hook of the whole app."""
    found: list[str] = []
    if looks_like_individual_number(request.path):
        found.append("(path)")
    if request.args:
        found += people.individual_number_paths(_fields(request.args))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") and request.form:
        found += people.individual_number_paths(_fields(request.form))
    if request.is_json and request.content_length != 0:
        body: Any = request.get_json(silent=True)
        if body is not None:
            found += people.individual_number_paths(body)
    if found:
        fields = sorted(set(found))
        audit.refused("request.refused", detail={"endpoint": request.endpoint, "method": request.method,
                                                 "reason": "individual_number", "fields": fields})
        raise ValidationFailed(people.individual_number_message(),
                               fields={p: "12-digit number refused" for p in fields})


class UrlTooLong(DomainError):
    """The URL is longer than `EVAC_MAX_URL_LENGTH`."""

    status = 414
    code = "url_too_long"


class JsonTooDeep(DomainError):
    """A JSON body nested deeper than `EVAC_MAX_JSON_DEPTH`."""

    status = 400
    code = "json_too_deep"


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def json_depth(data: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings do not count).

    Counted on the bytes, without parsing: a parser recurses once per level."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub(b"", data)):
        if bracket in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _raw_url_length() -> int:
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is None:
        query = environ.get("QUERY_STRING", "")
        raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
    return len(raw)


def _unstorable_paths(value: Any, path: str) -> list[str]:
    """Where in a parsed JSON body (or a dict of form values) a NUL or a lone surrogate is."""
    found: list[str] = []
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            found.append(path or "(body)")
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _UNSTORABLE.search(key):
                found.append(f"{path}.(key)" if path else "(key)")
                where = f"{path}.(key)" if path else "(key)"
            found += _unstorable_paths(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _unstorable_paths(item, f"{path}.{index}" if path else str(index))
    return found


def _refuse_long_chunked_body() -> None:
    """413 for a chunked body (no Content-Length) that reaches MAX_CONTENT_LENGTH.

    Werkzeug checks the limit against Content-Length; a chunked body it silently cuts at the
    limit, and the cut JSON then read as malformed (a 400 that hides what was wrong). The body is
    read once here and kept for the form and JSON parsers.
    """
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None or request.content_length is not None:
        return
    if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return
    if len(request.get_data(cache=True)) >= limit:
        raise RequestEntityTooLarge()


def refuse_unreadable_requests() -> None:
    """`before_request` hook of the whole app, first of all."""
    if _raw_url_length() > current_app.config["EVAC_MAX_URL_LENGTH"]:
        raise UrlTooLong(_("URLが長すぎます"))
    _refuse_long_chunked_body()  # before the form parser reads (and cuts) the body
    found: list[str] = []
    if _UNSTORABLE.search(request.path):
        found.append("(path)")
    if request.args:
        found += _unstorable_paths(_fields(request.args), "")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") and request.form:
        found += _unstorable_paths(_fields(request.form), "")
    if request.is_json and request.content_length != 0:
        data = request.get_data(cache=True)
        if json_depth(data) > current_app.config["EVAC_MAX_JSON_DEPTH"]:
            raise JsonTooDeep(_("JSONの入れ子が深すぎます (最大 %(n)d 段)", n=current_app.config["EVAC_MAX_JSON_DEPTH"]))
        found += _unstorable_paths(request.get_json(silent=True), "")
    if found:
        raise ValidationFailed(_("使えない文字 (NUL や壊れた文字) が含まれています"),
                               fields={p: "NUL or lone surrogate refused" for p in sorted(set(found))})
