"""IC cards through nfcpy: for a reader nfcpy drives itself (Sony RC-S380 on Linux over libusb).

Only the card's identifier is taken, as the reader's polling gets it: a FeliCa card's IDm
(Suica, ICOCA, PASMO and the other transit cards; polled at 212 and 424 kbps) or an ISO 14443 A
UID. Nothing is read from the card's memory. Type B is not polled at all: My Number cards are
Type B, and they are read through PC/SC (`--backend pcsc`), never here.

nfcpy is optional (`pip install nfcpy`); without it this backend reports why it cannot run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from cardreader.errors import NoReader
from cardreader.reads import IcRead

log = logging.getLogger(__name__)

TARGETS = ["212F", "424F", "106A"]


def available() -> str | None:
    """Why nfcpy cannot be used here, or None."""
    try:
        import nfc  # noqa: F401
    except ImportError:
        return "nfcpy is not installed (pip install nfcpy)"
    return None


def identifier(tag: Any) -> str | None:
    """The IDm (FeliCa) or UID (ISO 14443 A) of an nfcpy tag, as upper-case hex."""
    ident = getattr(tag, "identifier", None)
    if not ident or not 4 <= len(ident) <= 10:
        return None
    return bytes(ident).hex().upper()


class NfcpyReader:
    """One nfcpy device (`usb`, `usb:054c:06c1`, `tty:USB0`, … or `udp:HOST:PORT` in tests)."""

    def __init__(self, device: str = "usb") -> None:
        problem = available()
        if problem:
            raise NoReader(detail=problem)
        import nfc

        self.device = device
        try:
            self._clf = nfc.ContactlessFrontend(device)
        except (OSError, IOError) as exc:  # noqa: UP024 - nfcpy raises IOError by name
            raise NoReader(device, detail=f"nfcpy: {type(exc).__name__}") from None

    def close(self) -> None:
        """Release the device."""
        self._clf.close()

    def next_read(
        self,
        timeout: float | None = None,
        handle: Callable[[IcRead], None] | None = None,
    ) -> IcRead | None:
        """Wait for a card and return its identifier; None after `timeout` seconds.

        With `handle`, the read is handed to it while the card still lies on the reader, and this
        returns only once the card is lifted, so one card placed once is one read.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        got: list[IcRead] = []

        def on_connect(tag: Any) -> bool:
            uid = identifier(tag)
            if uid is None:
                log.warning("card type %s has no usable identifier", getattr(tag, "type", "?"))
                return handle is not None
            read = IcRead(uid)
            got.append(read)
            if handle is not None:
                handle(read)
                return True  # hold the card until it is lifted
            return False

        def terminate() -> bool:
            return (deadline is not None and time.monotonic() > deadline) or (handle is None and bool(got))

        self._clf.connect(rdwr={"targets": TARGETS, "on-connect": on_connect, "interval": 0.1},
                          terminate=terminate)
        return got[0] if got else None
