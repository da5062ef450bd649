/* What the desk says: the banner (with a beep), the connection state, the waiting count and the
 * shelter's counts in the header. */

import {byId} from "../../js/dom.js";

let beepContext = null;

/** A short high beep for success, a long low one for an error. */
export function beep(ok) {
  try {
    beepContext = beepContext || new (window.AudioContext || window.webkitAudioContext)();
    const osc = beepContext.createOscillator();
    const gain = beepContext.createGain();
    osc.frequency.value = ok ? 880 : 220;
    gain.gain.value = 0.15;
    osc.connect(gain).connect(beepContext.destination);
    osc.start();
    osc.stop(beepContext.currentTime + (ok ? 0.12 : 0.5));
  } catch (err) { /* no audio: the message on screen is enough */ }
}

/** The banner above the tabs: kind is "ok", "info" or "error". */
export function flash(message, kind) {
  const alert = byId("alert");
  alert.hidden = false;
  alert.className = "alert alert-" + kind;
  alert.textContent = (kind === "error" ? "⚠ " : kind === "ok" ? "✓ " : "") + message;
  beep(kind !== "error");
}

/** オンライン / オフライン in the header. */
export function setOnline(online, t) {
  byId("net").classList.toggle("is-offline", !online);
  byId("net-state").textContent = online ? t("online") : t("offline");
}

/** The count of check-ins waiting to be sent (hidden at 0; data-count for tests and styles). */
export function setPending(n, t) {
  const badge = byId("pending");
  badge.hidden = n === 0;
  badge.textContent = t("pending", {n});
  badge.dataset.count = String(n);
}

/** The shelter's occupancy and households in the header. */
export function setCounts(shelter) {
  if (!shelter) return;
  byId("count-occupancy").textContent = shelter.occupancy;
  byId("count-households").textContent = shelter.households;
}
