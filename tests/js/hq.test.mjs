// The HQ dashboard's logic: rows, alerts, paging, capacity input, times, the trend's scale,
// the sync banner and polling (which waits out a 503's Retry-After).
import assert from "node:assert/strict";
import {describe, it} from "node:test";

import {makeAnswer} from "../../evac/static/js/api.js";
import {translator} from "../../evac/static/js/i18n.js";
import {ago, num} from "../../evac/static/hq/format.js";
import {
  alertRows, createRowView, filterRows, freshAlerts, isFull, isNear, isPastCapacityAndOpen, municipalities, nextSort,
  pageOf, parseCapacity, readingKey, reuseUnchanged, rowsToDraw, sorters, sortRows,
} from "../../evac/static/hq/model.js";
import {createConditionalGet, createPoller} from "../../evac/static/hq/poll.js";
import {syncBanner, syncCell} from "../../evac/static/hq/sync.js";
import {niceStep, trendGeometry} from "../../evac/static/hq/trend.js";

const t = translator({
  just_now: "たった今", minutes_ago: "%(n)s分前", hours_ago: "%(n)s時間前", days_ago: "%(n)s日前",
  "sync.off": "同期なし", "sync.ok": "送信済み", "sync.pending": "送信待ち %(n)s件", "sync.parked": "要確認 %(n)s件",
  "sync.unknown": "—",
});

function row(id, fields) {
  return Object.assign({
    id, name: "避難所" + id, code: "C" + id, status: "open", capacity: 100, fill: 0.1, occupancy: 10, households: 4,
    at_home: 0, in_car: 0, pets: 0, needs: {elderly: 0, infant: 0}, municipality_code: "263664",
    municipality_name: "精華町", updated_at: null,
  }, fields);
}

describe("五十音 order", () => {
  it("sorts by the reading: voiced and small kana as their plain letter, hiragana as katakana", () => {
    const rows = [
      row(1, {name: "北公民館", name_kana: "キタ"}), row(2, {name: "銀河ホール", name_kana: "ぎんが"}),
      row(3, {name: "川公民館", name_kana: "カワ"}), row(4, {name: "学園会館", name_kana: "ガクエン"}),
      row(5, {name: "読みなし", name_kana: null}), row(6, {name: "キッズ館", name_kana: "ｷｯｽﾞ"}),
    ];
    const sorted = sortRows(rows, {key: "name", dir: 1}).map((r) => r.id);
    // Code point order of the readings would be 2 (hiragana), 3, 4, 1, 6; of the names, kanji order.
    assert.deepEqual(sorted, [4, 3, 1, 6, 2, 5]);
  });

  it("keeps exact readings apart after the plain letters tie", () => {
    assert.ok(readingKey("カキ", "") < readingKey("ガキ", ""));
    assert.ok(readingKey("ガキ", "") < readingKey("カク", ""));
    assert.equal(readingKey("かわ", ""), readingKey("カワ", ""));
  });
});

