/* The login page. A shared tablet: after logging out, nothing of the last desk stays in the
 * offline cache (check-ins still waiting to be sent stay in IndexedDB and go out at the next login). */
if ("caches" in window) {
  caches.keys()
    .then((keys) => Promise.all(keys.filter((key) => key.startsWith("evac-desk")).map((key) => caches.delete(key))))
    .catch(() => { /* nothing cached */ });
}
