"""Re-imports: shelters a new file no longer has are reported, never deleted; an open one is flagged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskCliRunner

from evac.common.importing import EntryKind
from evac.extensions import db
from evac.shelters.importers import import_shelters_file
from evac.shelters.models import Shelter, ShelterListing, ShelterStatus
from tests.shelters.helpers import DATA, by_code, count, csv_text, edit, entries, import_rows, table


def without(rows: list[list[str]], *codes: str) -> list[list[str]]:
    return [r for r in rows if not any(code in r for code in codes)]


def missing_since(code: str) -> Any:
    db.session.expire_all()
    return db.session.scalar(sa.select(ShelterListing.missing_since).where(ShelterListing.local_id == code))


def test_a_shelter_missing_from_the_new_file_is_reported_and_kept(app: Any, gsi_dir: Path) -> None:
    rows = table(gsi_dir / "evacuation_seika_263664.csv", encoding="utf-8")
    import_rows(rows, "seika.csv")

    report = import_rows(without(rows, "E2636600007111"), "seika.csv")

    assert entries(report, EntryKind.MISSING) == [(None, "共通ID", "E2636600007111", "")]
    assert "精華町立体育館・コミュニティーセンター" in report.of_kind(EntryKind.MISSING)[0].message
    assert count(Shelter) == 18 and by_code("E2636600007111").name
    assert missing_since("E2636600007111") is not None
    assert not report.warnings  # it is closed: reported, not alarmed about


def test_an_open_shelter_missing_from_the_file_is_flagged(app: Any, gsi_dir: Path) -> None:
    rows = table(gsi_dir / "evacuation_seika_263664.csv", encoding="utf-8")
    import_rows(rows, "seika.csv")
    shelter = by_code("E2636600001111")
    shelter.status = ShelterStatus.OPEN
    db.session.commit()

    report = import_rows(without(rows, "E2636600001111"), "seika.csv")

    (entry,) = report.of_kind(EntryKind.MISSING)
    assert entry.message.startswith("⚠") and "開設中" in entry.message
    assert any("E2636600001111" in w for w in report.warnings)
    assert by_code("E2636600001111").status is ShelterStatus.OPEN


def test_a_row_back_in_the_file_is_no_longer_missing(app: Any, gsi_dir: Path) -> None:
    rows = table(gsi_dir / "evacuation_seika_263664.csv", encoding="utf-8")
    import_rows(rows, "seika.csv")
    import_rows(without(rows, "E2636600007111"), "seika.csv")
    second = import_rows(without(rows, "E2636600007111"), "seika.csv")

    back = import_rows(rows, "seika.csv")

    assert "前回" in second.of_kind(EntryKind.MISSING)[0].message  # still missing since the last time
    assert not back.of_kind(EntryKind.MISSING) and back.unchanged == 18
    assert missing_since("E2636600007111") is None


def test_only_the_files_municipalities_and_list_are_compared(app: Any, gsi_dir: Path) -> None:
    import_shelters_file(gsi_dir / "evacuation_kyoto_26.csv")
    import_shelters_file(gsi_dir / "emergency_seika_263664.csv")

    seika = import_shelters_file(gsi_dir / "evacuation_seika_263664.csv")

    # Kyoto's other towns are not in Seika's file, and its 指定緊急避難場所 are another list.
    assert (seika.unchanged, seika.of_kind(EntryKind.MISSING)) == (18, [])


def test_a_town_file_is_compared_with_that_towns_rows_only(app: Any) -> None:
    rows = table(DATA / "ods_emergency_seika.csv")
    import_rows(rows, "seika.csv")
    other = [rows[0], *(list(r) for r in rows[1:2])]
    other[1][rows[0].index("全国地方公共団体コード")] = "262145"

    report = import_rows(other, "kizugawa.csv")

    assert report.added == 1 and report.of_kind(EntryKind.MISSING) == []


def test_a_refused_row_is_not_reported_missing(app: Any, gsi_dir: Path) -> None:
    rows = table(gsi_dir / "evacuation_seika_263664.csv", encoding="utf-8")
    import_rows(rows, "seika.csv")

    report = import_rows(edit(rows, 4, "緯度", "343"), "seika.csv", skip_invalid=True)

    assert (report.refused, report.unchanged) == (1, 17)
    assert report.of_kind(EntryKind.MISSING) == []


def test_cli_prints_the_missing_shelters(app: Any, runner: FlaskCliRunner, gsi_dir: Path, tmp_path: Path) -> None:
    rows = table(gsi_dir / "evacuation_seika_263664.csv", encoding="utf-8")
    path = tmp_path / "seika.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    runner.invoke(args=["import-shelters", str(path)])
    path.write_text(csv_text(without(rows, "E2636600009112")), encoding="utf-8")

    result = runner.invoke(args=["import-shelters", str(path)])

    assert result.exit_code == 0, result.output
    assert "精華町立精華中学校体育館" in result.stdout and "削除はしていません" in result.stdout
