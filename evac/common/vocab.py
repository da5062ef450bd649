"""The domain's shared vocabulary, defined once: sex, needs, whereabouts, Tokyo time and age.

Each term has its stored value, and a Japanese label. Labels are message ids marked with `N_`
(extracted into the English catalogue, see the Makefile's `messages` target): `label()` gives
them in the current language for pages, and data formats (CSV exports, the 安否情報 form, the
printed roster) use the Japanese text itself, in every language.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext

TOKYO = ZoneInfo("Asia/Tokyo")


def N_(message: str) -> str:  # noqa: N802 - the customary name of a gettext no-op marker
    """Mark a Japanese message id for extraction without translating it here."""
    return message


def label(message: str) -> str:
    """A vocabulary label (a Japanese message id) in the current language."""
    return gettext(message)


def tokyo_today(now: datetime | None = None) -> date:
    """Today's date in Japan (the date a desk, a card or a roster means), not UTC's."""
    return (now or datetime.now(TOKYO)).astimezone(TOKYO).date()


def age(born: date | None, today: date | None = None) -> int | None:
    """Age in whole years on `today` (default: today in Japan); None when the birth date is unknown."""
    if born is None:
        return None
    today = today or tokyo_today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class Sex(enum.StrEnum):
    """④男女の別, with room for those who do not answer."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"  # 回答しない


SEX_LABELS: dict[Sex, str] = {Sex.MALE: N_("男"), Sex.FEMALE: N_("女"), Sex.OTHER: N_("回答しない")}
# For narrow printed columns (the paper roster).
SEX_SHORT: dict[Sex, str] = {Sex.MALE: "男", Sex.FEMALE: "女", Sex.OTHER: "—"}


class Need(enum.IntFlag):
    """要配慮 categories, stored as a bitmask so shelters can count them in one aggregate."""

    ELDERLY = 1  # 高齢者
    DISABILITY = 2  # 障害者
    INFANT = 4  # 乳幼児
    PREGNANT = 8  # 妊産婦
    LANGUAGE = 16  # 外国人・言語支援
    ALLERGY = 32  # アレルギー (details in Person.allergy)
    MEDICAL = 64  # 医療機器・慢性疾患
    CARE = 128  # 要介護
    INJURY = 256  # 病気・けが


# Need keys as the API names them (elderly, infant, …), in the order of `Need`.
NEED_KEYS: dict[str, Need] = {flag.name.lower(): flag for flag in Need}  # type: ignore[union-attr]
NEED_LABELS: dict[Need, str] = {
    Need.ELDERLY: N_("高齢者"), Need.DISABILITY: N_("障害者"), Need.INFANT: N_("乳幼児"),
    Need.PREGNANT: N_("妊産婦"), Need.LANGUAGE: N_("外国人・言語支援"), Need.ALLERGY: N_("アレルギー"),
    Need.MEDICAL: N_("医療機器・慢性疾患"), Need.CARE: N_("要介護"), Need.INJURY: N_("病気・けが"),
}


def needs_mask(keys: Iterable[str]) -> int:
    """Need keys (elderly, infant, …) as the stored bitmask."""
    mask = 0
    for key in keys:
        mask |= NEED_KEYS[key]
    return mask


def need_keys(mask: int) -> list[str]:
    """The stored bitmask as need keys, in a stable order."""
    return [key for key, flag in NEED_KEYS.items() if mask & flag]


def needs_text(mask: int) -> str:
    """The 要配慮 categories of a bitmask in Japanese, joined with ・ (for data formats)."""
    return "・".join(text for flag, text in NEED_LABELS.items() if mask & flag)


class StayStatus(enum.StrEnum):
    """Whereabouts of a person attached to a shelter."""

    PRESENT = "present"  # 在所
    OUTING = "outing"  # 外出
    LEFT = "left"  # 退所
    TRANSFERRED = "transferred"  # 移動
    AT_HOME = "at_home"  # 在宅避難
    IN_CAR = "in_car"  # 車中泊


# Open stays: the person belongs to the shelter (sleeping there, out for a while, at home, in a car).
OPEN_STAY_STATUSES = frozenset({StayStatus.PRESENT, StayStatus.OUTING, StayStatus.AT_HOME, StayStatus.IN_CAR})
# Those who sleep at the shelter and take a place in it (an outing keeps the place).
OCCUPYING = frozenset({StayStatus.PRESENT, StayStatus.OUTING})
STATUS_LABELS: dict[StayStatus, str] = {
    StayStatus.PRESENT: N_("在所"), StayStatus.OUTING: N_("外出中"), StayStatus.LEFT: N_("退所済み"),
    StayStatus.TRANSFERRED: N_("移動済み"), StayStatus.AT_HOME: N_("在宅避難"), StayStatus.IN_CAR: N_("車中泊"),
}
# For narrow printed columns (the paper roster).
STATUS_SHORT: dict[StayStatus, str] = {
    StayStatus.PRESENT: "在所", StayStatus.OUTING: "外出", StayStatus.LEFT: "退所", StayStatus.TRANSFERRED: "移動",
    StayStatus.AT_HOME: "在宅", StayStatus.IN_CAR: "車中泊",
}


class CheckinMethod(enum.StrEnum):
    """How the person was identified at the desk."""

    QR = "qr"
    MYNUMBER = "mynumber"
    IC = "ic"
    PAPER = "paper"
    MANUAL = "manual"  # chosen from the roster, a search or the household list by staff
