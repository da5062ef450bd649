import {test} from "node:test";
import assert from "node:assert/strict";

import {allPresent, fullName, memberState, timeOf, whereText} from "../../evac/static/desk/household.js";

const t = (key, args = {}) => ({
  not_checked_in: "未受付", here: "この避難所", present: "在所", elsewhere_short: "他の避難所",
  elsewhere: "他の避難所: " + args.name, since: "（" + args.time + " 受付）", outing: "外出中",
})[key];

test("a member at another of the desk's shelters is named with it", () => {
  const where = {stay_id: 3, status: "present", shelter_id: 2, shelter_name: "東光小学校"};
  assert.equal(whereText(where, 1, t), "他の避難所: 東光小学校");
});

test("a shelter outside the desk's scope is never named, only 'another shelter'", () => {
  const where = {stay_id: null, status: "elsewhere", shelter_id: null, shelter_name: null};
  assert.equal(whereText(where, 1, t), "他の避難所");
  assert.deepEqual(memberState({whereabouts: where}, 1), {checked: false, disabled: false, elsewhere: true});
});

test("here and not checked in", () => {
  assert.equal(whereText({stay_id: 1, status: "present", shelter_id: 1, shelter_name: "x"}, 1, t), "この避難所: 在所");
  assert.equal(whereText(null, 1, t), "未受付");
});

test("here, with the time the stay began, in Tokyo", () => {
  const where = {stay_id: 1, status: "present", shelter_id: 1, shelter_name: "x", checked_in_at: "2026-12-02T05:07:00+00:00"};
  assert.equal(timeOf(where.checked_in_at, "ja"), "14:07");
  assert.equal(whereText(where, 1, t, "ja"), "この避難所: 在所（14:07 受付）");
  assert.equal(timeOf(null, "ja"), "");
});

test("everyone present here: nothing to check in", () => {
  const here = (status) => ({whereabouts: {stay_id: 1, status, shelter_id: 1, shelter_name: "x"}});
  assert.equal(allPresent([here("present"), here("present")], 1), true);
  assert.equal(allPresent([here("present"), here("outing")], 1), false, "the one out comes back by a check-in");
  assert.equal(allPresent([here("present"), {whereabouts: null}], 1), false);
  assert.equal(allPresent([here("present"), {whereabouts: {status: "elsewhere", shelter_id: null}}], 1), false);
  assert.equal(allPresent([], 1), false);
});

test("a name without a given name has no 'null' in it", () => {
  assert.equal(fullName({family_name: "岩田", given_name: "哲也"}), "岩田 哲也");
  assert.equal(fullName({family_name: "岩田", given_name: null}), "岩田");
});
