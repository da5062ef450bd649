/* Polling the occupancy summary: one request, then the next after the interval. When the
 * server says it is unavailable (502/503/504) with a Retry-After longer than the interval, the
 * next poll waits that long instead. Each poll sends the ETag of the last answer, so while
 * nothing has changed the server answers 304 without a body and the page redraws nothing. With
 * `delta`, each poll after the first asks only for what changed since the last answer
 * (`?since=`) and merges it into that answer, so the page still gets every shelter.
 * Timers and fetch are injected, so this runs in Node's tests. */

import {makeAnswer} from "../js/api.js";

/**
 * The full answer a delta stands for: the last full answer's shelters, those in the delta
 * replaced (or added), those closed since gone; the delta's totals and time.
 * @param {{shelters: object[]}} last
 * @param {{shelters: object[], closed_ids?: number[], totals: object, generated_at: string, incident_id: ?number}} delta
 */
export function mergeDelta(last, delta) {
  const changed = new Map(delta.shelters.map((row) => [row.id, row]));
  const closed = new Set(delta.closed_ids || []);
  const shelters = [];
  for (const row of last.shelters) {
    if (closed.has(row.id)) continue;
    shelters.push(changed.has(row.id) ? changed.get(row.id) : row);
    changed.delete(row.id);
  }
  for (const row of changed.values()) if (!closed.has(row.id)) shelters.push(row);
  return {generated_at: delta.generated_at, incident_id: delta.incident_id, totals: delta.totals, shelters};
}

/**
 * A GET of `path` that sends If-None-Match with the ETag of its last full answer. Resolves like
 * js/api.js's answers; a 304 is `ok` with `notModified: true`, no data and `checkedAt` (ISO). (A page-set
 * If-None-Match makes the browser pass the 304 through instead of answering from its cache.)
 * @param {object} options
 * @param {string} options.path
 * @param {typeof fetch} [options.fetch]
 * @param {() => number} [options.now]
 * @param {boolean} [options.delta] ask for the changes since the last answer (`since`) and merge them
 */
export function createConditionalGet({path, fetch: fetchImpl = (...args) => globalThis.fetch(...args), now = Date.now,
                                      delta = false}) {
  let etag = null;
  let last = null; // the last full answer (merged), which a delta is applied to
  return async function load() {
    const headers = {"Accept": "application/json"};
    if (etag) headers["If-None-Match"] = etag;
    const since = delta && last && last.generated_at ? last.generated_at : null;
    const url = since ? path + (path.includes("?") ? "&" : "?") + "since=" + encodeURIComponent(since) : path;
    let response;
    try {
      response = await fetchImpl(url, {credentials: "same-origin", headers});
    } catch (err) {
      return makeAnswer(0, null, null, now());
    }
    if (response.status === 304) {
      // When the server said "still the same", by its clock (the Date header), for "last updated".
      const date = Date.parse(response.headers.get("Date") || "");
      const checkedAt = new Date(Number.isNaN(date) ? now() : date).toISOString();
      return {...makeAnswer(200, null, null, now()), status: 304, notModified: true, checkedAt};
    }
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    if (response.status === 200 && data && data.delta && last) {
      const merged = mergeDelta(last, data);
      // Another incident, or a count that does not add up: start again from a full answer.
      if (data.incident_id !== last.incident_id || merged.shelters.length !== data.totals.open_shelters) {
        etag = null;
        last = null;
        return load();
      }
      data = merged;
    }
    const answer = makeAnswer(response.status, data, response.headers.get("Retry-After"), now());
    if (answer.ok && data) {
      etag = response.headers.get("ETag");
      last = data;
    }
    return {...answer, notModified: false};
  };
}

/**
 * @param {object} options
 * @param {() => Promise<object>} options.load answers like js/api.js
 * @param {(answer: object) => void} options.onAnswer
 * @param {number} options.intervalMs
 * @param {Function} [options.setTimer]
 * @param {Function} [options.clearTimer]
 */
export function createPoller({load, onAnswer, intervalMs, setTimer = setTimeout, clearTimer = clearTimeout}) {
  let timer = null;
  let paused = false;

  /** The delay before the poll after this answer. */
  function delayAfter(answer) {
    if (answer && answer.kind === "unavailable" && typeof answer.retryAfter === "number") {
      return Math.max(intervalMs, answer.retryAfter);
    }
    return intervalMs;
  }

  /** Poll now (and, unless paused, schedule the next). */
  async function refresh() {
    clearTimer(timer);
    timer = null;
    const answer = await load();
    onAnswer(answer);
    if (!paused) timer = setTimer(refresh, delayAfter(answer));
    return answer;
  }

  return {
    refresh,
    delayAfter,
    get paused() { return paused; },
    /** Stop polling after the current request. */
    pause() { paused = true; clearTimer(timer); timer = null; },
    /** Poll again now, and on. */
    resume() { paused = false; return refresh(); },
  };
}
