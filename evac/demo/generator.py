"""A synthetic, deterministic population for the demo town: households of Seika's districts.

Nothing here describes a real person. Names come from Faker ja_JP and `evac.demo.names` (kanji
always paired with its reading), addresses from `evac.demo.districts`; the proportions aim at a
town like Seika (about 2.3 persons a household, about 28 % aged 65 and over, 1.5 % foreign
residents) so that the HQ screens and benchmarks see realistic mixes of needs.
The same `seed` and `residents` give the same CSV, byte for byte, whatever the day: ages are
computed at a fixed reference date, not today.

要配慮区分 as the demo assigns it (proportions approximate, by design of this module):
高齢者 75 and over, or 65 and over living alone; 乳幼児 under 3; 妊産婦 about 0.8 % of women
aged 20–40; 障害者 about 5 % (more with age); アレルギー about 3 % (more in children), with the
allergen in brackets; 医療機器・慢性疾患 about 3 % (more with age); 要介護 about 4 % of those 75
and over (the brief's figure; real care-need certification rates are higher); 外国人・言語支援 for
most foreign residents. Pets: about 20 % of households, on the head of household.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from faker import Faker

from evac.common.wareki import format_wareki
from evac.demo import names
from evac.demo.districts import DISTRICTS, District
from evac.people.importers import COLUMNS

# Ages are computed at this date (the 2025 census day), so the CSV does not change with the clock.
REFERENCE_DATE = date(2025, 10, 1)
CSV_COLUMNS: tuple[str, ...] = (*COLUMNS, "国籍", "言語", "ペット", "ペット_備考", "同意_親族", "同意_知人", "同意_公表")
ALLERGENS = ("卵", "小麦", "そば", "えび", "乳", "落花生", "かに", "くるみ")
FOREIGN_HOUSEHOLD_SHARE = 0.022  # of households; ~1.5 % of persons, as their households are smaller

# Household types and their relative frequency in planned towns and old villages.
HOUSEHOLD_TYPES: dict[str, tuple[int, int]] = {
    #                (planned, old village)
    "single_young": (8, 6),
    "single_mid": (6, 6),
    "single_old": (10, 14),
    "couple_young": (4, 3),
    "couple_mid": (8, 8),
    "couple_old": (18, 20),
    "family": (27, 16),
    "single_parent": (5, 4),
    "three_gen": (3, 10),
    "parent_child": (6, 8),
}
_TYPE_NAMES = tuple(HOUSEHOLD_TYPES)
_PLANNED_WEIGHTS = tuple(w[0] for w in HOUSEHOLD_TYPES.values())
_OLD_WEIGHTS = tuple(w[1] for w in HOUSEHOLD_TYPES.values())


@dataclass
class DemoPerson:
    """One synthetic resident, as the register extract would show them."""

    family_name: str
    given_name: str
    family_kana: str
    given_kana: str
    birth_date: date
    sex: str  # 男 / 女
    relationship: str  # 続柄
    phone: str = ""
    needs: list[str] = field(default_factory=list)
    nationality: str = ""
    language: str = ""
    pets: int = 0
    pet_note: str = ""

    @property
    def age(self) -> int:
        """Age in full years at the reference date."""
        b = self.birth_date
        return REFERENCE_DATE.year - b.year - ((REFERENCE_DATE.month, REFERENCE_DATE.day) < (b.month, b.day))


@dataclass
class DemoHousehold:
    """One synthetic household: number, address and members, head first."""

    number: str
    district: District
    address: str
    members: list[DemoPerson]
    consent: tuple[bool, bool, bool]  # relatives, acquaintances, public
    foreign: bool = False


class _Generator:
    """Draws households; one instance per (seed, size), all randomness from `rng` and `fake`."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.fake = Faker("ja_JP")
        self.fake.seed_instance(seed)
        self.district_weights = [d.share for d in DISTRICTS]
        self.foreign_languages = list(names.FOREIGN)
        self.foreign_weights = [names.FOREIGN[code][1] for code in self.foreign_languages]

    # --- people -------------------------------------------------------------------------------

    def birth_date(self, age: int) -> date:
        """A birth date for someone `age` years old at the reference date."""
        latest = date(REFERENCE_DATE.year - age, REFERENCE_DATE.month, REFERENCE_DATE.day)
        return latest - timedelta(days=self.rng.randrange(365))

    def given(self, sex: str, age: int) -> tuple[str, str]:
        born = REFERENCE_DATE.year - age
        generation = 0 if born < 1960 else 1 if born < 1990 else 2
        if generation == 1 and self.rng.random() < 0.4:
            kanji, kana, _romaji = (self.fake.first_name_male_pair() if sex == "男"
                                    else self.fake.first_name_female_pair())
            return kanji, kana
        return self.rng.choice((names.MALE if sex == "男" else names.FEMALE)[generation])

    def family(self) -> tuple[str, str]:
        if self.rng.random() < 0.3:
            return self.rng.choice(names.FAMILY_EXTRA)
        kanji, kana, _romaji = self.fake.last_name_pair()
        return kanji, kana

    def person(self, family: tuple[str, str], sex: str, age: int, relationship: str) -> DemoPerson:
        given = self.given(sex, age)
        return DemoPerson(family[0], given[0], family[1], given[1], self.birth_date(age), sex, relationship)

    def foreign_person(self, language: str, family: str, sex: str, age: int, relationship: str) -> DemoPerson:
        _nat, _w, _families, male, female = names.FOREIGN[language]
        given = self.rng.choice(male if sex == "男" else female)
        return DemoPerson(family, given, family, given, self.birth_date(age), sex, relationship)

    def elderly_age(self, low: int = 65) -> int:
        # Mode near 72, long tail to 100: roughly the shape of Japan's older population.
        return min(100, int(self.rng.triangular(low, 101, low + 6)))

    def children_ages(self, parent_age: int, count: int) -> list[int]:
        oldest = min(parent_age - 22, 24)
        if oldest < 0:
            return []
        ages = [self.rng.randint(max(0, oldest - 14), oldest)]
        for _ in range(count - 1):
            younger = ages[-1] - self.rng.randint(2, 5)
            if younger < 0:
                break
            ages.append(younger)
        return ages

    # --- households ---------------------------------------------------------------------------

    def members(self, kind: str) -> list[DemoPerson]:
        """Members of a Japanese household of this kind, head first."""
        rng, fam = self.rng, self.family()
        people: list[DemoPerson] = []

        def couple(head_age: int) -> None:
            spouse_age = max(18, min(100, head_age + rng.randint(-6, 3)))
            if rng.random() < 0.9:
                people.append(self.person(fam, "男", head_age, "世帯主"))
                people.append(self.person(fam, "女", spouse_age, "妻"))
            else:
                people.append(self.person(fam, "女", head_age, "世帯主"))
                people.append(self.person(fam, "男", spouse_age, "夫"))

        def children(parent_age: int, count: int) -> None:
            for age in self.children_ages(parent_age, count):
                people.append(self.person(fam, rng.choice("男女"), age, "子"))

        if kind == "single_young":
            people.append(self.person(fam, "男" if rng.random() < 0.62 else "女", rng.randint(18, 39), "世帯主"))
        elif kind == "single_mid":
            people.append(self.person(fam, rng.choice("男女"), rng.randint(40, 64), "世帯主"))
        elif kind == "single_old":
            people.append(self.person(fam, "女" if rng.random() < 0.6 else "男", self.elderly_age(), "世帯主"))
        elif kind == "couple_young":
            couple(rng.randint(24, 39))
        elif kind == "couple_mid":
            couple(rng.randint(40, 64))
        elif kind == "couple_old":
            couple(self.elderly_age(66))
        elif kind == "family":
            head_age = rng.randint(30, 58)
            couple(head_age)
            mother_age = people[1].age if people[1].sex == "女" else head_age
            children(mother_age, rng.choices((1, 2, 3), (35, 48, 17))[0])
        elif kind == "single_parent":
            parent_age = rng.randint(26, 55)
            people.append(self.person(fam, "女" if rng.random() < 0.85 else "男", parent_age, "世帯主"))
            children(parent_age, rng.choices((1, 2, 3), (55, 37, 8))[0])
        elif kind == "three_gen":
            head_age = rng.randint(33, 52)
            couple(head_age)
            mother_age = people[1].age if people[1].sex == "女" else head_age
            children(mother_age, rng.choices((1, 2, 3), (35, 45, 20))[0])
            grandparent_age = min(100, max(60, head_age + rng.randint(25, 33)))
            if rng.random() < 0.65:
                people.append(self.person(fam, "男", grandparent_age + rng.randint(0, 3), "父"))
            people.append(self.person(fam, "女", grandparent_age, "母"))
        elif kind == "parent_child":
            parent_age = self.elderly_age(72)
            child_age = max(35, min(70, parent_age - rng.randint(24, 34)))
            people.append(self.person(fam, rng.choice("男女"), child_age, "世帯主"))
            people.append(self.person(fam, "女" if rng.random() < 0.7 else "男", parent_age, "母"))
            if people[-1].sex == "男":
                people[-1].relationship = "父"
        else:  # pragma: no cover - the kinds are a closed list
            raise ValueError(kind)
        return people

    def foreign_members(self) -> tuple[list[DemoPerson], str, str]:
        """A foreign resident household (students, trainees, researchers and their families)."""
        rng = self.rng
        language = rng.choices(self.foreign_languages, self.foreign_weights)[0]
        nationalities, _w, families, _male, _female = names.FOREIGN[language]
        nationality = rng.choice(nationalities)
        fam = rng.choice(families)
        kind = rng.choices(("single", "couple", "family"), (62, 14, 24))[0]
        head_sex = rng.choice("男女")
        head_age = rng.randint(20, 34) if kind == "single" else rng.randint(26, 48)
        people = [self.foreign_person(language, fam, head_sex, head_age, "世帯主")]
        if kind != "single":
            spouse_sex = "女" if head_sex == "男" else "男"
            spouse_age = max(20, head_age + rng.randint(-5, 3))
            relationship = "妻" if spouse_sex == "女" else "夫"
            people.append(self.foreign_person(language, fam, spouse_sex, spouse_age, relationship))
        if kind == "family":
            for age in self.children_ages(head_age, rng.choices((1, 2), (60, 40))[0]):
                people.append(self.foreign_person(language, fam, rng.choice("男女"), age, "子"))
        return people, nationality, language

    def address(self, district: District) -> str:
        rng = self.rng
        if district.chome:
            chome = rng.randint(1, district.chome)
            return district.address(chome, rng.randint(1, 45), rng.randint(1, 30), None)
        koaza = rng.choice(district.koaza) if district.koaza and rng.random() < 0.8 else None
        number = rng.randint(1, 12) if rng.random() < 0.4 else 0
        return district.address(0, rng.randint(1, 320), number, koaza)

    def phone(self, mobile: bool) -> str:
        rng = self.rng
        if mobile:
            return f"0{rng.choice('789')}0-{rng.randint(1000, 9999)}-{rng.randint(0, 9999):04d}"
        return f"0774-{rng.choice(('93', '94', '95', '98'))}-{rng.randint(0, 9999):04d}"

    def needs(self, household: DemoHousehold) -> None:
        rng = self.rng
        alone = len(household.members) == 1
        for p in household.members:
            age, needs = p.age, p.needs
            if age >= 75 or (age >= 65 and alone):
                needs.append("高齢者")
            if rng.random() < (0.02 if age < 18 else 0.045 if age < 65 else 0.085):
                needs.append("障害者")
            if age < 3:
                needs.append("乳幼児")
            if p.sex == "女" and 20 <= age <= 40 and rng.random() < 0.008:
                needs.append("妊産婦")
            if household.foreign and rng.random() < 0.85:
                needs.append("外国人・言語支援")
            if rng.random() < (0.065 if age < 15 else 0.025):
                allergens = rng.sample(ALLERGENS, rng.choices((1, 2), (80, 20))[0])
                needs.append(f"アレルギー({'・'.join(allergens)})")
            if rng.random() < (0.018 if age < 65 else 0.065):
                needs.append("医療機器・慢性疾患")
            if age >= 75 and rng.random() < 0.04:
                needs.append("要介護")

    def household(self, index: int) -> DemoHousehold:
        rng = self.rng
        district = rng.choices(DISTRICTS, self.district_weights)[0]
        foreign = rng.random() < FOREIGN_HOUSEHOLD_SHARE
        nationality = language = ""
        if foreign:
            members, nationality, language = self.foreign_members()
        else:
            weights = _PLANNED_WEIGHTS if district.planned else _OLD_WEIGHTS
            members = self.members(rng.choices(_TYPE_NAMES, weights)[0])
        number = household_number(self.seed, index)
        consent = (rng.random() < 0.92, rng.random() < 0.65, rng.random() < 0.3)
        household = DemoHousehold(number, district, self.address(district), members, consent, foreign)
        head = members[0]
        head.phone = self.phone(mobile=rng.random() < 0.45) if rng.random() < 0.9 else ""
        for p in members[1:]:
            if 18 <= p.age < 80 and rng.random() < 0.5:
                p.phone = self.phone(mobile=True)
        for p in members:
            p.nationality, p.language = nationality, language
        if rng.random() < 0.2:
            head.pets = rng.choices((1, 2, 3), (72, 23, 5))[0]
            dogs = sum(rng.random() < 0.55 for _ in range(head.pets))
            parts = [f"犬{dogs}"] * bool(dogs) + [f"猫{head.pets - dogs}"] * bool(head.pets - dogs)
            head.pet_note = "・".join(parts)
        self.needs(household)
        return household


