"""The reader's pairing, kept in a per-user file only its owner can read (mode 0600).

Where: `--config PATH`, else `EVAC_READER_CONFIG`, else the platform's per-user configuration
folder: `%APPDATA%\\evac-reader\\config.json` on Windows, `~/Library/Application Support/
evac-reader/config.json` on macOS, `$XDG_CONFIG_HOME/evac-reader/config.json` (default
`~/.config/...`) elsewhere. The file holds the reader token: it is written atomically, created with
mode 0600 in a 0700 folder, and never printed.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

APP_DIR = "evac-reader"


def default_path() -> Path:
    """Where the pairing is kept when no `--config` is given."""
    if os.environ.get("EVAC_READER_CONFIG"):
        return Path(os.environ["EVAC_READER_CONFIG"])
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return base / APP_DIR / "config.json"


@dataclass(frozen=True)
class Pairing:
    """What `evac-reader pair` got from the server: which desk this reader delivers to, and how."""

    server: str
    reader_id: int
    token: str
    shelter_id: int
    shelter_name: str
    name: str
    ca_bundle: str | None = None
    paired_at: str = ""

    def __repr__(self) -> str:
        # The token is a credential: keep it out of every repr, log line and traceback.
        return (f"Pairing(server={self.server!r}, reader_id={self.reader_id}, shelter_id={self.shelter_id}, "
                f"name={self.name!r}, token=<hidden>)")


def load(path: Path) -> Pairing | None:
    """The stored pairing, or None when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("config %s is readable by others (mode %o); it holds the reader token: chmod 600 it",
                        path, mode)
    data: dict[str, Any] = json.loads(text)
    known = {f: data[f] for f in Pairing.__dataclass_fields__ if f in data}
    return Pairing(**known)


def save(path: Path, pairing: Pairing) -> None:
    """Write the pairing atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkstemp creates the file with mode 0600 whatever the umask, so the token is never readable
    # by others, not even for the moment between creating and renaming it.
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(pairing), f, ensure_ascii=False, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        if os.name == "posix":
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
