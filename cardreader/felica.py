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


class NfcpyReader:
    """One nfcpy device (`usb`, `usb:054c:06c1`, `tty:USB0`, … or `udp:HOST:PORT` in tests).

    Cards are found with nfcpy's `sense` alone: FeliCa polling (SENSF) answers with the IDm, ISO
    14443 A anticollision with the UID. No tag is activated, so no command beyond finding the card
    is ever sent to it (nfcpy's `connect` would, for some tags, read their first memory pages).
    """

    def __init__(self, device: str = "usb") -> None:
        problem = available()
        if problem:
            raise NoReader(detail=problem)
        import nfc

        self.device = device
        try:
            self._clf = nfc.ContactlessFrontend(device)
        except OSError as exc:
            raise NoReader(device, detail=f"nfcpy: {type(exc).__name__}") from None

    def close(self) -> None:
        """Release the device."""
        self._clf.close()

    def _sense(self, targets: list[str] = TARGETS) -> tuple[str, str] | None:
        """(bit rate and type, identifier) of a card in the field, or None."""
        from nfc.clf import RemoteTarget

        try:
            found = self._clf.sense(*(RemoteTarget(t) for t in targets), iterations=1, interval=0.1)
        except Exception as exc:  # noqa: BLE001 - nfcpy raises driver-specific errors for a lost device
            raise NoReader(self.device, detail=f"nfcpy: {type(exc).__name__}") from None
        if found is None:
            return None
        if getattr(found, "sensf_res", None):
            ident = bytes(found.sensf_res[1:9])  # SENSF_RES: 01, IDm (8), PMm (8), [system code]
        elif getattr(found, "sdd_res", None):
            ident = bytes(found.sdd_res)  # the UID from anticollision
        else:
            return None
        return (found.brty, ident.hex().upper()) if 4 <= len(ident) <= 10 else None

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
        while deadline is None or time.monotonic() < deadline:
            found = self._sense()
            if found is None:
                time.sleep(0.1)
                continue
            read = IcRead(found[1])
            if handle is not None:
                handle(read)
                self._wait_lifted(found)
            return read
        return None

    def _wait_lifted(self, found: tuple[str, str]) -> None:
        misses = 0
        while misses < 2:  # a card at the edge of the field can miss one poll
            misses = misses + 1 if self._sense([found[0]]) != found else 0
            time.sleep(0.1)
