"""One card on the reader → one read: a My Number card's 基本4情報, or an IC card's UID.

Which it is, is decided from the card itself: a card whose ATR is a PC/SC Part 3 storage card
(FeliCa, MIFARE and the like) only ever gets GET DATA for its UID; any other card is first asked
to SELECT the 券面事項入力補助AP, and only if it has none is it asked for its UID.
"""

from __future__ import annotations

import logging

from cardreader import mynumber
from cardreader.apdu import SW_OK, CardChannel, case2, exchange
from cardreader.errors import NotSupportedCard
from cardreader.reads import CardRead, IcRead

log = logging.getLogger(__name__)

# PC/SC Part 3 historical bytes of a contactless storage card: 80 4F 0C A0 00 00 03 06 SS NN NN …
_PCSC_STORAGE_RID = bytes.fromhex("4F0CA000000306")
STANDARD_FELICA = 0x11


def storage_card_standard(atr: bytes) -> int | None:
    """The PC/SC Part 3 "standard" byte (0x03 ISO 14443 A, 0x11 FeliCa, …), or None."""
    at = atr.find(_PCSC_STORAGE_RID)
    if at < 0 or at + len(_PCSC_STORAGE_RID) >= len(atr):
        return None
    return atr[at + len(_PCSC_STORAGE_RID)]


def read_uid(channel: CardChannel) -> str | None:
    """GET DATA `FF CA 00 00 00`, answered by the PC/SC reader: the UID (FeliCa: the IDm)."""
    response = exchange(channel, case2(0xFF, 0xCA, 0x00, 0x00, 256))
    log.debug("GET DATA (UID): sw=%s, %d bytes", response.sw_hex, len(response.data))
    # ISO 14443 A UIDs are 4, 7 or 10 bytes, a Type B PUPI 4, a FeliCa IDm 8.
    if response.sw == SW_OK and 4 <= len(response.data) <= 10:
        return response.data.hex().upper()
    return None


def read_card(channel: CardChannel, atr: bytes, ask_pin: mynumber.PinProvider) -> CardRead:
    """Read the card behind `channel`, asking for the PIN only once a My Number card has tries to spare."""
    if storage_card_standard(atr) is None and mynumber.select_ap(channel):
        return mynumber.read_mynumber(channel, ask_pin)
    uid = read_uid(channel)
    if uid is not None:
        return IcRead(uid)
    raise NotSupportedCard()
