/* The offline queue's storage on the tablet: IndexedDB, database "evac-desk", object store
 * "queue" keyed by client_id (the layout the desk has always used, so check-ins queued by an
 * older page are still sent). Each call opens and closes the database, so a second tab or a
 * new version of the page is never blocked by this one. */

const DB_NAME = "evac-desk";
const STORE = "queue";

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, {keyPath: "client_id"});
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, operate) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = operate(tx.objectStore(STORE));
    tx.oncomplete = () => { db.close(); resolve(request ? request.result : undefined); };
    tx.onerror = () => { db.close(); reject(tx.error); };
    tx.onabort = () => { db.close(); reject(tx.error); };
  });
}

/** The IndexedDB store, with the interface of queue.js's memoryStore(). */
export function indexedDbStore() {
  return {
    getAll: () => run("readonly", (store) => store.getAll()),
    get: (key) => run("readonly", (store) => store.get(key)),
    put: (item) => run("readwrite", (store) => store.put(item)),
    delete: (key) => run("readwrite", (store) => store.delete(key)),
  };
}
