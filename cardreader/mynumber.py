"""The My Number card's 券面事項入力補助AP: the 基本4情報 and nothing else.

The APDU sequence (sources: jpki/myna `libmyna/reader.go` and `text_ap.go`, cross-checked with
AokiApp/jsapdu `packages/mynacard/src/constants.ts` and treastrain/TRETJapanNFCReader; they agree):

1. SELECT the AP by AID `D3 92 10 00 31 00 01 01 04 08`:   `00 A4 04 0C 0A <AID>`
2. SELECT the PIN EF `00 11` (券面事項入力補助用暗証番号):    `00 A4 02 0C 02 00 11`
3. VERIFY without data, which only reports the tries left:  `00 20 00 80` → `63 Cx`
4. VERIFY the 4-digit PIN (ASCII digits):                   `00 20 00 80 04 <PIN>`
5. SELECT the 基本4情報 EF `00 02`:                          `00 A4 02 0C 02 00 02`
6. READ BINARY its header, then the rest:                   `00 B0 00 00 07`, `00 B0 00 07 <n>` …

The 基本4情報 EF is one constructed TLV, tag `FF 20`, holding `DF 21` (offsets of the items, kept
for the card's own signature), `DF 22` 氏名, `DF 23` 住所, `DF 24` 生年月日 (`YYYYMMDD`) and
`DF 25` 性別 (ISO 5218: 1, 2, 9). Name and address are UTF-8 (jpki/myna decodes them as `utf8`,
jsapdu with `TextDecoder("utf-8")`). One third-party snippet found while checking gave the PIN
EF as `00 01`: that is the EF holding the 個人番号 in every other source, so it was not followed.

The EF `00 01` of this AP holds the 個人番号. It is never selected: `_select_ef` accepts only the
two EF ids above, and the emulated card in the tests records every APDU to prove it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from cardreader import tlv
from cardreader.apdu import (
    SW_AUTH_BLOCKED,
    SW_OK,
    CardChannel,
    Response,
    case1,
    case2,
    case3,
    exchange,
)
from cardreader.errors import (
    CardCommunication,
    CardData,
    NotSupportedCard,
    PinBlocked,
    PinFormat,
    PinNearlyBlocked,
    WrongPin,
)
from cardreader.reads import MyNumberRead

log = logging.getLogger(__name__)

KENHOJO_AP_AID = bytes.fromhex("D3921000310001010408")
EF_PIN = 0x0011
EF_BASIC_FOUR = 0x0002
# The only EFs this program may select. 0x0001 (個人番号) is deliberately absent.
_ALLOWED_EFS = frozenset({EF_PIN, EF_BASIC_FOUR})

TAG_BASIC_FOUR = 0xFF20
TAG_NAME, TAG_ADDRESS, TAG_BIRTH, TAG_SEX = 0xDF22, 0xDF23, 0xDF24, 0xDF25
# The card's tries for this PIN start at 3. With one left, a wrong PIN would lock the card until
# the resident visits the town office, so the reader never spends the last try.
LAST_TRY = 1
# The file is a few hundred bytes on real cards; refuse a length that could only be garbage.
_MAX_FILE = 4096
_HEADER_READ = 7  # tag (2) + longest length (1 + 3) + a little: enough to learn the file size
_CHUNK = 0xFF


class Pin:
    """The resident's 4-digit PIN, held as a mutable buffer that is wiped after use.

    Python cannot promise no copy ever lingers in memory; this keeps the PIN out of reprs, logs,
    tracebacks and exception messages, and drops it as soon as VERIFY has been sent.
    """

    __slots__ = ("_digits",)

    def __init__(self, text: str) -> None:
        text = text.strip()
        if len(text) != 4 or not all("0" <= c <= "9" for c in text):
            raise PinFormat()
        self._digits = bytearray(text.encode("ascii"))

    def wipe(self) -> None:
        """Overwrite the digits; the Pin is unusable afterwards."""
        for i in range(len(self._digits)):
            self._digits[i] = 0
        self._digits = bytearray()

    def __repr__(self) -> str:
        return "Pin(****)"

    __str__ = __repr__


PinProvider = Callable[[int], Pin]
"""Asked for the PIN once the card has shown it has tries to spare; given the tries left."""


def select_ap(channel: CardChannel) -> bool:
    """SELECT the 券面事項入力補助AP; False when the card has no such AP (not a My Number card)."""
    response = exchange(channel, case3(0x00, 0xA4, 0x04, 0x0C, KENHOJO_AP_AID))
    _trace("SELECT AP", response)
    return response.sw == SW_OK


def read_mynumber(channel: CardChannel, ask_pin: PinProvider) -> MyNumberRead:
    """With the AP selected: check the tries, verify the PIN, read and decode the 基本4情報."""
    _select_ef(channel, EF_PIN)
    tries = pin_tries_left(channel)
    if tries == 0:
        raise PinBlocked()
    if tries <= LAST_TRY:
        raise PinNearlyBlocked(tries)
    pin = ask_pin(tries)
    try:
        _verify(channel, pin)
    finally:
        pin.wipe()
    return read_basic_four(channel)


def pin_tries_left(channel: CardChannel) -> int:
    """VERIFY with no data: the card answers 63Cx with the tries left, and nothing is spent."""
    response = channel.transmit(case1(0x00, 0x20, 0x00, 0x80))
    _trace("VERIFY (tries)", response)
    if response.sw & 0xFFF0 == 0x63C0:
        return response.sw & 0x0F
    if response.sw == SW_AUTH_BLOCKED:
        return 0
    # 9000 would mean "already verified", which a freshly reset card never is: do not guess.
    raise CardCommunication(f"VERIFY {response.sw_hex}")


def _verify(channel: CardChannel, pin: Pin) -> None:
    apdu = bytearray(b"\x00\x20\x00\x80\x04")
    apdu += pin._digits
    try:
        response = channel.transmit(bytes(apdu))
    finally:
        for i in range(len(apdu)):
            apdu[i] = 0
    _trace("VERIFY (PIN)", response)
    if response.sw == SW_OK:
        return
    if response.sw & 0xFFF0 == 0x63C0:
        tries = response.sw & 0x0F
        if tries == 0:
            raise PinBlocked()
        raise WrongPin(tries)
    if response.sw == SW_AUTH_BLOCKED:
        raise PinBlocked()
    raise CardCommunication(f"VERIFY {response.sw_hex}")


def read_basic_four(channel: CardChannel) -> MyNumberRead:
    """SELECT the 基本4情報 EF, READ BINARY all of it, and decode the four items."""
    _select_ef(channel, EF_BASIC_FOUR)
    head = _read_binary(channel, 0, _HEADER_READ)
    try:
        tag, length, value_at = tlv.read_header(head)
    except tlv.TlvError as exc:
        raise CardData(str(exc)) from None
    if tag != TAG_BASIC_FOUR:
        raise CardData(f"tag {tag:X}")
    total = value_at + length
    if total > _MAX_FILE:
        raise CardData(f"length {total}")
    data = bytearray(head[:total])
    while len(data) < total:
        chunk = _read_binary(channel, len(data), min(_CHUNK, total - len(data)))
        if not chunk:
            raise CardData(f"file ends at {len(data)} of {total}")
        data += chunk
    return decode_basic_four(bytes(data))


def decode_basic_four(data: bytes) -> MyNumberRead:
    """Decode the 基本4情報 EF (`FF 20` holding `DF 21`…`DF 25`) into the four items."""
    try:
        (outer,) = list(tlv.decode(data))
        if outer.tag != TAG_BASIC_FOUR:
            raise CardData(f"tag {outer.tag:X}")
        items = {element.tag: element.value for element in tlv.decode(outer.value)}
    except tlv.TlvError as exc:
        raise CardData(str(exc)) from None
    except ValueError:
        raise CardData("more than one element") from None
    missing = [f"{t:X}" for t in (TAG_NAME, TAG_ADDRESS, TAG_BIRTH, TAG_SEX) if t not in items]
    if missing:
        raise CardData("missing " + ", ".join(missing))
    try:
        name = items[TAG_NAME].decode("utf-8")
        address = items[TAG_ADDRESS].decode("utf-8")
        birth = items[TAG_BIRTH].decode("ascii")
        sex = items[TAG_SEX].decode("ascii")
    except UnicodeDecodeError:
        raise CardData("text encoding") from None
    if len(birth) != 8 or not birth.isdigit():
        raise CardData("birth date format")
    if sex not in ("0", "1", "2", "9"):
        raise CardData("sex code")
    return MyNumberRead(name=name, address=address, birth_date=birth, sex=sex)


def _select_ef(channel: CardChannel, fid: int) -> None:
    if fid not in _ALLOWED_EFS:
        # A programming error, never a card's answer: fail loudly, before any byte is sent.
        raise AssertionError(f"refusing to select EF {fid:04X}: only the PIN and 基本4情報 EFs are read")
    response = exchange(channel, case3(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
    _trace(f"SELECT EF {fid:04X}", response)
    if response.sw != SW_OK:
        raise NotSupportedCard(
            f"（券面事項入力補助AP の EF {fid:04X} を選択できません: {response.sw_hex}）",
            f"(EF {fid:04X} of the input-support AP cannot be selected: {response.sw_hex})",
        )


def _read_binary(channel: CardChannel, offset: int, size: int) -> bytes:
    response = exchange(channel, case2(0x00, 0xB0, (offset >> 8) & 0x7F, offset & 0xFF, size))
    _trace(f"READ BINARY {offset}+{size}", response, data_len=True)
    if not response.ok:
        raise CardData(f"READ BINARY {response.sw_hex}")
    return response.data


def _trace(what: str, response: Response, data_len: bool = False) -> None:
    # Status words and lengths only: the data read is personal, and VERIFY carries the PIN.
    if data_len:
        log.debug("%s: sw=%s, %d bytes", what, response.sw_hex, len(response.data))
    else:
        log.debug("%s: sw=%s", what, response.sw_hex)
