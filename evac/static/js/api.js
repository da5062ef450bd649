/* One client for evac's JSON API, shared by every page.
 *
 * Every call answers (it never throws) with the status, the parsed body and one classification
 * that the pages act on, so "the server cannot be had" means the same thing everywhere:
 *
 *   ok           2xx
 *   unavailable  no answer at all (network error), or 502/503/504: a proxy without a backend, or
 *                the database busy or down (the server then says when to retry, in Retry-After).
 *                The desk treats this exactly like being offline: check-ins wait in the queue.
 *   retry        408/429: the request was fine, try again later
 *   session      401, or a stale CSRF token that could not be renewed (logged out): the request
 *                was never judged, so a queued check-in must wait for the next login, not be lost
 *   refused      any other 4xx: the server judged the request and said no; a retry changes nothing
 *   failed       any other status (500, …)
 *
 * A 400 `csrf_failed` (the page outlived its token) renews the token with GET /desk/csrf and
 * sends the request once more. No DOM here: the page hands in the token and `fetch`.
 */

const UNAVAILABLE = new Set([502, 503, 504]);
const TRANSIENT = new Set([408, 429]);

/** True for evac's answer to a missing or stale CSRF token. */
export function isCsrfFailure(status, data) {
  return status === 400 && Boolean(data && data.error && data.error.code === "csrf_failed");
}

/**
 * The classification of one answer (status 0 stands for "no answer": a network error).
 * @param {number} status
 * @param {any} data the parsed JSON body, or null
 * @returns {"ok"|"unavailable"|"retry"|"session"|"refused"|"failed"}
 */
export function classify(status, data) {
  if (status === 0 || UNAVAILABLE.has(status)) return "unavailable";
  if (status >= 200 && status < 300) return "ok";
  if (TRANSIENT.has(status)) return "retry";
  if (status === 401 || isCsrfFailure(status, data)) return "session";
  if (status >= 400 && status < 500) return "refused";
  return "failed";
}

/**
 * Milliseconds to wait from a Retry-After header (delta-seconds or an HTTP date), or null.
 * @param {string|null|undefined} value
 * @param {number} now epoch milliseconds, for the HTTP-date form
 */
export function parseRetryAfter(value, now = Date.now()) {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return null; // "-1", "1.5": not a valid header
  const when = Date.parse(text);
  return Number.isNaN(when) ? null : Math.max(0, when - now);
}

/** The answer object every call resolves to. */
export function makeAnswer(status, data, retryAfterHeader, now = Date.now()) {
  const kind = classify(status, data);
  return {
    status,
    ok: kind === "ok",
    kind,
    offline: kind === "unavailable",
    data,
    error: data && typeof data === "object" && data.error ? data.error : null,
    retryAfter: parseRetryAfter(retryAfterHeader, now),
  };
}

/**
 * A client for one page.
 * @param {object} options
 * @param {typeof fetch} [options.fetch]
 * @param {string} [options.csrfToken] the token from the page's meta tag
 * @param {string} [options.csrfPath] where a fresh token is had
 * @param {(online: boolean) => void} [options.onConnectivity] told after every answer
 * @param {() => number} [options.now]
 */
export function createApi(options = {}) {
  const fetchImpl = options.fetch || ((...args) => globalThis.fetch(...args));
  const csrfPath = options.csrfPath || "/desk/csrf";
  const onConnectivity = options.onConnectivity || (() => {});
  const now = options.now || Date.now;
  let token = options.csrfToken || "";

  async function send(method, path, body) {
    let response;
    try {
      response = await fetchImpl(path, {
        method,
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token},
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      return makeAnswer(0, null, null, now());
    }
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    const retryAfter = response.headers && typeof response.headers.get === "function"
      ? response.headers.get("Retry-After") : null;
    return makeAnswer(response.status, data, retryAfter, now());
  }

  /** A fresh CSRF token from the server; false if none could be had (offline, logged out). */
  async function refreshCsrf() {
    try {
      const response = await fetchImpl(csrfPath, {credentials: "same-origin", headers: {"Accept": "application/json"}});
      if (!response.ok) return false;
      const data = await response.json();
      if (!data || typeof data.csrf_token !== "string") return false;
      token = data.csrf_token;
      return true;
    } catch (err) {
      return false; // a login page instead of JSON, or no network
    }
  }

  /**
   * Send one request and classify the answer; never throws.
   * @param {string} method
   * @param {string} path
   * @param {any} [body] sent as JSON
   */
  async function request(method, path, body) {
    let answer = await send(method, path, body);
    if (isCsrfFailure(answer.status, answer.data) && await refreshCsrf()) {
      answer = await send(method, path, body);
    }
    onConnectivity(!answer.offline);
    return answer;
  }

  return {
    request,
    get: (path) => request("GET", path),
    post: (path, body) => request("POST", path, body),
    patch: (path, body) => request("PATCH", path, body),
    refreshCsrf,
    get csrfToken() { return token; },
  };
}
