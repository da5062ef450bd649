"""The CSV connector: 安否情報収集様式 columns, CP932 or UTF-8, atomic files, only changed shelters rewritten."""

from __future__ import annotations

import csv
import io
import os
import stat
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from evac.accounts.models import Role
from evac.common.csvfile import spreadsheet_safe
from evac.common.vocab import Need, Sex
from sync.config import SyncConfig
from sync.csvout import COLUMNS, cp932_safe, file_name, write_atomic
from sync.runner import SyncRunner
from tests import factories
from tests.checkin.helpers import post_checkin, post_checkout


def _pass(app: Flask, sync_dir: Path, encoding: str = "cp932") -> Any:
    cfg = SyncConfig.from_app(app.config, connector="csv", sync_dir=str(sync_dir), csv_encoding=encoding)
    runner = SyncRunner(app, cfg)
    try:
        return runner.run_pass()
    finally:
        runner.close()


def _read(path: Path, encoding: str = "cp932") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


def _setup(db: Any) -> dict[str, Any]:
    shelters = [factories.shelter(name="精華町立川西小学校"), factories.shelter(name="精華町役場")]
    home = factories.household()
    yoshi = factories.person(family_name="𠮷田", given_name="花子", family_name_kana="ヨシダ", given_name_kana="ハナコ",
                             household_id=home.id, postal_code="619-0285", address="京都府精華町南稲八妻〜北尻",
                             phone="0774-00-0000", needs=int(Need.ELDERLY | Need.INJURY), condition_note="足首ねんざ",
                             consent_relatives=True, consent_public=False, nationality="日本",
                             birth_date=date(1950, 4, 1), sex=Sex.FEMALE)
    other = factories.person(family_name="山田", given_name="太郎", given_name_kana="タロウ", sex=Sex.MALE)
    return {"shelters": shelters, "yoshi": yoshi, "other": other,
            "headers": factories.bearer(factories.account(Role.HQ))}


def test_a_snapshot_per_shelter_in_form_order_in_cp932(app: Flask, client: FlaskClient, db: Any,
                                                         tmp_path: Path) -> None:
    world = _setup(db)
    a, b = world["shelters"]
    assert post_checkin(client, world["headers"], shelter_id=a.id, person_id=world["yoshi"].id).status_code == 201
    assert post_checkin(client, world["headers"], shelter_id=a.id, person_id=world["other"].id,
                        whereabouts="at_home").status_code == 201
    report = _pass(app, tmp_path)
    assert report.error is None and report.files == 2 and report.drained

    rows = _read(tmp_path / file_name(a, app.config["EVAC_TOWN_CODE"]))
    assert tuple(rows[0]) == COLUMNS
    assert rows[0][0] == "①氏名" and rows[0][9] == "⑩現在の居所" and rows[0][13] == "⑭その他の者への回答又は公表への同意"
    by_name = {r[0]: r for r in rows[1:]}
    yoshi = by_name["〓田　花子"]  # 𠮷 is not in CP932: the geta mark stands in
    assert yoshi[1] == "ヨシダ　ハナコ" and yoshi[2] == "1950-04-01" and yoshi[3] == "女"
    assert yoshi[4] == "〒619-0285 京都府精華町南稲八妻～北尻"  # WAVE DASH folded to its CP932 form
    assert yoshi[5] == "日本" and f"evac:{world['yoshi'].id}" in yoshi[6]
    assert yoshi[7] == "該当" and yoshi[8] == "足首ねんざ" and yoshi[9] == "精華町立川西小学校"
    assert "0774-00-0000" in yoshi[10] and "高齢者" in yoshi[10]
    assert yoshi[11:] == ["希望する", "希望しない", "同意しない"]
    assert by_name["山田　太郎"][9].startswith("在宅（") and by_name["山田　太郎"][3] == "男"
    empty = _read(tmp_path / file_name(b, app.config["EVAC_TOWN_CODE"]))
    assert empty == [list(COLUMNS)]  # an open shelter with nobody yet
    raw = (tmp_path / file_name(a, app.config["EVAC_TOWN_CODE"])).read_bytes()
    assert b"\r\n" in raw and not raw.startswith(b"\xef\xbb\xbf")
    assert stat.S_IMODE(os.stat(tmp_path / file_name(a, app.config["EVAC_TOWN_CODE"])).st_mode) == 0o640
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary files left behind"


