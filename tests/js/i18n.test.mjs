// The translation helper over the messages in a page's JSON configuration block.
import assert from "node:assert/strict";
import {describe, it} from "node:test";

import {translator} from "../../evac/static/js/i18n.js";

describe("t(key, vars)", () => {
  const t = translator({
    checked_in: "%(n)s 名を受付しました",
    elsewhere: "他の避難所: %(name)s",
    twice: "%(n)s / %(n)s",
    alert: "満員: %(name)s（%(occupancy)s / %(capacity)s人）",
    empty: "",
  });

  it("gives the page's text", () => {
    assert.equal(t("checked_in", {n: 3}), "3 名を受付しました");
    assert.equal(t("elsewhere", {name: "精北小学校"}), "他の避難所: 精北小学校");
  });

  it("fills every placeholder, each wherever it occurs", () => {
    assert.equal(t("twice", {n: 2}), "2 / 2");
    assert.equal(t("alert", {name: "東光小", occupancy: "20", capacity: "20"}), "満員: 東光小（20 / 20人）");
  });

  it("leaves placeholders without a value as they are, and ignores extra values", () => {
    assert.equal(t("checked_in"), "%(n)s 名を受付しました");
    assert.equal(t("elsewhere", {other: 1, name: "X"}), "他の避難所: X");
  });

  it("shows an unknown or empty key as itself, so a missing message is visible", () => {
    assert.equal(t("no_such_key"), "no_such_key");
    assert.equal(t("empty"), "empty");
    assert.equal(t("constructor"), "constructor"); // not Object.prototype's
    assert.equal(translator(null)("x"), "x");
  });

  it("writes values as text, not as patterns", () => {
    assert.equal(t("elsewhere", {name: "$& %(n)s"}), "他の避難所: $& %(n)s");
    assert.equal(t("checked_in", {n: 0}), "0 名を受付しました");
  });
});
