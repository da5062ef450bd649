/* Telling a keyboard-wedge scanner from a person typing, whatever has focus. Pure, no DOM.
 *
 * A USB or Bluetooth scanner (and a card-reader program on the tablet) types its whole line at
 * about 10 ms a key and ends it with Enter; a person leaves 100 ms or more between keys. So a
 * line typed at a scanner's pace (at most `maxGap` a key on average) that ends in Enter is a
 * scanner's, if it is also shaped like a scan (a QR payload, a fallback code or a reader line):
 * the page then takes it out of the field it landed in and runs it as a scan. Anything else is
 * left where it was typed.
 *
 * The pace is an average, not every gap: a busy tablet delivers a scanner's keys in clumps, with
 * the odd gap of 50 ms or more between them (measured in Chromium on a loaded 2-core machine).
 * A pause longer than `pauseMs` ends a burst; a scan is a whole burst, never its tail (the last
 * 12 characters of a QR payload may read as a fallback code).
 */

import {parseScan} from "./scan.js";

/** The slowest average pace of a scanner's keys (ms a key). Scanners type at ~10 ms; people at 100+. */
export const SCANNER_GAP_MS = 35;
/** A pause this long (ms) ends a burst: no scanner leaves one inside its line. */
export const PAUSE_MS = 150;
/** The shortest scan: a fallback code without its dashes. */
export const MIN_SCAN_LENGTH = 12;
// A burst is kept to this many pieces (a reader line is a few hundred characters).
const MAX_PIECES = 1024;

/** True if `text` is a scan the desk would act on (not blanks, not garbage). */
export function isScan(text) {
  const scan = parseScan(text);
  return Boolean(scan) && scan.kind !== "invalid";
}

/**
 * A buffer of the keys typed in one burst.
 *   type(text, time)  text arrived at `time` (ms); true if it starts a new burst (so the page
 *                     can remember the field's value before it)
 *   enter(time)       Enter at `time`: the burst's text if it is a scan typed at a scanner's
 *                     pace, else null; either way the burst is over
 *   reset()           forget the burst (the scan field's own Enter, a Backspace)
 * @param {{maxGap?: number, pauseMs?: number, minLength?: number, accept?: (text: string) => boolean}} [options]
 */
export function createWedge({maxGap = SCANNER_GAP_MS, pauseMs = PAUSE_MS, minLength = MIN_SCAN_LENGTH,
  accept = isScan} = {}) {
  let pieces = []; // {text, time}

  function reset() {
    pieces = [];
  }

  function type(text, time) {
    const last = pieces.length ? pieces[pieces.length - 1].time : -Infinity;
    const fresh = time - last > pauseMs;
    if (fresh) pieces = [];
    if (pieces.length < MAX_PIECES) pieces.push({text: String(text), time});
    return fresh;
  }

  function enter(time) {
    const burst = pieces;
    reset();
    if (!burst.length || time - burst[burst.length - 1].time > pauseMs) return null;
    // The whole burst or nothing: the tail of a QR payload can look like a fallback code.
    const text = burst.map((piece) => piece.text).join("");
    if (text.length < minLength) return null;
    const pace = (time - burst[0].time) / text.length;
    return pace <= maxGap && accept(text) ? text : null;
  }

  return {type, enter, reset};
}
