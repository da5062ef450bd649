// The shared API client: how answers are classified, Retry-After, the CSRF token and its renewal.
import assert from "node:assert/strict";
import {describe, it} from "node:test";

import {classify, createApi, makeAnswer, parseRetryAfter} from "../../evac/static/js/api.js";

function json(status, body, headers = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status, headers: Object.assign({"Content-Type": "application/json"}, headers),
  });
}

/** A fake fetch answering from a list, recording each call. */
function fakeFetch(...responses) {
  const calls = [];
  const fetch = async (path, init) => {
    calls.push({path, init});
    const next = responses.shift();
    if (next instanceof Error) throw next;
    return typeof next === "function" ? next(path, init) : next;
  };
  return {fetch, calls};
}

describe("classify", () => {
  it("2xx is ok", () => {
    for (const status of [200, 201, 204]) assert.equal(classify(status, null), "ok");
  });

  it("no answer and 502/503/504 are one thing: unavailable (the desk queues)", () => {
    for (const status of [0, 502, 503, 504]) assert.equal(classify(status, null), "unavailable", String(status));
  });

  it("408 and 429 are worth a retry", () => {
    assert.equal(classify(408, null), "retry");
    assert.equal(classify(429, {error: {code: "too_many_requests"}}), "retry");
  });

  it("401 and a stale CSRF token mean the session, not the request", () => {
    assert.equal(classify(401, null), "session");
    assert.equal(classify(400, {error: {code: "csrf_failed"}}), "session");
  });

  it("other 4xx are refusals", () => {
    for (const status of [400, 403, 404, 409, 413, 422]) assert.equal(classify(status, {error: {code: "x"}}), "refused");
  });

  it("500 and other statuses failed", () => {
    assert.equal(classify(500, null), "failed");
    assert.equal(classify(501, null), "failed");
    assert.equal(classify(302, null), "failed");
  });
});

describe("Retry-After", () => {
  it("reads delta-seconds", () => {
    assert.equal(parseRetryAfter("5"), 5000);
    assert.equal(parseRetryAfter(" 0 "), 0);
  });

  it("reads an HTTP date against the clock", () => {
    const now = Date.parse("Sun, 06 Nov 2025 08:49:37 GMT");
    assert.equal(parseRetryAfter("Sun, 06 Nov 2025 08:50:07 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Sun, 06 Nov 2025 08:49:00 GMT", now), 0); // past: now
  });

  it("ignores what is not a valid header", () => {
    for (const value of [null, undefined, "", "-1", "1.5", "soon"]) assert.equal(parseRetryAfter(value), null, String(value));
  });

  it("comes with the answer", () => {
    const answer = makeAnswer(503, {error: {code: "database_unavailable", message: "busy"}}, "3");
    assert.deepEqual(answer, {
      status: 503, ok: false, kind: "unavailable", offline: true,
      data: {error: {code: "database_unavailable", message: "busy"}},
      error: {code: "database_unavailable", message: "busy"}, retryAfter: 3000,
    });
  });
});

