/* The detail panel of the selected shelter (facts, needs, actions, exports) and the search
 * that opens a closed shelter. */

import {byId, el} from "../../js/dom.js";
import {ago, num} from "../format.js";
import {parseCapacity} from "../model.js";

const CONFIRM = {closed: "confirm_close", full: "confirm_full", open: "confirm_open"};

/** Draw the panel for `row`, or hide it. */
export function renderDetail(row, {t, needOrder}) {
  const panel = byId("detail");
  if (!row) { panel.hidden = true; return; }
  panel.hidden = false;
  panel.dataset.shelterId = String(row.id);
  byId("detail-title").textContent = row.name;
  byId("detail-facts").textContent = [
    t("status." + row.status), row.municipality_name || "",
    t("people", {n: num(row.occupancy)}) + " / " + (row.capacity === null ? t("capacity_unknown") : num(row.capacity)),
    t("household_short") + " " + num(row.households),
    t("at_home") + " " + num(row.at_home), t("in_car") + " " + num(row.in_car), t("pets") + " " + num(row.pets),
  ].filter(Boolean).join(" · ");
  byId("detail-needs").textContent = needOrder.map(([key, label]) => label + " " + num(row.needs[key])).join(" · ");
  byId("detail-updated").textContent = t("last_change", {when: ago(row.last_stay_change || row.updated_at, t)});
  panel.querySelector('[data-action="full"]').hidden = row.status === "full";
  panel.querySelector('[data-action="open"]').hidden = row.status === "open";
  panel.querySelectorAll("[data-export]").forEach((a) => {
    const encoding = a.dataset.encoding ? "&encoding=" + a.dataset.encoding : "";
    a.href = "/api/v1/exports/" + a.dataset.export + "?shelter_id=" + row.id + encoding;
  });
}

/**
 * Wire the panel's buttons.
 * @param {object} options {t, selectedRow() → row|null, patch(id, body, name), onClose()}
 */
export function setupDetail({t, selectedRow, patch, onClose}) {
  byId("detail-actions").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    const row = selectedRow();
    if (!button || !row) return;
    const action = button.dataset.action;
    if (action === "capacity") {
      const answer = window.prompt(t("capacity_prompt", {name: row.name}), row.capacity === null ? "" : String(row.capacity));
      if (answer === null) return;
      const capacity = parseCapacity(answer);
      if (!capacity.ok) { window.alert(t("capacity_invalid")); return; }
      patch(row.id, {capacity: capacity.value}, row.name);
      return;
    }
    if (action !== "open" && !window.confirm(t(CONFIRM[action], {name: row.name}))) return;
    patch(row.id, {status: action}, row.name);
  });
  byId("detail-close").addEventListener("click", onClose);
}

/**
 * Wire the search for a closed shelter to open.
 * @param {object} options {t, search(q) → Promise<answer>, patch(id, body, name)}
 */
export function setupOpenForm({t, search, patch}) {
  byId("open-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await search(byId("open-q").value.trim());
    const list = byId("open-results");
    list.replaceChildren();
    if (!answer.ok) return;
    if (!answer.data.items.length) list.append(el("li", {text: t("search_none")}));
    answer.data.items.forEach((s) => {
      const button = el("button", {type: "button", class: "primary-small", text: t("open_action")});
      button.addEventListener("click", async () => {
        if (!window.confirm(t("confirm_open", {name: s.name}))) return;
        await patch(s.id, {status: "open"}, s.name);
        list.replaceChildren();
      });
      list.append(el("li", {}, [el("span", {text: s.name + (s.municipality_name ? " · " + s.municipality_name : "")}), button]));
    });
  });
}