describe("rows", () => {
  const rows = [
    row(1, {fill: 1.05, occupancy: 105}), row(2, {status: "full", fill: 0.5, occupancy: 50}),
    row(3, {fill: 0.8, occupancy: 80, needs: {elderly: 2, infant: 1}}), row(4, {fill: null, capacity: null, occupancy: 3}),
    row(5, {fill: 0.79, occupancy: 79, pets: 2, municipality_code: "263222", municipality_name: "木津川市"}),
  ];

  it("full is marked full or at capacity; near is 80 % and not full", () => {
    assert.deepEqual(rows.map(isFull), [true, true, false, false, false]);
    assert.deepEqual(rows.map(isNear), [false, false, true, false, false]);
  });

  it("a shelter past capacity still marked open asks to be marked full", () => {
    assert.deepEqual(rows.map(isPastCapacityAndOpen), [true, false, false, false, false]);
    assert.equal(isPastCapacityAndOpen(row(9, {status: "full", fill: 1.2})), false);
  });

  it("filter by name or code, municipality, status, need, pets, near full", () => {
    const ids = (filters) => filterRows(rows, filters).map((r) => r.id);
    assert.deepEqual(ids({q: "避難所3"}), [3]);
    assert.deepEqual(ids({q: "C5"}), [5]);
    assert.deepEqual(ids({municipality: "263222"}), [5]);
    assert.deepEqual(ids({status: "full"}), [2]);
    assert.deepEqual(ids({need: "infant"}), [3]);
    assert.deepEqual(ids({need: "pets"}), [5]);
    assert.deepEqual(ids({near: true}), [1, 2, 3]);
    assert.deepEqual(ids({}), [1, 2, 3, 4, 5]);
  });

  it("sort by fill (unknown capacity last), by name, ties by id; headers flip", () => {
    assert.deepEqual(sortRows(rows, {key: "fill", dir: -1}).map((r) => r.id), [1, 3, 5, 2, 4]);
    assert.deepEqual(sortRows(rows, {key: "households", dir: -1}).map((r) => r.id), [1, 2, 3, 4, 5]);
    assert.deepEqual(nextSort({key: "fill", dir: -1}, "fill"), {key: "fill", dir: 1});
    assert.deepEqual(nextSort({key: "fill", dir: -1}, "name"), {key: "name", dir: 1});
    assert.deepEqual(nextSort({key: "fill", dir: -1}, "needs"), {key: "needs", dir: -1});
    assert.deepEqual(rows.map((r) => r.id), [1, 2, 3, 4, 5]); // not sorted in place
  });

  it("page, clamped to the pages there are", () => {
    const many = Array.from({length: 120}, (_, i) => row(i + 1));
    assert.deepEqual(pick(pageOf(many, 0, 50)), {page: 0, pages: 3, from: 1, to: 50, total: 120});
    assert.deepEqual(pick(pageOf(many, 2, 50)), {page: 2, pages: 3, from: 101, to: 120, total: 120});
    assert.deepEqual(pick(pageOf(many, 9, 50)), {page: 2, pages: 3, from: 101, to: 120, total: 120});
    assert.deepEqual(pick(pageOf([], 3, 50)), {page: 0, pages: 1, from: 1, to: 0, total: 0});
  });

  it("alerts: fullest first; new ones only from the second poll on", () => {
    const alerts = alertRows(rows);
    assert.deepEqual(alerts.map((r) => r.id), [1, 3, 2]);
    const first = freshAlerts(alerts, null);
    assert.deepEqual(first.fresh, []);
    const second = freshAlerts(alertRows(rows.concat([row(6, {fill: 0.9, occupancy: 90})])), first.ids);
    assert.deepEqual(second.fresh.map((r) => r.id), [6]);
  });

  it("municipalities by code", () => {
    assert.deepEqual(municipalities(rows), {key: "263222,263664", entries: [["263222", "木津川市"], ["263664", "精華町"]]});
  });
});

function pick({page, pages, from, to, total}) {
  return {page, pages, from, to, total};
}

describe("capacity typed by an officer", () => {
  it("blank clears it, digits set it, anything else is refused", () => {
    assert.deepEqual(parseCapacity(" "), {ok: true, value: null});
    assert.deepEqual(parseCapacity("250"), {ok: true, value: 250});
    for (const text of ["-1", "1.5", "二百", "250人"]) assert.deepEqual(parseCapacity(text), {ok: false}, text);
  });
});

describe("format", () => {
  const now = Date.parse("2026-01-17T05:46:00Z");

  it("how long ago, through the page's messages", () => {
    assert.equal(ago(null, t, now), "—");
    assert.equal(ago("2026-01-17T05:45:30Z", t, now), "たった今");
    assert.equal(ago("2026-01-17T05:41:00Z", t, now), "5分前");
    assert.equal(ago("2026-01-17T02:46:00Z", t, now), "3時間前");
    assert.equal(ago("2026-01-14T05:46:00Z", t, now), "3日前");
  });

  it("numbers with Japanese grouping", () => {
    assert.equal(num(36198), "36,198");
    assert.equal(num(null), "0");
  });
});

describe("trend", () => {
  it("grid steps are 1, 2 or 5 × a power of ten", () => {
    assert.deepEqual([4, 10, 44, 110, 470000].map(niceStep), [1, 5, 20, 50, 200000]);
  });

  it("the scale holds the highest value with room above", () => {
    const points = Array.from({length: 24}, (_, i) => ({hour: "2026-01-17T" + String(i).padStart(2, "0") + ":00:00Z", occupancy: i * 10}));
    const g = trendGeometry(points);
    assert.ok(g.ceiling >= 230 * 1.1);
    assert.equal(g.grid[0], 0);
    assert.equal(g.grid.at(-1), g.ceiling);
    assert.deepEqual(g.hourLabels, [0, 5, 11, 17, 23]);
    assert.equal(g.y(0), 200 - 28);
    assert.equal(g.x(0), 52);
    assert.equal(g.x(23), 560 - 24);
  });
});

