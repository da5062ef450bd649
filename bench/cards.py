"""Benchmark: printing QR resident cards — 1,000 cards and the whole demo town (36,198).

Each measurement runs in a fresh child process, so its peak RSS is its own: the printing process
(database reads, card issuing, joining the PDF) and the largest rendering worker are reported
separately and added up. The run is the real one: `cards_for_printing` (keyset pages, bulk
issuing) feeding `write_card_sheets` (worker processes, streamed merge) into a file. Afterwards a
sample of pages is rendered at 200 dpi with pdfium and every QR code on them is decoded with
zxing-cpp and resolved against the database (a revoked, forged or unknown code fails the bench).

    .venv/bin/python bench/cards.py [--instance DIR] [--database-url URL] [--workers N] [--sample-pages K]

The database is the demo town: with none at the instance folder (default /tmp/benchcards, as made by
`EVAC_INSTANCE_PATH=/tmp/benchcards evac demo`), the bench builds it first. Runs, in order:
1,000 cards (the first thousand in handing-out order, --reissue), the whole town with --reissue (every
card revoked and issued anew in bulk), and the whole town reprinted (existing cards, nothing issued).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_INSTANCE = Path("/tmp/benchcards")


def _app(instance: Path, database_url: str | None) -> Flask:
    os.environ["EVAC_INSTANCE_PATH"] = str(instance)
    from evac import settings
    from evac.app import create_app

    settings.ensure_instance_secrets(instance)
    config = {"SQLALCHEMY_DATABASE_URI": settings.normalise_database_url(database_url)} if database_url else {}
    app = create_app(config or None)
    logging.getLogger("evac").setLevel(logging.WARNING)
    return app


def prepare(instance: Path, database_url: str | None) -> int:
    """Make sure the demo town is there (migrations, shelters, 36,198 residents); returns persons."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from evac.demo.service import build_demo_town
    from evac.extensions import db
    from evac.people.models import Person

    app = _app(instance, database_url)
    with app.app_context():
        upgrade()
        count = db.session.scalar(select(func.count()).select_from(Person)) or 0
        if count == 0:
            print("  building the demo town first (evac demo) …", flush=True)
            build_demo_town(residents=36198, seed=1, csv_path=instance / "demo_residents.csv")
            count = db.session.scalar(select(func.count()).select_from(Person)) or 0
        db.session.remove()
    return count


def measure(instance: Path, database_url: str | None, limit: int | None, reissue: bool, workers: int,
            out: Path) -> dict[str, float]:
    """One printing run in this (fresh) process; returns its figures."""
    from itertools import islice

    from sqlalchemy import select

    from evac.cards import service
    from evac.common.db import READ, unit
    from evac.extensions import db
    from evac.people.models import Person
    from printables.cards import CardOptions, peak_rss_mb, write_card_sheets

    app = _app(instance, database_url)
    with app.app_context():
        if limit is None:
            selection = service.CardSelection(everyone=True)
        else:
            # The first `limit` persons in handing-out order (the order's collation depends on
            # the unit's database, so it is read inside one).
            with unit(READ):
                order = service._print_order()
                ids = tuple(db.session.scalars(select(Person.id).outerjoin(service.Household,
                                                                          service.Household.id == Person.household_id)
                                               .order_by(*order).limit(limit)))
            selection = service.CardSelection(person_ids=ids)
        tally = service.PrintTally()
        started = time.perf_counter()
        with out.open("wb") as handle:
            cards = service.cards_for_printing(selection, reissue=reissue, tally=tally)
            report = write_card_sheets(islice(cards, limit) if limit else cards, handle,
                                       CardOptions(town_name=app.config["EVAC_TOWN_NAME"]), workers=workers)
        wall = time.perf_counter() - started
        db.session.remove()
    # VmHWM, not ru_maxrss: a spawned worker's ru_maxrss includes the parent it was forked from.
    own = peak_rss_mb()
    worker = report.worker_peak_rss_mb
    return {"cards": report.cards, "pages": report.pages, "wall": wall, "issued": tally.issued,
            "revoked": tally.revoked, "reused": tally.reused, "rss_main": own, "rss_worker": worker,
            "workers": workers, "bytes": out.stat().st_size, "issues": len(report.issues)}


