/* The HQ map: Leaflet (vendored, a classic script that sets window.L) with OpenStreetMap tiles
 * when online, one circle per open shelter drawn on a canvas (thousands stay quick). Without
 * Leaflet, or when tiles fail, the page says so and the table stands alone. */

import {byId} from "../../js/dom.js";
import {num} from "../format.js";
import {isFull, isNear} from "../model.js";

function colour(row) {
  return isFull(row) ? "#b3261e" : isNear(row) ? "#c75000" : row.fill === null ? "#5f6368" : "#146c2e";
}

function offline(t) {
  byId("map-note").hidden = false;
  byId("map-note").textContent = t("map_offline");
}

/**
 * @param {object} options {t, onSelect(id)}
 * @returns {{render(rows: object[], selected: number|null): void}}
 */
export function createMap({t, onSelect}) {
  let map = null;
  let fitted = false;
  const markers = new Map();
  let drawn = {rows: null, selected: null};

  function render(rows, selected) {
    const L = window.L;
    if (!L) {
      offline(t);
      byId("hq-map").hidden = true;
      return;
    }
    if (!map) {
      map = L.map("hq-map", {preferCanvas: true, scrollWheelZoom: false});
      const tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
        maxZoom: 18, attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>',
      });
      let failures = 0;
      tiles.on("tileerror", () => { failures += 1; if (failures === 2) offline(t); });
      tiles.addTo(map);
      map.setView([35.0, 135.8], 6);
    }
    // The same array (model.js's createRowView) and selection: nothing to look at (a page change).
    if (drawn.rows === rows && drawn.selected === selected) return;
    drawn = {rows, selected};
    // Only what changed is touched: a filter, sort or page change hides and shows the markers it
    // must (kept, not rebuilt), restyles those whose colour or selection changed, and a marker's
    // tooltip is rebound only when its row is a new object (model.js keeps unchanged rows).
    const keep = new Set();
    const bounds = [];
    rows.forEach((r) => {
      if (typeof r.lat !== "number" || typeof r.lon !== "number") return;
      keep.add(r.id);
      if (!fitted) bounds.push([r.lat, r.lon]);
      let entry = markers.get(r.id);
      if (!entry) {
        const created = L.circleMarker([r.lat, r.lon], {radius: 7, weight: 1, color: "#fff", fillOpacity: 0.9});
        created.on("click", () => onSelect(r.id));
        entry = {marker: created, row: null, look: "", shown: false};
        markers.set(r.id, entry);
      }
      const marker = entry.marker;
      if (!entry.shown) { marker.addTo(map); entry.shown = true; }
      const look = colour(r) + (selected === r.id ? " selected" : "");
      if (entry.look !== look) {
        entry.look = look;
        marker.setStyle({fillColor: colour(r), radius: selected === r.id ? 11 : 7});
      }
      if (entry.row !== r) {
        if (entry.row && (entry.row.lat !== r.lat || entry.row.lon !== r.lon)) marker.setLatLng([r.lat, r.lon]);
        entry.row = r;
        // A text node, never an HTML string: shelter names come from imported open-data files.
        marker.bindTooltip(document.createTextNode(
          r.name + " " + (r.capacity === null ? num(r.occupancy) : num(r.occupancy) + "/" + num(r.capacity))));
      }
    });
    markers.forEach((entry, id) => {
      if (!keep.has(id) && entry.shown) { entry.marker.remove(); entry.shown = false; }
    });
    byId("hq-map").dataset.markers = String(keep.size);
    if (!fitted && bounds.length) {
      fitted = true;
      if (bounds.length === 1) map.setView(bounds[0], 14);
      else map.fitBounds(bounds, {padding: [20, 20], maxZoom: 15});
    }
  }

  return {render};
}
