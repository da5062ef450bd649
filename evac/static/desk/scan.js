/* What a scan is: a QR payload, a fallback code typed from under the QR, or a card-reader line.
 *
 * The formats are those of evac/cards/tokens.py:
 *   QR payload     `EV1:` + 26 characters of base32 (A–Z, 2–7): person id, card serial, MAC
 *   fallback code  12 characters of Crockford base32 (no I, L, O, U), printed `XXXX-XXXX-XXXX`
 *   card reader    one JSON line: {"type": "mynumber", "card": {…4 items}} or {"type": "ic", "uid": "…"}
 *
 * Text may arrive through a Japanese IME: full-width letters and digits (ＥＶ１：…), a full-width
 * or long-vowel dash (－, ー, ｰ) between the groups, spaces. NFKC folds the width; the dashes and
 * spaces go. The result is what the server would read out of it, in its canonical spelling.
 * Pure functions, no DOM.
 */

export const QR_PREFIX = "EV1:";
const QR_BODY = /^[A-Z2-7]{26}$/;
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
// As the server reads them: the letters a person may type for the digits they look like.
const CROCKFORD_READ = {I: "1", L: "1", O: "0"};
// Hyphen-minus, hyphen, non-breaking hyphen, figure dash, en and em dash, horizontal bar,
// minus sign, the katakana long-vowel mark (an IME's "-") and its half-width form.
const SEPARATORS = /[\s\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70]/g;

/** Width-folded (NFKC), trimmed text. */
export function fold(text) {
  return String(text === null || text === undefined ? "" : text).normalize("NFKC").trim();
}

/** The canonical `EV1:…` payload, or null if `text` is not shaped like one. */
export function qrPayload(text) {
  const folded = fold(text).replace(/\s+/g, "").toUpperCase();
  if (!folded.startsWith(QR_PREFIX)) return null;
  const body = folded.slice(QR_PREFIX.length);
  return QR_BODY.test(body) ? QR_PREFIX + body : null;
}

/**
 * True if a fallback code is all digits, and so indistinguishable from a 12-digit 個人番号
 * typed into the scan field. Such a code may go to the server (which never stores `qr`) but
 * must never be kept on the tablet. (A real card's code is all digits about once in a million.)
 */
export function mayBeIndividualNumber(code) {
  return /^[0-9]{12}$/.test(String(code).replace(/-/g, ""));
}

/** The canonical `XXXX-XXXX-XXXX` fallback code, or null if `text` is not shaped like one. */
export function fallbackCode(text) {
  const chars = fold(text).replace(SEPARATORS, "").toUpperCase();
  if (chars.length !== 12) return null;
  let canonical = "";
  for (const c of chars) {
    const read = CROCKFORD_READ[c] || c;
    if (CROCKFORD.indexOf(read) < 0) return null;
    canonical += read;
  }
  return canonical.slice(0, 4) + "-" + canonical.slice(4, 8) + "-" + canonical.slice(8);
}

function cardLine(text) {
  let message;
  try { message = JSON.parse(text); } catch (err) { return {kind: "invalid", raw: text, json: true}; }
  if (message && message.type === "mynumber" && message.card && typeof message.card === "object") {
    return {kind: "card", identify: {card: message.card}};
  }
  if (message && message.type === "ic" && message.uid !== undefined && message.uid !== null && message.uid !== "") {
    return {kind: "ic", identify: {ic_uid: String(message.uid)}};
  }
  return {kind: "invalid", raw: text, json: true};
}

/**
 * What one scan is. `identify` is the part of a lookup or check-in body that names the person.
 *   null                                       nothing but blanks
 *   {kind: "qr", identify: {qr}}               a QR payload
 *   {kind: "fallback", identify: {qr}}         a fallback code (the server takes it in `qr` too);
 *                                              with `mayBeIndividualNumber` if it is all digits
 *   {kind: "card", identify: {card}}           a My Number card's four items from the reader
 *   {kind: "ic", identify: {ic_uid}}           an IC card's UID from the reader
 *   {kind: "invalid", raw, json}               anything else; `json` if it looked like a reader line
 * @param {string} text
 */
export function parseScan(text) {
  const trimmed = fold(text);
  if (!trimmed) return null;
  // A reader line is parsed as it came (NFKC would rewrite the card's full-width address).
  const original = String(text).trim();
  if (original.startsWith("{") || trimmed.startsWith("{")) return cardLine(original.startsWith("{") ? original : trimmed);
  const qr = qrPayload(trimmed);
  if (qr) return {kind: "qr", identify: {qr}};
  const code = fallbackCode(trimmed);
  if (code) {
    const scan = {kind: "fallback", identify: {qr: code}};
    if (mayBeIndividualNumber(code)) scan.mayBeIndividualNumber = true;
    return scan;
  }
  return {kind: "invalid", raw: String(text).trim(), json: false};
}
