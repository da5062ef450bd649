import {test} from "node:test";
import assert from "node:assert/strict";

import {memberState, whereText} from "../../evac/static/desk/household.js";

const t = (key, args = {}) => ({
  not_checked_in: "未受付", here: "この避難所", present: "在所", elsewhere_short: "他の避難所",
  elsewhere: "他の避難所: " + args.name,
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
