"""`evac import-shelters FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskCliRunner

from evac.extensions import db as _db
from evac.shelters.models import Shelter


def shelter_count() -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(Shelter)) or 0


def test_cli_prints_format_encoding_and_counts(app: Any, runner: FlaskCliRunner, gsi_dir: Path) -> None:
    path = str(gsi_dir / "evacuation_seika_263664.csv")

    first = runner.invoke(args=["import-shelters", path])
    second = runner.invoke(args=["import-shelters", path])

    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == (
        "GSI 指定避難所 CSV / UTF-8: 追加 added 18, 更新 updated 0, 変更なし unchanged 0")
    assert second.exit_code == 0
    assert "added 0, 更新 updated 0, 変更なし unchanged 18" in second.stdout
    assert shelter_count() == 18


def test_cli_refusal_exits_1_with_every_bad_line_on_stderr(
    app: Any, runner: FlaskCliRunner, gsi_dir: Path, tmp_path: Path
) -> None:
    lines = (gsi_dir / "emergency_seika_263664.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("34.760743", "三四.七六")
    lines[4] = lines[4].replace("E2636600012201", "E2636600006201")
    path = tmp_path / "bad.csv"
    path.write_bytes("\r\n".join(lines).encode("cp932"))

    result = runner.invoke(args=["import-shelters", str(path)])

    assert result.exit_code == 1
    assert "3行目 緯度" in result.stderr
    assert "5行目 共通ID" in result.stderr
    assert result.stdout == ""
    assert shelter_count() == 0


def test_cli_refuses_an_unknown_file_type(app: Any, runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "residents.csv"
    path.write_text("世帯番号,氏名\n1,山田太郎\n", encoding="utf-8")

    result = runner.invoke(args=["import-shelters", str(path)])

    assert result.exit_code == 1
    assert "1行目 見出し" in result.stderr and "自治体標準オープンデータセット" in result.stderr
