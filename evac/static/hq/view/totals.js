/* The totals strip at the top of the dashboard. */

import {byId} from "../../js/dom.js";
import {num} from "../format.js";

const COUNTS = ["open_shelters", "occupancy", "households", "at_home", "in_car", "pets", "near_full", "full"];

export function renderTotals(totals, {needOrder, t}) {
  COUNTS.forEach((key) => { byId("t-" + key).textContent = num(totals[key]); });
  byId("t-capacity").textContent = num(totals.capacity);
  byId("t-fill").textContent = totals.capacity ? "(" + Math.round(totals.occupancy / totals.capacity * 100) + "%)" : "";
  byId("t-capacity_unknown").textContent = totals.capacity_unknown
    ? t("capacity_unknown") + ": " + num(totals.capacity_unknown) : "";
  needOrder.forEach(([key]) => { byId("tn-" + key).textContent = num(totals.needs[key]); });
}