describe("sync", () => {
  it("cells by state", () => {
    assert.deepEqual(syncCell(false, null, t), {className: "sync sync-off", text: "同期なし"});
    assert.deepEqual(syncCell(true, null, t), {className: "sync", text: "—"});
    assert.deepEqual(syncCell(true, {state: "pending", pending: 3}, t), {className: "sync sync-pending", text: "送信待ち 3件"});
  });

  it("the banner names the connector, backlog and parked events", () => {
    const banner = syncBanner({connectors: [{name: "csv", configured: false}, {
      name: "http", configured: true, backlog: 1200, parked_events: 2, last_success_at: null, last_error: null,
    }]}, {t, num, clock: () => "12:00:00"});
    assert.deepEqual(banner, {text: "http: 送信待ち 1,200件 · 要確認 2件", bad: true});
    assert.equal(syncBanner({connectors: [{name: "csv", configured: false}]}, {t, num, clock: String}), null);
  });
});

describe("polling", () => {
  function timers() {
    const scheduled = [];
    return {
      scheduled,
      setTimer: (fn, ms) => { scheduled.push({fn, ms}); return scheduled.length; },
      clearTimer: () => {},
    };
  }

  it("polls again after the interval", async () => {
    const clock = timers();
    const seen = [];
    const poller = createPoller({load: async () => makeAnswer(200, {}, null), onAnswer: (a) => seen.push(a.status),
                                 intervalMs: 15_000, ...clock});
    await poller.refresh();
    assert.deepEqual(seen, [200]);
    assert.deepEqual(clock.scheduled.map((s) => s.ms), [15_000]);
  });

  it("waits out a 503's Retry-After when it is longer than the interval", async () => {
    const clock = timers();
    const answers = [makeAnswer(503, null, "120"), makeAnswer(503, null, "1"), makeAnswer(0, null, null)];
    const poller = createPoller({load: async () => answers.shift(), onAnswer: () => {}, intervalMs: 15_000, ...clock});
    await poller.refresh();
    await poller.refresh();
    await poller.refresh();
    assert.deepEqual(clock.scheduled.map((s) => s.ms), [120_000, 15_000, 15_000]);
  });

  it("stops when paused, polls at once when resumed", async () => {
    const clock = timers();
    let loads = 0;
    const poller = createPoller({load: async () => { loads += 1; return makeAnswer(200, {}, null); }, onAnswer: () => {},
                                 intervalMs: 1000, ...clock});
    poller.pause();
    await poller.refresh(); // an officer's change refreshes once, and polling stays paused
    assert.equal(clock.scheduled.length, 0);
    await poller.resume();
    assert.equal(loads, 2);
    assert.equal(clock.scheduled.length, 1);
  });
});

