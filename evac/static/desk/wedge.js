/* Telling a keyboard-wedge scanner from a person typing, whatever has focus. Pure, no DOM.
 *
 * A USB or Bluetooth scanner (and a card-reader program on the tablet) types its whole line at
 * about 10 ms a key and ends it with Enter; a person leaves 100 ms or more between keys. So a
 * line whose every key followed the one before within `maxGap` and that ends in Enter is a
 * scanner's, if it is also shaped like a scan (a QR payload, a fallback code or a reader line):
 * the page then takes it out of the field it landed in and runs it as a scan. Anything else is
 * left where it was typed.
 */

import {parseScan} from "./scan.js";

/** The longest pause between a scanner's keys (ms). Scanners type at ~10 ms; people at 100+. */
export const SCANNER_GAP_MS = 35;
/** The shortest scan: a fallback code without its dashes. */
export const MIN_SCAN_LENGTH = 12;

/** True if `text` is a scan the desk would act on (not blanks, not garbage). */
export function isScan(text) {
  const scan = parseScan(text);
  return Boolean(scan) && scan.kind !== "invalid";
}

/**
 * A buffer of the keys typed at scanner speed.
 *   type(text, time)  text arrived at `time` (ms); true if it starts a new burst (so the page
 *                     can remember the field's value before it)
 *   enter(time)       Enter at `time`: the scan's text if the burst was a scan, else null; resets
 *   reset()           forget the burst (a key that is not text, the scan field's own Enter)
 * @param {{maxGap?: number, minLength?: number, accept?: (text: string) => boolean}} [options]
 */
export function createWedge({maxGap = SCANNER_GAP_MS, minLength = MIN_SCAN_LENGTH, accept = isScan} = {}) {
  let chars = "";
  let last = -Infinity;

  function reset() {
    chars = "";
    last = -Infinity;
  }

  function type(text, time) {
    const fresh = chars === "" || time - last > maxGap;
    chars = fresh ? String(text) : chars + text;
    last = time;
    return fresh;
  }

  function enter(time) {
    const text = chars;
    const quick = time - last <= maxGap;
    reset();
    if (!quick || text.length < minLength) return null;
    return accept(text) ? text : null;
  }

  return {type, enter, reset};
}
