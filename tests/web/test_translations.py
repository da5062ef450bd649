"""The English catalogue: every Japanese message has its English, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

CATALOGUE = Path(__file__).resolve().parents[2] / "evac" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def test_every_message_is_translated_with_its_placeholders() -> None:
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    missing, mismatched = [], []
    for message in catalogue:
        if not message.id or not isinstance(message.id, str):
            continue
        if not message.string:
            missing.append(message.id)
        elif set(PLACEHOLDER.findall(message.id)) != set(PLACEHOLDER.findall(str(message.string))):
            mismatched.append(message.id)
    assert not missing, f"untranslated (make messages, then add the English): {missing}"
    assert not mismatched, f"placeholders differ: {mismatched}"
