"""Seika town's districts (大字 and 町) for the synthetic demo population.

The district names are Seika's real ones: the four planned towns of the Kansai Science City
(光台, 精華台, 桜が丘, 祝園西, numbered in 丁目) and the twelve old villages (大字). The 小字 used
in addresses are a few seen in published addresses (the GSI shelter list, the town hall's 北尻);
other 大字 get plain 番地. Population shares are a plausible split of 36,198 residents, with the planned
towns large, not official statistics. Postal codes are plausible 619-02xx values (619-0241 for
祝園 is real); they have not been checked against Japan Post's list and must not be relied on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class District:
    """A district and how the demo populates it."""

    name: str
    postal_code: str
    share: float  # relative share of households
    chome: int = 0  # planned towns: number of 丁目; 0 for an old village (大字)
    koaza: tuple[str, ...] = ()  # 小字 used in addresses, if any
    planned: bool = False  # a planned new town: younger, more families with children

    def address(self, chome: int, block: int, number: int, koaza: str | None) -> str:
        """A full address in the register's style."""
        prefix = "京都府相楽郡精華町"
        if self.chome:
            return f"{prefix}{self.name}{chome}丁目{block}-{number}"
        if koaza:
            return f"{prefix}大字{self.name}小字{koaza}{block}" + (f"-{number}" if number else "")
        return f"{prefix}大字{self.name}{block}" + (f"-{number}" if number else "")


DISTRICTS: tuple[District, ...] = (
    District("光台", "619-0237", 8500, chome=10, planned=True),
    District("精華台", "619-0238", 7500, chome=9, planned=True),
    District("桜が丘", "619-0232", 4500, chome=4, planned=True),
    District("祝園西", "619-0240", 1700, chome=2, planned=True),
    District("祝園", "619-0241", 2500, koaza=("古川", "長塚", "狛ヶ坪")),
    District("下狛", "619-0242", 3000, koaza=("河原田", "神ノ木")),
    District("南稲八妻", "619-0243", 2200, koaza=("丸山", "砂留", "北尻")),
    District("北稲八間", "619-0244", 1600, koaza=("畑ケ田", "寄田長")),
    District("山田", "619-0211", 1200),
    District("菅井", "619-0245", 900),
    District("植田", "619-0246", 800),
    District("菱田", "619-0221", 600),
    District("東畑", "619-0212", 400),
    District("乾谷", "619-0213", 350),
    District("僧坊", "619-0214", 300),
    District("柘榴", "619-0215", 250),
)
