"""The My Number and IC card logic over a fake channel: no PC/SC needed, so these always run."""

from __future__ import annotations

import subprocess
import sys
import traceback

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardreader import mynumber
from cardreader.apdu import Response, exchange
from cardreader.card import read_card, storage_card_standard
from cardreader.client import check_server_url
from cardreader.errors import (
    BadServerUrl,
    CardCommunication,
    CardData,
    NotSupportedCard,
    PinFormat,
    PinNearlyBlocked,
    WrongPin,
)
from cardreader.reads import IcRead, MyNumberRead, to_json

pytestmark = pytest.mark.cardreader

IC_ATR = bytes.fromhex("3B8F8001804F0CA0000003060300010000000000" + "6A")
MYNUMBER_ATR = bytes.fromhex("3B88800100000000338181003A")


def tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    length = bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else bytes([0x82, n >> 8, n & 0xFF])
    return tag.to_bytes(2, "big") + length + value


def basic_four(name: str, address: str, birth: str = "19800102", sex: str = "2") -> bytes:
    body = tlv(0xDF21, b"\x00" * 8) + tlv(0xDF22, name.encode()) + tlv(0xDF23, address.encode()) \
        + tlv(0xDF24, birth.encode()) + tlv(0xDF25, sex.encode())
    return tlv(0xFF20, body)


class FakeCard:
    """Answers the APDUs of the 券面事項入力補助AP like the real card, and records them."""

    def __init__(self, content: bytes, pin: str = "1234", tries: int = 3, has_ap: bool = True,
                 uid: bytes | None = None) -> None:
        self.content, self.pin, self.tries, self.has_ap, self.uid = content, pin, tries, has_ap, uid
        self.apdus: list[bytes] = []
        self.ef: int | None = None
        self.verified = False

    def transmit(self, apdu: bytes) -> Response:
        self.apdus.append(apdu)
        if apdu[:2] == b"\xff\xca":
            return Response(self.uid, 0x9000) if self.uid else Response(b"", 0x6A81)
        if apdu[:4] == b"\x00\xa4\x04\x0c":
            return Response(b"", 0x9000 if self.has_ap and apdu[5:] == mynumber.KENHOJO_AP_AID else 0x6A82)
        if apdu[:4] == b"\x00\xa4\x02\x0c":
            self.ef = int.from_bytes(apdu[5:7], "big")
            return Response(b"", 0x9000)
        if apdu[:4] == b"\x00\x20\x00\x80":
            if len(apdu) == 4:
                return Response(b"", 0x63C0 | self.tries)
            if apdu[5:] == self.pin.encode():
                self.verified = True
                return Response(b"", 0x9000)
            self.tries -= 1
            return Response(b"", 0x63C0 | self.tries)
        if apdu[:2] == b"\x00\xb0":
            assert self.verified and self.ef == mynumber.EF_BASIC_FOUR
            offset, le = (apdu[2] << 8) | apdu[3], apdu[4] or 256
            chunk = self.content[offset:offset + le]
            return Response(chunk, 0x9000 if len(chunk) == le else 0x6282)
        return Response(b"", 0x6D00)


def pin(text: str = "1234"):
    return lambda tries: mynumber.Pin(text)


@given(name=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60),
       address=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300),
       birth=st.from_regex(r"\A[0-9]{8}\Z"), sex=st.sampled_from(["1", "2", "9"]))
def test_the_basic_four_decode_as_encoded(name, address, birth, sex):
    read = mynumber.decode_basic_four(basic_four(name, address, birth, sex))
    assert (read.name, read.address, read.birth_date, read.sex) == (name, address, birth, sex)


@pytest.mark.parametrize("data", [
    b"",
    basic_four("精華　花子", "京都府")[:-3],          # truncated
    b"\xff\x20\x80\x00\x00",                         # indefinite length
    tlv(0xFF21, b"\x00"),                            # another file
    tlv(0xFF20, tlv(0xDF22, "名".encode())),          # items missing
    tlv(0xFF20, tlv(0xDF22, b"\xff\xfe") + tlv(0xDF23, b"a") + tlv(0xDF24, b"19800102") + tlv(0xDF25, b"1")),
])
def test_malformed_files_are_refused_without_echoing_their_bytes(data):
    with pytest.raises(CardData) as raised:
        mynumber.decode_basic_four(data)
    assert "京都府" not in str(raised.value) and "名" not in str(raised.value)


def test_a_long_file_is_read_in_short_apdus():
    address = "京都府相楽郡精華町精華台九丁目二番地の三" * 12
    card = FakeCard(basic_four("精華　花子", address))
    read = read_card(card, MYNUMBER_ATR, pin())
    assert read.address == address
    reads = [a for a in card.apdus if a[:2] == b"\x00\xb0"]
    assert len(reads) >= 4
    assert all(len(a) == 5 and 1 <= (a[4] or 256) <= 255 and not a[2] & 0x80 for a in reads)


