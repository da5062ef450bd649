/* evac desk service worker: keeps the desk pages and their assets available when the server
 * cannot be reached. Pages and assets: network first (so a deployment shows at once), cache
 * when the network fails. The API is never cached: the page queues check-ins itself. */
"use strict";

const CACHE = "evac-desk-v5";
// Every file the desk page loads, its ES modules included: a module missing here would make an
// offline reload fail on its import. tests/js/pages.test.mjs checks this list against the imports;
// the camera worker and the scripts and .wasm it loads are listed by hand (the camera works offline).
const ASSETS = [
  "/static/css/evac.css",
  "/static/desk/desk.css",
  "/static/favicon.svg",
  "/static/vendor/jsqr/jsQR.js",
  "/static/vendor/zxing-wasm/zxing_reader.js",
  "/static/vendor/zxing-wasm/zxing_reader.wasm",
  "/static/desk/camera-worker.js",
  "/static/js/api.js",
  "/static/js/dom.js",
  "/static/js/i18n.js",
  "/static/js/ids.js",
  "/static/desk/main.js",
  "/static/desk/controller.js",
  "/static/desk/checkin.js",
  "/static/desk/household.js",
  "/static/desk/idb-store.js",
  "/static/desk/queue.js",
  "/static/desk/readers.js",
  "/static/desk/roster.js",
  "/static/desk/scan.js",
  "/static/desk/walkin.js",
  "/static/desk/wedge.js",
  "/static/desk/view/camera.js",
  "/static/desk/view/feedback.js",
  "/static/desk/view/household.js",
  "/static/desk/view/readers.js",
  "/static/desk/view/roster.js",
  "/static/desk/view/walkin.js",
];
const NETWORK_TIMEOUT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim())
  );
});

function withTimeout(request) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NETWORK_TIMEOUT_MS);
  return fetch(request, {signal: controller.signal}).finally(() => clearTimeout(timer));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  // Printouts (rosters, cards) carry personal data and are never kept on the tablet.
  const isDesk = url.pathname.startsWith("/desk/") && !url.pathname.startsWith("/desk/csrf") &&
    !url.pathname.endsWith(".pdf");
  const isAsset = url.pathname.startsWith("/static/");
  if (!isDesk && !isAsset) return;
  event.respondWith(
    withTimeout(request)
      .then((response) => {
        // Only complete, successful answers are kept (never a login redirect or an error page).
        if (response.ok && response.type === "basic" && !response.redirected) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(() => caches.match(request).then((cached) => cached || Response.error()))
  );
});
