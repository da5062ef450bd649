/* evac desk: scan, household check-in, walk-in registration and roster on a tablet.
 *
 * The entry module of /desk/<id>: it reads the page's configuration, builds the API client,
 * the offline queue (IndexedDB) and the flow (controller.js), and wires them to the page.
 * Native ES modules, no build step: it must run on iPad Safari 15+ and Android Chrome as they are.
 */

import {createApi} from "../js/api.js";
import {byId, csrfFromMeta, readConfig} from "../js/dom.js";
import {translator} from "../js/i18n.js";
import {uuid} from "../js/ids.js";
import {createDesk} from "./controller.js";
import {indexedDbStore} from "./idb-store.js";
import {OfflineQueue} from "./queue.js";
import {createReaderLink, deskId, deskLabel} from "./readers.js";
import {PAGE_SIZE, rosterPath} from "./roster.js";
import {setupCamera} from "./view/camera.js";
import {
  clearFlash, enableUndo, flash, hideUndo, offerUndo, setCounts, setOnline, setPending, showClosed,
} from "./view/feedback.js";
import {chosenMembers, hideCandidates, hideHousehold, showCandidates, showHousehold, showResidents} from "./view/household.js";
import {renderReaders, showCode} from "./view/readers.js";
import {renderPeople, renderRoster, rosterQuery, rosterShown, showLinking} from "./view/roster.js";
import {joinHousehold, prefillWalkIn, setupWalkIn, watchImeOnScan} from "./view/walkin.js";
import {createWedge} from "./wedge.js";

// The service worker's cache (sw.js): the page adds itself to it for offline reloads.
const CACHE = "evac-desk-v5";
const FLUSH_EVERY_MS = 5000;
const TABS = ["scan", "walkin", "roster"];
// A household nobody confirmed closes itself: the next family must not find it one tap away.
const HOLD_SECONDS = 90;
// Keys this recent mean someone (or a scanner) is typing: the focus is not moved under them.
const TYPING_MS = 1000;

