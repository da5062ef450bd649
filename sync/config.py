"""Sync settings: the `EVAC_SYNC_*` keys of the app config, with the sender's own tunables from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

CONNECTORS = ("http", "csv", "none")
DRILL_CONNECTORS = ("http", "none")
DRILL = "drill"  # the state (and lease) name of the drills' connector
CSV_ENCODINGS = ("cp932", "utf-8", "utf-8-sig")


def _get(config: dict[str, Any], name: str, default: str) -> str:
    value = config.get(name)
    if value is None or value == "":
        value = os.environ.get(name, "")
    return str(value) if value not in (None, "") else default


def _float(config: dict[str, Any], name: str, default: float) -> float:
    raw = _get(config, name, str(default))
    try:
        return float(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a number, got {raw!r}") from exc


def _int(config: dict[str, Any], name: str, default: int) -> int:
    raw = _get(config, name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class SyncConfig:
    """Everything a sender needs to know; built once per process from the app config."""

    connector: str
    url: str
    secret: str
    interval: float
    sync_dir: str
    csv_encoding: str
    ca_bundle: str | None
    connect_timeout: float
    read_timeout: float
    batch_size: int
    batch_bytes: int
    backoff_base: float
    backoff_max: float
    retry_after_max: float
    lease_ttl: float
    gap_grace: float
    town_code: str
    town_name: str
    # The drills' connector: it takes drill events only, and the real one never sees them.
    drill: bool = False

    @property
    def name(self) -> str:
        """Name of the connector's state row and lease: `drill` for the drills', else the connector."""
        return DRILL if self.drill else self.connector

    @classmethod
    def from_app(cls, config: dict[str, Any], **overrides: Any) -> SyncConfig:
        """Read the app config (which evac fills from the environment), then the sender's own variables."""
        values: dict[str, Any] = {
            "connector": _get(config, "EVAC_SYNC_CONNECTOR", "none").lower(),
            "url": _get(config, "EVAC_SYNC_URL", ""),
            "secret": _get(config, "EVAC_SYNC_SECRET", ""),
            "interval": _float(config, "EVAC_SYNC_INTERVAL", 30),
            "sync_dir": _get(config, "EVAC_SYNC_DIR", "instance/sync"),
            "csv_encoding": _get(config, "EVAC_SYNC_CSV_ENCODING", "cp932").lower(),
            "ca_bundle": _get(config, "EVAC_SYNC_CA_BUNDLE", "") or None,
            "connect_timeout": _float(config, "EVAC_SYNC_CONNECT_TIMEOUT", 5.0),
            "read_timeout": _float(config, "EVAC_SYNC_READ_TIMEOUT", 30.0),
            "batch_size": _int(config, "EVAC_SYNC_BATCH_SIZE", 500),
            "batch_bytes": _int(config, "EVAC_SYNC_BATCH_BYTES", 2 * 1024 * 1024),
            "backoff_base": _float(config, "EVAC_SYNC_BACKOFF_BASE", 1.0),
            "backoff_max": _float(config, "EVAC_SYNC_BACKOFF_MAX", 60.0),
            "retry_after_max": _float(config, "EVAC_SYNC_RETRY_AFTER_MAX", 600.0),
            "lease_ttl": _float(config, "EVAC_SYNC_LEASE_TTL", 60.0),
            "gap_grace": _float(config, "EVAC_SYNC_GAP_GRACE", 2.0),
            "town_code": str(config.get("EVAC_TOWN_CODE", "")),
            "town_name": str(config.get("EVAC_TOWN_NAME", "")),
        }
        values.update(overrides)
        cfg = cls(**values)
        cfg.check()
        return cfg

    @classmethod
    def for_drills(cls, config: dict[str, Any], **overrides: Any) -> SyncConfig:
        """The drills' connector (`EVAC_SYNC_DRILL_CONNECTOR`, `_URL`, `_SECRET`): none by default, so a
        訓練's check-ins go nowhere; `http` sends them to a receiver of their own (a rehearsal system)."""
        connector = _get(config, "EVAC_SYNC_DRILL_CONNECTOR", "none").lower()
        if connector not in DRILL_CONNECTORS:
            raise RuntimeError(f"EVAC_SYNC_DRILL_CONNECTOR must be one of {', '.join(DRILL_CONNECTORS)}, "
                               f"got {connector!r}")
        url = _get(config, "EVAC_SYNC_DRILL_URL", "")
        if connector == "http" and url and url == _get(config, "EVAC_SYNC_URL", ""):
            raise RuntimeError("EVAC_SYNC_DRILL_URL must not be the real receiver's EVAC_SYNC_URL")
        base = {"connector": connector, "url": url,
                "secret": _get(config, "EVAC_SYNC_DRILL_SECRET", "") or _get(config, "EVAC_SYNC_SECRET", ""),
                "drill": True}
        return cls.from_app(config, **{**base, **overrides})

    def check(self) -> None:
        """Refuse settings that cannot work, naming the variable (never its secret value)."""
        if self.connector not in CONNECTORS:
            raise RuntimeError(f"EVAC_SYNC_CONNECTOR must be one of {', '.join(CONNECTORS)}, got {self.connector!r}")
        if self.connector == "http":
            if not self.url.startswith(("http://", "https://")):
                raise RuntimeError("EVAC_SYNC_URL must be an http:// or https:// URL for the http connector")
            if not self.secret:
                raise RuntimeError("EVAC_SYNC_SECRET must be set for the http connector")
        if self.csv_encoding not in CSV_ENCODINGS:
            raise RuntimeError(f"EVAC_SYNC_CSV_ENCODING must be one of {', '.join(CSV_ENCODINGS)}")
        if self.ca_bundle and not os.path.isfile(self.ca_bundle):
            raise RuntimeError("EVAC_SYNC_CA_BUNDLE names no readable file")
        if self.interval <= 0 or self.batch_size < 1 or self.batch_bytes < 1024:
            raise RuntimeError("EVAC_SYNC_INTERVAL, EVAC_SYNC_BATCH_SIZE and EVAC_SYNC_BATCH_BYTES must be positive")
