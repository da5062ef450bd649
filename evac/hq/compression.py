"""gzip for the HQ poll's large JSON answers, when the client says it accepts gzip.

The occupancy summary of 2,500 open shelters is about a megabyte of JSON and shrinks to a tenth
of it (a sixth). Done here, for the few answers that are large and polled, rather than by a library
wrapping every response (flask-compress): the desk's small answers are not worth the CPU.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable

from flask import Response, request

MIN_BYTES = 1024
# Level 1. Measured on 1.37 MB of summary JSON (2,500 shelters, a loaded 2-core machine): level 1
# gives 233 KB in 18 ms, level 5 180 KB in 36 ms, level 6 172 KB in 54 ms. The poll's time counts
# for more than the last 50 KB.
LEVEL = 1


def accepts_gzip() -> bool:
    """Whether the request's Accept-Encoding allows gzip (a q=0 refuses it)."""
    return request.accept_encodings["gzip"] > 0


def compress(response: Response, gzipped: Callable[[], bytes] | None = None) -> None:
    """gzip the response's body in place if it is large enough and the client accepts gzip.

    `gzipped`, if given, returns the body already compressed (kept with a cached answer).
    """
    response.vary.add("Accept-Encoding")
    if response.direct_passthrough or response.content_length is None or response.content_length < MIN_BYTES:
        return
    if "Content-Encoding" in response.headers or not accepts_gzip():
        return
    response.set_data(gzipped() if gzipped else gzip.compress(response.get_data(), compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
