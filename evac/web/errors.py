"""One place that turns every error into the API's JSON error format or an HTML error page."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from evac.audit import service as audit
from evac.common.db import DatabaseUnavailable, is_unavailable
from evac.common.errors import Conflict, DomainError, error_body
from evac.common.logging import exception_type, traceback_without_messages
from evac.web import metrics

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    503: "database_unavailable",
}


def _messages() -> dict[int, str]:
    return {
        400: _("リクエストが正しくありません"),
        401: _("ログインまたはAPIトークンが必要です"),
        403: _("この操作を行う権限がありません"),
        404: _("見つかりません"),
        405: _("このメソッドは使えません"),
        413: _("送信データが大きすぎます"),
        415: _("JSONで送信してください"),
        422: _("入力内容に誤りがあります"),
        429: _("リクエストが多すぎます。しばらく待ってから再度お試しください"),
        500: _("サーバー内部でエラーが発生しました"),
        503: _("混み合っています。受付は保留され、少し待ってから自動で送信されます"),
    }


def wants_json() -> bool:
    """API and health-check callers get JSON; browsers on pages get HTML."""
    return request.path.startswith("/api/") or request.path == "/healthz" or request.is_json


def _audit_refusal(code: str) -> None:
    """A 403 is a refusal of access: audited (route and code only), whatever route refused it."""
    try:
        audit.refused("access.refused", detail={"endpoint": request.endpoint, "method": request.method,
                                                "code": code})
    except (DatabaseUnavailable, OSError) as exc:  # the answer goes out anyway; logged without details
        log.error("a refusal could not be audited", extra={"error": type(exc).__name__})


def _respond(status: int, code: str, message: str, fields: dict[str, Any] | None = None,
             **extra: Any) -> tuple[Response | str, int]:
    metrics.count_error(status, code)
    if status == 403:
        _audit_refusal(code)
    if wants_json():
        return jsonify(error_body(code, message, fields, **extra)), status
    return render_template("error.html", status=status, message=message), status


def _webargs_fields(error: HTTPException) -> dict[str, Any]:
    """webargs puts marshmallow's messages in `error.data["messages"]`, keyed by location."""
    data = getattr(error, "data", None) or {}
    messages = data.get("messages", {})
    if isinstance(messages, dict) and len(messages) == 1:
        (only,) = messages.values()
        return only if isinstance(only, dict) else {"_schema": only}
    return messages if isinstance(messages, dict) else {}


def handle_domain_error(error: DomainError) -> tuple[Response | str, int]:
    """Refusals raised by services: roll back whatever the request had started."""
    body, status = _respond(error.status, error.code, error.message, error.fields, **error.extra)
    retry_after = error.extra.get("retry_after")
    if retry_after is None:
        return body, status
    response = make_response(body, status)
    response.headers["Retry-After"] = str(retry_after)
    return response, status


def handle_http_exception(error: HTTPException) -> tuple[Response | str, int] | HTTPException:
    """Werkzeug's errors (404, 405, 413, webargs' 422, …) in evac's format."""
    status = error.code or 500
    if status < 400:
        return error
    if status >= 500:
        return handle_internal_error(error)
    fields = _webargs_fields(error) if status == 422 else {}
    message = _messages().get(status, error.description or "")
    return _respond(status, _HTTP_CODES.get(status, "error"), message, fields)


def handle_csrf_error(error: CSRFError) -> tuple[Response | str, int]:
    """A missing or stale CSRF token: say so, so the user reloads the page."""
    return _respond(400, "csrf_failed", _("画面の有効期限が切れました。再読み込みしてからやり直してください"))


def handle_integrity_error(error: IntegrityError) -> tuple[Response | str, int]:
    """A database constraint refused a write that slipped past the services' checks (for example a race)."""
    log.warning("integrity error", extra={"constraint": str(error.orig).split("\n")[0][:200]})
    exc = Conflict(_("同時に行われた別の操作と競合しました。もう一度お試しください"))
    return _respond(exc.status, exc.code, exc.message)


def handle_out_of_range(error: Exception) -> tuple[Response | str, int]:
    """An id or number beyond what the database can hold names nothing that exists."""
    return _respond(404, "not_found", _messages()[404])


def handle_unavailable(error: Exception) -> tuple[Response | str, int]:
    """The database cannot be had just now: 503 with Retry-After; the desk queues and retries."""
    retry_after = error.retry_after if isinstance(error, DatabaseUnavailable) else 2
    reason = error.reason if isinstance(error, DatabaseUnavailable) else type(error).__name__
    log.warning("database unavailable", extra={"reason": reason})
    body, status = _respond(503, "database_unavailable", _messages()[503])
    response = body if isinstance(body, Response) else Response(body, mimetype="text/html")
    response.status_code = status
    response.headers["Retry-After"] = str(retry_after)
    return response, status


def handle_database_error(error: DBAPIError) -> tuple[Response | str, int]:
    """A driver error outside the unit's own mapping: unavailable → 503, anything else is a bug."""
    if is_unavailable(error):
        return handle_unavailable(error)
    return handle_internal_error(error)


def handle_internal_error(error: Exception) -> tuple[Response | str, int]:
    """A bug: log its type with the request id, tell the client nothing about the data involved.

    Only the exception's type and the traceback's frames are logged: messages of database and
    parsing errors embed the values involved, and those may be names or addresses.
    """
    original = getattr(error, "original_exception", None) or error
    if isinstance(original, DatabaseUnavailable | PoolTimeout) or (
            isinstance(original, DBAPIError) and is_unavailable(original)):
        return handle_unavailable(original)
    if not isinstance(original, HTTPException):
        # Not exc_info: whatever other handler sees the record (a root handler, pytest's) would
        # print the exception's message, and that may hold a name or a cell value.
        log.error("unhandled error", extra={"error": exception_type(original),
                                            "traceback": traceback_without_messages(original)})
    return _respond(500, "internal_error", _messages()[500])


def register(app: Flask) -> None:
    """Install the handlers on the app."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OverflowError, handle_out_of_range)
    app.register_error_handler(DataError, handle_out_of_range)
    app.register_error_handler(DatabaseUnavailable, handle_unavailable)
    app.register_error_handler(PoolTimeout, handle_unavailable)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(InternalServerError, handle_internal_error)
    app.register_error_handler(Exception, handle_internal_error)
