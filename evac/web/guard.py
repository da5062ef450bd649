"""The 個人番号 guard in front of every request: nothing that reads as one gets in, wherever it is put.

Services check the bodies they take too (`people.refuse_individual_numbers`); this hook makes the
rule hold for every route, known field or not: the path, every query and form value and name, and
every string, key and number of a JSON body, at any depth. The refusal is a 422 that names where it
was found, never what, and is audited (field names only).
"""

from __future__ import annotations

from typing import Any

from flask import request

from evac.audit import service as audit
from evac.common.errors import ValidationFailed
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
