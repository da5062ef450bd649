import {test} from "node:test";
import assert from "node:assert/strict";

import {
  PAGE_SIZE, ageOn, checkedInText, filterKey, mergePage, needsConfirm, needsStrip, reloadLimit, rosterPath, rowActions,
  shownText,
} from "../../evac/static/desk/roster.js";

const form = (values) => ({get: (key) => values[key] ?? null});
const t = (key, args = {}) => ({
  people_total: args.n + " 人", people_shown: args.shown + " / " + args.n + " 人",
})[key];
const item = (stayId) => ({stay: {id: stayId}, person: {id: stayId * 10}});

test("the roster's path carries the filters set, and a page's cursor and limit", () => {
  assert.equal(rosterPath(4, form({q: "さとう", status: "", needs: "infant"})),
    "/api/v1/shelters/4/roster?q=%E3%81%95%E3%81%A8%E3%81%86&needs=infant");
  assert.equal(rosterPath(4, form({}), {cursor: 200, limit: PAGE_SIZE}), "/api/v1/shelters/4/roster?limit=200&cursor=200");
  assert.equal(rosterPath(4, form({limit: "215"})), "/api/v1/shelters/4/roster?limit=215");
});

test("a reload keeps as many rows as were shown, for the same filters only", () => {
  assert.equal(reloadLimit("", "", 215), 215);
  assert.equal(reloadLimit("", "needs=elderly", 215), PAGE_SIZE);
  assert.equal(reloadLimit("", "", 12), PAGE_SIZE);
  assert.equal(reloadLimit("", "", 5000), 1000); // the API's largest page
  assert.equal(filterKey(form({needs: "elderly", q: ""})), "needs=elderly");
});

test("a page is appended, a stay already listed is kept once where it was", () => {
  const merged = mergePage([item(1), item(2)], {items: [item(2), item(3)]});
  assert.deepEqual(merged.map((i) => i.stay.id), [1, 2, 3]);
  assert.deepEqual(mergePage([], {items: []}), []);
});

test("the header says how many of how many are shown", () => {
  assert.equal(shownText(200, 215, t), "200 / 215 人");
  assert.equal(shownText(215, 215, t), "215 人");
  assert.equal(shownText(0, 0, t), "0 人");
});

test("the needs strip lists the needs somebody has, in the vocabulary's order", () => {
  assert.deepEqual(needsStrip({infant: 3, elderly: 39, pregnant: 0, injury: 1}),
    [{key: "elderly", n: 39}, {key: "infant", n: 3}, {key: "injury", n: 1}]);
  assert.deepEqual(needsStrip(undefined), []);
});

test("age counts whole years on today's date in Japan, not UTC's", () => {
  // 2026-01-01 15:30 UTC is already 2 January in Tokyo: a birthday on 2 January has come.
  const now = new Date("2026-01-01T15:30:00Z");
  assert.equal(ageOn("1980-01-02", now), 46);
  assert.equal(ageOn("1980-01-03", now), 45);
  assert.equal(ageOn("2026-01-02", now), 0);
  assert.equal(ageOn("2027-01-01", now), null);
  assert.equal(ageOn(null, now), null);
  assert.equal(ageOn("S55.1.2", now), null);
});

test("a check-in time is the time today, with the date on an earlier day (Tokyo)", () => {
  const now = new Date("2026-12-02T03:00:00Z"); // 12:00 in Tokyo
  assert.equal(checkedInText("2026-12-02T00:05:00Z", "ja", now), "09:05");
  assert.equal(checkedInText("2026-12-01T14:59:00Z", "ja", now), "12/1 23:59");
  assert.equal(checkedInText("2026-12-01T15:00:00Z", "ja", now), "00:00");
  assert.equal(checkedInText(null, "ja", now), "");
  assert.equal(checkedInText("nonsense", "ja", now), "");
});

test("a row's 操作 menu offers what its whereabouts allow, 退所 last", () => {
  assert.deepEqual(rowActions("present", {transferTargets: 2}), ["outing", "at_home", "in_car", "transfer", "left"]);
  assert.deepEqual(rowActions("outing", {transferTargets: 1}), ["return", "at_home", "in_car", "transfer", "left"]);
  assert.deepEqual(rowActions("at_home"), ["return", "in_car", "left"]);
  assert.deepEqual(rowActions("in_car"), ["return", "at_home", "left"]);
  assert.ok(needsConfirm("left") && needsConfirm("transfer") && !needsConfirm("outing"));
});