describe("conditional polling (ETag, 304)", () => {
  function fakeFetch(answers) {
    const sent = [];
    const fetch = async (path, init) => {
      sent.push({path, ifNoneMatch: init.headers["If-None-Match"] || null});
      const next = answers.shift();
      if (next === "offline") throw new TypeError("network");
      return {
        status: next.status,
        headers: {get: (name) => (next.headers || {})[name] || null},
        json: async () => { if (next.body === undefined) throw new SyntaxError("no body"); return next.body; },
      };
    };
    return {fetch, sent};
  }

  it("sends the last ETag and reports a 304 as ok without data", async () => {
    const {fetch, sent} = fakeFetch([
      {status: 200, headers: {ETag: 'W/"occupancy-hq-1"'}, body: {shelters: []}},
      {status: 304, headers: {Date: "Wed, 02 Dec 2026 07:00:05 GMT"}},
      {status: 200, headers: {ETag: 'W/"occupancy-hq-2"'}, body: {shelters: [{id: 1}]}},
      {status: 304},
    ]);
    const load = createConditionalGet({path: "/api/v1/occupancy", fetch});
    const first = await load();
    assert.equal(first.ok, true);
    assert.equal(first.notModified, false);
    const second = await load();
    assert.deepEqual([second.ok, second.notModified, second.status, second.data], [true, true, 304, null]);
    assert.equal(second.checkedAt, "2026-12-02T07:00:05.000Z"); // the server's clock, not the PC's
    const third = await load();
    assert.deepEqual(third.data, {shelters: [{id: 1}]});
    await load();
    assert.deepEqual(sent.map((s) => s.ifNoneMatch), [null, 'W/"occupancy-hq-1"', 'W/"occupancy-hq-1"', 'W/"occupancy-hq-2"']);
  });

  it("asks for the changes since its last answer and merges them into it", async () => {
    const full = {generated_at: "2026-12-03T03:00:00+00:00", incident_id: 4, totals: {open_shelters: 3},
      shelters: [{id: 1, occupancy: 5}, {id: 2, occupancy: 7}, {id: 3, occupancy: 0}]};
    const change = {delta: true, since: full.generated_at, generated_at: "2026-12-03T03:00:15+00:00", incident_id: 4,
      totals: {open_shelters: 3}, closed_ids: [3], shelters: [{id: 2, occupancy: 9}, {id: 8, occupancy: 1}]};
    const {fetch, sent} = fakeFetch([
      {status: 200, headers: {ETag: 'W/"a"'}, body: full},
      {status: 200, headers: {ETag: 'W/"b"'}, body: change},
      {status: 304},
    ]);
    const load = createConditionalGet({path: "/api/v1/occupancy", fetch, delta: true});
    await load();
    const merged = await load();
    assert.deepEqual(merged.data, {generated_at: change.generated_at, incident_id: 4, totals: change.totals,
      shelters: [{id: 1, occupancy: 5}, {id: 2, occupancy: 9}, {id: 8, occupancy: 1}]});
    await load();
    assert.deepEqual(sent.map((s) => s.path), ["/api/v1/occupancy",
      "/api/v1/occupancy?since=2026-12-03T03%3A00%3A00%2B00%3A00", "/api/v1/occupancy?since=2026-12-03T03%3A00%3A15%2B00%3A00"]);
    assert.deepEqual(sent.map((s) => s.ifNoneMatch), [null, 'W/"a"', 'W/"b"']);
  });

  it("starts again from a full answer when the incident changed or the count does not add up", async () => {
    const full = {generated_at: "T0", incident_id: 4, totals: {open_shelters: 1}, shelters: [{id: 1}]};
    const otherIncident = {delta: true, generated_at: "T1", incident_id: 5, totals: {open_shelters: 1}, closed_ids: [],
      shelters: []};
    const fresh = {generated_at: "T2", incident_id: 5, totals: {open_shelters: 0}, shelters: []};
    const missing = {delta: true, generated_at: "T3", incident_id: 5, totals: {open_shelters: 2}, closed_ids: [],
      shelters: [{id: 7}]};
    const again = {generated_at: "T4", incident_id: 5, totals: {open_shelters: 2}, shelters: [{id: 7}, {id: 9}]};
    const {fetch, sent} = fakeFetch([
      {status: 200, headers: {ETag: "a"}, body: full}, {status: 200, headers: {ETag: "b"}, body: otherIncident},
      {status: 200, headers: {ETag: "c"}, body: fresh}, {status: 200, headers: {ETag: "d"}, body: missing},
      {status: 200, headers: {ETag: "e"}, body: again},
    ]);
    const load = createConditionalGet({path: "/api/v1/occupancy", fetch, delta: true});
    await load();
    assert.deepEqual((await load()).data, fresh);
    assert.deepEqual((await load()).data, again);
    assert.deepEqual(sent.map((s) => [s.path, s.ifNoneMatch]), [
      ["/api/v1/occupancy", null], ["/api/v1/occupancy?since=T0", "a"], ["/api/v1/occupancy", null],
      ["/api/v1/occupancy?since=T2", "c"], ["/api/v1/occupancy", null]]);
  });

  it("keeps the last good ETag through a failure and a 503", async () => {
    const {fetch, sent} = fakeFetch([
      {status: 200, headers: {ETag: 'W/"a"'}, body: {shelters: []}},
      "offline",
      {status: 503, headers: {"Retry-After": "30"}, body: {error: {code: "unavailable"}}},
      {status: 304},
    ]);
    const load = createConditionalGet({path: "/api/v1/occupancy", fetch});
    await load();
    assert.equal((await load()).kind, "unavailable");
    const busy = await load();
    assert.equal(busy.kind, "unavailable");
    assert.equal(busy.retryAfter, 30_000);
    const still = await load();
    assert.equal(still.notModified, true);
    assert.ok(still.checkedAt.endsWith("Z"), "without a Date header, the time of the answer");
    assert.deepEqual(sent.map((s) => s.ifNoneMatch), [null, 'W/"a"', 'W/"a"', 'W/"a"']);
  });

  it("reuses unchanged rows so views can tell changed ones by identity", () => {
    const before = [{id: 1, occupancy: 3, needs: {infant: 1}}, {id: 2, occupancy: 5, needs: {}}];
    const byIdBefore = new Map(before.map((r) => [r.id, r]));
    const fresh = [{id: 1, occupancy: 3, needs: {infant: 1}}, {id: 2, occupancy: 6, needs: {}}, {id: 3, occupancy: 0, needs: {}}];
    const {rows, changed} = reuseUnchanged(byIdBefore, fresh);
    assert.equal(changed, 2);
    assert.equal(rows[0], before[0]);
    assert.equal(rows[1], fresh[1]);
    assert.equal(rows[2], fresh[2]);
  });
});

