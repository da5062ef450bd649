"""Structured logging: one JSON object a line, with the request id when there is one.

Exceptions are logged by type and frames only, never by message: the messages of database,
parsing and spreadsheet errors embed the values involved (a cell, a parameter, a name), and a
log line must never carry a name, an address or a birth date.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType
from typing import Any

from flask import g, has_app_context
from pythonjsonlogger.json import JsonFormatter

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def exception_type(error: BaseException) -> str:
    """`module.QualifiedName` of an exception's type: what a log may say about it."""
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def traceback_without_messages(error: BaseException) -> str:
    """A traceback like Python's, chained causes included, with each exception's type but not its message."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    chain: list[tuple[BaseException, str]] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None:
            link = "\nThe above exception was the direct cause of the following exception:\n\n"
            chain.append((current, link))
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            link = "\nDuring handling of the above exception, another exception occurred:\n\n"
            chain.append((current, link))
            current = current.__context__
        else:
            chain.append((current, ""))
            current = None
    for exc, link in reversed(chain):
        frames = traceback.extract_tb(exc.__traceback__)
        parts.append("Traceback (most recent call last):\n")
        parts.extend(frames.format())
        parts.append(exception_type(exc) + "\n")
        parts.append(link)
    return "".join(parts).rstrip("\n")


class PrivateJsonFormatter(JsonFormatter):
    """python-json-logger's formatter, with exceptions shown without their messages."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        error = ei[1] if ei else None
        return traceback_without_messages(error) if error is not None else ""

    def format(self, record: logging.LogRecord) -> str:
        # Another handler's formatter may have cached the full text (message included) on the record.
        record.exc_text = None
        return super().format(record)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if has_app_context() and "request_id" in g:
            record.request_id = g.request_id
        return True


def formatter() -> PrivateJsonFormatter:
    """The formatter of evac's log lines."""
    return PrivateJsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")


def configure(level: str = "INFO") -> None:
    """Install a JSON handler on the `evac` and `sync` loggers (once per process)."""
    for name in ("evac", "sync"):
        logger = logging.getLogger(name)
        if any(getattr(h, "_evac", False) for h in logger.handlers):
            continue
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter())
        handler.addFilter(_RequestIdFilter())
        handler._evac = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = True
