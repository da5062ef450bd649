"""QR card payloads: short, signed, opaque, and free of personal data.

Payload: ``EV1:`` + base32(person id (4 bytes) ‖ card serial (4 bytes) ‖ HMAC-SHA256 truncated to
8 bytes), 30 characters in QR alphanumeric mode, so a version 2 code with room for error
correction. The fallback code printed under the QR for damaged cards is the serial and a 28-bit
MAC in Crockford base32, 12 characters grouped ``XXXX-XXXX-XXXX`` (no I, L, O, U to misread).

These are pure functions of a key and two integers; looking cards up is `evac.cards.service`'s job.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
import unicodedata
from dataclasses import dataclass

PREFIX = "EV1:"
_MAC_BYTES = 8
_BODY = struct.Struct(">II")  # person id, card serial
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_READ = {c: i for i, c in enumerate(_CROCKFORD)} | {"I": 1, "L": 1, "O": 0}
MAX_ID = 2**32 - 1


class TokenMalformed(ValueError):
    """Not an evac card payload at all (wrong prefix, alphabet or length)."""


class TokenSignatureInvalid(ValueError):
    """Well formed, but the MAC does not match: forged or altered."""

    def __init__(self, person_id: int, serial: int) -> None:
        super().__init__("card signature does not verify")
        self.person_id = person_id
        self.serial = serial


@dataclass(frozen=True)
class CardRef:
    """What a verified payload names: a person and one of their card serials."""

    person_id: int
    serial: int


def _mac(key: bytes, domain: bytes, message: bytes) -> bytes:
    return hmac.new(key, domain + message, hashlib.sha256).digest()


def encode(key: bytes, person_id: int, serial: int) -> str:
    """The QR payload of a card."""
    if not (0 < person_id <= MAX_ID and 0 < serial <= MAX_ID):
        raise ValueError("person id and serial must fit in 32 bits")
    body = _BODY.pack(person_id, serial)
    tag = _mac(key, b"evac-card-v1|", body)[:_MAC_BYTES]
    return PREFIX + base64.b32encode(body + tag).decode("ascii").rstrip("=")


def decode(key: bytes, payload: str) -> CardRef:
    """Verify a scanned payload (constant-time MAC check) and return the card it names."""
    text = unicodedata.normalize("NFKC", payload).strip().upper()
    if not text.startswith(PREFIX):
        raise TokenMalformed("not an evac card")
    encoded = text[len(PREFIX):]
    if len(encoded) != 26 or not re.fullmatch(r"[A-Z2-7]+", encoded):
        raise TokenMalformed("wrong length or alphabet")
    try:
        raw = base64.b32decode(encoded + "======")
    except binascii.Error as exc:
        raise TokenMalformed("not base32") from exc
    body, tag = raw[: _BODY.size], raw[_BODY.size:]
    person_id, serial = _BODY.unpack(body)
    expected = _mac(key, b"evac-card-v1|", body)[:_MAC_BYTES]
    # A re-encoding of the same bytes with other trailing bits must not pass as the same card.
    if not hmac.compare_digest(tag, expected) or encode_raw(body + expected) != encoded:
        raise TokenSignatureInvalid(person_id, serial)
    return CardRef(person_id, serial)


def encode_raw(raw: bytes) -> str:
    """Base32 without padding, as the payload carries it."""
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def fallback_code(key: bytes, serial: int) -> str:
    """The short code printed under the QR: serial (32 bits) and MAC (28 bits), Crockford base32."""
    mac = int.from_bytes(_mac(key, b"evac-fallback-v1|", struct.pack(">I", serial))[:4], "big") >> 4
    value = (serial << 28) | mac
    chars = "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(55, -1, -5))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def decode_fallback(key: bytes, code: str) -> int:
    """Verify a typed fallback code and return the card serial it names."""
    text = re.sub(r"[\s\-‐－ー]", "", unicodedata.normalize("NFKC", code)).upper()
    if len(text) != 12 or any(c not in _CROCKFORD_READ for c in text):
        raise TokenMalformed("fallback code must be 12 characters")
    value = 0
    for c in text:
        value = (value << 5) | _CROCKFORD_READ[c]
    serial = value >> 28
    if not hmac.compare_digest(fallback_code(key, serial).replace("-", ""), _canonical(text)):
        raise TokenSignatureInvalid(0, serial)
    return serial


def _canonical(text: str) -> str:
    return "".join(_CROCKFORD[_CROCKFORD_READ[c]] for c in text)


def looks_like_fallback(text: str) -> bool:
    """True if `text` has the shape of a fallback code rather than a QR payload."""
    return not unicodedata.normalize("NFKC", text).strip().upper().startswith(PREFIX)
