"""`evac cards print` and the service behind it: who is printed, in which order, with which card."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from evac.audit.models import AuditEvent
from evac.cards import service as cards
from evac.cards import tokens
from evac.cards.models import Card
from printables.cards import A_ONE_51002
from tests import factories
from tests.printables import pdfcheck


@pytest.fixture
def town(db):
    """Two districts, three households and a person without one, created out of print order."""
    shimo = factories.household(number="0200000002", district="下狛")
    hosono_b = factories.household(number="0100000002", district="祝園")
    hosono_a = factories.household(number="0100000001", district="祝園")
    people = {
        "shimo1": factories.person(family_name="下田", given_name="一郎", family_name_kana="シモダ",
                                   given_name_kana="イチロウ", household_id=shimo.id),
        "b1": factories.person(family_name="北村", given_name="二郎", family_name_kana="キタムラ",
                               given_name_kana="ジロウ", household_id=hosono_b.id),
        "a2": factories.person(family_name="山田", given_name="花子", household_id=hosono_a.id),
        "a1": factories.person(family_name="山田", given_name="太郎", family_name_kana="ヤマダ",
                               given_name_kana="タロウ", household_id=hosono_a.id),
        "walkin": factories.person(family_name="旅人", given_name="", family_name_kana="タビビト",
                                   given_name_kana=""),
        "shimo2": factories.person(family_name="下田", given_name="二葉", family_name_kana="シモダ",
                                   given_name_kana="フタバ", household_id=shimo.id),
    }
    return people


def _printed(selection: cards.CardSelection, **kwargs) -> list:
    return list(cards.cards_for_printing(selection, **kwargs))


def test_cards_come_in_handing_out_order_district_then_household(db, town) -> None:
    printed = _printed(cards.CardSelection(everyone=True), page_size=2)  # several keyset pages
    # 下狛 (U+4E0B) sorts before 祝園 (U+795D) in code-point order, on both databases; within a
    # district by household number, within a household by person; no household comes last.
    same_household = sorted(["a1", "a2"], key=lambda k: town[k].id)
    expected = ["shimo1", "shimo2", *same_household, "b1", "walkin"]
    assert [card.ref for card in printed] == [str(town[k].id) for k in expected]
    first = printed[0]
    assert (first.name, first.kana, first.household_number, first.district) == (
        "下田\u3000一郎", "シモダ\u3000イチロウ", "0200000002", "下狛")
    walkin = printed[-1]
    assert (walkin.name, walkin.household_number, walkin.district) == ("旅人", "", "")


def test_selection_options_and_their_union(db, town) -> None:
    def refs(**kwargs) -> set[str]:
        return {c.ref for c in _printed(cards.CardSelection(**kwargs))}

    ids = {k: str(p.id) for k, p in town.items()}
    assert refs(districts=("下狛",)) == {ids["shimo1"], ids["shimo2"]}
    assert refs(households=("0100000001",)) == {ids["a1"], ids["a2"]}
    assert refs(person_ids=(town["walkin"].id, town["b1"].id)) == {ids["walkin"], ids["b1"]}
    assert refs(districts=("下狛",), households=("0100000002",)) == {ids["shimo1"], ids["shimo2"], ids["b1"]}
    with pytest.raises(cards.NotFound):
        _printed(cards.CardSelection(districts=("存在しない地区",)))
    with pytest.raises(cards.ValidationFailed):
        _printed(cards.CardSelection())


def test_existing_cards_are_reprinted_and_missing_ones_issued(db, town) -> None:
    _card, held_payload = cards.issue_card(town["a1"].id)
    tally = cards.PrintTally()
    printed = {c.ref: c for c in _printed(cards.CardSelection(everyone=True), tally=tally)}
    assert printed[str(town["a1"].id)].payload == held_payload
    assert (tally.printed, tally.issued, tally.reused, tally.revoked) == (6, 5, 1, 0)
    for person in town.values():
        card = printed[str(person.id)]
        assert cards.resolve(card.payload).person_id == person.id  # every printed token verifies
        assert cards.resolve(card.fallback_code).person_id == person.id
    # Printing again issues nothing: the same cards come out.
    again = {c.ref: c.payload for c in _printed(cards.CardSelection(everyone=True))}
    assert again == {ref: card.payload for ref, card in printed.items()}
    assert db.session.scalar(select(func.count()).select_from(Card)) == 6
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "card.issue")).all()
    bulk = [e for e in events if e.detail.get("bulk")]
    assert sorted(pid for e in bulk for pid in e.detail["person_ids"]) == sorted(
        p.id for k, p in town.items() if k != "a1")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "person.read", AuditEvent.subject_type == "card_print")) == 2


def test_reissue_revokes_the_old_cards(db, town) -> None:
    old = {c.ref: c.payload for c in _printed(cards.CardSelection(districts=("下狛",)))}
    tally = cards.PrintTally()
    new = {c.ref: c.payload for c in _printed(cards.CardSelection(districts=("下狛",)), reissue=True, tally=tally)}
    assert (tally.issued, tally.revoked) == (2, 2)
    assert set(new) == set(old) and all(new[ref] != old[ref] for ref in old)
    for ref, payload in old.items():
        with pytest.raises(cards.CardRevoked):
            cards.resolve(payload)
        assert cards.resolve(new[ref]).person_id == int(ref)
    active = db.session.scalar(select(func.count()).select_from(Card).where(Card.revoked_at.is_(None)))
    assert active == 2


def test_cli_prints_the_selection_into_one_pdf_whose_codes_scan(app, db, runner, town, tmp_path: Path) -> None:
    out = tmp_path / "cards.pdf"
    result = runner.invoke(args=["cards", "print", "--out", str(out), "--district", "祝園", "--person",
                                 str(town["walkin"].id), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "4 枚" in result.output
    pdf = out.read_bytes()
    assert pdfcheck.page_count(pdf) == 1
    order = [town["a1"], town["a2"]]
    order.sort(key=lambda p: p.id)
    expected = [*order, town["b1"], town["walkin"]]
    found = pdfcheck.decode(pdfcheck.render(pdf, 0))
    for slot, person in enumerate(expected):
        inside = [code.text for code in found if pdfcheck.in_box(code, pdfcheck.card_box(A_ONE_51002, slot))]
        assert len(inside) == 1
        assert cards.resolve(inside[0]).person_id == person.id
    text = pdfcheck.text(pdf)
    assert "山田\u3000太郎" in text and "旅人" in text and "下田" not in text
    assert all(pdfcheck.fonts(pdf).values())


def test_cli_reissue_and_parallel_workers(app, db, runner, town, tmp_path: Path) -> None:
    first = tmp_path / "first.pdf"
    assert runner.invoke(args=["cards", "print", "--out", str(first), "--all", "--workers", "1"]).exit_code == 0
    old_codes = [c.text for c in pdfcheck.decode(pdfcheck.render(first.read_bytes(), 0))]
    second = tmp_path / "second.pdf"
    result = runner.invoke(args=["cards", "print", "--out", str(second), "--all", "--reissue", "--workers", "2"])
    assert result.exit_code == 0, result.output
    new_codes = [c.text for c in pdfcheck.decode(pdfcheck.render(second.read_bytes(), 0))]
    assert len(old_codes) == len(new_codes) == 6 and not set(old_codes) & set(new_codes)
    db.session.rollback()
    for code in old_codes:
        with pytest.raises(cards.CardRevoked):
            cards.resolve(code)
    assert {cards.resolve(code).person_id for code in new_codes} == {p.id for p in town.values()}


def test_cli_refuses_unknown_selections_and_writes_nothing(app, db, runner, town, tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    out = target / "cards.pdf"
    result = runner.invoke(args=["cards", "print", "--out", str(out), "--household", "9999999999"])
    assert result.exit_code == 1 and "9999999999" in result.output
    result = runner.invoke(args=["cards", "print", "--out", str(out)])
    assert result.exit_code == 1
    assert list(target.iterdir()) == []
    assert db.session.scalar(select(func.count()).select_from(Card)) == 0


def test_cli_reports_cards_printed_with_changed_text_by_id_only(app, db, runner, tmp_path: Path) -> None:
    household = factories.household(number="0300000001", district="菅井")
    odd = factories.person(family_name="😀" * 3, given_name="長" * 90, household_id=household.id)
    out = tmp_path / "odd.pdf"
    result = runner.invoke(args=["cards", "print", "--out", str(out), "--person", str(odd.id), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert f"person id: {odd.id}" in result.output and "〓" in result.output
    assert "長長長" not in result.output  # names never go to the terminal log
    code = pdfcheck.decode(pdfcheck.render(out.read_bytes(), 0))
    assert [cards.resolve(c.text).person_id for c in code] == [odd.id]
    assert tokens.decode(cards.card_key(), code[0].text).person_id == odd.id
