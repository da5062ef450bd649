// The offline queue with an in-memory store: order, replay, what counts as delivered.
import assert from "node:assert/strict";
import {describe, it} from "node:test";

import {makeAnswer} from "../../evac/static/js/api.js";
import {memoryStore, OfflineQueue} from "../../evac/static/desk/queue.js";

const ok = () => makeAnswer(201, {stays: []}, null);
const offline = () => makeAnswer(0, null, null);
const busy = (retryAfter = "5") => makeAnswer(503, {error: {code: "database_unavailable", message: "busy"}}, retryAfter);
const refused = (message = "このカードは再発行されています") => makeAnswer(422, {error: {code: "card_revoked", message}}, null);

function item(n, shelter = 1) {
  return {client_id: "id-" + n, path: "/api/v1/checkins", body: {shelter_id: shelter, qr: "code-" + n, client_id: "id-" + n},
          shelter_id: shelter};
}

/** A clock the test moves, and a server whose answers the test scripts (default: ok). */
function setup(answers = []) {
  let now = 1_000_000;
  const sent = [];
  const script = answers.slice();
  const queue = new OfflineQueue({
    store: memoryStore(), now: () => now,
    send: async (queued) => { sent.push(queued.client_id); return (script.shift() || ok)(); },
  });
  return {queue, sent, script, tick: (ms) => { now += ms; }};
}

describe("the offline queue", () => {
  it("keeps what is added, per shelter, oldest first", async () => {
    const {queue, tick} = setup();
    await queue.add(item(1));
    tick(1);
    await queue.add(item(2, 2));
    await queue.add(item(3)); // the same millisecond as 2: added order holds
    assert.deepEqual((await queue.pending()).map((i) => i.client_id), ["id-1", "id-2", "id-3"]);
    assert.deepEqual((await queue.pending(1)).map((i) => i.client_id), ["id-1", "id-3"]);
    assert.equal((await queue.pending(1))[0].body.qr, "code-1");
  });

  it("dedupes by client_id: the first stays, in its place", async () => {
    const {queue, sent} = setup();
    assert.equal(await queue.add(item(1)), true);
    await queue.add(item(2));
    assert.equal(await queue.add(Object.assign(item(1), {body: {other: true}})), false);
    const pending = await queue.pending();
    assert.deepEqual(pending.map((i) => i.client_id), ["id-1", "id-2"]);
    assert.equal(pending[0].body.qr, "code-1");
    await queue.flush();
    assert.deepEqual(sent, ["id-1", "id-2"]);
  });

  it("refuses an item without its client_id (a replay could double a stay)", async () => {
    const {queue} = setup();
    await assert.rejects(queue.add({path: "/api/v1/checkins", body: {}}));
  });

  it("flushes in the order the scans were made, and empties", async () => {
    const {queue, sent, tick} = setup();
    for (const n of [1, 2, 3]) { await queue.add(item(n)); tick(10); }
    const result = await queue.flush();
    assert.deepEqual(sent, ["id-1", "id-2", "id-3"]);
    assert.deepEqual(result.sent.map((i) => i.client_id), ["id-1", "id-2", "id-3"]);
    assert.equal(result.stopped, null);
    assert.deepEqual(await queue.pending(), []);
  });

  it("stops at the first that fails to go, keeps it and the rest, and replays them in order", async () => {
    const {queue, sent} = setup([ok, offline]);
    for (const n of [1, 2, 3]) await queue.add(item(n));
    const first = await queue.flush();
    assert.deepEqual(first.sent.map((i) => i.client_id), ["id-1"]);
    assert.equal(first.stopped.kind, "unavailable");
    assert.deepEqual((await queue.pending()).map((i) => i.client_id), ["id-2", "id-3"]);
    const second = await queue.flush();
    assert.deepEqual(second.sent.map((i) => i.client_id), ["id-2", "id-3"]);
    assert.deepEqual(sent, ["id-1", "id-2", "id-2", "id-3"]); // id-2 again, with the same client_id
    assert.deepEqual(await queue.pending(), []);
  });

  for (const status of [502, 503, 504]) {
    it(`counts ${status} as offline: kept, flush stopped`, async () => {
      const {queue} = setup([() => makeAnswer(status, null, null)]);
      await queue.add(item(1));
      await queue.add(item(2));
      const result = await queue.flush();
      assert.equal(result.sent.length, 0);
      assert.equal(result.refused.length, 0);
      assert.equal(result.stopped.status, status);
      assert.equal((await queue.pending()).length, 2);
    });
  }

  it("honours a 503's Retry-After before it asks again", async () => {
    const {queue, sent, tick} = setup([() => busy("30")]);
    await queue.add(item(1));
    await queue.flush();
    assert.equal(queue.waitMs(), 30_000);
    tick(29_000);
    assert.equal((await queue.flush()).skipped, true);
    assert.deepEqual(sent, ["id-1"]);
    tick(1_000);
    const result = await queue.flush();
    assert.equal(result.skipped, false);
    assert.deepEqual(result.sent.map((i) => i.client_id), ["id-1"]);
  });

  it("caps a Retry-After that would keep check-ins waiting for long", async () => {
    const {queue} = setup([() => busy("86400")]);
    await queue.add(item(1));
    await queue.flush();
    assert.equal(queue.waitMs(), 5 * 60 * 1000);
  });

  it("keeps items the server did not judge: 408, 429, logged out, 500", async () => {
    for (const answer of [makeAnswer(408, null, null), makeAnswer(429, null, "2"),
      makeAnswer(401, {error: {code: "unauthenticated"}}, null),
      makeAnswer(400, {error: {code: "csrf_failed", message: "stale"}}, null), makeAnswer(500, null, null)]) {
      const {queue} = setup([() => answer]);
      await queue.add(item(1));
      const result = await queue.flush();
      assert.equal(result.refused.length, 0, String(answer.status));
      assert.equal((await queue.pending()).length, 1, String(answer.status));
    }
  });

  it("removes an item the server refused (4xx) and reports it, then goes on", async () => {
    const {queue, sent} = setup([ok, refused, ok]);
    for (const n of [1, 2, 3]) await queue.add(item(n));
    const result = await queue.flush();
    assert.deepEqual(sent, ["id-1", "id-2", "id-3"]);
    assert.deepEqual(result.sent.map((i) => i.client_id), ["id-1", "id-3"]);
    assert.equal(result.refused.length, 1);
    assert.equal(result.refused[0].item.client_id, "id-2");
    assert.equal(result.refused[0].answer.error.message, "このカードは再発行されています");
    assert.deepEqual(await queue.pending(), []);
  });

  it("runs one flush at a time (a timer and the online event at once send nothing twice)", async () => {
    let release;
    const gate = new Promise((resolve) => { release = resolve; });
    const sent = [];
    const queue = new OfflineQueue({
      store: memoryStore(), send: async (queued) => { sent.push(queued.client_id); await gate; return ok(); },
    });
    await queue.add(item(1));
    const first = queue.flush();
    const second = queue.flush();
    release();
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual(sent, ["id-1"]);
    assert.equal(a.sent.length, 1);
    assert.equal(b.skipped, true);
  });

  it("stores copies: what the page changes afterwards is not what is sent", async () => {
    const {queue} = setup();
    const queued = item(1);
    await queue.add(queued);
    queued.body.qr = "changed";
    assert.equal((await queue.pending())[0].body.qr, "code-1");
  });
});
