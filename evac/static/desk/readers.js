/* The desk screen's card readers: its own id, pairing codes, and the short poll that fetches reads.
 *
 * A reader program (`evac-reader`) on the PC beside the desk is paired with this desk screen (this
 * browser, known by a random id kept in localStorage) and posts each card read to the server. The
 * screen asks `POST /api/v1/readers/desk-reads` for them every `poll_ms` (1 s) while a reader is
 * paired with it, and not at all when none is: the server says which, in every answer. Each read
 * is acknowledged in the very next poll (sent at once), which deletes its data on the server; a
 * read whose answer was lost comes again and is dropped here by its id.
 *
 * A read is handed on as the same JSON line a keyboard-wedge reader types or the BroadcastChannel
 * carries, so all three paths meet in the desk's one scan handler. No DOM here.
 */

export const DESK_ID_KEY = "evac.desk-id";
export const DESK_LABEL_KEY = "evac.desk-label";
export const DESK_READS = "/api/v1/readers/desk-reads";
export const PAIRINGS = "/api/v1/readers/pairings";
// While a pairing code is shown, how often to look whether a reader has used it.
export const PAIRING_POLL_MS = 2000;
const RETRY_MS = [1000, 2000, 5000, 10000];
const SEEN_KEEP = 200;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * This desk screen's id: made once, kept in `storage` (localStorage) so pairings outlive reloads.
 * @param {{getItem(k: string): string|null, setItem(k: string, v: string): void}|null} storage
 * @param {() => string} uuid
 */
export function deskId(storage, uuid) {
  let id = null;
  try { id = storage ? storage.getItem(DESK_ID_KEY) : null; } catch (err) { id = null; }
  if (id && UUID.test(id)) return id.toLowerCase();
  id = uuid();
  try { if (storage) storage.setItem(DESK_ID_KEY, id); } catch (err) { /* private mode: this page only */ }
  return id;
}

/** The label HQ lists this desk screen by: the one staff gave it, else one made from its id. */
export function deskLabel(storage, id, prefix) {
  let label = null;
  try { label = storage ? storage.getItem(DESK_LABEL_KEY) : null; } catch (err) { label = null; }
  return label || (prefix + "-" + String(id).slice(0, 4).toUpperCase());
}

/** The read as the one line the desk's scan handler takes (wedge and BroadcastChannel alike). */
export function readLine(read) {
  if (read.type === "mynumber") return JSON.stringify({type: "mynumber", card: read.card});
  return JSON.stringify({type: "ic", uid: read.uid});
}

/** "14:05", Tokyo time, for an ISO timestamp. */
export function clock(iso, lang) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  return when.toLocaleTimeString(lang === "en" ? "en-GB" : "ja-JP",
    {hour: "2-digit", minute: "2-digit", timeZone: "Asia/Tokyo"});
}

/** The command staff type on the reader PC for a code. */
export function pairCommand(code, origin) {
  return "evac-reader pair " + code + " --server " + origin;
}

/**
 * The link between this desk screen and its readers.
 * @param {object} deps
 * @param {number} deps.shelterId
 * @param {string} deps.deskId
 * @param {{post(path: string, body: object): Promise<object>}} deps.api js/api.js
 * @param {(line: string, read: object) => void} deps.onRead a read for the scan handler
 * @param {(readers: object[]) => void} [deps.onReaders] the paired readers changed
 * @param {(code: object|null) => void} [deps.onCode] a pairing code to show (null: hide it)
 * @param {(reader: object) => void} [deps.onPaired] a reader used the code shown
 * @param {{setTimeout: Function, clearTimeout: Function}} [deps.timers]
 * @param {() => number} [deps.now]
 */
export function createReaderLink({shelterId, deskId: id, api, onRead, onReaders = () => {}, onCode = () => {},
                                  onPaired = () => {}, timers = globalThis, now = Date.now}) {
  const state = {readers: [], code: null, timer: null, polling: false, failures: 0, ack: [], seen: [], stopped: false};

  function schedule(ms) {
    if (state.timer !== null) timers.clearTimeout(state.timer);
    state.timer = null;
    if (state.stopped || ms <= 0) return;
    state.timer = timers.setTimeout(() => { state.timer = null; poll(); }, ms);
  }

  function codeLive() {
    return Boolean(state.code) && Date.parse(state.code.expires_at) > now();
  }

  function setReaders(readers) {
    const before = new Set(state.readers.map((r) => r.id));
    // A new reader, one gone, or a later last read: redraw.
    const changed = JSON.stringify(readers) !== JSON.stringify(state.readers);
    state.readers = readers;
    if (changed) onReaders(readers);
    const joined = readers.filter((r) => !before.has(r.id));
    if (joined.length && state.code) {
      // The code on screen was used: it cannot be used again, stop showing it.
      state.code = null;
      onCode(null);
      joined.forEach((reader) => onPaired(reader));
    }
  }

  function take(reads) {
    reads.forEach((read) => {
      state.ack.push(read.read_id);
      if (state.seen.includes(read.read_id)) return; // came again: its acknowledgement was lost
      state.seen.push(read.read_id);
      if (state.seen.length > SEEN_KEEP) state.seen.shift();
      onRead(readLine(read), read);
    });
  }

  /** One poll: acknowledge what came last time, take what waits, and plan the next one. */
  async function poll() {
    if (state.polling || state.stopped) return null;
    state.polling = true;
    const ack = state.ack.splice(0);
    let answer;
    try {
      answer = await api.post(DESK_READS, {shelter_id: shelterId, desk_id: id, ack});
    } finally {
      state.polling = false;
    }
    if (!answer.ok) {
      state.ack.unshift(...ack); // not received: acknowledge them next time
      state.failures += 1;
      const wanted = state.readers.length > 0 || codeLive();
      schedule(wanted ? RETRY_MS[Math.min(state.failures, RETRY_MS.length) - 1] : 0);
      return answer;
    }
    state.failures = 0;
    setReaders(answer.data.readers);
    take(answer.data.reads);
    if (state.code && !codeLive()) {
      state.code = null;
      onCode(null);
    }
    if (state.ack.length) schedule(1); // acknowledge at once: the read's data goes from the server
    else if (answer.data.poll_ms > 0) schedule(answer.data.poll_ms);
    else schedule(codeLive() ? PAIRING_POLL_MS : 0);
    return answer;
  }

  /** A pairing code for this desk screen; shown until a reader uses it or it expires. */
  async function requestCode(label) {
    const answer = await api.post(PAIRINGS, {shelter_id: shelterId, desk_id: id, desk_label: label || ""});
    if (!answer.ok) return answer;
    state.code = answer.data;
    onCode(answer.data);
    if (!state.polling && state.timer === null) schedule(PAIRING_POLL_MS);
    return answer;
  }

  /** Stop showing the code (it stays valid on the server until it expires or another replaces it). */
  function hideCode() {
    state.code = null;
    onCode(null);
  }

  /** Revoke a reader of this desk screen. */
  async function revoke(readerId) {
    const answer = await api.post("/api/v1/readers/" + readerId + "/revoke", {desk_id: id});
    if (answer.ok) await poll();
    return answer;
  }

  /** Start: one poll tells whether a reader is paired (and whether to keep asking). */
  function start() {
    state.stopped = false;
    return poll();
  }

  function stop() {
    state.stopped = true;
    schedule(0);
  }

  return {state, start, stop, poll, requestCode, hideCode, revoke, get readers() { return state.readers; }};
}
