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
import {setupCamera} from "./view/camera.js";
import {flash, setCounts, setOnline, setPending} from "./view/feedback.js";
import {chosenMembers, hideCandidates, hideHousehold, showCandidates, showHousehold} from "./view/household.js";
import {renderRoster, rosterQuery, rosterShown} from "./view/roster.js";
import {setupWalkIn} from "./view/walkin.js";

// The service worker's cache (sw.js): the page adds itself to it for offline reloads.
const CACHE = "evac-desk-v2";
const FLUSH_EVERY_MS = 5000;
const TABS = ["scan", "walkin", "roster"];

function start(root) {
  const config = readConfig("desk-config");
  const shelterId = config.shelterId;
  const t = translator(config.messages);
  const api = createApi({csrfToken: csrfFromMeta(), onConnectivity: (online) => setOnline(online, t)});
  const queue = new OfflineQueue({store: indexedDbStore(), send: (item) => api.post(item.path, item.body)});
  const scan = byId("scan");

  /* ---------- focus: the scan field whenever the page is idle ---------- */

  function idle() {
    const active = document.activeElement;
    const busy = active && active !== document.body && active !== scan &&
      active.closest("form, #scan-result, #candidates, #panel-roster");
    if (!byId("panel-scan").hidden && !busy) scan.focus();
  }
  document.addEventListener("click", () => setTimeout(idle, 0));
  setInterval(idle, 3000);
  document.addEventListener("keydown", (event) => {
    // A keyboard-wedge scanner typing while nothing has focus: send the keys to the scan field.
    if (document.activeElement === document.body && !byId("panel-scan").hidden && event.key.length === 1) scan.focus();
  });

  /* ---------- tabs ---------- */

  function showTab(name) {
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
    setCounts,
    setPending: (n) => setPending(n, t),
    showTab,
    clearScanInput: () => { scan.value = ""; },
    resetScan: () => { hideHousehold(); hideCandidates(); scan.value = ""; idle(); },
    showHousehold: (current) => showHousehold(current, {shelterId, t}),
    hideCandidates,
    showCandidates: (candidates, body) => showCandidates(candidates, body, {
      t, onChoose: (person) => desk.chooseCandidate(person), onRegisterNew: (original) => desk.registerNew(original),
    }),
    rosterShown,
    rosterQuery,
    renderRoster: (data, {linkingIc}) => renderRoster(data, {
      t, linkingIc, transferTargets: config.transferTargets, confirm: (message) => window.confirm(message),
      actions: {linkIc: (personId) => desk.linkIc(personId), checkout: (...args) => desk.checkout(...args)},
    }),
  };
  const desk = createDesk({shelterId, api, queue, t, uuid, view});

  byId("scan-form").addEventListener("submit", (event) => { event.preventDefault(); desk.handleScan(scan.value); });
  byId("checkin-button").addEventListener("click", () => desk.checkInHousehold(chosenMembers()));
  byId("roster-form").addEventListener("submit", (event) => { event.preventDefault(); desk.loadRoster(); });
  TABS.forEach((tab) => byId("tab-" + tab).addEventListener("click", () => showTab(tab)));
  setupWalkIn({shelterId, checkIn: (person) => desk.checkInWalkIn(person)});
  setupCamera({onCode: (text) => desk.handleScan(text), onUnavailable: () => flash(t("camera_unavailable"), "error")});

  // The card-reader bridge, when it runs as a page of the same origin.
  if ("BroadcastChannel" in window) {
    new BroadcastChannel("evac-card-reader").onmessage = (event) => { showTab("scan"); desk.handleScan(String(event.data)); };
  }

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
