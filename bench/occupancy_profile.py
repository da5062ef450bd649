"""Where one full HQ occupancy poll spends its time: version query, summary query, formatting,
gzip, and the rest (Flask, auth, the test client), on a database bench/occupancy.py left behind.

    .venv/bin/python bench/occupancy_profile.py sqlite:////tmp/evac_bench_occ.sqlite3 [--polls N]
    .venv/bin/python bench/occupancy_profile.py postgresql://postgres@127.0.0.1:5432/evac_bench_occ

Medians of N polls each (the machine is shared: compare the parts with each other, not with
another run).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from evac.app import create_app
from evac.common.db import read_only
from evac.extensions import db
from evac.hq import service


def _median_ms(fn: Callable[[], Any], polls: int, before: Callable[[], Any] | None = None) -> tuple[float, Any]:
    fn()
    times = []
    result = None
    for _ in range(polls):
        if before is not None:
            before()  # untimed
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--polls", type=int, default=30)
    args = parser.parse_args()
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "SECRET_KEY": "bench", "CARD_KEY": "bench",
                      "EVAC_SECRETS_PERSISTENT": True, "TESTING": True})
    from evac.accounts import service as accounts
    from evac.accounts.models import Role

    with app.app_context():
        name = f"profile-{os.getpid()}"
        accounts.create_account(name, role=Role.HQ, password="bench bench bench")
        headers = {"Authorization": f"Bearer {accounts.issue_token(name)}"}
        db.session.commit()
        client = app.test_client()
        try:
            from evac.hq import summary
        except ImportError:  # before evac.hq.summary: the rows were read in the service module
            rows = read_only(service._summary_rows)  # type: ignore[attr-defined]
            kept_summaries = False
        else:
            kept_summaries = True
            driver_time = summary.driver_time

            def all_rows() -> list[tuple[Any, ...]]:
                return summary._driver_rows("all", summary._all_rows_query)

            rows = read_only(all_rows)
        parts = {
            "version query (occupancy_version)": lambda: service.occupancy_version(),
            "summary query (driver rows)": lambda: rows(),
            "summary built (query + JSON)": lambda: service.occupancy_summary_json(),
        }
        out = {label: _median_ms(fn, args.polls) for label, fn in parts.items()}
        body = out["summary built (query + JSON)"][1].encode()
        out["gzip level 1"] = _median_ms(lambda: gzip.compress(body, compresslevel=1, mtime=0), args.polls)
        out["whole poll, plain (client.get)"] = _median_ms(
            lambda: client.get("/api/v1/occupancy", headers=headers), args.polls)
        out["whole poll, gzip (client.get)"] = _median_ms(
            lambda: client.get("/api/v1/occupancy", headers={**headers, "Accept-Encoding": "gzip"}), args.polls)
        if kept_summaries:
            def one_counter_changed() -> None:
                db.session.execute(sa.text(
                    "UPDATE hq_shelter_tally SET occupancy = occupancy + 1, updated_at = :now WHERE shelter_id = "
                    "(SELECT min(shelter_id) FROM hq_shelter_tally)"),
                    {"now": driver_time(datetime.now(UTC), db.engine.dialect.name)})
                db.session.commit()

            out["kept: a poll, then its 304 (2 requests)"] = _median_ms(lambda: client.get(
                "/api/v1/occupancy", headers={**headers, "If-None-Match": client.get(
                    "/api/v1/occupancy", headers=headers).headers["ETag"]}), args.polls)
            out["kept: refreshed after a change, gzip"] = _median_ms(
                lambda: client.get("/api/v1/occupancy", headers={**headers, "Accept-Encoding": "gzip"}),
                args.polls, before=one_counter_changed)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"[{args.url.split(':')[0]}] load average {load}; "
          f"median of {args.polls} each; body {len(body) / 1024:.0f} KiB")
    for label, (ms, _) in out.items():
        print(f"  {label:<36} {ms:7.1f} ms")
    version = out["version query (occupancy_version)"][0]
    built = out["summary built (query + JSON)"][0]
    query = out["summary query (driver rows)"][0]
    plain = out["whole poll, plain (client.get)"][0]  # served from the kept summary once there is one
    print(f"  => formatting {built - query:.1f} ms", end="")
    if not kept_summaries:  # with kept summaries a plain poll builds nothing: no rest to work out
        print(f"; Flask, auth and the rest of a plain poll {plain - version - built:.1f} ms", end="")
    print()


if __name__ == "__main__":
    main()
