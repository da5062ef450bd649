"""Benchmark: the HQ page in a real browser with 2,500 open shelters — long tasks per action.

Builds, on a fresh SQLite file, 2,500 open shelters spread over Japan (bulk insert, as
bench/occupancy.py), evacuees staying in them so fills, alerts and needs vary, and an HQ
account; serves the app on a loopback port; opens /hq in headless Chromium (1366×768) logged
in as HQ, with a PerformanceObserver for 'longtask' (buffered) installed before the page's own
scripts. Then times, each `REPEATS` times after one untimed warm-up round:

- idle: no action, the same window as the others (the baseline);
- filter on / off: 状態 = 満員 (2,500 → about 75 markers) and back to すべて;
- sort: the 避難所 column (五十音 of the readings), then back to the fill (untimed);
- page: 次へ, then back (untimed);
- search: 避難所名 typed one character at a time ("第", "第1", "第12"), then cleared (untimed);
- poll: one shelter's counter changed on the server, then a poll (the pause button's resume
  polls at once) that brings it as a delta.

Per action it prints the long tasks (≥ 50 ms, the browser's own definition) — count, longest
and sum — and the wall time from the action until the page settled (its handlers ran and the
next frame, the map's canvas redraw included, was drawn), min / median of the repeats. Long
tasks are those that started in the action's window, which ends `TAIL_MS` after it settled.

    .venv/bin/python bench/hq_page.py [--shelters N] [--port P] [--repeats N] [--before STATIC_DIR]
                                      [--profile ACTION …] [--trace ACTION …]

`--before DIR` first measures the same page with the static files of DIR (for example
`git archive main evac/static | tar -x -C /tmp/before`, then /tmp/before/evac/static), in the
same run, on the same database and server: a before/after on a shared machine.

`--profile ACTION …` also records a CPU profile of one more run of each action (CDP
Profiler) and prints the functions with the most self time; `--trace ACTION …` a trace of the
renderer's main thread (time per kind of work: script, style, layout, paint). Needs Debian's Chromium
(`/usr/bin/chromium`, or EVAC_CHROMIUM) and Playwright's Python package (the test extra).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import statistics
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from occupancy import (  # bench/ leads sys.path when run as a script
    HOUSEHOLD_COLUMNS,
    INCIDENT_COLUMNS,
    NEED_RATES,
    PERSON_COLUMNS,
    SHELTER_COLUMNS,
    STAY_COLUMNS,
    after_bulk_load,
    bulk_insert,
)
from werkzeug.serving import make_server

from evac.app import create_app
from evac.extensions import db

CHROMIUM = os.environ.get("EVAC_CHROMIUM", "/usr/bin/chromium")
SHELTERS = 2_500
PORT = 8400
REPEATS = 3
TAIL_MS = 300
LONG_TASK_MS = 50
USERNAME = "bench-hq"
PASSWORD = "bench hq page 2026"
NOT_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")
ACTIONS = ("idle", "filter on", "filter off", "sort", "page", "search", "poll")

# Collects every long task from the start (buffered), before the page's modules run.
OBSERVER = """
window.__longtasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longtasks.push({start: e.startTime, duration: e.duration});
}).observe({type: "longtask", buffered: true});
"""

# One action in the page: what the officer's click or key does (the same events), then wait
# until it settled: the handlers ran (synchronously, for all but the poll), and a frame was
# drawn after Leaflet's canvas redraw (requested in an animation frame, before ours).
ACT = """
async ({name, tail}) => {
  const byId = (id) => document.getElementById(id);
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const root = byId("hq");
  const set = (id, value, type) => { byId(id).value = value; byId(id).dispatchEvent(new Event(type, {bubbles: true})); };
  await frame();
  const t0 = performance.now();
  if (name === "filter on") set("f-status", "full", "change");
  else if (name === "filter off") set("f-status", "", "change");
  else if (name === "sort") document.querySelector("#shelters th button[data-sort='name']").click();
  else if (name === "page") byId("next").click();
  else if (name === "search") {
    for (const q of ["第", "第1", "第12"]) { set("f-q", q, "input"); await frame(); }
  } else if (name === "poll") {
    const before = root.dataset.generatedAt;
    byId("pause").click(); // resume: polls now
    while (root.dataset.generatedAt === before) await new Promise((r) => setTimeout(r, 5));
  }
  await frame();
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, tail));
  const tasks = window.__longtasks.filter((e) => e.start >= t0 && e.start < t1 + tail);
  return {wall: t1 - t0, tasks: tasks.map((e) => e.duration), markers: Number(byId("hq-map").dataset.markers)};
}
"""

# Puts the page back as it was before an action, untimed.
UNDO = """
async (name) => {
  const byId = (id) => document.getElementById(id);
  if (name === "sort") document.querySelector("#shelters th button[data-sort='fill']").click();
  else if (name === "page") byId("prev").click();
  else if (name === "search") { byId("f-q").value = ""; byId("f-q").dispatchEvent(new Event("input", {bubbles: true})); }
  else if (name === "poll") byId("pause").click(); // pause again, so no poll comes on its own
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
}
"""


def generate(shelters: int, seed: int) -> dict[str, list[tuple[Any, ...]]]:
    """Open shelters over Japan, each with a fill of its own (some past 80 %, some full), and their stays."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    municipalities = [f"{rng.randrange(1, 48):02d}{rng.randrange(100, 136):03d}0" for _ in range(60)]
    rows, households, people, stays = [], [], [], []
    pid = hid = 0
    for sid in range(1, shelters + 1):
        municipality = rng.choice(municipalities)
        capacity = None if rng.random() < 0.2 else rng.randrange(20, 160, 5)
        status = "full" if rng.random() < 0.03 else "open"
        rows.append((sid, f"B{sid:06d}", f"架空市立第{sid}避難所", f"カクウシリツダイ{sid}ヒナンジョ",
                     f"架空県架空市{sid}番地", rng.uniform(31.0, 43.5), rng.uniform(130.0, 145.5), municipality,
                     f"架空市{municipality}", "evacuation", "[]", capacity, status, "bench", now, now, now))
        staying = round((capacity or 60) * rng.choice((0.1, 0.3, 0.5, 0.6, 0.7, 0.85, 0.95, 1.05)))
        placed = 0
        while placed < staying:
            hid += 1
            size = min(rng.choice((1, 2, 2, 3, 4)), staying - placed)
            households.append((hid, f"BH{hid:08d}", "架空県架空市", "架空", now))
            for _ in range(size):
                pid += 1
                placed += 1
                needs = sum(bit for bit, rate in NEED_RATES if rng.random() < rate)
                people.append((pid, hid, "避難", f"{pid}", "ヒナン", "テスト", f"避難{pid}", "ヒナンテスト",
                               datetime(1930 + pid % 90, 1 + pid % 12, 1 + pid % 28).date(), "other", "架空県架空市",
                               needs, 1 if rng.random() < 0.05 else 0, True, False, False, "demo", now, now))
                checked_in = now - timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
                stays.append((pid, pid, sid, hid, "present" if rng.random() < 0.9 else "in_car", "manual",
                               checked_in, checked_in, 1))
    incident = [(1, "ベンチ災害", "disaster", True, True, now - timedelta(days=3))]
    return {"incident": incident, "shelter": rows, "household": households, "person": people, "stay": stays}