def test_the_my_number_ef_can_never_be_selected():
    card = FakeCard(b"")
    with pytest.raises(AssertionError):
        mynumber._select_ef(card, 0x0001)
    assert card.apdus == [], "refused before a byte went to the card"


def test_one_try_left_stops_before_asking_for_the_pin():
    asked: list[int] = []

    def ask(tries: int) -> mynumber.Pin:
        asked.append(tries)
        return mynumber.Pin("1234")

    card = FakeCard(basic_four("a", "b"), tries=1)
    with pytest.raises(PinNearlyBlocked):
        read_card(card, MYNUMBER_ATR, ask)
    assert asked == []
    assert not [a for a in card.apdus if a[:4] == b"\x00\x20\x00\x80" and len(a) > 4]


def test_a_wrong_pin_leaving_one_try_says_no_more_tries_here():
    card = FakeCard(basic_four("a", "b"), tries=2)
    wrong = "98" + "76"  # built at run time so the test's own source line cannot match below
    with pytest.raises(WrongPin) as raised:
        read_card(card, MYNUMBER_ATR, pin(wrong))
    assert raised.value.tries_left == 1
    assert "これ以上" in raised.value.ja and "no further try" in raised.value.en
    text = "".join(traceback.format_exception(raised.value))
    assert "9876" not in text, "the PIN is in no message or traceback"


def test_the_pin_is_four_digits_and_never_shown():
    for bad in ("", "123", "12345", "12a4", "１２３４"):
        with pytest.raises(PinFormat):
            mynumber.Pin(bad)
    secret = mynumber.Pin("4321")
    assert "4321" not in repr(secret) and "4321" not in str(secret)
    secret.wipe()
    assert "4321" not in repr(secret)


def test_an_unexpected_answer_to_the_tries_query_is_not_guessed_at():
    class AlreadyVerified(FakeCard):
        def transmit(self, apdu: bytes) -> Response:
            if apdu == b"\x00\x20\x00\x80":
                self.apdus.append(apdu)
                return Response(b"", 0x9000)
            return super().transmit(apdu)

    card = AlreadyVerified(basic_four("a", "b"))
    with pytest.raises(CardCommunication):
        read_card(card, MYNUMBER_ATR, pin())
    assert not [a for a in card.apdus if a[:2] == b"\x00\xb0"]


def test_a_storage_card_only_gets_get_data():
    card = FakeCard(b"", uid=bytes.fromhex("0123456789ABCDEF"))
    assert storage_card_standard(IC_ATR) == 0x03
    assert read_card(card, IC_ATR, pin()) == IcRead("0123456789ABCDEF")
    assert card.apdus == [bytes.fromhex("FFCA000000")]


def test_a_card_without_the_ap_nor_a_uid_is_not_supported():
    card = FakeCard(b"", has_ap=False)
    with pytest.raises(NotSupportedCard):
        read_card(card, MYNUMBER_ATR, pin())


def test_get_response_and_wrong_le_are_followed():
    class Chatty:
        def __init__(self) -> None:
            self.apdus: list[bytes] = []

        def transmit(self, apdu: bytes) -> Response:
            self.apdus.append(apdu)
            if apdu == bytes.fromhex("00B0000010"):
                return Response(b"", 0x6C04)
            if apdu == bytes.fromhex("00B0000004"):
                return Response(b"ab", 0x6102)
            if apdu == bytes.fromhex("00C0000002"):
                return Response(b"cd", 0x9000)
            return Response(b"", 0x6D00)

    channel = Chatty()
    assert exchange(channel, bytes.fromhex("00B0000010")) == Response(b"abcd", 0x9000)


def test_reads_hide_their_values_and_print_as_the_desk_expects():
    read = MyNumberRead("精華　花子", "京都府相楽郡精華町", "19800102", "2")
    assert "精華" not in repr(read) and "1980" not in repr(read)
    assert to_json(read) == ('{"type": "mynumber", "card": {"name": "精華　花子", "address": "京都府相楽郡精華町", '
                             '"birth_date": "19800102", "sex": "2"}}')
    assert "0123" not in repr(IcRead("0123ABCD"))


@pytest.mark.parametrize(("url", "ok"), [
    ("https://evac.town.seika.kyoto.jp/", True), ("http://127.0.0.1:8000", True), ("http://localhost:8000", True),
    ("http://[::1]:8000", True), ("http://192.168.1.10:8000", False), ("http://evac.example", False),
    ("ftp://evac.example", False), ("evac.example", False),
])
def test_only_https_or_loopback_http(url, ok):
    if ok:
        assert check_server_url(url) == url.rstrip("/")
    else:
        with pytest.raises(BadServerUrl):
            check_server_url(url)


def test_cardreader_imports_neither_flask_nor_evac():
    code = ("import sys, cardreader.cli, cardreader.felica, cardreader.pcsc\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'evac', 'sync', 'printables'))\n"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