describe("drawing only what changed", () => {
  const many = Array.from({length: 300}, (_, i) => row(i + 1, {households: (i * 37) % 101, name_kana: "カ" + ((i * 7) % 50)}));

  it("computes each row's sort key once, not in every comparison", () => {
    const original = sorters.name;
    let calls = 0;
    sorters.name = (r) => { calls += 1; return original(r); };
    try {
      const sorted = sortRows(many, {key: "name", dir: 1});
      assert.equal(calls, many.length);
      for (let i = 1; i < sorted.length; i++) {
        const [a, b] = [original(sorted[i - 1]), original(sorted[i])];
        assert.ok(a < b || (a === b && sorted[i - 1].id < sorted[i].id), "ascending, ties by id");
      }
    } finally {
      sorters.name = original;
    }
  });

  it("answers the same array while the rows, filters and sort stay the same", () => {
    const view = createRowView();
    const first = view(many, {q: "", near: false}, {key: "households", dir: -1});
    assert.equal(view(many, {q: "", near: false}, {key: "households", dir: -1}), first, "a page change: nothing redone");
    assert.deepEqual(first.map((r) => r.id), sortRows(many, {key: "households", dir: -1}).map((r) => r.id));
    const filtered = view(many, {q: "避難所1", near: false}, {key: "households", dir: -1});
    assert.notEqual(filtered, first);
    assert.ok(filtered.length < many.length && filtered.every((r) => r.name.includes("避難所1")));
    const resorted = view(many, {q: "避難所1", near: false}, {key: "name", dir: 1});
    assert.notEqual(resorted, filtered);
    assert.equal(view(many.slice(), {q: "避難所1", near: false}, {key: "name", dir: 1}) === resorted, false,
      "new rows from a poll: filtered and sorted again");
  });

  it("keeps a drawn table row only for the same object with the same look", () => {
    const [a, b, c] = [row(1), row(2), row(3)];
    const drawn = new Map([[1, {row: a, look: "|x"}], [2, {row: b, look: "|x"}], [3, {row: row(3), look: "|x"}]]);
    const plan = rowsToDraw(drawn, [a, b, c, row(4)], (r) => (r.id === 2 ? "selected|x" : "|x"));
    assert.deepEqual(plan.map((p) => p.keep), [true, false, false, false]);
    assert.equal(plan[1].look, "selected|x");
  });

  it("takes the very same row object as unchanged without comparing it", () => {
    const same = row(1);
    Object.defineProperty(same, "toJSON", {value: () => { throw new Error("compared"); }});
    const changed = row(2, {occupancy: 11});
    const {rows, changed: count} = reuseUnchanged(new Map([[1, same], [2, row(2)]]), [same, changed]);
    assert.equal(rows[0], same);
    assert.equal(rows[1], changed);
    assert.equal(count, 1);
  });
});
