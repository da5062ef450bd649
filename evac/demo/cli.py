"""`evac demo`: Seika's real shelters, synthetic capacities and residents, demo accounts."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import click
from flask import current_app

from evac.demo.service import LOGIN_URL, DemoAccount, build_demo_town


def _width(text: str) -> int:
    """Display width in a terminal: East Asian wide characters take two cells."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def accounts_table(rows: list[DemoAccount]) -> str:
    """The demo accounts as a plain-text table (URL, user, password, role, shelters)."""
    header = ("URL", "ユーザー user", "パスワード password", "役割 role", "担当避難所 shelters")
    lines = [(LOGIN_URL, a.username, a.password + ("" if a.created else " (既存 kept)"), a.role.value,
              "、".join(a.shelters) or "全避難所 all") for a in rows]
    widths = [max(_width(row[i]) for row in (header, *lines)) for i in range(len(header))]
    out = ["  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip()
           for row in (header, *lines)]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


@click.command("demo")
@click.option("--residents", type=click.IntRange(0, 2_000_000), default=36198, show_default=True,
              help="Number of synthetic residents.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same town.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the resident CSV [default: instance/demo_residents.csv].")
@click.option("--evacuees", type=click.IntRange(0, 100_000), default=300, show_default=True,
              help="On the first run, open six shelters and check in about this many residents.")
def demo(residents: int, seed: int, csv_path: Path | None, evacuees: int) -> None:
    """デモの町 / build the demo town: Seika's 22 real shelters (GSI) with synthetic capacities,
    a synthetic population imported through the resident importer, and demo accounts.

    Idempotent: running it again with the same seed changes nothing.
    """
    target = csv_path or Path(current_app.instance_path) / "demo_residents.csv"
    result = build_demo_town(residents=residents, seed=seed, csv_path=target, evacuees=evacuees,
                             progress=lambda line: click.echo(line))
    seconds = result.seconds
    click.echo(f"完了 done in {seconds['total']:.1f} s "
               f"(生成 generate {seconds['generate']:.1f} s, 取込 import {seconds['residents']:.1f} s)")
    click.echo("")
    click.echo(accounts_table(result.accounts))
