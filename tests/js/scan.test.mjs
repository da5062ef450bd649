// The desk's scan parser: QR payloads, fallback codes (as a Japanese IME may type them),
// card-reader lines and garbage. Formats as in evac/cards/tokens.py.
import assert from "node:assert/strict";
import {describe, it} from "node:test";

import {fallbackCode, parseScan, qrPayload} from "../../evac/static/desk/scan.js";

// Made by evac/cards/tokens.py with the key b"k" * 32 for person 2, card serial 7:
// encode() gives "EV1:" + base32 of 16 bytes, unpadded (26 characters); fallback_code() the
// 12 Crockford characters, which decode_fallback() also reads as "００００ー０１ｙａー１８３ｗ".
const PAYLOAD = "EV1:AAAAAAQAAAAAOOAD3ZBQN6TILE";
const FALLBACK = "0000-01YA-183W";

describe("QR payloads", () => {
  it("are taken as they are", () => {
    assert.deepEqual(parseScan(PAYLOAD), {kind: "qr", identify: {qr: PAYLOAD}});
  });

  it("lose the blanks and the Enter a scanner adds", () => {
    assert.equal(parseScan("  " + PAYLOAD + "\r\n").identify.qr, PAYLOAD);
  });

  it("are upper-cased (a scanner in lower case, or autocapitalize off)", () => {
    assert.deepEqual(parseScan(PAYLOAD.toLowerCase()), {kind: "qr", identify: {qr: PAYLOAD}});
  });

  it("are folded from full width (typed through the IME)", () => {
    const wide = Array.from(PAYLOAD, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join("");
    assert.notEqual(wide, PAYLOAD);
    assert.equal(qrPayload(wide), PAYLOAD);
    assert.equal(parseScan(wide).kind, "qr");
  });

  it("need exactly 26 base32 characters after the prefix", () => {
    assert.equal(qrPayload(PAYLOAD.slice(0, -1)), null);
    assert.equal(qrPayload(PAYLOAD + "A"), null);
    assert.equal(qrPayload("EV1:" + "A".repeat(25) + "1"), null); // 1 is not base32
    assert.equal(qrPayload("EV2:" + PAYLOAD.slice(4)), null);
    assert.equal(parseScan(PAYLOAD.slice(0, -1)).kind, "invalid");
  });
});

describe("fallback codes", () => {
  it("are taken grouped or not, in the canonical XXXX-XXXX-XXXX", () => {
    assert.deepEqual(parseScan("7K3M-9QRT-2VXZ"), {kind: "fallback", identify: {qr: "7K3M-9QRT-2VXZ"}});
    assert.equal(parseScan("7K3M9QRT2VXZ").identify.qr, "7K3M-9QRT-2VXZ");
    assert.equal(parseScan("7k3m 9qrt 2vxz").identify.qr, "7K3M-9QRT-2VXZ");
  });

  it("read a real card's code as the server does, however it was typed", () => {
    for (const typed of [FALLBACK, "000001YA183W", "００００ー０１ｙａー１８３ｗ", "0000 01ya 183w"]) {
      assert.deepEqual(parseScan(typed), {kind: "fallback", identify: {qr: FALLBACK}}, typed);
    }
  });

  it("take the dashes an IME types: ー, －, ｰ, ‐ and full-width letters", () => {
    for (const typed of ["7K3Mー9QRTー2VXZ", "7K3M－9QRT－2VXZ", "７Ｋ３Ｍー９ＱＲＴー２ＶＸＺ", "7K3Mｰ9QRTｰ2VXZ",
      "7K3M‐9QRT‐2VXZ", "７ｋ３ｍ　９ｑｒｔ　２ｖｘｚ"]) {
      assert.deepEqual(parseScan(typed), {kind: "fallback", identify: {qr: "7K3M-9QRT-2VXZ"}}, typed);
    }
  });

  it("read I and L as 1 and O as 0, as the server does", () => {
    assert.equal(fallbackCode("IL0O-0000-0000"), "1100-0000-0000");
  });

  it("flag twelve digits: the shape of a 個人番号, which must never be kept on the tablet", () => {
    for (const typed of ["1234 5678 9012", "1234-5678-9012", "１２３４５６７８９０１２", "123456789012"]) {
      assert.deepEqual(parseScan(typed), {kind: "fallback", identify: {qr: "1234-5678-9012"}, mayBeIndividualNumber: true}, typed);
    }
    assert.equal(parseScan(FALLBACK).mayBeIndividualNumber, undefined);
  });

  it("refuse U (not in Crockford's alphabet) and the wrong length", () => {
    assert.equal(fallbackCode("UUUU-0000-0000"), null);
    assert.equal(fallbackCode("7K3M-9QRT-2VX"), null);
    assert.equal(fallbackCode("7K3M-9QRT-2VXZ0"), null);
    assert.equal(parseScan("7K3M-9QRT-2VX").kind, "invalid");
  });
});

describe("card-reader lines", () => {
  const card = {name: "精華　花子", address: "京都府相楽郡精華町光台７丁目４３番地", birth_date: "19800102", sex: "2"};

  it("give a My Number card's four items untouched (no width folding)", () => {
    const scan = parseScan(JSON.stringify({type: "mynumber", card}));
    assert.deepEqual(scan, {kind: "card", identify: {card}});
  });

  it("give an IC card's UID as a string", () => {
    assert.deepEqual(parseScan('{"type": "ic", "uid": "012E4C7A11223344"}'), {kind: "ic", identify: {ic_uid: "012E4C7A11223344"}});
    assert.deepEqual(parseScan('{"type": "ic", "uid": 1234}'), {kind: "ic", identify: {ic_uid: "1234"}});
  });

  it("are invalid when broken or of another type", () => {
    for (const line of ['{"type": "mynumber"', '{"type": "ic"}', '{"type": "ic", "uid": ""}', '{"type": "suica", "uid": "1"}',
      '{"type": "mynumber", "card": "x"}', "{}"]) {
      const scan = parseScan(line);
      assert.equal(scan.kind, "invalid", line);
      assert.equal(scan.json, true, line);
    }
  });
});

describe("garbage", () => {
  it("nothing but blanks is no scan at all", () => {
    assert.equal(parseScan(""), null);
    assert.equal(parseScan("   \n"), null);
    assert.equal(parseScan("　"), null); // an ideographic space
    assert.equal(parseScan(undefined), null);
  });

  it("anything else is invalid, with the text as typed (the server refuses and audits it)", () => {
    assert.deepEqual(parseScan(" hello "), {kind: "invalid", raw: "hello", json: false});
    assert.equal(parseScan("https://example.com/").kind, "invalid");
    assert.equal(parseScan("EV1:").kind, "invalid");
  });
});
