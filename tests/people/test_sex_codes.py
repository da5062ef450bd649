"""Sex as card readers, paper cards and the API write it: the My Number card's ISO 5218 codes included."""

from __future__ import annotations

import pytest
from flask import Flask

from evac.common.errors import ValidationFailed
from evac.common.vocab import Sex
from evac.people.service import parse_sex


@pytest.mark.parametrize(("text", "sex"), [
    ("1", Sex.MALE), ("2", Sex.FEMALE), ("9", Sex.OTHER), ("0", Sex.OTHER), ("3", Sex.OTHER),
    ("９", Sex.OTHER), (" 2 ", Sex.FEMALE), ("male", Sex.MALE), ("Female", Sex.FEMALE), ("other", Sex.OTHER),
    ("男", Sex.MALE), ("女性", Sex.FEMALE), ("回答しない", Sex.OTHER),
])
def test_card_codes_and_words(app: Flask, text: str, sex: Sex) -> None:
    assert parse_sex(text) is sex


@pytest.mark.parametrize("text", ["", "4", "x", "12"])
def test_anything_else_is_refused(app: Flask, text: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_sex(text)
