// The walk-in form's pure parts: フリガナ typed in half-width katakana is made full-width (so the
// field's kana pattern accepts it instead of the browser refusing it in its own words).
import assert from "node:assert/strict";
import {describe, it} from "node:test";

import {foldKana, personFromForm} from "../../evac/static/desk/walkin.js";

describe("foldKana", () => {
  it("makes half-width katakana full-width, joining voiced marks", () => {
    assert.equal(foldKana("ﾀﾅｶ ﾊﾅｺ"), "タナカ ハナコ");
    assert.equal(foldKana("ｶﾞｯｺｳ"), "ガッコウ");
    assert.equal(foldKana("ｰ"), "ー");
  });
  it("leaves full-width kana and hiragana as typed", () => {
    assert.equal(foldKana("タナカ　ハナコ"), "タナカ　ハナコ");
    assert.equal(foldKana("たなか"), "たなか");
  });
});

describe("personFromForm", () => {
  it("reads the form's fields into a check-in's person", () => {
    const values = new Map([["family_name", " 田中 "], ["family_name_kana", "タナカ"], ["birth_date", "1980-01-02"],
                            ["sex", "female"], ["address", "精華町"], ["pets", "2"]]);
    const data = {get: (k) => values.get(k) || null, getAll: () => ["elderly"], has: (k) => k === "consent_relatives"};
    const person = personFromForm(data);
    assert.equal(person.family_name, "田中");
    assert.equal(person.given_name, "");
    assert.deepEqual(person.needs, ["elderly"]);
    assert.equal(person.pets, 2);
    assert.deepEqual(person.consent, {relatives: true, acquaintances: false, public: false});
  });
});
