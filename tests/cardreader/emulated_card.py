"""An emulated card for vsmartcard's virtual reader (vpcd), run as its own process.

It extends vpicc's card model (`virtualsmartcard.VirtualSmartcard.SmartcardOS`, driven by its
`VirtualICC` socket loop) with:

- `mynumber`: a My Number card's 券面事項入力補助AP (AID D3 92 10 00 31 00 01 01 04 08) with the
  PIN EF 0011 (retry counter, persisted in --state), the 基本4情報 EF 0002, the 個人番号 EF 0001
  and the other EFs of the AP, plus the JPKI and 券面 APs so that selecting any of them would
  succeed (and be recorded);
- `ic`: a PC/SC Part 3 storage card (ISO 14443 A) that only answers GET DATA FF CA with its UID;
- `other`: an ISO 7816 card with none of that (neither the AP nor a UID).

Every command APDU received is appended to --log as a JSON line {"apdu": hex} before it is
answered, and its answer as {"sw": hex, "len": n}, so a test can prove what the reader sent (and what it never sent).

Run with the Python the Debian package `vsmartcard-vpicc` was built for, with its package on
PYTHONPATH; this file does not import evac or cardreader.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import socket
import sys
import time
import types

try:
    import Crypto  # noqa: F401 - vpicc's optional secure-messaging crypto
except ImportError:
    # Debian bookworm's python3-virtualsmartcard imports pycrypto (`Crypto`), which bookworm no
    # longer ships; this card uses no secure messaging, so an empty module stands in for it.
    sys.modules["virtualsmartcard.CryptoUtils"] = types.ModuleType("virtualsmartcard.CryptoUtils")

from virtualsmartcard.VirtualSmartcard import SmartcardOS, VirtualICC

KENHOJO_AP = bytes.fromhex("D3921000310001010408")
JPKI_AP = bytes.fromhex("D392F000260100000001")
KENMEN_AP = bytes.fromhex("D3921000310001010402")
PIN_EF = 0x0011
PROTECTED = {0x0001, 0x0002, 0x0003}  # readable only after VERIFY, as on the real card


def tlv(tag: int, value: bytes) -> bytes:
    """BER-TLV with a two-byte tag and the shortest definite length."""
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82, n >> 8, n & 0xFF])
    return tag.to_bytes(2, "big") + length + value


def basic_four(name: str, address: str, birth: str, sex: str) -> bytes:
    """The 基本4情報 EF: FF 20 { DF 21 offsets, DF 22 name, DF 23 address, DF 24 birth, DF 25 sex }."""
    items = [tlv(0xDF22, name.encode("utf-8")), tlv(0xDF23, address.encode("utf-8")),
             tlv(0xDF24, birth.encode("ascii")), tlv(0xDF25, sex.encode("ascii"))]
    # DF 21 holds the offsets of the four items inside the file, as the card's signature uses them.
    header_len = 4 + 3 + 8  # FF 20 82 xx xx, DF 21 08, 8 bytes (assume the long form below)
    offsets, at = b"", header_len
    for item in items:
        offsets += at.to_bytes(2, "big")
        at += len(item)
    body = tlv(0xDF21, offsets) + b"".join(items)
    return b"\xff\x20\x82" + len(body).to_bytes(2, "big") + body


def atr_for(kind: str) -> bytes:
    """An ATR as a PC/SC contactless reader builds it (Part 3), or an ISO 7816 one for `other`."""
    if kind == "ic":
        hist = bytes.fromhex("804F0CA0000003060300010000000000")[:15]
    elif kind == "mynumber":
        hist = bytes.fromhex("0000000033818100")  # ISO 14443 B: application data, protocol info
    else:
        hist = b"\x00EVACOTHER"
    body = bytes([0x80 | len(hist), 0x80, 0x01]) + hist
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


class EmulatedCardOS(SmartcardOS):
    """The card's operating system: parses each APDU, logs it, answers like the real card."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.kind = args.kind
        self.log = open(args.log, "a", buffering=1, encoding="utf-8")
        self.retries = self._load_retries()
        self.files = {
            0x0001: tlv(0xDF10, b"\xff" * 12),  # the 個人番号 EF (a dummy, no digits): must never be selected
            0x0002: basic_four(args.name, args.address, args.birth, args.sex),
            0x0003: b"\x30\x00",
            0x0004: b"\x7f\x21\x00",
            0x0005: b"\x00" * 16,
        }
        self.uid = bytes.fromhex(args.uid)
        self.reset()

    # vpicc's hooks
    def getATR(self) -> bytes:  # noqa: N802 - vpicc names its hooks in camelCase
        return atr_for(self.kind)

    def powerUp(self) -> None:  # noqa: N802
        self.reset()

    def powerDown(self) -> None:  # noqa: N802
        self.reset()

    def reset(self) -> None:
        self.df: bytes | None = None
        self.ef: int | None = None
        self.verified = False

    def execute(self, msg: bytes) -> bytes:
        # Logged before it is answered, so a command the card never answers is on record too.
        self.log.write(json.dumps({"apdu": msg.hex().upper()}) + "\n")
        self.log.flush()
        if self.args.stall_on and msg[1:2] == bytes.fromhex(self.args.stall_on):
            # The test kills this process now: the reader sees a card pulled mid-read.
            time.sleep(60)
        data, sw = self._answer(msg)
        self.log.write(json.dumps({"sw": sw.hex().upper(), "len": len(data)}) + "\n")
        self.log.flush()
        return data + sw

    # the card
    def _answer(self, msg: bytes) -> tuple[bytes, bytes]:
        if len(msg) < 4:
            return b"", b"\x67\x00"
        cla, ins, p1, p2 = msg[:4]
        body = msg[4:]
        data, le = b"", None
        if len(body) == 1:
            le = body[0] or 256
        elif len(body) > 1:
            lc = body[0]
            data = body[1:1 + lc]
            if len(body) > 1 + lc:
                le = body[1 + lc] or 256
        if cla == 0xFF:
            if ins == 0xCA and self.kind in ("ic", "mynumber"):
                uid = self.uid if self.kind == "ic" else secrets.token_bytes(4)  # Type B: a PUPI
                return uid, b"\x90\x00"
            return b"", b"\x6e\x00"
        if cla != 0x00:
            return b"", b"\x6e\x00"
        if self.kind == "ic":
            return b"", b"\x6d\x00"
        if ins == 0xA4:
            return self._select(p1, p2, data)
        if ins == 0x20:
            return self._verify(p1, p2, data)
        if ins == 0xB0:
            return self._read_binary(p1, p2, le or 256)
        return b"", b"\x6d\x00"

    def _select(self, p1: int, p2: int, data: bytes) -> tuple[bytes, bytes]:
        if p1 == 0x04:
            if self.kind == "mynumber" and data in (KENHOJO_AP, JPKI_AP, KENMEN_AP):
                self.df, self.ef, self.verified = data, None, False
                return b"", b"\x90\x00"
            return b"", b"\x6a\x82"
        if p1 == 0x02 and self.df == KENHOJO_AP and len(data) == 2:
            fid = int.from_bytes(data, "big")
            if fid == PIN_EF or fid in self.files:
                self.ef = fid
                return b"", b"\x90\x00"
        return b"", b"\x6a\x82"

    def _verify(self, p1: int, p2: int, data: bytes) -> tuple[bytes, bytes]:
        if p1 != 0x00 or p2 != 0x80:
            return b"", b"\x6a\x86"
        if self.ef != PIN_EF:
            return b"", b"\x69\x86"
        if self.retries == 0:
            return b"", b"\x69\x83"
        if not data:
            return b"", bytes([0x63, 0xC0 | self.retries])
        if data == self.args.pin.encode("ascii"):
            self.retries = 3
            self._save_retries()
            self.verified = True
            return b"", b"\x90\x00"
        self.retries -= 1
        self._save_retries()
        return b"", bytes([0x63, 0xC0 | self.retries])

    def _read_binary(self, p1: int, p2: int, le: int) -> tuple[bytes, bytes]:
        if p1 & 0x80:
            return b"", b"\x6a\x86"
        if self.ef is None or self.ef == PIN_EF:
            return b"", b"\x69\x86"
        if self.ef in PROTECTED and not self.verified:
            return b"", b"\x69\x82"
        content = self.files[self.ef]
        offset = (p1 << 8) | p2
        if offset > len(content):
            return b"", b"\x6b\x00"
        chunk = content[offset:offset + le]
        return chunk, (b"\x90\x00" if len(chunk) == le else b"\x62\x82")

    def _load_retries(self) -> int:
        if self.args.state and os.path.exists(self.args.state):
            with open(self.args.state, encoding="utf-8") as f:
                return int(json.load(f)["retries"])
        self.retries = self.args.retries
        self._save_retries()
        return self.args.retries

    def _save_retries(self) -> None:
        if self.args.state:
            tmp = self.args.state + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"retries": self.retries}, f)
            os.replace(tmp, self.args.state)