def build(url: str, instance: Path, shelters: int) -> Any:
    """The app on a fresh database: schema, rows, counters, an HQ account."""
    from flask_migrate import upgrade

    from evac.accounts import service as accounts
    from evac.accounts.models import Role
    from evac.hq import tallies

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "CARD_KEY": "bench",
                      "EVAC_SECRETS_PERSISTENT": True, "EVAC_SYNC_DIR": str(instance / "sync")})
    data = generate(shelters, 14)
    with app.app_context():
        upgrade()
        for table, columns in (("incident", INCIDENT_COLUMNS), ("shelter", SHELTER_COLUMNS),
                               ("household", HOUSEHOLD_COLUMNS), ("person", PERSON_COLUMNS), ("stay", STAY_COLUMNS)):
            bulk_insert(table, columns, data[table])
        db.session.commit()
        after_bulk_load(("incident", "shelter", "household", "person", "stay"))
        tallies.rebuild()
        accounts.create_account(USERNAME, role=Role.HQ, password=PASSWORD)
        db.session.commit()
        db.session.remove()
    print(f"built {shelters:,} open shelters, {len(data['stay']):,} open stays")
    return app


def change_one_shelter(app: Any, rng: random.Random, shelters: int) -> None:
    """What a check-in does to HQ's counters, without the check-in: one shelter's occupancy + 1."""
    with app.app_context():
        db.session.execute(sa.text("UPDATE hq_shelter_tally SET occupancy = occupancy + 1, updated_at = :now "
                                   "WHERE shelter_id = :sid"),
                           {"now": datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" "),
                            "sid": rng.randrange(1, shelters + 1)})
        db.session.commit()
        db.session.remove()


