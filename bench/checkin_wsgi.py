"""The evac app plus two reference endpoints and a per-request meter, for bench/checkin.py.

- `GET /bench/trivial`: Flask's own cost per request on the same server, nothing of evac's;
- `POST /bench/ceiling`: the physical limit of a write on this box: insert one row, add one to a
  counter, commit — what any check-in must at least do, with none of evac's checks;
- every answer carries `X-Bench-Statements` (SQL statements the request ran) and
  `X-Bench-CPU-us` (the thread's CPU time between the first and the last request hook).

evac imports none of this: the meter exists only in the bench's own server.
"""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa
from flask import Response, g

from bench.checkin import ceiling_counter, ceiling_row
from evac import create_app
from evac.common.db import WRITE, unit
from evac.extensions import csrf, db

app = create_app()

_meter = threading.local()


with app.app_context():
    @sa.event.listens_for(db.engine, "before_cursor_execute")
    def _count(*_args: object) -> None:
        _meter.statements = getattr(_meter, "statements", 0) + 1


@app.before_request
def _start_meter() -> None:
    _meter.statements = 0
    g.bench_cpu = time.thread_time_ns()


@app.after_request
def _report_meter(response: Response) -> Response:
    response.headers["X-Bench-Statements"] = str(getattr(_meter, "statements", 0))
    response.headers["X-Bench-CPU-us"] = str((time.thread_time_ns() - g.get("bench_cpu", time.thread_time_ns())) // 1000)
    return response


@app.get("/bench/trivial")
def trivial() -> tuple[str, int]:
    """The baseline."""
    return "ok", 200


@app.post("/bench/ceiling/<int:shelter_id>/<int:person_id>")
@csrf.exempt  # a bearer-token client, like the API's own routes
def ceiling(shelter_id: int, person_id: int) -> tuple[str, int]:
    """INSERT a row + UPDATE a counter + COMMIT, in a writing unit like evac's (same lock protocol)."""
    with unit(WRITE):
        db.session.execute(sa.insert(ceiling_row).values(person_id=person_id, shelter_id=shelter_id))
        db.session.execute(sa.update(ceiling_counter).where(ceiling_counter.c.shelter_id == shelter_id)
                           .values(n=ceiling_counter.c.n + 1))
    return "ok", 201