function start(root) {
  const config = readConfig("desk-config");
  const shelterId = config.shelterId;
  const t = translator(config.messages);
  const api = createApi({csrfToken: csrfFromMeta(), onConnectivity: (online) => setOnline(online, t)});
  const queue = new OfflineQueue({store: indexedDbStore(), send: (item) => api.post(item.path, item.body)});
  const scan = byId("scan");

  /* ---------- focus: the scan field whenever the page is idle ---------- */

  let lastKeyAt = -Infinity;
  // Not the household's boxes and buttons: after a tap there the focus goes back to the scan
  // field, so the next card's line lands there and never on チェックイン.
  function idle() {
    // Never in the middle of a scanner's line: half of it would land in the scan field.
    if (performance.now() - lastKeyAt < TYPING_MS) return;
    const active = document.activeElement;
    const busy = active && active !== document.body && active !== scan &&
      active.closest("form, #candidates, #panel-roster");
    if (!byId("panel-scan").hidden && !busy) scan.focus();
  }
  document.addEventListener("click", () => setTimeout(idle, 0));
  setInterval(idle, 3000);

  /* ---------- scans typed wherever the focus is (keyboard wedge) ---------- */

  const wedge = createWedge();
  let burst = null; // the field a scanner-speed burst is landing in, and its value before it
  // Fields that take typed text (and report it as beforeinput); a checkbox or button does not.
  const TEXT_INPUTS = new Set(["text", "search", "tel", "url", "email", "password", "number"]);
  const editable = (el) => Boolean(el) && (el.isContentEditable || el.tagName === "TEXTAREA" ||
    (el.tagName === "INPUT" && TEXT_INPUTS.has(el.type)));

  function typed(text, target, time) {
    if (target === scan) return wedge.reset(); // the scan field's own form takes it
    if (wedge.type(text, time)) burst = editable(target) ? {field: target, value: target.value} : null;
  }
  // Capture phase, before any field's own handler: a scanner's Enter must reach no form or button.
  document.addEventListener("keydown", (event) => {
    lastKeyAt = performance.now();
    if (event.isComposing) return;
    if (event.key === "Enter") {
      lastKeyAt = -Infinity; // the line is over: the focus may move again
      if (event.target === scan) return wedge.reset();
      const text = wedge.enter(event.timeStamp);
      if (text === null) return; // a person's Enter, the field's own
      event.preventDefault();
      event.stopPropagation();
      if (burst) burst.field.value = burst.value; // the scan's characters leave the field they fell into
      burst = null;
      showTab("scan");
      desk.handleScan(text);
      return;
    }
    if (event.key.length !== 1 || event.ctrlKey || event.metaKey || event.altKey) {
      if (event.key === "Backspace" || event.key === "Delete") wedge.reset();
      return;
    }
    // Text fields report their text as beforeinput (which also carries what IMEs and reader
    // programs insert); elsewhere only the key tells.
    if (!editable(event.target)) typed(event.key, event.target, event.timeStamp);
    // A keyboard-wedge scanner typing while nothing has focus: send the keys to the scan field.
    if (document.activeElement === document.body && !byId("panel-scan").hidden) scan.focus();
  }, true);
  document.addEventListener("beforeinput", (event) => {
    if (event.inputType === "insertText" && event.data) typed(event.data, event.target, event.timeStamp);
  }, true);

  /* ---------- tabs ---------- */

  let shownTab = "scan";
  function showTab(name) {
    // A banner belongs to the tab it was said on.
    if (name !== shownTab) clearFlash();
    shownTab = name;
    TABS.forEach((tab) => {
      byId("tab-" + tab).setAttribute("aria-selected", String(tab === name));
      byId("panel-" + tab).hidden = tab !== name;
    });
    if (name === "roster") desk.loadRoster();
    if (name === "scan") idle();
  }

  /* ---------- the flow, drawn on this page ---------- */

  const view = {
    flash,
    clearFlash,
    showClosed,
    setCounts,
    setPending: (n) => setPending(n, t),
    showTab,
    clearScanInput: () => { scan.value = ""; },
    resetScan: () => { hideHousehold(); hideCandidates(); scan.value = ""; idle(); },
    showHousehold: (current) => {
      showHousehold(current, {
        shelterId, shelterName: config.shelterName, lang: config.lang, t, holdSeconds: HOLD_SECONDS,
        onExpire: () => desk.closeHousehold(),
      });
      scan.focus();
    },
    hideCandidates,
    showResidents: (data) => showResidents(data, {t, onOpen: (person) => desk.lookUpPerson(person.id)}),
    showCandidates: (candidates, body, member) => showCandidates(candidates, body, {
      t, member, onChoose: (person) => desk.chooseCandidate(person), onRegisterNew: (original) => desk.registerNew(original),
    }),
    rosterShown,
    rosterQuery,
    renderRoster: (data, {linkingIc}) => renderRoster(data, {
      t, lang: config.lang, linkingIc, transferTargets: config.transferTargets,
      actions: {linkIc: (personId) => desk.linkIc(personId), checkout: (...args) => desk.checkout(...args),
                correct: (stayId) => desk.correctStay(stayId)},
      loadMore: (cursor, query) => api.get(rosterPath(shelterId, query, {cursor, limit: PAGE_SIZE})),
      reload: () => desk.loadRoster(),
    }),
    renderPeople: (data) => renderPeople(data, {shelterId, t, onLink: (personId) => desk.linkIc(personId)}),
    showLinking,
    showWalkIn: (values) => { showTab("walkin"); prefillWalkIn(values); },
    showWalkInForHousehold: (joining) => { showTab("walkin"); joinHousehold(joining, t); },
    offerUndo,
    hideUndo,
    enableUndo,
  };
  const desk = createDesk({shelterId, api, queue, t, uuid, view, closed: Boolean(config.closed),
    undoMinutes: Number(config.undoMinutes) || 5});

  byId("scan-form").addEventListener("submit", (event) => { event.preventDefault(); desk.handleScan(scan.value); });
  const checkinButton = byId("checkin-button");
  checkinButton.addEventListener("click", () => desk.checkInHousehold(chosenMembers()));
  // Confirming is a tap: Enter and Space are what scanners and reader lines type.
  ["keydown", "keyup"].forEach((type) => checkinButton.addEventListener(type, (event) => {
    if (event.key === "Enter" || event.key === " ") event.preventDefault();
  }));
  byId("result-close").addEventListener("click", () => desk.closeHousehold());
  byId("resident-form").addEventListener("submit", (event) => {
    event.preventDefault();
    desk.searchResidents(byId("resident-q").value.trim(), byId("resident-birth").value.trim());
  });
  byId("roster-form").addEventListener("submit", (event) => { event.preventDefault(); desk.loadRoster(); });
  TABS.forEach((tab) => byId("tab-" + tab).addEventListener("click", () => showTab(tab)));
  setupWalkIn({shelterId, t, checkIn: (person, family, householdId) => desk.checkInWalkIn(person, family, householdId)});
  byId("result-add-member").addEventListener("click", () => desk.addToHousehold());
  watchImeOnScan(scan);
  setupCamera({onCode: (text) => desk.handleScan(text), onUnavailable: () => flash(t("camera_unavailable"), "error")});

  byId("link-ic-cancel").addEventListener("click", () => desk.cancelLink());

  // The card-reader bridge, when it runs as a page of the same origin.
  if ("BroadcastChannel" in window) {
    new BroadcastChannel("evac-card-reader").onmessage = (event) => { showTab("scan"); desk.handleScan(String(event.data)); };
  }

  /* ---------- card readers paired with this desk screen (evac-reader on the PC beside it) ---------- */

  let storage = null;
  try { storage = window.localStorage; } catch (err) { storage = null; }
  const thisDesk = deskId(storage, uuid);
  const readerLink = createReaderLink({
    shelterId, deskId: thisDesk, api,
    // The same path as a keyboard-wedge line or the BroadcastChannel: one scan handler for all three.
    onRead: (line) => { showTab("scan"); desk.handleScan(line); },
    onReaders: (readers) => renderReaders(readers, {t, lang: config.lang, onRevoke: revokeReader}),
    onCode: (code) => showCode(code, {t, lang: config.lang, origin: location.origin}),
    onPaired: (reader) => flash(t("reader_paired", {name: reader.name}), "ok"),
  });
  async function revokeReader(reader) {
    if (!window.confirm(t("reader_confirm_revoke", {name: reader.name}))) return;
    const answer = await readerLink.revoke(reader.id);
    flash(answer.ok ? t("reader_revoked") : (answer.error ? answer.error.message : t("network_error")),
      answer.ok ? "ok" : "error");
  }
  byId("reader-pair").addEventListener("click", async () => {
    const answer = await readerLink.requestCode(deskLabel(storage, thisDesk, t("desk_label_prefix")));
    if (!answer.ok) flash(answer.error ? answer.error.message : t("network_error"), "error");
  });
  byId("reader-code-close").addEventListener("click", () => readerLink.hideCode());
  root.dataset.deskId = thisDesk;
  readerLink.start();

  /* ---------- the offline queue ---------- */

  window.addEventListener("online", () => desk.flush());
  window.addEventListener("offline", () => setOnline(false, t));
  setInterval(() => desk.tick(), FLUSH_EVERY_MS);

  /* ---------- offline reloads ---------- */

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/desk/sw.js", {scope: "/desk/"})
      // This page was loaded before the worker existed: put it in the cache for offline reloads.
      .then(() => navigator.serviceWorker.ready)
      .then(() => caches.open(CACHE))
      .then((cache) => cache.add(location.pathname))
      .then(() => { root.dataset.offlineReady = "1"; })
      .catch(() => { /* the desk works online without it */ });
  }

  root.dataset.ready = "1";
  desk.tick();
  idle();
}

const root = document.getElementById("desk");
if (root) start(root);
