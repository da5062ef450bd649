/* The offline queue: check-ins that could not be delivered, kept with their client_id and sent
 * later in the order they were made. The server answers a repeated client_id with the first
 * result, so a replay (after a lost answer, a reload, a second tab) never doubles a stay.
 *
 * Delivery rules, per answer (see js/api.js for the kinds):
 *   ok            delivered: removed
 *   refused       the server judged it and said no (a 4xx): removed, and reported to the desk
 *   anything else not delivered (offline, 502/503/504, 408/429, logged out, 500): kept, and the
 *                 flush stops there so the order holds; a Retry-After delays the next flush
 *
 * The storage is injected: IndexedDB on the tablet (idb-store.js), `memoryStore()` in tests.
 * A store has `getAll()`, `get(key)`, `put(item)` and `delete(key)`, all returning promises.
 */

/** A store in memory, with the interface of the IndexedDB one. */
export function memoryStore() {
  const items = new Map();
  return {
    async getAll() { return Array.from(items.values(), (item) => structuredCopy(item)); },
    async get(key) { return items.has(key) ? structuredCopy(items.get(key)) : undefined; },
    async put(item) { items.set(item.client_id, structuredCopy(item)); },
    async delete(key) { items.delete(key); },
  };
}

function structuredCopy(value) {
  // IndexedDB stores copies; so does this, so a test cannot pass by sharing an object.
  return JSON.parse(JSON.stringify(value));
}

/** Queue order: when made, then the order they were added within one millisecond. */
function byCreation(a, b) {
  return (a.created - b.created) || ((a.seq || 0) - (b.seq || 0));
}

export class OfflineQueue {
  /**
   * @param {object} options
   * @param {ReturnType<typeof memoryStore>} options.store
   * @param {(item: object) => Promise<object>} options.send delivers one item, answers like js/api.js
   * @param {() => number} [options.now]
   * @param {number} [options.maxDelayMs] the longest Retry-After honoured
   */
  constructor({store, send, now = Date.now, maxDelayMs = 5 * 60 * 1000}) {
    this.store = store;
    this.send = send;
    this.now = now;
    this.maxDelayMs = maxDelayMs;
    this.notBefore = 0;
    this.flushing = null;
    this.seq = 0;
  }

  /**
   * Keep a check-in for later. An item whose client_id is already queued is kept as it was
   * (same id, same request: once is enough, and its place in the order stays).
   * @param {{client_id: string, path: string, body: object, shelter_id: number}} item
   * @returns {Promise<boolean>} false if it was queued already
   */
  async add(item) {
    if (!item || !item.client_id) throw new Error("a queued item needs its client_id");
    if (await this.store.get(item.client_id)) return false;
    this.seq += 1;
    await this.store.put(Object.assign({created: this.now(), seq: this.seq}, item));
    return true;
  }

  /** The items waiting, oldest first; those of one shelter if given. */
  async pending(shelterId) {
    const items = (await this.store.getAll()).sort(byCreation);
    return shelterId === undefined ? items : items.filter((item) => item.shelter_id === shelterId);
  }

  /** Milliseconds until the server said it may be asked again (0: now). */
  waitMs() {
    return Math.max(0, this.notBefore - this.now());
  }

  /** Delay the next flush, as a Retry-After says (capped at maxDelayMs). */
  backOff(retryAfterMs) {
    if (typeof retryAfterMs === "number" && retryAfterMs > 0) {
      this.notBefore = Math.max(this.notBefore, this.now() + Math.min(retryAfterMs, this.maxDelayMs));
    }
  }

  /**
   * Send what waits, oldest first, until one is not delivered.
   * @returns {Promise<{sent: object[], refused: {item: object, answer: object}[], stopped: object|null, skipped: boolean}>}
   *   `stopped` is the answer that stopped the flush; `skipped` if a Retry-After had not passed yet
   *   or another flush was running.
   */
  async flush() {
    if (this.flushing) {
      await this.flushing;
      return {sent: [], refused: [], stopped: null, skipped: true};
    }
    if (this.waitMs() > 0) return {sent: [], refused: [], stopped: null, skipped: true};
    this.flushing = this.deliver();
    try {
      return await this.flushing;
    } finally {
      this.flushing = null;
    }
  }

  async deliver() {
    const result = {sent: [], refused: [], stopped: null, skipped: false};
    for (const item of await this.pending()) {
      const answer = await this.send(item);
      if (answer.kind === "ok") {
        await this.store.delete(item.client_id);
        result.sent.push(item);
      } else if (answer.kind === "refused") {
        // A refusal will not change on a retry: report it and drop the item.
        await this.store.delete(item.client_id);
        result.refused.push({item, answer});
      } else {
        this.backOff(answer.retryAfter);
        result.stopped = answer;
        break;
      }
    }
    return result;
  }
}