def log_in(page: Any, base: str) -> None:
    """The login form, as an officer would; the page the HQ officer lands on is the dashboard."""
    page.goto(f"{base}/login")
    page.get_by_label("ユーザー名").fill(USERNAME)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(re.compile(r".*/hq$"))


def run_action(page: Any, app: Any, name: str, rng: random.Random, shelters: int) -> dict[str, Any]:
    """One timed action and its untimed undo."""
    if name == "poll":
        change_one_shelter(app, rng, shelters)
    result: dict[str, Any] = page.evaluate(ACT, {"name": name, "tail": TAIL_MS})
    page.evaluate(UNDO, name)
    return result


def profile(page: Any, app: Any, name: str, rng: random.Random, shelters: int) -> str:
    """Self time per function over one more run of `name` (CDP Profiler), the top 15."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 100})
    before = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    cdp.send("Profiler.start")
    run_action(page, app, name, rng, shelters)
    nodes = cdp.send("Profiler.stop")["profile"]
    after = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    by_id = {n["id"]: n for n in nodes["nodes"]}
    self_ms: Counter[str] = Counter()
    deltas = nodes["timeDeltas"]
    for sample, delta in zip(nodes["samples"], deltas[1:] + [0], strict=True):
        frame = by_id[sample]["callFrame"]
        where = f"{frame['functionName'] or '(anonymous)'} {frame['url'].rsplit('/', 1)[-1]}:{frame['lineNumber'] + 1}"
        self_ms[where] += delta / 1000
    spent = "  ".join(f"{key.removesuffix('Duration')} {(after[key] - before[key]) * 1000:.1f}"
                      for key in ("TaskDuration", "ScriptDuration", "RecalcStyleDuration", "LayoutDuration"))
    lines = [f"  profile of '{name}' (main thread, ms, the undo included: {spent}; self time of the top functions):"]
    lines += [f"    {ms:7.1f}  {where}" for where, ms in self_ms.most_common(15)]
    return "\n".join(lines)


def trace(browser: Any, page: Any, app: Any, name: str, rng: random.Random, shelters: int) -> str:
    """Where one more run of `name` spent the renderer's main thread: the longest task, and time per
    trace event (devtools.timeline), the top 12, nested events counted in each of their parents."""
    import json

    browser.start_tracing(page=page, categories=["devtools.timeline", "disabled-by-default-devtools.timeline"])
    run_action(page, app, name, rng, shelters)
    events = json.loads(browser.stop_tracing())["traceEvents"]
    main = {(e["pid"], e["tid"]) for e in events
            if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"}
    spent: Counter[str] = Counter()
    longest = (0.0, 0.0)
    for event in events:
        if (event.get("pid"), event.get("tid")) not in main or event.get("ph") != "X":
            continue
        ms = event.get("dur", 0) / 1000
        if event["name"] == "RunTask":
            # tdur: the thread's CPU time, what the task costs without the other work on the machine.
            longest = max(longest, (ms, event.get("tdur", 0) / 1000))
        else:
            spent[event["name"]] += ms
    lines = [f"  trace of '{name}' (renderer main thread, the undo included; longest task {longest[0]:.1f} ms, "
             f"{longest[1]:.1f} ms of it on the CPU), ms:"]
    lines += [f"    {ms:7.1f}  {what}" for what, ms in spent.most_common(8)]
    return "\n".join(lines)


def summary(name: str, runs: list[dict[str, Any]], idle_wall: float) -> str:
    """One line per action: long tasks min / median / max of the repeats, wall time min / median."""
    counts = [len(r["tasks"]) for r in runs]
    longest = [max(r["tasks"], default=0.0) for r in runs]
    sums = [sum(r["tasks"]) for r in runs]
    walls = [r["wall"] for r in runs]
    ratio = statistics.median(walls) / idle_wall if idle_wall else float("nan")
    flag = "  LONG TASK >= 50 ms" if max(longest) >= LONG_TASK_MS else ""
    return (f"  {name:<11} long tasks {min(counts)}/{statistics.median(counts):.0f}/{max(counts)}  "
            f"longest {min(longest):5.1f}/{statistics.median(longest):5.1f}/{max(longest):5.1f} ms  "
            f"sum {min(sums):6.1f}/{statistics.median(sums):6.1f}/{max(sums):6.1f} ms  "
            f"settled {min(walls):6.1f}/{statistics.median(walls):6.1f} ms (x{ratio:4.1f} idle)  "
            f"markers {runs[-1]['markers']:,}{flag}")


def measure_page(browser: Any, app: Any, base: str, label: str, args: argparse.Namespace) -> None:
    """Log in in a fresh context (an empty cache), open /hq, time every action; print the figures."""
    rng = random.Random(7)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="ja-JP")
    context.route(NOT_LOOPBACK, lambda route: route.abort())  # no map tiles: offline
    context.add_init_script(OBSERVER)
    page = context.new_page()
    page.set_default_timeout(60_000)
    log_in(page, base)
    started = time.perf_counter()
    # A long interval: only the bench's own polls (the resume of the pause button).
    page.goto(f"{base}/hq?refresh=300")
    page.wait_for_selector("#hq[data-ready='1']")
    loaded = (time.perf_counter() - started) * 1000
    first = page.evaluate("window.__longtasks.map((e) => e.duration)")
    page.wait_for_timeout(1000)
    page.click("#pause")  # paused between the bench's polls
    print(f"[{label}] load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} ({os.cpu_count()} cores); "
          f"Chromium {browser.version}, 1366x768; {args.repeats} repeats after 1 warm-up; "
          f"long tasks min/median/max, settled min/median")
    print(f"  first load: ready in {loaded:.0f} ms, long tasks {len(first)}, "
          f"max {max(first, default=0):.1f} ms, sum {sum(first):.1f} ms")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in ACTIONS}
    for repeat in range(args.repeats + 1):
        for name in ACTIONS:
            result = run_action(page, app, name, rng, args.shelters)
            if repeat:
                results[name].append(result)
    idle_wall = statistics.median(r["wall"] for r in results["idle"])
    for name in ACTIONS:
        print(summary(name, results[name], idle_wall))
    for name in args.profile:
        print(profile(page, app, name, rng, args.shelters))
    for name in args.trace:
        print(trace(browser, page, app, name, rng, args.shelters))
    print(f"  load average after {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shelters", type=int, default=SHELTERS)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--profile", choices=ACTIONS, nargs="*", default=[])
    parser.add_argument("--trace", choices=ACTIONS, nargs="*", default=[])
    parser.add_argument("--before", type=Path, default=None,
                        help="another static folder (the page's scripts before a change) measured first, same run")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    logging.getLogger("alembic").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="evac-bench-hq-page-") as tmp:
        instance = Path(tmp)
        app = build(f"sqlite:///{instance / 'evac.sqlite3'}", instance, args.shelters)
        server = make_server("127.0.0.1", args.port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{args.port}"
        variants = [(f"before: scripts from {args.before}", str(args.before))] if args.before else []
        variants.append(("this tree's scripts", app.static_folder))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                for label, folder in variants:
                    app.static_folder = folder  # read per request by Flask's static route
                    measure_page(browser, app, base, label, args)
                browser.close()
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()
