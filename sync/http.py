"""The `http` connector: POST signed batches to `EVAC_SYNC_URL` and classify the answer.

2xx delivered; 5xx, 408, 429, timeouts and connection errors are retried (capped exponential
backoff with jitter, `Retry-After` honoured); any other 4xx refuses the batch, which is parked.
"""

from __future__ import annotations

import enum
import random
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from sync.config import SyncConfig
from sync.wire import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, build_body, sign

RETRYABLE_STATUSES = frozenset({408, 429})


class Verdict(enum.Enum):
    """What to do with a batch after one attempt."""

    DELIVERED = "delivered"
    RETRY = "retry"
    PARK = "park"


@dataclass(frozen=True)
class Attempt:
    """The outcome of one POST: verdict, HTTP status (if any), a short error code, Retry-After seconds."""

    verdict: Verdict
    status: int | None = None
    code: str | None = None
    retry_after: float | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify(status: int, headers: httpx.Headers | dict[str, str] | None = None) -> Attempt:
    """Map an HTTP status to delivered, retry or park."""
    if 200 <= status < 300:
        return Attempt(Verdict.DELIVERED, status)
    retry_after = parse_retry_after((headers or {}).get("Retry-After"))
    if status >= 500 or status in RETRYABLE_STATUSES:
        return Attempt(Verdict.RETRY, status, f"http_{status}", retry_after)
    if 400 <= status < 500:
        return Attempt(Verdict.PARK, status, f"http_{status}")
    # 1xx/3xx: a misconfigured URL or proxy, not a verdict on this batch. Parking would park every
    # batch in turn; retrying keeps them in order and shows the error on HQ's status page.
    return Attempt(Verdict.RETRY, status, f"http_{status}", retry_after)


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None, retry_after_max: float,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt `attempt + 1`: capped exponential with equal jitter.

    Half the step is fixed and half random, so retries from many senders spread out without ever
    collapsing to an immediate retry; a server's Retry-After is a floor (bounded by retry_after_max).
    """
    rng = rng or random.Random()
    step = min(cap, base * (2 ** max(0, attempt - 1)))
    delay = step / 2 + rng.uniform(0, step / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, retry_after_max))
    return delay


def _is_tls_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class HttpConnector:
    """One keep-alive HTTP client for the process; TLS verified (custom CA bundle if configured)."""

    name = "http"

    def __init__(self, cfg: SyncConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.url = cfg.url
        self.secret = cfg.secret
        self.source: dict[str, Any] = {"system": "evac", "municipality_code": cfg.town_code,
                                       "municipality_name": cfg.town_name}
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=cfg.ca_bundle) if cfg.ca_bundle else True
        self.client = httpx.Client(
            timeout=httpx.Timeout(connect=cfg.connect_timeout, read=cfg.read_timeout,
                                  write=cfg.read_timeout, pool=cfg.connect_timeout),
            verify=verify, follow_redirects=False, transport=transport,
            headers={"User-Agent": "evac-sync/1", "Content-Type": "application/json; charset=utf-8"},
        )

    def send(self, batch_id: str, events: list[bytes]) -> Attempt:
        """POST one batch; never raises for network trouble, it becomes a RETRY verdict."""
        body = build_body(batch_id, events, self.source)
        headers = {IDEMPOTENCY_HEADER: batch_id, SIGNATURE_HEADER: sign(body, self.secret)}
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return Attempt(Verdict.RETRY, None, type(exc).__name__.lower()[:40])
        except httpx.ConnectError as exc:
            return Attempt(Verdict.RETRY, None, "tls_error" if _is_tls_error(exc) else "connect_error")
        except httpx.TransportError as exc:
            return Attempt(Verdict.RETRY, None, type(exc).__name__.lower()[:40])
        # The body is not kept: a far end may echo personal data back in it.
        return classify(response.status_code, response.headers)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
