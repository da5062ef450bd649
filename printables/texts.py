"""Bilingual wording printed on the printables (Japanese first, English second).

These are printed in both languages whatever the reader's locale, so they live here as pairs rather
than in a translation catalogue; callers that want other wording pass their own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bilingual:
    """One text in Japanese and English."""

    ja: str
    en: str


CARD_TITLE = Bilingual("避難所受付カード", "Shelter check-in card")
CARD_RECEPTION = Bilingual("避難所の受付でこのカードを見せてください", "Show this card at the shelter reception")
CARD_HOUSEHOLD = Bilingual("世帯番号", "Household")
CARD_DISTRICT = Bilingual("地区", "District")
CARD_ISSUED = Bilingual("発行日", "Issued")
CARD_FALLBACK = Bilingual("読み取れないときの番号", "Code if the QR fails")

POSTER_HEADING = Bilingual("指定避難所", "Designated evacuation shelter")
POSTER_SCAN = Bilingual("避難所の開設状況・混雑状況", "Which shelters are open and how crowded")
POSTER_SCAN_HINT = Bilingual("スマートフォンで読み取ってください", "Scan with your smartphone")
POSTER_BRING = Bilingual("避難するときの持ち物", "What to bring")
POSTER_ITEMS: tuple[Bilingual, ...] = (
    Bilingual("避難所受付カード（QRコード）", "Your shelter check-in card (QR code)"),
    Bilingual("飲料水・非常食（3日分）", "Drinking water and food for 3 days"),
    Bilingual("常備薬・お薬手帳・眼鏡・補聴器", "Your medicines, medication notebook, glasses, hearing aid"),
    Bilingual("健康保険証・マイナンバーカード等の身分証", "Health insurance card, My Number card or other ID"),
    Bilingual("携帯電話・充電器・モバイルバッテリー", "Mobile phone, charger, power bank"),
    Bilingual("懐中電灯・ラジオ・予備の電池", "Torch, radio, spare batteries"),
    Bilingual("着替え・タオル・毛布", "Change of clothes, towel, blanket"),
    Bilingual("マスク・衛生用品・常用の介護用品", "Masks, hygiene and care supplies"),
    Bilingual("乳幼児のいる方：ミルク・おむつ", "With babies: formula and nappies"),
    Bilingual("現金（小銭）", "Some cash, including coins"),
)
POSTER_PETS = Bilingual("ペットはケージ・リード・餌をご用意ください", "Pets: bring a cage or lead and pet food")
POSTER_RECEPTION = Bilingual("到着したら受付でQRカードを見せてください。カードがなくても受付できます",
                             "On arrival, show your QR card at reception. No card? You can still check in.")
POSTER_FILL_IN: tuple[Bilingual, ...] = (
    Bilingual("開設日時", "Opened on"),
    Bilingual("避難所の連絡先", "Shelter contact"),
)
