// The walk-in form's pure parts: フリガナ typed in half-width katakana is made full-width (so the
// field's kana pattern accepts it instead of the browser refusing it in its own words).
import assert from "node:assert/strict";
import {describe, it} from "node:test";

import {foldKana, memberFromValues, personFromForm, walkInBody} from "../../evac/static/desk/walkin.js";

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

describe("memberFromValues", () => {
  it("trims, folds half-width kana, and leaves an empty family name to the holder's", () => {
    const member = memberFromValues({family_name: " ", given_name: " 翔 ", family_name_kana: "",
      given_name_kana: "ｼｮｳ", relationship: "子", birth_date: "2024-02-03", sex: "male", allergy: "",
      needs: ["infant"]});
    assert.deepEqual(member, {given_name: "翔", given_name_kana: "ショウ", relationship: "子",
      birth_date: "2024-02-03", sex: "male", allergy: null, needs: ["infant"]});
  });
  it("keeps a family name of their own", () => {
    const member = memberFromValues({family_name: "佐藤", family_name_kana: "ｻﾄｳ", given_name: "花",
      given_name_kana: "ハナ", birth_date: "S55.1.2", sex: "female"});
    assert.equal(member.family_name, "佐藤");
    assert.equal(member.family_name_kana, "サトウ");
    assert.deepEqual(member.needs, []);
  });
});

describe("walkInBody", () => {
  const person = {family_name: "岩田"};
  it("sends the family and asks for the household when there is one", () => {
    assert.deepEqual(walkInBody({shelterId: 3, clientId: "c", person, family: [{given_name: "恵子"}]}),
      {shelter_id: 3, client_id: "c", person, family: [{given_name: "恵子"}], include_household: true});
  });
  it("names the household a walk-in joins, inside the person", () => {
    const body = walkInBody({shelterId: 3, clientId: "c", person, householdId: 42});
    assert.deepEqual(body.person, {family_name: "岩田", household_id: 42});
    assert.equal(person.household_id, undefined); // the form's person is not changed
    assert.equal(body.family, undefined);
  });
});
