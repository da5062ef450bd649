/* Client ids: the UUID a tablet gives each check-in so that the server can answer a replay with
 * the first result instead of a second stay. */

/**
 * A random (version 4) UUID.
 * @param {Crypto} [cryptoImpl] injectable for tests; the page's `crypto` otherwise
 */
export function uuid(cryptoImpl = globalThis.crypto) {
  if (cryptoImpl && typeof cryptoImpl.randomUUID === "function") return cryptoImpl.randomUUID();
  // randomUUID needs a secure context (https or localhost); a desk on plain http on the LAN has none.
  const b = cryptoImpl.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
}
