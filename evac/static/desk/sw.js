/* evac desk service worker: keeps the desk pages and their assets available when the server
 * cannot be reached. Pages and assets: network first (so a deployment shows at once), cache
 * when the network fails. The API is never cached: the page queues check-ins itself. */
"use strict";

const CACHE = "evac-desk-v1";
const ASSETS = ["/static/css/evac.css", "/static/desk/desk.js", "/static/vendor/jsqr/jsQR.js"];
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
