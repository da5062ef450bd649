// The desk screen's card readers: its id, pairing codes, and the short poll (with fake timers and a
// scripted server): polling only while a reader is paired, each read handed on once and acknowledged.
import assert from "node:assert/strict";
import {describe, it} from "node:test";

import {makeAnswer} from "../../evac/static/js/api.js";
import {clock, createReaderLink, DESK_ID_KEY, deskId, deskLabel, pairCommand, readLine} from "../../evac/static/desk/readers.js";
import {personFromCard} from "../../evac/static/desk/walkin.js";

const CARD = {name: "精華　花子", address: "京都府相楽郡精華町光台７丁目４３番地", birth_date: "19800102", sex: "2"};
const READER = {id: 7, name: "受付1", desk_label: "受付-AB12", paired_at: "2026-12-02T01:00:00+00:00", last_read_at: null};

function memoryStorage(initial = {}) {
  const items = new Map(Object.entries(initial));
  return {getItem: (k) => (items.has(k) ? items.get(k) : null), setItem: (k, v) => items.set(k, String(v)), items};
}

/** Timers run by hand: `next()` fires the earliest, `pending` says what is planned. */
function fakeTimers() {
  let seq = 0;
  const planned = new Map();
  return {
    setTimeout: (fn, ms) => { seq += 1; planned.set(seq, {fn, ms}); return seq; },
    clearTimeout: (id) => planned.delete(id),
    get pending() { return Array.from(planned.values(), (p) => p.ms); },
    async next() {
      const [id, entry] = planned.entries().next().value;
      planned.delete(id);
      await entry.fn();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

function server(answers) {
  const calls = [];
  return {
    calls,
    api: {
      post: async (path, body) => {
        calls.push({path, body: JSON.parse(JSON.stringify(body))});
        const next = answers.length > 1 ? answers.shift() : answers[0];
        return typeof next === "function" ? next(path, body) : next;
      },
    },
  };
}

const polled = (readers, reads = [], pollMs = readers.length ? 1000 : 0) =>
  makeAnswer(200, {readers, reads, poll_ms: pollMs}, null);

function link(answers, extra = {}) {
  const timers = fakeTimers();
  const {api, calls} = server(answers);
  const seen = {reads: [], readers: [], codes: [], paired: []};
  const readerLink = createReaderLink({
    shelterId: 3, deskId: "0b6f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", api, timers,
    onRead: (line, read) => seen.reads.push({line, read}), onReaders: (r) => seen.readers.push(r),
    onCode: (c) => seen.codes.push(c), onPaired: (r) => seen.paired.push(r), ...extra,
  });
  return {readerLink, timers, calls, seen};
}

describe("the desk screen's id", () => {
  it("is made once and kept", () => {
    const storage = memoryStorage();
    const first = deskId(storage, () => "6f1c1a5e-7b1e-4a0e-9d39-5c9a4b0e6a01");
    assert.equal(first, "6f1c1a5e-7b1e-4a0e-9d39-5c9a4b0e6a01");
    assert.equal(deskId(storage, () => "another"), first);
    assert.equal(storage.items.get(DESK_ID_KEY), first);
  });

  it("is made again when what is stored is not one", () => {
    const storage = memoryStorage({[DESK_ID_KEY]: "junk"});
    assert.equal(deskId(storage, () => "6f1c1a5e-7b1e-4a0e-9d39-5c9a4b0e6a01"), "6f1c1a5e-7b1e-4a0e-9d39-5c9a4b0e6a01");
  });

  it("works without storage (private mode), for this page only", () => {
    const broken = {getItem: () => { throw new Error("denied"); }, setItem: () => { throw new Error("denied"); }};
    assert.equal(deskId(broken, () => "6f1c1a5e-7b1e-4a0e-9d39-5c9a4b0e6a01"), "6f1c1a5e-7b1e-4a0e-9d39-5c9a4b0e6a01");
    assert.equal(deskLabel(null, "0b6f3a4e-1c2d", "受付"), "受付-0B6F");
  });
});

describe("a read", () => {
  it("becomes the same line a keyboard-wedge reader types", () => {
    assert.deepEqual(JSON.parse(readLine({read_id: "x", type: "mynumber", card: CARD, received_at: "t"})),
      {type: "mynumber", card: CARD});
    assert.deepEqual(JSON.parse(readLine({read_id: "y", type: "ic", uid: "0A0B", received_at: "t"})),
      {type: "ic", uid: "0A0B"});
  });

  it("of a card nobody matches prefills the walk-in form, normalised", () => {
    assert.deepEqual(personFromCard(CARD), {family_name: "精華", given_name: "花子", birth_date: "1980-01-02",
                                           sex: "female", address: "京都府相楽郡精華町光台7丁目43番地"});
    assert.equal(personFromCard({...CARD, sex: "9"}).sex, "other");
    assert.equal(personFromCard({...CARD, sex: "1"}).sex, "male");
    assert.equal(personFromCard({...CARD, sex: "0"}).sex, "other");
    assert.equal(personFromCard({...CARD, name: "ＳＭＩＴＨ　ＪＯＨＮ　ＰＡＵＬ"}).given_name, "JOHN PAUL");
    assert.equal(personFromCard({...CARD, name: "単独"}).given_name, "");
    assert.equal(personFromCard({...CARD, birth_date: "昭和55年1月2日"}).birth_date, "昭和55年1月2日");
  });

  it("shows its time in Tokyo", () => {
    assert.equal(clock("2026-12-02T05:07:00+00:00", "en"), "14:07");
    assert.equal(pairCommand("K7Q4-PX2M", "https://evac.example"), "evac-reader pair K7Q4-PX2M --server https://evac.example");
  });
});

describe("the poll", () => {
  it("asks once and stops when no reader is paired", async () => {
    const {readerLink, timers, calls} = link([polled([])]);
    await readerLink.start();
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0].body, {shelter_id: 3, desk_id: "0b6f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", ack: []});
    assert.deepEqual(timers.pending, []);
  });

  it("asks every second while a reader is paired, and hands each read on once", async () => {
    const read = {read_id: "r1", type: "mynumber", card: CARD, received_at: "t"};
    const {readerLink, timers, calls, seen} = link([polled([READER]), polled([READER], [read]), polled([READER])]);
    await readerLink.start();
    assert.deepEqual(seen.readers, [[READER]]);
    assert.deepEqual(timers.pending, [1000]);
    await timers.next();
    assert.deepEqual(seen.reads.map((r) => JSON.parse(r.line)), [{type: "mynumber", card: CARD}]);
    // Acknowledged at once, not a second later: the read's data goes from the server.
    assert.deepEqual(timers.pending, [1]);
    await timers.next();
    assert.deepEqual(calls.at(-1).body.ack, ["r1"]);
    assert.deepEqual(timers.pending, [1000]);
    assert.equal(seen.readers.length, 1, "the same readers are not drawn again");
  });

  it("drops a read that comes again after its acknowledgement was lost", async () => {
    const read = {read_id: "r1", type: "ic", uid: "0A0B", received_at: "t"};
    const lost = makeAnswer(0, null, null);
    const {readerLink, timers, calls, seen} = link([polled([READER], [read]), lost, polled([READER], [read]), polled([READER])]);
    await readerLink.start();
    await timers.next(); // the acknowledgement is lost on the way
    assert.deepEqual(calls.at(-1).body.ack, ["r1"]);
    assert.deepEqual(timers.pending, [1000]); // retried, a little later
    await timers.next(); // still acknowledged, and the read that came again is not handed on twice
    assert.deepEqual(calls.at(-1).body.ack, ["r1"]);
    assert.equal(seen.reads.length, 1);
    await timers.next();
    assert.deepEqual(calls.at(-1).body.ack, ["r1"]);
  });

  it("backs off while the server cannot be had, and carries on", async () => {
    const down = makeAnswer(503, null, null);
    const {readerLink, timers} = link([polled([READER]), down, down, down, polled([READER])]);
    await readerLink.start();
    const waits = [];
    for (let i = 0; i < 4; i += 1) {
      await timers.next();
      waits.push(timers.pending[0]);
    }
    assert.deepEqual(waits, [1000, 2000, 5000, 1000]);
  });

  it("stops once the reader is revoked (the server says poll_ms 0)", async () => {
    const {readerLink, timers, seen} = link([polled([READER]), polled([])]);
    await readerLink.start();
    await timers.next();
    assert.deepEqual(seen.readers, [[READER], []]);
    assert.deepEqual(timers.pending, []);
  });
});

describe("pairing", () => {
  const future = new Date(Date.now() + 600_000).toISOString();
  const code = makeAnswer(201, {code: "K7Q4-PX2M", expires_at: future, expires_in: 600, shelter_id: 3, desk_id: "d"}, null);

  it("shows the code and looks every two seconds until a reader uses it", async () => {
    const answers = [polled([]), (path) => (path.endsWith("/pairings") ? code : polled([])), polled([]), polled([READER])];
    const {readerLink, timers, calls, seen} = link(answers);
    await readerLink.start();
    await readerLink.requestCode("受付-AB12");
    assert.deepEqual(calls.at(-1), {path: "/api/v1/readers/pairings",
                                    body: {shelter_id: 3, desk_id: "0b6f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", desk_label: "受付-AB12"}});
    assert.equal(seen.codes[0].code, "K7Q4-PX2M");
    assert.deepEqual(timers.pending, [2000]);
    await timers.next();
    assert.deepEqual(timers.pending, [2000], "no reader yet: keep looking while the code is shown");
    await timers.next();
    assert.deepEqual(seen.paired, [READER]);
    assert.equal(seen.codes.at(-1), null, "a used code is not shown any more");
    assert.deepEqual(timers.pending, [1000]);
  });

  it("stops looking when the code has expired", async () => {
    let now = Date.now();
    const answers = [(path) => (path.endsWith("/pairings") ? code : polled([]))];
    const {readerLink, timers, seen} = link(answers, {now: () => now});
    await readerLink.requestCode("");
    now += 601_000;
    await timers.next();
    assert.equal(seen.codes.at(-1), null);
    assert.deepEqual(timers.pending, []);
  });

  it("revokes a reader of this desk screen by naming it", async () => {
    const {readerLink, calls, seen} = link([polled([READER]), makeAnswer(200, {}, null), polled([])]);
    await readerLink.start();
    await readerLink.revoke(7);
    assert.deepEqual(calls[1], {path: "/api/v1/readers/7/revoke", body: {desk_id: "0b6f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"}});
    assert.deepEqual(seen.readers.at(-1), []);
  });
});