def test_utf8_keeps_every_character(app: Flask, client: FlaskClient, db: Any, tmp_path: Path) -> None:
    world = _setup(db)
    a = world["shelters"][0]
    post_checkin(client, world["headers"], shelter_id=a.id, person_id=world["yoshi"].id)
    _pass(app, tmp_path, encoding="utf-8")
    rows = _read(tmp_path / file_name(a, app.config["EVAC_TOWN_CODE"]), "utf-8")
    assert rows[1][0] == "𠮷田　花子" and "〜" in rows[1][4]


def test_only_shelters_whose_roster_changed_are_rewritten(app: Flask, client: FlaskClient, db: Any,
                                                          tmp_path: Path) -> None:
    world = _setup(db)
    a, b = world["shelters"]
    c = factories.shelter(name="精華町立東光小学校")
    post_checkin(client, world["headers"], shelter_id=a.id, person_id=world["yoshi"].id)
    _pass(app, tmp_path)
    paths = {s.id: tmp_path / file_name(s, app.config["EVAC_TOWN_CODE"]) for s in (a, b, c)}
    inodes = {sid: os.stat(p).st_ino for sid, p in paths.items()}

    assert _pass(app, tmp_path).files == 0  # nothing happened: nothing rewritten
    post_checkout(client, world["headers"], person_id=world["yoshi"].id, reason="transfer", to_shelter_id=b.id)
    report = _pass(app, tmp_path)
    assert report.files == 2
    after = {sid: os.stat(p).st_ino for sid, p in paths.items()}
    assert after[a.id] != inodes[a.id] and after[b.id] != inodes[b.id]  # replaced by rename
    assert after[c.id] == inodes[c.id]
    assert len(_read(paths[a.id])) == 1 and _read(paths[b.id])[1][9] == "精華町役場"


def test_cp932_replacement_is_counted_and_known_variants_are_folded() -> None:
    assert cp932_safe("髙橋") == ("髙橋", 0)  # IBM extension: CP932 has it
    assert cp932_safe("𠮷野家😀") == ("〓野家〓", 2)
    assert cp932_safe("〜−‖") == ("～－∥", 0)
    assert cp932_safe("ｶﾀｶﾅ") == ("ｶﾀｶﾅ", 0)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path, monkeypatch: Any) -> None:
    target = tmp_path / "roster.csv"
    write_atomic(target, b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    try:
        write_atomic(target, b"new")
    except OSError:
        pass
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["roster.csv"]


@pytest.mark.parametrize("encoding", ["cp932", "utf-8"])
def test_cells_cannot_run_as_formulas_and_numbers_keep_no_apostrophe(app: Flask, client: FlaskClient, db: Any,
                                                                     tmp_path: Path, encoding: str) -> None:
    shelter = factories.shelter(name="数式避難所")
    headers = factories.bearer(factories.account(Role.HQ))
    sneaky = factories.person(family_name='=HYPERLINK("http://x")', given_name="", nationality="@SUM(1)",
                              address="+81-774-95-1900", condition_note="-")
    assert post_checkin(client, headers, shelter_id=shelter.id, person_id=sneaky.id).status_code == 201

    _pass(app, tmp_path, encoding)

    (row,) = _read(tmp_path / file_name(shelter, app.config["EVAC_TOWN_CODE"]), encoding)[1:]
    assert row[0].startswith("'=HYPERLINK") and row[5] == "'@SUM(1)"
    assert row[4] == "＋81-774-95-1900" and row[8] == "－"  # text to a spreadsheet, no apostrophe shown
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in row)


@pytest.mark.parametrize("value,safe", [
    ("+81-774-95-1900", "＋81-774-95-1900"), ("-", "－"), ("-5", "－5"), ("0774-95-1900", "0774-95-1900"),
    ("=1+1", "'=1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("精華町", "精華町"), ("", ""),
])
def test_spreadsheet_safe_cells(value: str, safe: str) -> None:
    assert spreadsheet_safe(value) == safe
    spreadsheet_safe(value).encode("cp932")  # what is written stays writable to the LGWAN file
