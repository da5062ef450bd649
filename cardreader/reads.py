"""What one read of a card yields, and its JSON form.

The JSON is the contract with the desk (the keyboard-wedge / BroadcastChannel line) and with the
server (`POST /api/v1/readers/reads`): `{"type": "mynumber", "card": {...}}` or
`{"type": "ic", "uid": "..."}`. Values are handed over as the card holds them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MyNumberRead:
    """The 基本4情報 of a My Number card, as the card holds them.

    `birth_date` is `YYYYMMDD`; `sex` is the ISO 5218 code the card stores (`1` male, `2` female,
    `9` not applicable). `repr` hides the values so a stray log line or traceback cannot leak them.
    """

    name: str
    address: str
    birth_date: str
    sex: str

    type = "mynumber"

    def payload(self) -> dict[str, Any]:
        """The read as the desk and the server take it."""
        return {"type": self.type, "card": {
            "name": self.name, "address": self.address, "birth_date": self.birth_date, "sex": self.sex}}

    def __repr__(self) -> str:
        return "MyNumberRead(<personal data hidden>)"


@dataclass(frozen=True)
class IcRead:
    """The UID of an IC card (ISO 14443 UID, or the FeliCa IDm) as upper-case hex."""

    uid: str

    type = "ic"

    def payload(self) -> dict[str, Any]:
        """The read as the desk and the server take it."""
        return {"type": self.type, "uid": self.uid}

    def __repr__(self) -> str:
        # A UID is a pseudonymous identifier, but it links a person across visits: keep it out too.
        return "IcRead(<uid hidden>)"


CardRead = MyNumberRead | IcRead


def to_json(read: CardRead) -> str:
    """One line of JSON, UTF-8 text (the Japanese as is, not \\u escapes)."""
    return json.dumps(read.payload(), ensure_ascii=False, separators=(", ", ": "))
