"""A private pcscd with vsmartcard's virtual reader, emulated cards, and a small evac server.

The tests start everything they need and stop it again:

- `pcscd` (Debian's, foreground) with a reader.conf of our own declaring one vpcd reader, which
  vpcd exposes as two slots, "Evac Test Reader 00 00" on TCP port 18150 and "… 00 01" on 18151.
  pcsc-lite 1.9 ignores PCSCLITE_CSOCK_NAME in the daemon, so the daemon is handed its socket the
  way systemd does it (LISTEN_FDS=1, the socket on fd 3); clients find it through
  PCSCLITE_CSOCK_NAME. A pcscd already running on the machine is left alone (its pid file, which
  ours overwrites, is put back afterwards).
- the emulated cards (`emulated_card.py`, vpicc's card model extended) connect to a slot's port.

Without pcscd, the vpcd driver, the virtualsmartcard package or pyscard, these tests are skipped
with the reason; with EVAC_REQUIRE_CARDREADER=1 (CI) they fail instead.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REQUIRE = os.environ.get("EVAC_REQUIRE_CARDREADER") == "1"
SLOT_PORTS = (18150, 18151)
READER_NAMES = ("Evac Test Reader 00 00", "Evac Test Reader 00 01")
VPCD_DRIVERS = (
    "/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
    "/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so",
    "/usr/lib64/pcsc/drivers/serial/libifdvpcd.so",
)
# Debian installs python3-virtualsmartcard under site-packages/virtualsmartcard/, off sys.path.
VSMARTCARD_DIRS = (
    "/usr/lib/python3/site-packages/virtualsmartcard",
    "/usr/lib/python3/dist-packages",
    "/usr/local/lib/python3/dist-packages",
)
PID_FILE = Path("/run/pcscd/pcscd.pid")


@pytest.fixture(autouse=True)
def _sqlite_pass_only() -> None:
    """`make test` runs the suite twice; these tests use no database, so once is enough."""
    if os.environ.get("EVAC_TEST_DATABASE_URL"):
        pytest.skip("card-reader tests run in the SQLite pass")


def _pcscd_binary() -> str | None:
    return shutil.which("pcscd") or next((p for p in ("/usr/sbin/pcscd", "/sbin/pcscd") if Path(p).exists()), None)


def _vpcd_driver() -> str | None:
    return next((p for p in VPCD_DRIVERS if Path(p).exists()), None)


def _vsmartcard_dir() -> str | None:
    for d in VSMARTCARD_DIRS:
        if (Path(d) / "virtualsmartcard" / "VirtualSmartcard.py").exists():
            return d
    return None


def hardware_problem() -> str | None:
    """Why the emulated-hardware tests cannot run here, or None."""
    if sys.platform != "linux":
        return "the emulated card-reader tests need Linux (pcscd + vsmartcard)"
    if _pcscd_binary() is None:
        return "pcscd not found (apt-get install pcscd)"
    if _vpcd_driver() is None:
        return "vsmartcard's vpcd driver not found (apt-get install vsmartcard-vpcd)"
    if _vsmartcard_dir() is None:
        return "the virtualsmartcard Python package not found (apt-get install vsmartcard-vpicc)"
    run_dir = PID_FILE.parent if PID_FILE.parent.exists() else PID_FILE.parent.parent
    if not os.access(run_dir, os.W_OK):
        return f"pcscd must write {PID_FILE} and this user cannot (run the card-reader tests as root)"
    try:
        import smartcard.scard  # noqa: F401
    except ImportError:
        return "pyscard is not installed (pip install -e '.[reader]'; it compiles: swig, libpcsclite-dev)"
    for port in SLOT_PORTS:
        with socket.socket() as s:
            # Connections of an earlier run may linger in TIME_WAIT; only a live listener matters.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                return f"TCP port {port} (the virtual reader's) is in use"
    return None


def require_hardware() -> None:
    """Skip (or, with EVAC_REQUIRE_CARDREADER=1, fail) when the emulated hardware is missing."""
    if os.environ.get("EVAC_TEST_DATABASE_URL"):
        pytest.skip("card-reader tests run in the SQLite pass")  # before pcscd is started for nothing
    problem = hardware_problem()
    if problem:
        if REQUIRE:
            pytest.fail(problem + " and EVAC_REQUIRE_CARDREADER=1")
        pytest.skip(problem)


# Started in place of pcscd: puts the listening socket on fd 3, says so in LISTEN_PID (its own
# pid, which exec keeps), asks to die with the test run (PR_SET_PDEATHSIG survives exec), then
# becomes pcscd. A preexec_fn would do the same but is unsafe once the test run has threads.
_SOCKET_ACTIVATE = """
import ctypes, os, signal, sys
os.dup2(int(sys.argv[1]), 3)
os.environ["LISTEN_PID"] = str(os.getpid())
try:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)
except OSError:
    pass