class EmulatedICC(VirtualICC):
    """vpicc's socket loop around our card (VirtualICC's own __init__ builds its stock cards)."""

    def __init__(self, os_: SmartcardOS, host: str, port: int) -> None:
        self.os = os_
        self.type = "evac-test"
        self.host = host
        self.port = port
        self.server_sock = None
        deadline = time.monotonic() + 10
        while True:  # vpcd may still be starting up: try for a while
            try:
                self.sock = socket.create_connection((host, port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=["mynumber", "ic", "other"], default="mynumber")
    parser.add_argument("--port", type=int, required=True, help="vpcd slot port")
    parser.add_argument("--log", required=True, help="APDU log (JSON lines)")
    parser.add_argument("--state", help="file keeping the PIN retry counter across runs")
    parser.add_argument("--pin", default="1234")
    parser.add_argument("--retries", type=int, default=3)
    parser.add_argument("--name", default="精華　花子")
    parser.add_argument("--address", default="京都府相楽郡精華町光台７丁目４３番地")
    parser.add_argument("--birth", default="19800102")
    parser.add_argument("--sex", default="2")
    parser.add_argument("--uid", default="04A1B2C3D4E5F6")
    parser.add_argument("--stall-on", help="INS byte (hex) at which the card stops answering")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    card = EmulatedICC(EmulatedCardOS(args), "127.0.0.1", args.port)
    print("ready", flush=True)
    try:
        card.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
