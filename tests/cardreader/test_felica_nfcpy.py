"""FeliCa IDm through nfcpy, against nfcpy's own test transport (the `udp` driver).

A second nfcpy ContactlessFrontend on the same loopback port emulates a FeliCa card (Type 3 Tag
in card mode); the reader side polls it exactly as it polls an RC-S380.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cardreader.conftest import REQUIRE, run_reader

pytestmark = pytest.mark.cardreader

PORT = 18160
IDM = "012E4C7A11223344"


@pytest.fixture
def felica_card() -> Iterator[dict[str, Any]]:
    """A FeliCa card lying on nfcpy's UDP 'reader' until the test ends (or `stop()` lifts it).

    It records any command it gets beyond polling in `commands`."""
    try:
        import nfc
    except ImportError:
        if REQUIRE:
            pytest.fail("nfcpy is not installed (pip install -e '.[felica]') and EVAC_REQUIRE_CARDREADER=1")
        pytest.skip("nfcpy is not installed (pip install -e '.[felica]')")
    stop = threading.Event()
    seen: dict[str, Any] = {"commands": [], "stop": stop.set}
    clf = nfc.ContactlessFrontend(f"udp:127.0.0.1:{PORT}")

    def on_startup(target: Any) -> Any:
        target.sensf_res = bytearray.fromhex("01" + IDM + "0120220427674EFF" + "0003")
        target.brty = "212F"
        return target

    def on_connect(tag: Any) -> bool:
        # Called only when the reader sends a command beyond polling (a read, for instance).
        seen["commands"].append(type(tag).__name__)
        return True

    def emulate() -> None:
        while not stop.is_set():
            clf.connect(card={"on-startup": on_startup, "on-connect": on_connect}, terminate=stop.is_set)

    thread = threading.Thread(target=emulate, daemon=True)
    thread.start()
    time.sleep(0.2)
    yield seen
    stop.set()
    thread.join(5)
    clf.close()


def test_felica_idm_through_nfcpy(felica_card):
    env = dict(os.environ)
    result = run_reader(None, "read", "--once", "--json", "--backend", "nfcpy", "--nfc-device",
                        f"udp:127.0.0.1:{PORT}", "--timeout", "10", env=env)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"type": "ic", "uid": IDM}
    assert felica_card["commands"] == [], "only polling: nothing is read from the card's memory"


def test_nfcpy_without_a_device_is_a_missing_reader():
    pytest.importorskip("nfc")
    result = run_reader(None, "read", "--once", "--json", "--backend", "nfcpy", "--nfc-device", "usb:ffff:ffff",
                        "--timeout", "1")
    assert result.returncode == 3
    assert "カードリーダー" in result.stderr


def test_run_mode_reads_a_card_once_while_it_lies_there(felica_card):
    from cardreader.felica import NfcpyReader

    reader = NfcpyReader(f"udp:127.0.0.1:{PORT}")
    handled: list[str] = []
    lifted_at: list[float] = []

    def handle(read: Any) -> None:  # the card is still on the reader here
        handled.append(read.uid)
        threading.Timer(1.0, lambda: (lifted_at.append(time.monotonic()), felica_card["stop"]())).start()

    try:
        read = reader.next_read(timeout=10, handle=handle)
    finally:
        reader.close()
    assert read is not None and read.uid == IDM
    assert handled == [IDM], "one read for one card placed once"
    assert lifted_at and time.monotonic() >= lifted_at[0], "returns only after the card is lifted"
    assert felica_card["commands"] == []
