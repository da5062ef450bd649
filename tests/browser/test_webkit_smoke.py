"""The desk in WebKit (Safari's engine), the browser of the shelters' iPads: log in, scan a card's
fallback code, tap チェックイン, see the banner.

Driven through WebKitGTK's WebDriver (Debian's `webkit2gtk-driver`, `WebKitWebDriver`) with the
W3C WebDriver protocol over plain HTTP: a handful of commands, so no client library (selenium
would add a dependency for what urllib does in thirty lines). The browser it drives needs a
display: under none, the driver runs inside `xvfb-run`. Skipped with the reason where either is
missing, a failure with EVAC_REQUIRE_WEBKIT=1 (CI).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bench.camera_decoders import PAYLOAD
from bench.camera_frames import Shot, centre_crop, frame
from evac.accounts.models import Role
from evac.cards import service as cards
from tests import factories
from tests.conftest import REQUIRE_WEBKIT

pytestmark = pytest.mark.browser

ENTER = "\ue007"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebDriver:
    """One W3C WebDriver session: the commands this smoke test needs, nothing more."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "webkitgtk:browserOptions": {"args": ["--automation"]}}}})["sessionId"]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)["value"]
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"WebDriver {method} {path}: {exc.read().decode(errors='replace')}") from exc

    def command(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def go(self, url: str) -> None:
        self.command("POST", "/url", {"url": url})

    def find(self, css: str) -> list[str]:
        found = self.command("POST", "/elements", {"using": "css selector", "value": css})
        return [next(iter(element.values())) for element in found]

    def wait_for(self, css: str, timeout: float = 15.0) -> str:
        """The first element matching `css` once it is displayed (polled, as WebDriver clients do)."""
        deadline = time.monotonic() + timeout
        while True:
            for element in self.find(css):
                if self.command("GET", f"/element/{element}/displayed"):
                    return element
            if time.monotonic() > deadline:
                raise AssertionError(f"{css} did not show within {timeout} s in WebKit")
            time.sleep(0.1)

    def type(self, element: str, text: str) -> None:
        self.command("POST", f"/element/{element}/value", {"text": text})

    def click(self, element: str) -> None:
        self.command("POST", f"/element/{element}/click", {})

    def text(self, element: str) -> str:
        return str(self.command("GET", f"/element/{element}/text"))

    def script(self, source: str) -> Any:
        return self.command("POST", "/execute/sync", {"script": source, "args": []})

    def script_async(self, source: str, *args: Any) -> Any:
        """Run `source`, which calls its last argument with the result."""
        return self.command("POST", "/execute/async", {"script": source, "args": list(args)})

    def quit(self) -> None:
        self.command("DELETE", "")


def _webkit_problem() -> str | None:
    if shutil.which("WebKitWebDriver") is None:
        return "WebKitWebDriver is not installed (apt-get install webkit2gtk-driver)"
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run") is None:
        return "no display and no xvfb-run for WebKit's browser (apt-get install xvfb)"
    return None


@pytest.fixture
def webkit() -> Iterator[WebDriver]:
    """WebKitWebDriver on a free port (inside xvfb-run without a display) and one session."""
    problem = _webkit_problem()
    if problem:
        if REQUIRE_WEBKIT:
            pytest.fail(problem + " and EVAC_REQUIRE_WEBKIT=1")
        pytest.skip(problem)
    port = _free_port()
    command = ["WebKitWebDriver", f"--port={port}"]
    if not os.environ.get("DISPLAY"):
        command = ["xvfb-run", "--auto-servernum", *command]
    # Its own process group, so the Xvfb server that xvfb-run starts goes with it.
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/status", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or driver.poll() is not None:
                    raise AssertionError("WebKitWebDriver did not start") from None
                time.sleep(0.2)
        session = WebDriver(base)
        try:
            yield session
        finally:
            session.quit()
    finally:
        os.killpg(driver.pid, 15)
        driver.wait(timeout=10)


def test_the_desk_checks_a_household_in_in_webkit(db: Any, live_server: str, webkit: WebDriver) -> None:
    shelter = factories.shelter(name="精華町立東光小学校体育館", capacity=300)
    factories.account(Role.STAFF, shelters=[shelter], username="desk1")
    home = factories.household(number="H-0001", district="光台")
    family = [factories.person(household_id=home.id, family_name="精華", given_name=g, family_name_kana="セイカ",
                               given_name_kana=k) for g, k in (("太郎", "タロウ"), ("花子", "ハナコ"))]
    card, _payload = cards.issue_card(family[0].id)
    code = cards.fallback_for(card)

    webkit.go(f"{live_server}/login")
    webkit.type(webkit.wait_for("#username"), "desk1")
    webkit.type(webkit.wait_for("#password"), factories.PASSWORD + ENTER)
    webkit.click(webkit.wait_for(f"[data-shelter-id='{shelter.id}']"))
    webkit.wait_for("#desk[data-ready='1']")
    assert webkit.script("return document.activeElement.id") == "scan"

    # The code printed under the QR, typed in and Enter, as staff do when the QR will not scan.
    webkit.type(webkit.wait_for("#scan"), code + ENTER)
    webkit.wait_for("#scan-result:not([hidden])")
    assert "精華 太郎" in webkit.text(webkit.wait_for("#scan-result"))
    webkit.click(webkit.wait_for("#checkin-button"))
    banner = webkit.wait_for(".alert-ok")
    assert "2 名を受付しました" in webkit.text(banner)


# In the page, under the app's policy: the desk camera's worker decodes one frame (a data: PNG of
# what camera.js sends it) and says which decoder it loaded.
DECODE_IN_WORKER = """
const done = arguments[arguments.length - 1];
const picture = new Image();
picture.onerror = () => done({error: "the frame did not load"});
picture.onload = () => {
  const canvas = document.createElement("canvas");
  canvas.width = picture.width;
  canvas.height = picture.height;
  const context = canvas.getContext("2d");
  context.drawImage(picture, 0, 0);
  const image = context.getImageData(0, 0, canvas.width, canvas.height);
  const worker = new Worker("/static/desk/camera-worker.js");
  let decoder = null;
  worker.onerror = (event) => done({error: String(event.message)});
  worker.onmessage = (event) => {
    if (event.data.type === "ready") { decoder = event.data.decoder; return; }
    worker.terminate();
    done({decoder, text: event.data.text});
  };
  worker.postMessage({id: 1, image}, [image.data.buffer]);
};
picture.src = arguments[0];
"""


def test_the_camera_worker_decodes_with_webassembly_in_webkit(db: Any, live_server: str, webkit: WebDriver) -> None:
    # iPad Safari has no BarcodeDetector: this worker is its only camera decoder.
    crop = centre_crop(frame(PAYLOAD, Shot(100, 8, "dim")))
    png = io.BytesIO()
    crop.save(png, format="PNG")
    webkit.go(f"{live_server}/login")
    webkit.wait_for("#username")
    result = webkit.script_async(DECODE_IN_WORKER, "data:image/png;base64," + base64.b64encode(png.getvalue()).decode())
    assert result == {"decoder": "zxing-wasm", "text": PAYLOAD}
