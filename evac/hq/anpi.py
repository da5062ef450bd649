"""The 安否情報収集様式 (国民保護法 様式第1号) items ①–⑭ of one evacuee, and CP932-safe text.

Shared by HQ's 安否情報 export and the sync CSV connector, so both write the form the same way.
A data format, not user-interface text: the headings are never translated.
"""

from __future__ import annotations

import unicodedata

from evac.common.vocab import SEX_LABELS, Need, StayStatus, needs_text
from evac.people.models import Household, Person
from evac.shelters.models import Shelter
from evac.stays.models import Stay

__all__ = ["COLUMNS", "SEX_LABELS", "cp932_safe", "needs_text", "row", "whereabouts"]

COLUMNS = (
    "①氏名", "②フリガナ", "③出生の年月日", "④男女の別", "⑤住所(郵便番号を含む)", "⑥国籍",
    "⑦その他個人を識別するための情報", "⑧負傷(疾病)の該当", "⑨負傷又は疾病の状況", "⑩現在の居所",
    "⑪連絡先その他必要情報", "⑫親族・同居者からの照会に対する回答の希望",
    "⑬知人からの照会に対する回答の希望", "⑭その他の者への回答又は公表への同意",
)
GETA = "〓"  # printed where CP932 has no such character
# Characters whose Unicode form differs from what CP932 maps (JIS X 0208 ⇔ Unicode variants).
_CP932_FOLD = str.maketrans({
    "\u301c": "\uff5e", "\u2016": "\u2225", "\u2212": "\uff0d", "\u00a2": "\uffe0", "\u00a3": "\uffe1",
    "\u00ac": "\uffe2", "\u2014": "\u2015", "\u00a6": "\uffe4",
})


def cp932_safe(text: str) -> tuple[str, int]:
    """`text` with what CP932 cannot encode folded or replaced by 〓, and how many were replaced."""
    text = text.translate(_CP932_FOLD)
    try:
        text.encode("cp932")
        return text, 0
    except UnicodeEncodeError:
        pass
    out, replaced = [], 0
    for char in text:
        for candidate in (char, unicodedata.normalize("NFKC", char).translate(_CP932_FOLD)):
            try:
                candidate.encode("cp932")
            except UnicodeEncodeError:
                continue
            out.append(candidate)
            break
        else:
            out.append(GETA)
            replaced += 1
    return "".join(out), replaced


def whereabouts(stay: Stay, shelter: Shelter) -> str:
    """⑩現在の居所: the shelter, or 在宅 / 車中泊 (registered at the shelter) for those staying elsewhere."""
    if stay.status is StayStatus.AT_HOME:
        return f"在宅（{shelter.name}で受付）"
    if stay.status is StayStatus.IN_CAR:
        return f"車中泊（{shelter.name}で受付）"
    if stay.status is StayStatus.OUTING:
        return f"{shelter.name}（外出中）"
    return shelter.name


def _contact(person: Person) -> str:
    parts = []
    if person.phone:
        parts.append(f"電話:{person.phone}")
    needs = needs_text(person.needs)
    if needs:
        parts.append(f"要配慮:{needs}")
    if person.allergy:
        parts.append(f"アレルギー:{person.allergy}")
    if person.language:
        parts.append(f"言語:{person.language}")
    if person.pets:
        parts.append(f"ペット:{person.pets}")
    return " / ".join(parts)


def _join(*parts: str | None) -> str:
    return "　".join(p for p in parts if p)


def row(stay: Stay, person: Person, household: Household | None, shelter: Shelter) -> list[str]:
    """One evacuee as the fourteen items of the form, in order."""
    address = person.address or ""
    if person.postal_code:
        address = f"〒{person.postal_code} {address}"
    identifying = [f"evac:{person.id}"]
    if household is not None:
        identifying.append(f"世帯番号:{household.number}")
    return [
        _join(person.family_name, person.given_name),
        _join(person.family_name_kana, person.given_name_kana),
        person.birth_date.isoformat() if person.birth_date else "",
        SEX_LABELS.get(person.sex, ""),
        address,
        person.nationality or "",
        " ".join(identifying),
        "該当" if person.needs & (Need.INJURY | Need.MEDICAL) else "非該当",
        person.condition_note or "",
        whereabouts(stay, shelter),
        _contact(person),
        "希望する" if person.consent_relatives else "希望しない",
        "希望する" if person.consent_acquaintances else "希望しない",
        "同意する" if person.consent_public else "同意しない",
    ]