def household_number(seed: int, index: int) -> str:
    """The 世帯番号 of the household drawn `index`-th (from 0): distinct per seed.

    So demo towns of two seeds never share a household number.
    """
    return f"{seed % 100:02d}{index + 1:08d}"


def iter_town(residents: int, seed: int) -> Iterator[DemoHousehold]:
    """Households totalling exactly `residents` persons, deterministic for `seed`, one at a time.

    Nothing is kept once a household is handed out: a town of any size is drawn in the memory
    of one household.
    """
    generator = _Generator(seed)
    total = index = 0
    while total < residents:
        household = generator.household(index)
        # The last household is cut to size; its head stays first.
        household.members = household.members[:residents - total]
        total += len(household.members)
        index += 1
        yield household


def generate_town(residents: int, seed: int) -> list[DemoHousehold]:
    """The households of `iter_town` as a list (for small towns and tests)."""
    return list(iter_town(residents, seed))


def resident_rows(households: Iterable[DemoHousehold]) -> Iterator[list[str]]:
    """CSV rows (without the header) in `CSV_COLUMNS` order, 生年月日 as 和暦 as registers print it."""
    for h in households:
        postal = h.district.postal_code
        relatives, acquaintances, public = ("1" if c else "0" for c in h.consent)
        for p in h.members:
            yield [
                h.number, f"{p.family_name} {p.given_name}", f"{p.family_kana} {p.given_kana}",
                format_wareki(p.birth_date), p.sex, p.relationship, postal, h.address, p.phone,
                ";".join(p.needs), p.nationality, p.language, str(p.pets) if p.pets else "", p.pet_note,
                relatives, acquaintances, public,
            ]


def resident_csv(households: Iterable[DemoHousehold]) -> bytes:
    """The resident extract as bytes: UTF-8 with BOM and CRLF, as spreadsheet software writes it."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(resident_rows(households))
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def write_resident_csv(path: Path, households: Iterable[DemoHousehold]) -> int:
    """Write the resident extract to `path` (directories created) as `resident_csv` would give it.

    Written row by row as `households` yields them; returns the number of bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("\ufeff")
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(resident_rows(households))
    return path.stat().st_size
