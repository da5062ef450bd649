"""The reader's side of the evac server API: pairing, and delivering reads.

Contract (the server is built to it):

- `POST {server}/api/v1/readers/pair`, JSON `{"code": CODE, "name": LABEL}`, no credentials.
  201 `{"reader_id": int, "token": "evr_…", "shelter_id": int, "shelter_name": str}`;
  404 `{"error": {"code": "pairing_code_unknown", …}}`; 410 `{"error": {"code": "pairing_code_expired", …}}`.
- `POST {server}/api/v1/readers/reads`, `Authorization: Bearer <token>`, JSON
  `{"read_id": "<uuid4>", "type": "mynumber", "card": {"name", "address", "birth_date", "sex"}}` or
  `{"read_id": "<uuid4>", "type": "ic", "uid": "<hex>"}`. 202 when accepted (any 2xx is taken as
  delivered, so a repeated `read_id` answered 200 is fine); 401/403 (`reader_revoked`): stop.

TLS is always verified (certifi's bundle, or `--ca-bundle`). Plain http is refused except to this
computer itself (loopback), where no network sees the token.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from cardreader import __version__
from cardreader.errors import BadServerUrl, PairingFailed, ReaderRevoked, ServerUnreachable
from cardreader.reads import CardRead

log = logging.getLogger(__name__)

PAIR_PATH = "/api/v1/readers/pair"
READS_PATH = "/api/v1/readers/reads"
# A read is only useful while the resident is still at the desk: after this, report and move on.
DEFAULT_RETRY_FOR = 10.0
_RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


def check_server_url(url: str) -> str:
    """The server's base URL without a trailing slash; BadServerUrl unless https (or loopback http)."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return url
    raise BadServerUrl(url)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class PairResult:
    """The 201 answer to a pairing."""

    reader_id: int
    token: str
    shelter_id: int
    shelter_name: str

    def __repr__(self) -> str:
        return f"PairResult(reader_id={self.reader_id}, shelter_id={self.shelter_id}, token=<hidden>)"


@dataclass(frozen=True)
class Delivery:
    """How delivering one read ended: `delivered`, or not, with why (no personal data)."""

    delivered: bool
    attempts: int
    detail: str


class ServerClient:
    """HTTP client for one evac server; TLS verified with certifi's bundle or `ca_bundle`."""

    def __init__(self, server: str, ca_bundle: str | None = None, timeout: float = 10.0) -> None:
        self.server = check_server_url(server)
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        self._http = httpx.Client(
            base_url=self.server,
            verify=verify,
            timeout=httpx.Timeout(timeout, connect=5.0),
            headers={"User-Agent": f"evac-reader/{__version__}", "Accept": "application/json"},
            follow_redirects=False,  # a redirect would carry the bearer token somewhere unplanned
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pair(self, code: str, name: str) -> PairResult:
        """Exchange the desk's pairing code for this reader's token."""
        try:
            response = self._http.post(PAIR_PATH, json={"code": code.strip(), "name": name})
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.server, _transport_detail(exc)) from None
        if response.status_code == 201:
            return _pair_result(response)
        error = _error_code(response)
        if response.status_code == 404 and error in ("pairing_code_unknown", ""):
            raise PairingFailed(
                "ペアリングコードが見つかりません。受付画面に表示されているコードを確かめて入力し直してください。",
                "Unknown pairing code. Check the code shown on the desk screen and type it again.",
            )
        if response.status_code == 410:
            raise PairingFailed(
                "ペアリングコードの有効期限が切れています。受付画面で新しいコードを表示してください。",
                "The pairing code has expired. Show a new code on the desk screen.",
            )
        raise PairingFailed(
            f"サーバーがペアリングを受け付けませんでした（HTTP {response.status_code} {error}）。",
            f"The server refused the pairing (HTTP {response.status_code} {error}).",
        )

    def deliver(self, token: str, read_id: str, read: CardRead, retry_for: float = DEFAULT_RETRY_FOR) -> Delivery:
        """POST one read, retrying with the same `read_id` for at most `retry_for` seconds.

        Raises ReaderRevoked on 401/403: nothing this reader sends will be taken any more.
        """
        body: dict[str, Any] = {"read_id": read_id, **read.payload()}
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + retry_for
        attempts, pause, detail = 0, 0.5, ""
        while True:
            attempts += 1
            remaining = deadline - time.monotonic()
            try:
                response = self._http.post(
                    READS_PATH, json=body, headers=headers,
                    timeout=httpx.Timeout(max(1.0, min(10.0, remaining)), connect=max(0.5, min(5.0, remaining))))
            except httpx.TransportError as exc:
                detail = _transport_detail(exc)
            else:
                status = response.status_code
                if status in (401, 403):
                    raise ReaderRevoked(status)
                if 200 <= status < 300:
                    return Delivery(True, attempts, f"HTTP {status}")
                detail = f"HTTP {status} {_error_code(response)}".strip()
                if status not in _RETRYABLE:
                    # The server understood and refused (400, 404, 409, 413, 422 …): resending the
                    # same body cannot change its mind.
                    return Delivery(False, attempts, detail)
                pause = max(pause, _retry_after(response) or 0.0)
            wait = min(pause, deadline - time.monotonic())
            if wait <= 0:
                return Delivery(False, attempts, detail)
            log.info("read %s not delivered yet (%s); retrying in %.1f s", read_id, detail, wait)
            time.sleep(wait)
            pause = min(pause * 2, 4.0)


def _pair_result(response: httpx.Response) -> PairResult:
    try:
        data = response.json()
        result = PairResult(
            reader_id=int(data["reader_id"]), token=str(data["token"]),
            shelter_id=int(data["shelter_id"]), shelter_name=str(data["shelter_name"]))
    except (ValueError, KeyError, TypeError):
        raise PairingFailed(
            "サーバーの応答が想定と違います（evac のサーバーか確認してください）。",
            "The server's answer is not what an evac server sends (check the URL).",
        ) from None
    if not result.token.startswith("evr_"):
        raise PairingFailed(
            "サーバーが返したトークンがリーダー用ではありません。",
            "The server's token is not a reader token.",
        )
    return result


def _error_code(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        return str(error.get("code", "")) if isinstance(error, dict) else ""
    except (ValueError, AttributeError):
        return ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return float(value)
    except ValueError:
        return None


def _transport_detail(exc: httpx.TransportError) -> str:
    # The exception's own text can hold the URL (never the token, which travels in a header), but
    # its class name says what matters: ConnectError, ConnectTimeout, ReadTimeout, ….
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return f"{type(exc).__name__}: TLS certificate not trusted (--ca-bundle)"
    return type(exc).__name__
