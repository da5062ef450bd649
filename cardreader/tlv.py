"""A small BER-TLV decoder: just what the 基本4情報 file needs (ISO/IEC 7816-4 / X.690 rules).

Tags are kept as the integer of their bytes (`0xDF22`, `0xFF20`), which is how the card's layout
is usually written down.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


class TlvError(ValueError):
    """The bytes are not well-formed BER-TLV. The message names offsets, never the data."""


@dataclass(frozen=True)
class Tlv:
    """One decoded element."""

    tag: int
    value: bytes

    @property
    def constructed(self) -> bool:
        """True when the value is itself a sequence of TLV elements (bit 6 of the first tag byte)."""
        first = self.tag.to_bytes((self.tag.bit_length() + 7) // 8 or 1, "big")[0]
        return bool(first & 0x20)


def read_header(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """Decode the tag and length at `offset`: (tag, value length, offset of the value)."""
    end = len(data)
    if offset >= end:
        raise TlvError(f"no tag at offset {offset}")
    first = data[offset]
    tag = first
    pos = offset + 1
    if first & 0x1F == 0x1F:  # high tag number form: more tag bytes while bit 8 is set
        while True:
            if pos >= end:
                raise TlvError(f"tag truncated at offset {offset}")
            b = data[pos]
            tag = (tag << 8) | b
            pos += 1
            if not b & 0x80:
                break
            if pos - offset > 4:
                raise TlvError(f"tag too long at offset {offset}")
    if pos >= end:
        raise TlvError(f"length missing at offset {pos}")
    b = data[pos]
    pos += 1
    if b < 0x80:
        length = b
    elif b == 0x80:
        raise TlvError(f"indefinite length at offset {pos - 1}")
    else:
        count = b & 0x7F
        if count > 3:
            raise TlvError(f"length of {count} bytes at offset {pos - 1}")
        if pos + count > end:
            raise TlvError(f"length truncated at offset {pos - 1}")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, length, pos


def decode(data: bytes) -> Iterator[Tlv]:
    """Decode a sequence of TLV elements filling `data` exactly."""
    pos = 0
    while pos < len(data):
        tag, length, start = read_header(data, pos)
        stop = start + length
        if stop > len(data):
            raise TlvError(f"value of tag {tag:X} runs past the end ({stop} > {len(data)})")
        yield Tlv(tag, data[start:stop])
        pos = stop
