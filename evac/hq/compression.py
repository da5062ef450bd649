"""gzip for the HQ poll's large JSON answers, when the client says it accepts gzip.

The occupancy summary of 2,500 open shelters is about a megabyte of JSON and shrinks to a tenth
of it. Done here, for the few answers that are large and polled, rather than by a library
wrapping every response (flask-compress): the desk's small answers are not worth the CPU.
"""

from __future__ import annotations

import gzip

from flask import Response, request

MIN_BYTES = 1024
# Level 5: within a few per cent of level 9's size at a third of its time on the summary's JSON.
LEVEL = 5


def accepts_gzip() -> bool:
    """Whether the request's Accept-Encoding allows gzip (a q=0 refuses it)."""
    return request.accept_encodings["gzip"] > 0


def compress(response: Response) -> None:
    """gzip the response's body in place if it is large enough and the client accepts gzip."""
    response.vary.add("Accept-Encoding")
    if response.direct_passthrough or response.content_length is None or response.content_length < MIN_BYTES:
        return
    if "Content-Encoding" in response.headers or not accepts_gzip():
        return
    response.set_data(gzip.compress(response.get_data(), compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