os.execv(sys.argv[2], sys.argv[2:])
"""


class Pcscd:
    """Our own pcscd: can be stopped and started again (the reader unplugged and plugged back)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.socket_path = workdir / "pcscd.comm"
        self.conf_dir = workdir / "reader.conf.d"
        self.conf_dir.mkdir()
        (self.conf_dir / "vpcd").write_text(
            'FRIENDLYNAME "Evac Test Reader"\n'
            f"DEVICENAME   /dev/null:0x{SLOT_PORTS[0]:04X}\n"
            f"LIBPATH      {_vpcd_driver()}\n"
            f"CHANNELID    0x{SLOT_PORTS[0]:04X}\n",
            encoding="ascii")
        self.env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(self.socket_path))
        self.proc: subprocess.Popen[bytes] | None = None
        self._saved_pid_file = PID_FILE.read_bytes() if PID_FILE.exists() else None
        self.log_path = workdir / "pcscd.log"

    def start(self) -> None:
        """Start pcscd on our socket and wait until it lists both virtual readers."""
        self.socket_path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.socket_path))
        listener.listen(64)
        fd = listener.fileno()
        env = dict(os.environ, LISTEN_FDS="1")
        env.pop("PCSCLITE_CSOCK_NAME", None)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _SOCKET_ACTIVATE, str(fd), _pcscd_binary() or "/usr/sbin/pcscd",
                 "--foreground", "--config", str(self.conf_dir),
                 *(["--debug"] if os.environ.get("EVAC_TEST_PCSCD_DEBUG") else [])],
                env=env, pass_fds=(fd,), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        listener.close()
        self.wait_readers()

    def wait_readers(self, timeout: float = 10) -> list[str]:
        """Wait until pcscd lists both slots of the virtual reader."""
        from smartcard import scard

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rv, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if rv == 0:
                rv, readers = scard.SCardListReaders(context, [])
                scard.SCardReleaseContext(context)
                if rv == 0 and sorted(readers) == sorted(READER_NAMES):
                    return list(READER_NAMES)
            time.sleep(0.1)
        raise AssertionError(f"pcscd did not list the virtual readers; log:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        """Stop pcscd: to a client this is the reader unplugged (and the service gone)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        # Ours wrote /run/pcscd/pcscd.pid; a pcscd of the machine's own keeps its file.
        if self._saved_pid_file is not None:
            with contextlib.suppress(OSError):
                PID_FILE.parent.mkdir(parents=True, exist_ok=True)
                PID_FILE.write_bytes(self._saved_pid_file)


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    """pcscd with the virtual reader, for the whole session (restartable by a test)."""
    require_hardware()
    daemon = Pcscd(tmp_path_factory.mktemp("pcscd"))
    # libpcsclite reads the variable once per process: set it before this process talks PC/SC.
    os.environ["PCSCLITE_CSOCK_NAME"] = str(daemon.socket_path)
    daemon.start()
    yield daemon
    daemon.stop()


@dataclass
class EmulatedCard:
    """One emulated card lying on a slot of the virtual reader."""

    proc: subprocess.Popen[str]
    log: Path
    state: Path
    slot: int

    def events(self) -> list[dict[str, Any]]:
        """Everything the card logged: {"apdu": hex} per command, {"sw": hex, "len": n} per answer."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line.strip()]

    def apdus(self) -> list[str]:
        """Every command APDU the card received, in order, as upper-case hex."""
        return [e["apdu"] for e in self.events() if "apdu" in e]

    def retries(self) -> int:
        """The PIN retry counter as the card keeps it now."""
        return int(json.loads(self.state.read_text(encoding="utf-8"))["retries"])

    def pull(self) -> None:
        """Take the card off the reader abruptly (the emulator dies, vpcd sees no card)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def cards(pcscd: Pcscd, tmp_path: Path) -> Iterator[Callable[..., EmulatedCard]]:
    """Place emulated cards on the reader: `cards("mynumber", slot=0, pin="1234", retries=3, …)`."""
    placed: list[EmulatedCard] = []
    env = dict(pcscd.env, PYTHONPATH=_vsmartcard_dir() or "")

    def place(kind: str = "mynumber", slot: int = 0, wait: bool = True, **options: Any) -> EmulatedCard:
        n = len(placed)
        log, state = tmp_path / f"card{n}-apdu.jsonl", tmp_path / f"card{n}-state.json"
        args = [sys.executable, str(HERE / "emulated_card.py"), "--kind", kind, "--port", str(SLOT_PORTS[slot]),
                "--log", str(log), "--state", str(state)]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        card = EmulatedCard(proc, log, state, slot)
        placed.append(card)
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip() == "ready", f"emulated card did not start: {line}{proc.stdout.read() if proc.stdout else ''}"
        if wait:
            wait_card_state(pcscd, slot, present=True)
        return card

    yield place
    for card in placed:
        card.pull()
    if pcscd.proc is not None:
        for slot in range(len(SLOT_PORTS)):
            with contextlib.suppress(AssertionError):
                wait_card_state(pcscd, slot, present=False, timeout=5)


def wait_card_state(pcscd: Pcscd, slot: int, present: bool, timeout: float = 10) -> None:
    """Wait until pcscd sees a card on (or no card on) the slot."""
    from smartcard import scard

    deadline = time.monotonic() + timeout
    rv, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert rv == 0, f"no PC/SC context: {rv:#x}"
    try:
        while time.monotonic() < deadline:
            rv, states = scard.SCardGetStatusChange(context, 200, [(READER_NAMES[slot], scard.SCARD_STATE_UNAWARE)])
            if rv == 0 and bool(states[0][1] & scard.SCARD_STATE_PRESENT) == present:
                return
            time.sleep(0.1)
    finally:
        scard.SCardReleaseContext(context)
    raise AssertionError(f"slot {slot}: card {'never arrived' if present else 'never left'}")


def reader_command() -> list[str]:
    """How to run `evac-reader`: the installed console script, else `python -m cardreader`."""
    script = Path(sys.executable).with_name("evac-reader")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cardreader"]


def run_reader(pcscd: Pcscd | None, *args: str, stdin: str = "", timeout: float = 30,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `evac-reader ARGS` to completion against our pcscd."""
    environment = env if env is not None else (pcscd.env if pcscd else dict(os.environ))
    return subprocess.run([*reader_command(), *args], check=False, input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=environment, encoding="utf-8")


class ReaderProcess:
    """A long-running `evac-reader …` whose stderr is collected line by line as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([*reader_command(), *args], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self.lines: list[str] = []
        self.stdout = ""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    @property
    def stderr(self) -> str:
        """Everything written to stderr so far."""
        with self._lock:
            return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 15) -> None:
        """Wait until `text` appears on stderr."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not seen on stderr (exit {self.proc.poll()}):\n{self.stderr}")

    def type(self, line: str) -> None:
        """Type a line on its stdin (the PIN with --pin-stdin)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> int:
        """SIGTERM, as a service manager would; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(5)
        self._reader.join(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None and stream is self.proc.stdout:
                self.stdout = stream.read()
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return code


@dataclass
class Recorded:
    """One request the test server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeEvacServer:
    """The two reader endpoints of the evac server, over real HTTP on a loopback port."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    pair_answers: list[tuple[int, Any]] = field(default_factory=list)
    read_answers: list[int] = field(default_factory=list)
    token: str = "evr_test_0123456789abcdef"

    def reads(self) -> list[Recorded]:
        """The POSTs to /api/v1/readers/reads so far."""
        return [r for r in list(self.requests) if r.path == "/api/v1/readers/reads"]

    def wait_reads(self, count: int, timeout: float = 20) -> list[Recorded]:
        """Wait until `count` reads have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.reads()) >= count:
                return self.reads()
            time.sleep(0.05)
        raise AssertionError(f"{len(self.reads())} reads arrived, {count} expected")


@pytest.fixture
def evac_server() -> Iterator[FakeEvacServer]:
    """A small real HTTP server answering the pairing and reads endpoints as the contract says."""
    with fake_evac_server() as fake:
        yield fake


@contextlib.contextmanager
def fake_evac_server(tls: ssl.SSLContext | None = None) -> Iterator[FakeEvacServer]:
    """Serve the fake on the first free port in 18100–18149 (https with `tls`)."""
    server_state: dict[str, FakeEvacServer] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            fake = server_state["fake"]
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("latin-1")
            fake.requests.append(Recorded("POST", self.path, dict(self.headers.items()), body))
            if self.path == "/api/v1/readers/pair":
                status, answer = fake.pair_answers.pop(0) if fake.pair_answers else (201, {
                    "reader_id": 7, "token": fake.token, "shelter_id": 3, "shelter_name": "精華町立東光小学校"})
            elif self.path == "/api/v1/readers/reads":
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    status, answer = 401, {"error": {"code": "reader_revoked", "message": "revoked"}}
                else:
                    status = fake.read_answers.pop(0) if fake.read_answers else 202
                    answer = ({"status": "accepted"} if status < 300 else
                              {"error": {"code": "reader_revoked" if status in (401, 403) else "unavailable",
                                         "message": "test"}})
            else:
                status, answer = 404, {"error": {"code": "not_found", "message": "test"}}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = None
    for port in range(18100, 18150):
        try:
            httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
            break
        except OSError:
            continue
    assert httpd is not None, "no free port in 18100–18149"
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    fake = FakeEvacServer(url=f"{scheme}://127.0.0.1:{httpd.server_address[1]}")
    server_state["fake"] = fake
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
