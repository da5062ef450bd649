"""Command APDUs and the channel they travel over, independent of PC/SC or nfcpy.

A `CardChannel` sends one command APDU and returns the response data and the status word. Every
reader backend provides one; the My Number and IC card logic only ever talks to that protocol, so
it can be tested against any card that answers APDUs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282  # "end of file reached before reading Le bytes": the data is still good
SW_FILE_NOT_FOUND = 0x6A82
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_BLOCKED = 0x6983


@dataclass(frozen=True)
class Response:
    """A response APDU: data and the two status bytes as one integer."""

    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        """True for 9000 (and 6282, whose data is valid but shorter than asked)."""
        return self.sw in (SW_OK, SW_END_OF_FILE)

    @property
    def sw_hex(self) -> str:
        """The status word as four hex digits, for logs and error details."""
        return f"{self.sw:04X}"


class CardChannel(Protocol):
    """One card, connected: sends a command APDU, returns its response."""

    def transmit(self, apdu: bytes) -> Response:
        """Send `apdu` and return the response; raise `ReaderError` if the card went away."""
        ...


def case1(cla: int, ins: int, p1: int, p2: int) -> bytes:
    """A case 1 APDU: header only (no data, no Le)."""
    return bytes((cla, ins, p1, p2))


def case2(cla: int, ins: int, p1: int, p2: int, le: int) -> bytes:
    """A case 2 short APDU: header and Le (1..256; 256 is sent as 00)."""
    if not 1 <= le <= 256:
        raise ValueError("Le must be 1..256 for a short APDU")
    return bytes((cla, ins, p1, p2, le & 0xFF))


def case3(cla: int, ins: int, p1: int, p2: int, data: bytes) -> bytes:
    """A case 3 short APDU: header, Lc and data (1..255 bytes)."""
    if not 1 <= len(data) <= 255:
        raise ValueError("data must be 1..255 bytes for a short APDU")
    return bytes((cla, ins, p1, p2, len(data))) + data


def split_response(raw: bytes | list[int]) -> Response:
    """Split raw response bytes into data and status word."""
    raw = bytes(raw)
    if len(raw) < 2:
        raise ValueError("a response APDU has at least two status bytes")
    return Response(raw[:-2], (raw[-2] << 8) | raw[-1])


def exchange(channel: CardChannel, apdu: bytes) -> Response:
    """Send `apdu`, following the two ISO 7816-4 procedures some readers and cards need.

    61xx (more data waiting) is collected with GET RESPONSE and 6Cxx (wrong Le) is re-sent with
    the Le the card gives; both are about the same command, so neither selects or reads anything
    the caller did not ask for.
    """
    response = channel.transmit(apdu)
    if response.sw >> 8 == 0x6C and len(apdu) == 5:  # case 2 only: header + Le
        response = channel.transmit(apdu[:4] + bytes((response.sw & 0xFF,)))
    data = response.data
    while response.sw >> 8 == 0x61:
        response = channel.transmit(case2(0x00, 0xC0, 0x00, 0x00, (response.sw & 0xFF) or 256))
        data += response.data
    return Response(data, response.sw)
