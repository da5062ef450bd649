"""The audit journal: read and refusal audits, durable the moment they are written, stored in batches.

A staff read of personal data is audited before its answer leaves the server, but a read must
not take the database's write lock to say so (on SQLite that would serialise every read of every
desk behind the check-ins), and a refusal's audit must survive the rollback of the request that
was refused. So these entries are appended to a journal file of this process first — one
``write()`` on an ``O_APPEND`` file, done before the response is returned — and a flusher thread
moves them into `audit_event` in one transaction per batch.

Why nothing is lost:
- A process killed after answering: its journal is on disk (in the kernel's page cache the moment
  ``write()`` returns, like a SQLite commit with ``synchronous=NORMAL``). Each process holds an
  ``flock`` on its own journal; a journal whose lock can be taken belongs to a dead process, and
  any evac process adopts it (the flusher looks every `ADOPT_EVERY` seconds; `evac audit flush`
  does it at once), stores it and deletes it.
- Stored twice: an entry carries its own `entry_id`, unique in the table, and is inserted with
  ``ON CONFLICT DO NOTHING``; a journal replayed after a crash between insert and truncation
  changes nothing.
- The database away for a while: entries wait in the file; the flusher tries again.
A power cut can lose the last moments of the journal, as it can lose SQLite's last commits.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

ADOPT_EVERY = 30.0  # seconds between looks for journals left by dead processes
ROTATE_BYTES = 4 * 1024 * 1024  # a fully stored journal larger than this is replaced by a new one
INSERT_CHUNK = 500


class AuditJournal:
    """One process's journal of audit entries, and the flusher that stores them (see the module doc)."""

    def __init__(self, app: Flask, directory: Path, interval: float) -> None:
        self.app = app
        self.directory = directory
        self.interval = interval
        self._pid = -1
        self._lock = threading.Lock()  # one writer of the file and its offsets at a time
        self._flush_lock = threading.Lock()
        self._fd = -1
        self._path: Path | None = None
        self._stored = 0  # bytes of the current file already in the table
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_adopt = 0.0
        self._closed = False

    # --- writing ---------------------------------------------------------------------------

    def _open_new(self) -> None:
        """Start a new journal file, locked before it gets the name adopters look for."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        stem = f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        temp = self.directory / f"{stem}.new"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        final = self.directory / f"{stem}.jsonl"
        os.rename(temp, final)
        self._fd, self._path, self._stored = fd, final, 0

    def _ensure_process(self) -> None:
        # After a fork (gunicorn's workers) the parent's file, lock and thread are not ours.
        if self._pid == os.getpid():
            return
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._fd, self._path, self._stored = -1, None, 0
        self._pid = os.getpid()
        atexit.register(self.close)

    def append(self, entries: Iterable[dict[str, Any]]) -> None:
        """Make `entries` durable in this process's journal (one write); start the flusher if needed."""
        data = b"".join(json.dumps(e, ensure_ascii=False, separators=(",", ":"), default=_default).encode()
                        + b"\n" for e in entries)
        if not data:
            return
        with self._lock:
            self._ensure_process()
            if self._fd < 0:
                self._open_new()
            written = os.write(self._fd, data)
            if written != len(data):  # a full disk: what was not written is not an audit
                raise OSError(errno.ENOSPC, "audit journal write incomplete")
        self._start_flusher()

    # --- storing ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the flusher now (a server worker at start-up: it adopts what crashed processes left)."""
        with self._lock:
            self._ensure_process()
        self._start_flusher()

    def _start_flusher(self) -> None:
        if self._stop.is_set() or (self._thread is not None and self._thread.is_alive()):
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="evac-audit-flusher", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break  # whoever stopped us stores what is left (close) or leaves it for adoption (stop)
            try:
                self.flush(adopt=time.monotonic() - self._last_adopt >= ADOPT_EVERY)
            except Exception as exc:  # noqa: BLE001 - the entries stay in the file; try again later
                log.warning("audit flush failed; entries kept in the journal",
                            extra={"error": type(exc).__name__})

    def flush(self, *, adopt: bool = True) -> int:
        """Store what this process has journaled (and, with `adopt`, journals of dead processes).

        Returns the number of entries read from journals and handed to the table.
        """
        with self._flush_lock:
            stored = self._flush_own()
            if adopt:
                self._last_adopt = time.monotonic()
                stored += self._adopt_orphans()
            return stored

    def _flush_own(self) -> int:
        with self._lock:
            if self._pid != os.getpid() or self._path is None:
                return 0
            path, start = self._path, self._stored
        entries, end = _read_lines(path, start)
        if entries:
            self._store(entries)
        with self._lock:
            if self._path == path:
                self._stored = end
                if end >= ROTATE_BYTES and os.fstat(self._fd).st_size == end:
                    # Everything in it is stored: begin a new file, drop the old one.
                    old_fd = self._fd
                    self._open_new()
                    os.close(old_fd)
                    path.unlink(missing_ok=True)
        return len(entries)

    def _adopt_orphans(self) -> int:
        if not self.directory.is_dir():
            return 0
        count = 0
        for path in sorted(self.directory.glob("*.jsonl")):
            if path == self._path:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # its process is alive and will store it itself
                entries, _end = _read_lines(path, 0)
                if entries:
                    self._store(entries)
                    log.info("adopted an audit journal", extra={"journal": path.name, "entries_read": len(entries)})
                path.unlink(missing_ok=True)
                count += len(entries)
            finally:
                os.close(fd)
        return count

    def _store(self, entries: list[dict[str, Any]]) -> None:
        """Insert entries (skipping those already stored) in one writing unit."""
        from evac.audit.service import insert_entries

        with self.app.app_context():
            for start in range(0, len(entries), INSERT_CHUNK):
                insert_entries(entries[start:start + INSERT_CHUNK])

    def stop(self) -> None:
        """Stop the flusher thread (what is journaled stays in the file)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=5)

    def close(self) -> None:
        """Store what is left and stop the flusher (at process exit)."""
        if self._pid != os.getpid() or self._closed:
            return
        self._closed = True
        self.stop()
        try:
            self.flush(adopt=False)
        except Exception as exc:  # noqa: BLE001 - at exit the journal stays for adoption
            log.warning("audit flush at exit failed; the journal will be adopted",
                        extra={"error": type(exc).__name__})
            return
        with self._lock:
            # Everything in it is stored: leave no file for another process to read again.
            if self._path is not None and self._fd >= 0 and os.fstat(self._fd).st_size == self._stored:
                os.close(self._fd)
                self._path.unlink(missing_ok=True)
                self._fd, self._path = -1, None


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _read_lines(path: Path, start: int) -> tuple[list[dict[str, Any]], int]:
    """Complete lines of `path` from byte `start`: the entries and where the last one ended."""
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read()
    except FileNotFoundError:
        return [], start
    end = data.rfind(b"\n") + 1  # a line still being written is left for next time
    entries = []
    for line in data[:end].splitlines():
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError:
            # A torn line (power cut mid-write) holds no usable entry; the rest still count.
            log.error("unreadable audit journal line skipped", extra={"journal": path.name})
    return entries, start + end


def existing_journal(app: Flask) -> AuditJournal | None:
    """The app's journal if this process has made one."""
    return app.extensions.get("evac.audit_journal")


def journal_for(app: Flask) -> AuditJournal:
    """The app's journal (made on first use)."""
    journal = app.extensions.get("evac.audit_journal")
    if journal is None:
        journal = app.extensions["evac.audit_journal"] = AuditJournal(
            app, Path(app.config["EVAC_AUDIT_JOURNAL_DIR"]), float(app.config["EVAC_AUDIT_FLUSH_INTERVAL"]))
    return journal
