"""Structured logging: one JSON object a line, with the request id when there is one."""

from __future__ import annotations

import logging
import sys

from flask import g, has_app_context
from pythonjsonlogger.json import JsonFormatter


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if has_app_context() and "request_id" in g:
            record.request_id = g.request_id
        return True


def configure(level: str = "INFO") -> None:
    """Install a JSON handler on the `evac` and `sync` loggers (once per process)."""
    for name in ("evac", "sync"):
        logger = logging.getLogger(name)
        if any(getattr(h, "_evac", False) for h in logger.handlers):
            continue
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler.addFilter(_RequestIdFilter())
        handler._evac = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = True
