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

// A success is read at a glance and then gone, so the next family sees a clean desk; an error
// or a note (queued, linking an IC card) stays until the next scan or another tab.
const OK_SHOWN_MS = 4000;
const FADE_MS = 600;
let fadeTimers = [];

function stopFading(alert) {
  fadeTimers.forEach((timer) => clearTimeout(timer));
  fadeTimers = [];
  alert.classList.remove("is-fading");
}

/** The banner above the tabs: kind is "ok" (fades after a few seconds), "info" or "error". */
export function flash(message, kind) {
  const alert = byId("alert");
  stopFading(alert);
  alert.hidden = false;
  alert.className = "alert alert-" + kind;
  alert.textContent = (kind === "error" ? "⚠ " : kind === "ok" ? "✓ " : "") + message;
  if (kind === "ok") {
    fadeTimers.push(setTimeout(() => alert.classList.add("is-fading"), OK_SHOWN_MS));
    fadeTimers.push(setTimeout(() => clearFlash(), OK_SHOWN_MS + FADE_MS));
  }
  beep(kind !== "error");
}

/** No banner: a new scan, or another tab. */
export function clearFlash() {
  const alert = byId("alert");
  stopFading(alert);
  alert.hidden = true;
  alert.className = "alert";
  alert.textContent = "";
}

/** 「この避難所は閉鎖されています」 above everything while the shelter is closed. */
export function showClosed(closed) {
  byId("closed").hidden = !closed;
  byId("desk").dataset.closed = closed ? "1" : "";
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

let undoTimer = null;

/**
 * The undo toast: one button that names who and what (「岩田 花子 さんの受付を取り消す」), for `ms`
 * and then gone. Only the last operation is offered: a new one replaces it.
 */
export function offerUndo(text, onUndo, ms) {
  const toast = byId("undo");
  const button = byId("undo-button");
  clearTimeout(undoTimer);
  button.textContent = text;
  button.disabled = false;
  button.onclick = () => { button.disabled = true; onUndo(); };
  toast.hidden = false;
  undoTimer = setTimeout(hideUndo, ms);
}

/** No undo toast (taken back, refused, or past its time). */
export function hideUndo() {
  clearTimeout(undoTimer);
  undoTimer = null;
  const toast = byId("undo");
  toast.hidden = true;
  byId("undo-button").onclick = null;
}

/** The toast may be tapped again (the undo could not be sent). */
export function enableUndo() {
  byId("undo-button").disabled = false;
}