describe("createApi", () => {
  it("sends JSON with the session cookie and the CSRF token", async () => {
    const {fetch, calls} = fakeFetch(json(201, {stays: [1]}));
    const api = createApi({fetch, csrfToken: "token-1"});
    const answer = await api.post("/api/v1/checkins", {qr: "EV1:X"});
    assert.equal(answer.ok, true);
    assert.equal(answer.status, 201);
    assert.deepEqual(answer.data, {stays: [1]});
    const {path, init} = calls[0];
    assert.equal(path, "/api/v1/checkins");
    assert.equal(init.method, "POST");
    assert.equal(init.credentials, "same-origin");
    assert.equal(init.headers["X-CSRFToken"], "token-1");
    assert.equal(init.headers["Content-Type"], "application/json");
    assert.equal(init.body, JSON.stringify({qr: "EV1:X"}));
  });

  it("sends no body on GET", async () => {
    const {fetch, calls} = fakeFetch(json(200, {items: []}));
    await createApi({fetch}).get("/api/v1/shelters/1");
    assert.equal(calls[0].init.method, "GET");
    assert.equal(calls[0].init.body, undefined);
  });

  it("never throws: a network error is an answer, unavailable", async () => {
    const {fetch} = fakeFetch(new TypeError("Failed to fetch"));
    const answer = await createApi({fetch}).post("/api/v1/checkins", {});
    assert.equal(answer.kind, "unavailable");
    assert.equal(answer.offline, true);
    assert.equal(answer.status, 0);
    assert.equal(answer.data, null);
  });

  it("takes a 503 with Retry-After as unavailable, and a proxy's HTML 502 too", async () => {
    const {fetch} = fakeFetch(
      json(503, {error: {code: "database_unavailable", message: "混雑"}}, {"Retry-After": "7"}),
      new Response("<html>Bad Gateway</html>", {status: 502, headers: {"Content-Type": "text/html"}}),
    );
    const api = createApi({fetch});
    const busy = await api.get("/api/v1/occupancy");
    assert.equal(busy.kind, "unavailable");
    assert.equal(busy.retryAfter, 7000);
    assert.equal(busy.error.message, "混雑");
    const gateway = await api.get("/api/v1/occupancy");
    assert.equal(gateway.kind, "unavailable");
    assert.equal(gateway.data, null);
    assert.equal(gateway.retryAfter, null);
  });

  it("tells the page whether the server could be had", async () => {
    const seen = [];
    const {fetch} = fakeFetch(json(200, {}), new TypeError("offline"), json(503, null), json(422, {error: {}}));
    const api = createApi({fetch, onConnectivity: (online) => seen.push(online)});
    for (let i = 0; i < 4; i += 1) await api.get("/x");
    assert.deepEqual(seen, [true, false, false, true]);
  });

  it("renews a stale CSRF token and sends the request again, once", async () => {
    const {fetch, calls} = fakeFetch(
      json(400, {error: {code: "csrf_failed", message: "expired"}}),
      json(200, {csrf_token: "token-2"}),
      json(201, {stays: []}),
    );
    const api = createApi({fetch, csrfToken: "token-1"});
    const answer = await api.post("/api/v1/checkins", {client_id: "c1"});
    assert.equal(answer.status, 201);
    assert.deepEqual(calls.map((c) => c.path), ["/api/v1/checkins", "/desk/csrf", "/api/v1/checkins"]);
    assert.equal(calls[2].init.headers["X-CSRFToken"], "token-2");
    assert.equal(calls[2].init.body, JSON.stringify({client_id: "c1"}));
    assert.equal(api.csrfToken, "token-2");
  });

  it("when no token can be had (logged out: a login page), answers session, not refused", async () => {
    const {fetch, calls} = fakeFetch(
      json(400, {error: {code: "csrf_failed", message: "expired"}}),
      new Response("<html>login</html>", {status: 200, headers: {"Content-Type": "text/html"}}),
    );
    const answer = await createApi({fetch, csrfToken: "old"}).post("/api/v1/checkins", {});
    assert.equal(calls.length, 2);
    assert.equal(answer.kind, "session");
    assert.equal(answer.error.code, "csrf_failed");
  });

  it("does not loop when the renewed token is refused as well", async () => {
    const stale = () => json(400, {error: {code: "csrf_failed", message: "expired"}});
    const {fetch, calls} = fakeFetch(stale(), json(200, {csrf_token: "t2"}), stale(), json(200, {csrf_token: "t3"}));
    const answer = await createApi({fetch}).post("/api/v1/checkins", {});
    assert.equal(calls.length, 3);
    assert.equal(answer.kind, "session");
  });

  it("uses the page's fetch when none is given", async () => {
    const original = globalThis.fetch;
    globalThis.fetch = async () => json(200, {ok: 1});
    try {
      assert.deepEqual((await createApi().get("/x")).data, {ok: 1});
    } finally {
      globalThis.fetch = original;
    }
  });
});
