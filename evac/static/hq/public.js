/* evac public page: the open shelters on a map. The list above works without it.
 *
 * Leaflet is served by evac itself (a classic script before this module: window.L); the map
 * tiles come from OpenStreetMap only when the browser is online, and the page says so when they
 * cannot be loaded. No personal data is on the page. The entry module of /.
 */

const COLOURS = {available: "#146c2e", busy: "#7a5d00", crowded: "#b34700", full: "#b3261e", unknown: "#5f6368"};

function start(holder, data, lang) {
  const L = window.L;
  // In English the romanised name where the town's list gives one, as in the list.
  const named = (shelter) => (lang === "en" && shelter.name_en) || shelter.name;
  const placed = (d) => d.shelters.filter((s) => typeof s.lat === "number" && typeof s.lon === "number");

  function offline() {
    if (holder.dataset.offlineShown) return;
    holder.dataset.offlineShown = "1";
    const note = document.createElement("p");
    note.className = "map-offline";
    note.textContent = holder.dataset.offline;
    holder.appendChild(note);
  }

  if (!L || !placed(data).length) { holder.hidden = true; return null; }
  const map = L.map(holder, {scrollWheelZoom: false});
  const tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 18,
    attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>',
  });
  let failures = 0;
  tiles.on("tileerror", () => { failures += 1; if (failures >= 2) offline(); });
  if (navigator.onLine === false) offline();
  tiles.addTo(map);
  const layer = L.layerGroup().addTo(map);

  /** The markers of `current` (the view stays where the reader moved it). */
  function draw(current) {
    layer.clearLayers();
    const bounds = [];
    placed(current).forEach((shelter) => {
      const marker = L.circleMarker([shelter.lat, shelter.lon], {
        radius: 9, weight: 2, color: "#fff", fillColor: COLOURS[shelter.level] || COLOURS.unknown, fillOpacity: 0.95,
      }).addTo(layer);
      const box = document.createElement("div");
      const name = document.createElement("strong");
      name.textContent = named(shelter);
      const level = document.createElement("div");
      level.textContent = current.levels[shelter.level] || "";
      const address = document.createElement("div");
      address.textContent = shelter.address || "";
      box.append(name, level, address);
      marker.bindPopup(box);
      // A text node, never an HTML string: shelter names come from imported open-data files.
      marker.bindTooltip(document.createTextNode(named(shelter) + " — " + (current.levels[shelter.level] || "")));
      bounds.push([shelter.lat, shelter.lon]);
    });
    return bounds;
  }

  const bounds = draw(data);
  if (bounds.length === 1) map.setView(bounds[0], 15);
  else map.fitBounds(bounds, {padding: [24, 24], maxZoom: 16});
  return {draw};
}

// The page refreshes its data in place (a reload would take the reader's place, zoom and focus):
// the same URL again, revalidated (a 304 when nothing changed), and only the parts that changed.
const REFRESH_MS = 120_000;
const PARTS = [".public-list", ".asof"];

async function refresh(map) {
  let response;
  try {
    // Without cookies, so the language goes in the URL (the page may have come from the cookie).
    response = await fetch(pageUrl(), {cache: "no-cache", credentials: "omit"});
  } catch (err) {
    return; // offline: keep what is shown; the next round tries again
  }
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  PARTS.forEach((selector) => {
    const now = document.querySelector(selector);
    const next = fresh.querySelector(selector);
    if (now && next && now.innerHTML !== next.innerHTML) now.replaceWith(document.importNode(next, true));
  });
  const nextData = fresh.getElementById("public-shelters");
  const nowData = document.getElementById("public-shelters");
  if (map && nextData && nowData && nextData.textContent !== nowData.textContent) {
    nowData.textContent = nextData.textContent;
    map.draw(JSON.parse(nextData.textContent));
  }
}

const LANG_COOKIE = "evac_public_lang"; // read by evac.web.views.index for the first render
const lang = document.getElementById("public")?.dataset.lang || "ja";

/** This page's address with its language named. */
function pageUrl() {
  const url = new URL(window.location.href);
  url.searchParams.set("lang", lang);
  return url.href;
}

// A language named in the address is remembered, so the bare address opens in it next time.
if (new URL(window.location.href).searchParams.has("lang")) {
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${LANG_COOKIE}=${lang}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
}

const holder = document.getElementById("public-map");
const dataNode = document.getElementById("public-shelters");
const map = holder && dataNode ? start(holder, JSON.parse(dataNode.textContent), lang) : null;
window.setInterval(() => { refresh(map); }, REFRESH_MS);
