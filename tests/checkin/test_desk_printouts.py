"""Desk printouts: roster, a person's card, poster and blank evacuee cards — real PDFs, scoped, audited."""

from __future__ import annotations

import io

import pypdf
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from evac.accounts.models import Role
from evac.audit.models import AuditEvent
from evac.cards import service as cards
from tests import factories
from tests.accounts.test_accounts import login
from tests.checkin.helpers import post_checkin


@pytest.fixture
def desk(client: FlaskClient, db):
    shelter, other = factories.shelter(name="東光小学校体育館"), factories.shelter()
    factories.account(Role.STAFF, shelters=[shelter], username="desk1")
    headers = factories.bearer(factories.account(Role.HQ))
    person = factories.person(family_name="精華", given_name="花子", allergy="卵", pets=1)
    post_checkin(client, headers, shelter_id=shelter.id, person_id=person.id)
    login(client, "desk1")
    return {"shelter": shelter, "other": other, "person": person}


def _text(response) -> str:
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.data)).pages)


def test_roster_printout_lists_the_evacuees_and_is_audited(client: FlaskClient, db, desk) -> None:
    text = _text(client.get(f"/desk/{desk['shelter'].id}/roster.pdf"))
    assert "精華" in text and "東光小学校体育館" in text
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "person.read")
                               .order_by(AuditEvent.id.desc())).first()
    assert event.detail == {"person_ids": [desk["person"].id], "purpose": "roster.print"}


def test_card_printout_carries_a_verifying_payload(client: FlaskClient, db, desk) -> None:
    text = _text(client.get(f"/desk/{desk['shelter'].id}/cards/{desk['person'].id}.pdf"))
    assert "精華" in text
    card = db.session.scalars(select(cards.Card).where(cards.Card.person_id == desk["person"].id)).one()
    assert cards.fallback_for(card) in text


def test_poster_and_blank_cards(client: FlaskClient, db, desk) -> None:
    assert "東光小学校体育館" in _text(client.get(f"/desk/{desk['shelter'].id}/poster.pdf"))
    blank = client.get(f"/desk/{desk['shelter'].id}/evacuee-cards.pdf")
    assert len(pypdf.PdfReader(io.BytesIO(blank.data)).pages) == 10 and "避難者カード" in _text(blank)


def test_the_poster_qr_names_the_configured_public_url(app, client: FlaskClient, db, desk) -> None:
    from tests.printables.pdfcheck import decode, render

    def poster_qr() -> list[str]:
        pdf = client.get(f"/desk/{desk['shelter'].id}/poster.pdf").data
        return [code.text for code in decode(render(pdf, 0))]

    # Printed from the tablet on the LAN: without EVAC_PUBLIC_URL the QR names the host asked.
    assert poster_qr() == ["http://localhost/"]
    app.config["EVAC_PUBLIC_URL"] = "https://hinan.town.seika.kyoto.jp"
    assert poster_qr() == ["https://hinan.town.seika.kyoto.jp/"]


def test_printouts_are_scoped_to_the_staff_shelters(client: FlaskClient, db, desk) -> None:
    for path in ("roster.pdf", f"cards/{desk['person'].id}.pdf", "poster.pdf", "evacuee-cards.pdf"):
        assert client.get(f"/desk/{desk['other'].id}/{path}").status_code == 403


def test_print_commands(runner, db, tmp_path) -> None:
    shelter = factories.shelter(name="精北小学校")
    result = runner.invoke(args=["print", "poster", str(shelter.id), "--public-url", "https://example.jp/",
                                 "--out", str(tmp_path / "p.pdf")])
    assert result.exit_code == 0, result.output
    assert "精北小学校" in pypdf.PdfReader(tmp_path / "p.pdf").pages[0].extract_text()
    result = runner.invoke(args=["print", "evacuee-cards", "--copies", "3", "--out", str(tmp_path / "e.pdf")])
    assert result.exit_code == 0 and len(pypdf.PdfReader(tmp_path / "e.pdf").pages) == 3
    result = runner.invoke(args=["print", "roster", str(shelter.id), "--out", str(tmp_path / "r.pdf")])
    assert result.exit_code == 0 and (tmp_path / "r.pdf").stat().st_size > 0
    result = runner.invoke(args=["print", "roster", "99999", "--out", str(tmp_path / "x.pdf")])
    assert result.exit_code == 1 and not (tmp_path / "x.pdf").exists()