def verify(instance: Path, database_url: str | None, pdf_path: Path, sample_pages: int) -> tuple[int, int, float]:
    """Decode every QR code on a sample of pages and resolve it; returns (pages, codes, seconds)."""
    import pypdfium2 as pdfium
    import zxingcpp

    from evac.cards import service
    from evac.extensions import db

    started = time.perf_counter()
    app = _app(instance, database_url)
    document = pdfium.PdfDocument(str(pdf_path))
    pages = len(document)
    rng = random.Random(7)
    sample = sorted({0, pages - 1, pages // 2, *rng.sample(range(pages), min(sample_pages, pages))})
    codes = 0
    with app.app_context():
        for index in sample:
            image = document[index].render(scale=200 / 72, grayscale=True).to_pil().convert("L")
            found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
            expected = 10 if index < pages - 1 else None
            if expected is not None and len(found) != expected:
                raise SystemExit(f"page {index + 1}: {len(found)} QR codes decoded, expected {expected}")
            for barcode in found:
                service.resolve(barcode.text)  # raises on a forged, altered, unknown or revoked code
                codes += 1
            db.session.rollback()
        db.session.remove()
    document.close()
    return len(sample), codes, time.perf_counter() - started


def child(args: argparse.Namespace) -> None:
    """Entry point of one measurement (run in its own process for a clean peak RSS)."""
    figures = measure(args.instance, args.database_url, args.limit or None, args.reissue, args.workers,
                      Path(args.out))
    print(json.dumps(figures), flush=True)


def main() -> None:
    """Prepare the town, run the three measurements, verify a sample of each and print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instance", type=Path, default=DEFAULT_INSTANCE)
    parser.add_argument("--database-url", default=None, help="default: SQLite in the instance folder")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--sample-pages", type=int, default=12)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--reissue", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    args.instance.mkdir(parents=True, exist_ok=True)
    persons = prepare(args.instance, args.database_url)
    print(f"evac cards bench: {persons:,} persons, {args.workers} workers, "
          f"{os.cpu_count()} CPUs, database {args.database_url or args.instance / 'evac.sqlite3'}, "
          f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows every figure)")
    runs = [("1,000 cards (--reissue)", 1000, True), (f"{persons:,} cards (--reissue)", 0, True),
            (f"{persons:,} cards (reprint)", 0, False)]
    header = (f"  {'run':<26} {'cards':>7} {'pages':>6} {'wall s':>7} {'cards/s':>8} {'issued':>7} "
              f"{'RSS main':>9} {'RSS worker':>10} {'RSS sum':>8} {'PDF MB':>7}  verified")
    print(header)
    for label, limit, reissue in runs:
        out = args.instance / f"cards-{limit or 'all'}{'-reissue' if reissue else ''}.pdf"
        command = [sys.executable, __file__, "--child", "--instance", str(args.instance), "--workers",
                   str(args.workers), "--limit", str(limit), "--out", str(out)]
        if reissue:
            command.append("--reissue")
        if args.database_url:
            command += ["--database-url", args.database_url]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            raise SystemExit(f"{label}: failed")
        f = json.loads(result.stdout.strip().splitlines()[-1])
        pages, codes, seconds = verify(args.instance, args.database_url, out, args.sample_pages)
        total_rss = f["rss_main"] + f["workers"] * f["rss_worker"]
        print(f"  {label:<26} {f['cards']:>7,} {f['pages']:>6,} {f['wall']:>7.2f} {f['cards'] / f['wall']:>8,.0f} "
              f"{f['issued']:>7,} {f['rss_main']:>7.0f}MB {f['rss_worker']:>8.0f}MB {total_rss:>6.0f}MB "
              f"{f['bytes'] / 1e6:>7.1f}  {codes} codes on {pages} pages decoded and resolved ({seconds:.1f} s)",
              flush=True)
    print("  RSS: peak resident set (VmHWM) of the printing process and of the largest rendering worker;")
    print("  RSS sum = printing process + workers × largest worker (an upper bound of the whole run's peak).")


if __name__ == "__main__":
    main()
