"""An error's log line names the exception's type and where it happened, never its message:
messages of database, parsing and spreadsheet errors embed the values involved."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from evac.accounts.models import Role
from evac.common.logging import formatter, traceback_without_messages
from tests import factories
from tests.hq.helpers import check_in

NAME = "蜂須賀"


@pytest.fixture
def evac_log() -> Iterator[io.StringIO]:
    """What evac's own JSON handler writes, captured."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter())
    logger = logging.getLogger("evac")
    logger.addHandler(handler)
    try:
        yield out
    finally:
        logger.removeHandler(handler)


def test_an_unhandled_error_logs_its_type_not_its_message(app: Flask, client: FlaskClient, db,
                                                          evac_log: io.StringIO,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    @app.get("/boom")
    def boom() -> str:
        try:
            raise KeyError(f"{NAME} 花子")
        except KeyError as exc:
            raise ValueError(f"cannot store {NAME} 花子, 京都府精華町光台7-43") from exc

    with caplog.at_level(logging.ERROR, logger="evac"):
        response = client.get("/boom", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert NAME not in response.get_data(as_text=True)
    line = evac_log.getvalue()
    assert "ValueError" in line and "KeyError" in line and "test_error_logging.py" in line
    assert NAME not in line and "光台" not in line
    assert NAME not in caplog.text and "光台" not in caplog.text
    assert all(record.exc_info is None for record in caplog.records)


def test_a_name_stored_with_a_control_character_still_exports_and_is_not_logged(
        client: FlaskClient, db, evac_log: io.StringIO, caplog: pytest.LogCaptureFixture) -> None:
    # Stored before names were checked (or by a path that does not check): a control character,
    # which XLSX cannot hold. The export drops it from the cell instead of failing the whole file.
    from openpyxl import load_workbook

    shelter = factories.shelter()
    person = factories.person(family_name=f"{NAME}\x01", family_name_kana="ハチスカ")
    headers = factories.bearer(factories.account(Role.HQ, username="log-hq"))
    check_in(client, headers, shelter.id, [person.id])
    with caplog.at_level(logging.INFO):
        response = client.get("/api/v1/exports/roster.xlsx", headers=headers)
    assert response.status_code == 200
    cells = [c for row in load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True) for c in row]
    texts = [str(c) for c in cells if c is not None]
    assert any(NAME in t for t in texts) and not any("\x01" in t for t in texts)
    assert NAME not in evac_log.getvalue() and NAME not in caplog.text


def test_the_formatter_strips_messages_from_any_exc_info(evac_log: io.StringIO) -> None:
    try:
        raise RuntimeError(f"row 3: {NAME}")
    except RuntimeError:
        logging.getLogger("evac.test").exception("failed")
    assert "RuntimeError" in evac_log.getvalue() and NAME not in evac_log.getvalue()


def test_traceback_without_messages_keeps_the_frames() -> None:
    def inner() -> None:
        raise OSError(f"{NAME}.csv")

    try:
        inner()
    except OSError as exc:
        text = traceback_without_messages(exc)
    assert "in inner" in text and text.endswith("OSError") and NAME not in text
