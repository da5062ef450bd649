/* The alert list (shelters at 80 % or full) and the banner for alerts new since the last poll. */

import {byId, el} from "../../js/dom.js";
import {num, pct} from "../format.js";
import {isFull, isPastCapacityAndOpen} from "../model.js";

export const ALERTS_SHOWN = 8;

/**
 * @param {object[]} alerts the alert rows, fullest first (model.alertRows)
 * @param {object[]} fresh those new since the last poll
 * @param {object} options {t, onSelect(id), onMore(), onMarkFull(row)}
 */
export function renderAlerts(alerts, fresh, {t, onSelect, onMore, onMarkFull}) {
  const list = byId("alert-list");
  list.replaceChildren();
  if (!alerts.length) list.append(el("li", {class: "alert-none", text: t("no_alerts")}));
  alerts.slice(0, ALERTS_SHOWN).forEach((r) => {
    const text = t(isFull(r) ? "alert_full" : "alert_near", {
      name: r.name, occupancy: num(r.occupancy), capacity: r.capacity === null ? "—" : num(r.capacity),
      pct: r.fill === null ? "—" : pct(r.fill),
    });
    const button = el("button", {type: "button", class: "linkish", text});
    button.addEventListener("click", () => onSelect(r.id));
    const item = el("li", {class: isFull(r) ? "alert-full" : "alert-near", "data-shelter-id": String(r.id)}, [button]);
    if (isPastCapacityAndOpen(r)) {
      // At or past capacity yet still 「開設」: new arrivals would be sent there. One step marks it full.
      const mark = el("button", {type: "button", class: "alert-action", text: t("full_action"),
        "aria-label": t("full_action") + " " + r.name});
      mark.addEventListener("click", () => onMarkFull(r));
      item.append(mark);
    }
    list.append(item);
  });
  if (alerts.length > ALERTS_SHOWN) {
    const more = el("button", {type: "button", class: "linkish", text: t("more_alerts", {n: num(alerts.length - ALERTS_SHOWN)})});
    more.addEventListener("click", onMore);
    list.append(el("li", {}, [more]));
  }
  if (fresh.length) {
    const banner = byId("alert-new");
    banner.hidden = false;
    banner.textContent = "⚠ " + t("alert_new", {
      names: fresh.slice(0, 5).map((r) => r.name).join("、") + (fresh.length > 5 ? " …" : ""),
    });
  }
}

/** The banner's other use: the outcome of an officer's change. */
export function showOutcome(ok, text) {
  const banner = byId("alert-new");
  banner.hidden = false;
  banner.className = ok ? "alert alert-ok" : "alert alert-error";
  banner.textContent = (ok ? "✓ " : "⚠ ") + text;
}
