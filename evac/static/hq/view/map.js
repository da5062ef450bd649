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
    const keep = new Set();
    const bounds = [];
    rows.forEach((r) => {
      if (typeof r.lat !== "number" || typeof r.lon !== "number") return;
      keep.add(r.id);
      bounds.push([r.lat, r.lon]);
      let marker = markers.get(r.id);
      if (!marker) {
        marker = L.circleMarker([r.lat, r.lon], {radius: 7, weight: 1, color: "#fff", fillOpacity: 0.9});
        marker.on("click", () => onSelect(r.id));
        marker.addTo(map);
        markers.set(r.id, marker);
      }
      marker.setStyle({fillColor: colour(r), radius: selected === r.id ? 11 : 7});
      // A text node, never an HTML string: shelter names come from imported open-data files.
      marker.bindTooltip(document.createTextNode(
        r.name + " " + (r.capacity === null ? num(r.occupancy) : num(r.occupancy) + "/" + num(r.capacity))));
    });
    markers.forEach((marker, id) => { if (!keep.has(id)) { marker.remove(); markers.delete(id); } });
    if (!fitted && bounds.length) {
      fitted = true;
      if (bounds.length === 1) map.setView(bounds[0], 14);
      else map.fitBounds(bounds, {padding: [20, 20], maxZoom: 15});
    }
  }

  return {render};
}
