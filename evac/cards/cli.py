"""`evac cards …`: card tokens and printed card sheets."""

from __future__ import annotations

import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask_babel import gettext as _

from evac.cards import service

if TYPE_CHECKING:
    from printables.cards import RenderReport


@click.group()
def cards() -> None:
    """QRカード / resident QR cards."""


@cards.command("token")
@click.argument("person_id", type=int)
def token(person_id: int) -> None:
    """Issue a new card for the person (revoking the old one) and print its QR payload, nothing else."""
    _card, payload = service.issue_card(person_id)
    click.echo(payload)


def _report_issues(report: RenderReport) -> None:
    """Tell the operator which cards were printed with changed text (person ids only, never names)."""
    by_problem: dict[str, Counter[str]] = {"substituted": Counter(), "ellipsized": Counter()}
    for issue in report.issues:
        by_problem[issue.problem][issue.ref] += 1
    labels = {
        "substituted": _("フォントにない文字を〓で印刷したカード"),
        "ellipsized": _("長すぎる氏名などを…で省略して印刷したカード"),
    }
    for problem, refs in by_problem.items():
        if refs:
            ids = ", ".join(sorted(refs, key=int)[:50]) + (" …" if len(refs) > 50 else "")
            click.echo(_("%(label)s: %(count)d 枚（person id: %(ids)s）", label=labels[problem], count=len(refs),
                         ids=ids), err=True)


@cards.command("print")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="PDF file to write.")
@click.option("--all", "everyone", is_flag=True, help="Every person.")
@click.option("--district", "districts", multiple=True, metavar="D", help="District (地区), repeatable.")
@click.option("--household", "households", multiple=True, metavar="H", help="Household number (世帯番号), repeatable.")
@click.option("--person", "person_ids", multiple=True, type=int, metavar="P", help="Person id, repeatable.")
@click.option("--reissue", is_flag=True, help="Revoke the selected persons' cards and print new ones.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Rendering processes [default: one per core].")
def print_cards(out: Path, everyone: bool, districts: tuple[str, ...], households: tuple[str, ...],
                person_ids: tuple[int, ...], reissue: bool, workers: int | None) -> None:
    """カードの印刷 / print QR cards: 91×55 mm, 10 per A4 sheet, in district and household order.

    Persons who hold a card get it printed again (the same code); persons without one get a new
    card. With --reissue every selected person's card is revoked and replaced. Several of
    --district, --household and --person print the union of what they name.
    """
    # Imported here: every evac process registers this command, few ever print (reportlab is large).
    from printables.cards import CardOptions, default_workers, write_card_sheets
    from printables.fonts import FontNotFound

    selection = service.CardSelection(everyone=everyone, districts=districts, households=households,
                                      person_ids=person_ids)
    service.check_selection(selection)
    total = service.count_for_printing(selection)
    tally = service.PrintTally()
    options = CardOptions(town_name=current_app.config.get("EVAC_TOWN_NAME", "精華町"),
                          title=_("避難所受付カード"))
    out = out.resolve()
    if not out.parent.is_dir():
        raise click.ClickException(_("出力先のフォルダがありません: %(path)s", path=str(out.parent)))
    # Written beside the target and renamed at the end: a broken-off run leaves no half PDF.
    fd, temp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle, click.progressbar(
                length=total, label=_("カードを印刷しています"), file=sys.stderr, show_pos=True) as bar:
            report = write_card_sheets(
                service.cards_for_printing(selection, reissue=reissue, tally=tally), handle, options,
                workers=workers or default_workers(), progress=bar.update)
        os.replace(temp_name, out)
    except FontNotFound as exc:
        Path(temp_name).unlink(missing_ok=True)
        raise click.ClickException(_("日本語フォントが見つかりません: %(error)s", error=str(exc))) from None
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        if tally.issued:
            click.echo(_("中断しました。発行済みのカード %(count)d 枚は有効です。--reissue を付けずに再実行すると印刷できます",
                         count=tally.issued), err=True)
        raise
    _report_issues(report)
    click.echo(_("%(cards)d 枚（%(pages)d ページ）を %(path)s に書き出しました。新規発行 %(issued)d 枚"
                 "（うち再発行 %(revoked)d 枚）、発行済みカード %(reused)d 枚",
                 cards=report.cards, pages=report.pages, path=str(out), issued=tally.issued,
                 revoked=tally.revoked, reused=tally.reused))
