"""Where a `next=` parameter may send a browser: a path on this site, nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit

# Browsers drop tabs and line breaks anywhere in a URL and read a backslash as a slash, so
# "/\t/evil.example" and "/\\evil.example" both lead off-site as "//evil.example"; a line break
# cannot go into a Location header at all.
_REFUSED = frozenset(chr(c) for c in range(0x21)) | {"\x7f", "\\"}


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site (``/…``, not ``//…``, no scheme or host), else None."""
    if not target or any(ch in _REFUSED for ch in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
