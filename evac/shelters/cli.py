"""`evac import-shelters FILE`: a thin wrapper over `evac.shelters.importers`."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from evac.common.importing import ImportRefused, ImportReport
from evac.shelters.importers import import_shelters_file


@click.command("import-shelters")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--skip-invalid", is_flag=True,
              help="Import the good rows and list the refused ones, instead of refusing the whole file.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Also write every repair, warning, refused row, merge and missing shelter (or, for a "
                   "refused file, every error) to this CSV (UTF-8 with BOM).")
@with_appcontext
def import_shelters(file: Path, skip_invalid: bool, report_path: Path | None) -> None:
    """Import shelters: GSI 指定避難所 / 指定緊急避難場所 (CSV, XLSX or GeoJSON; national or
    per-municipality), 自治体標準オープンデータセット or 推奨データセット 指定緊急避難場所一覧 /
    指定避難所一覧 (CSV or XLSX). Layout and encoding are detected from the file."""
    try:
        report = import_shelters_file(file, skip_invalid=skip_invalid)
    except ImportRefused as exc:
        if report_path is not None:  # every error, where the terminal shows the first fifty
            _write(report_path, exc)
        raise  # the evac command prints the refusal and exits 1
    click.echo(report.summary())
    for line in report.sections():
        click.echo(line)
    for warning in report.warnings:
        click.echo(warning, err=True)
    if report_path is not None:
        _write(report_path, report)


def _write(path: Path, outcome: ImportReport | ImportRefused) -> None:
    # UTF-8 with BOM: Excel opens it as UTF-8 (without the BOM it guesses CP932 and garbles it).
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        outcome.write_csv(handle)
    click.echo(f"報告 report: {path}", err=True)
