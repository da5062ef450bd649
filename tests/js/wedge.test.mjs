// The page-wide scan buffer: a line typed at scanner speed and shaped like a scan is a scan,
// whatever had focus; a person's typing stays in the field it was typed into.
import assert from "node:assert/strict";
import {describe, it} from "node:test";

import {createWedge, isScan, PAUSE_MS, SCANNER_GAP_MS} from "../../evac/static/desk/wedge.js";

const PAYLOAD = "EV1:AAAAAAQAAAAAOOAD3ZBQN6TILE";
const FALLBACK = "0000-01YA-183W";
const IC_LINE = JSON.stringify({type: "ic", uid: "012E4C7A11223344"});

/** Type `text` key by key `gap` ms apart from `start`, then Enter `gap` ms later; the answer to Enter. */
function typeLine(wedge, text, {gap = 10, start = 1000} = {}) {
  let time = start;
  for (const key of text) {
    wedge.type(key, time);
    time += gap;
  }
  return wedge.enter(time);
}

describe("a scanner's line", () => {
  for (const [what, text] of [["a QR payload", PAYLOAD], ["a fallback code", FALLBACK], ["an IC card line", IC_LINE]]) {
    it(`is ${what} when typed at ~10 ms a key`, () => {
      assert.equal(typeLine(createWedge(), text), text);
    });
  }

  it("is a scan right up to the pace a scanner may keep", () => {
    assert.equal(typeLine(createWedge(), PAYLOAD, {gap: SCANNER_GAP_MS}), PAYLOAD);
  });

  it("is a scan despite the odd hiccup of a busy tablet (keys delivered in clumps)", () => {
    const wedge = createWedge();
    let time = 0;
    for (const [i, key] of Array.from(PAYLOAD).entries()) {
      time += i === 1 ? 60 : 12; // the second key came late, as measured on a loaded machine
      wedge.type(key, time);
    }
    assert.equal(wedge.enter(time + 12), PAYLOAD);
  });

  it("starts afresh after a pause: what a person typed before is not part of it", () => {
    const wedge = createWedge();
    assert.equal(wedge.type("山", 0), true);
    assert.equal(wedge.type("田", 400), true, "a person's next key starts a new burst");
    assert.equal(typeLine(wedge, PAYLOAD, {start: 2000}), PAYLOAD);
  });

  it("is the whole burst, never its tail (a payload's last 12 characters read as a fallback code)", () => {
    const wedge = createWedge();
    wedge.type("x", 1000 - PAUSE_MS + 20); // a key just before the scanner started: part of the burst
    assert.equal(typeLine(wedge, PAYLOAD, {start: 1000}), null);
  });

  it("says when a burst starts, so the page can put the field back as it was", () => {
    const wedge = createWedge();
    assert.equal(wedge.type("E", 0), true);
    assert.equal(wedge.type("V", 10), false);
  });

  it("takes text delivered in pieces (an IME commit, a reader program's insertText)", () => {
    const wedge = createWedge();
    const line = JSON.stringify({type: "mynumber", card: {name: "精華　花子", address: "京都府相楽郡精華町光台", birth_date: "19800102", sex: "2"}});
    wedge.type(line.slice(0, 20), 0);
    wedge.type(line.slice(20), 5);
    assert.equal(wedge.enter(10), line);
  });

  it("is used up by its Enter: a second Enter is a person's", () => {
    const wedge = createWedge();
    assert.equal(typeLine(wedge, PAYLOAD), PAYLOAD);
    assert.equal(wedge.enter(2000), null);
  });
});

describe("a person's typing", () => {
  it("is not a scan, even of a whole payload, at 100 ms a key", () => {
    assert.equal(typeLine(createWedge(), PAYLOAD, {gap: 100}), null);
  });

  it("is not a scan when typed fast for a person but slow for a scanner (60 ms a key)", () => {
    assert.equal(typeLine(createWedge(), FALLBACK, {gap: 60}), null);
  });

  it("is not a scan when only the end of the line came fast", () => {
    const wedge = createWedge();
    wedge.type("E", 0);
    wedge.type("V", 200);
    assert.equal(typeLine(wedge, "1:AAAAAAQAAAAAOOAD3ZBQN6TILE", {start: 400}), null);
  });

  it("is not a scan when Enter comes a moment later", () => {
    const wedge = createWedge();
    PAYLOAD.split("").forEach((key, i) => wedge.type(key, i * 10));
    assert.equal(wedge.enter(PAYLOAD.length * 10 + 500), null);
  });

  it("is not a scan when fast but not shaped like one (a name pasted, a short word)", () => {
    assert.equal(typeLine(createWedge(), "精華町光台七丁目四十三番地の二"), null);
    assert.equal(typeLine(createWedge(), "hello"), null);
    assert.equal(typeLine(createWedge(), "{\"type\": \"ic\""), null, "a broken reader line");
  });

  it("is forgotten after reset (the scan field's own Enter)", () => {
    const wedge = createWedge();
    PAYLOAD.split("").forEach((key, i) => wedge.type(key, i * 10));
    wedge.reset();
    assert.equal(wedge.enter(PAYLOAD.length * 10), null);
  });
});

describe("isScan", () => {
  it("knows the three shapes and nothing else", () => {
    assert.ok(isScan(PAYLOAD) && isScan(FALLBACK) && isScan(IC_LINE));
    assert.ok(!isScan("") && !isScan("   ") && !isScan("EV1:TOOSHORT") && !isScan("{not json"));
  });
});
