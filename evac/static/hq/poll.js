/* Polling the occupancy summary: one request, then the next after the interval. When the
 * server says it is unavailable (502/503/504) with a Retry-After longer than the interval, the
 * next poll waits that long instead. Timers are injected, so this runs in Node's tests. */

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
