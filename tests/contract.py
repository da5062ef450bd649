"""The API contract, checked on every answer: each JSON body must match what the OpenAPI document declares.

The test client runs every `/api/v1/…` answer of the suite through `check`, so a view that
answers something its response schema does not describe (a missing field, a wrong type, an
undocumented status) fails the test that made the request.
"""

from __future__ import annotations

import re
from typing import Any

from openapi_schema_validator import OAS30Validator

_NOT_CHECKED = ("/api/v1/openapi.json", "/api/v1/docs")


class ContractViolation(AssertionError):
    """An answer that does not match the OpenAPI document."""


class Contract:
    """The operations of one OpenAPI document, matched by method and path."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.components = spec.get("components", {})
        self.routes = []
        for template, item in spec["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template)) + "$"
            self.routes.append((re.compile(pattern), item))

    def _response(self, ref_or_response: dict[str, Any]) -> dict[str, Any]:
        ref = ref_or_response.get("$ref")
        if ref:
            return self.components["responses"][ref.rsplit("/", 1)[1]]  # type: ignore[no-any-return]
        return ref_or_response

    def check(self, method: str, path: str, status: int, body: Any) -> None:
        """Raise `ContractViolation` unless `body` is what the document says this operation answers."""
        if path.startswith(_NOT_CHECKED):
            return
        operation = None
        for pattern, item in self.routes:
            if pattern.match(path):
                operation = item.get(method.lower())
                break
        if operation is None:
            if status < 400:
                raise ContractViolation(f"{method} {path}: not in the OpenAPI document")
            # No such route or method (or a route made up by a test): the error answer every path has.
            schema: dict[str, Any] | None = {"$ref": "#/components/schemas/ErrorOut"}
        else:
            responses = operation.get("responses", {})
            declared = responses.get(str(status)) or responses.get("default")
            if declared is None:
                raise ContractViolation(f"{method} {path}: status {status} is not documented "
                                        f"(documented: {sorted(responses)})")
            schema = self._response(declared).get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return
        document = {**schema, "components": self.components}
        errors = sorted(OAS30Validator(document).iter_errors(body), key=lambda e: list(e.path))
        if errors:
            details = "; ".join(f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message[:200]}" for e in errors[:5])
            raise ContractViolation(f"{method} {path} → {status}: {details}")
