/* The detail panel of the selected shelter (facts, needs, actions, exports) and the search
 * that opens a closed shelter. */

import {byId, el} from "../../js/dom.js";
import {ago, num} from "../format.js";
import {parseCapacity, readingKey} from "../model.js";

const CONFIRM = {closed: "confirm_close", full: "confirm_full", open: "confirm_open"};

// The shelter whose closing was refused and whose move panel is showing (null: none).
let moveFrom = null;

/** Draw the panel for `row`, or hide it. */
export function renderDetail(row, {t, needOrder}) {
  const panel = byId("detail");
  if (!row) { panel.hidden = true; return; }
  panel.hidden = false;
  panel.dataset.shelterId = String(row.id);
  if (moveFrom !== null && moveFrom !== row.id) hideMove();
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

function hideMove() {
  moveFrom = null;
  byId("detail-move").hidden = true;
}

/**
 * Closing was refused because people are registered at `row`: say how many (the server's
 * message) and offer to move them all to another open shelter, chosen deliberately (no default).
 */
function showMove(row, error, targets, t) {
  moveFrom = row.id;
  byId("detail-move-text").textContent = "⚠ " + error.message;
  byId("detail-move").dataset.present = String(error.present ?? "");
  const select = byId("detail-move-target");
  select.replaceChildren(el("option", {value: "", text: t("move_choose")}));
  targets.filter((s) => s.id !== row.id)
    .sort((a, b) => (readingKey(a.name_kana, a.name) < readingKey(b.name_kana, b.name) ? -1 : 1))
    .forEach((s) => {
      const room = s.capacity === null ? t("capacity_unknown") : num(s.capacity);
      select.append(el("option", {value: String(s.id), "data-name": s.name,
        text: s.name + "（" + [s.code, t("status." + s.status), num(s.occupancy) + " / " + room].join(" · ") + "）"}));
    });
  select.value = "";
  updateMoveButton(t);
  byId("detail-move").hidden = false;
  select.focus();
}

function updateMoveButton(t) {
  const select = byId("detail-move-target");
  const option = select.selectedOptions[0];
  const name = option && option.value ? option.dataset.name : t("move_target");
  const button = byId("detail-move-button");
  button.textContent = t("move_all", {name});
  button.disabled = !(option && option.value);
}

/**
 * Wire the panel's buttons.
 * @param {object} options {t, selectedRow() → row|null, patch(id, body, name) → answer,
 *   moveAll(fromId, toId) → answer, targets() → the open shelters' rows, onClose()}
 */
export function setupDetail({t, selectedRow, patch, moveAll, targets, onClose}) {
  byId("detail-actions").addEventListener("click", async (event) => {
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
    const answer = await patch(row.id, {status: action}, row.name);
    if (action === "closed" && answer && answer.error && answer.error.code === "shelter_not_empty") {
      showMove(row, answer.error, targets(), t);
    } else if (answer && answer.ok) hideMove();
  });
  byId("detail-move-target").addEventListener("change", () => updateMoveButton(t));
  byId("detail-move-cancel").addEventListener("click", hideMove);
  byId("detail-move-button").addEventListener("click", async () => {
    const row = selectedRow();
    const option = byId("detail-move-target").selectedOptions[0];
    if (!row || !option || !option.value) return;
    const n = byId("detail-move").dataset.present;
    if (!window.confirm(t("confirm_move_all", {from: row.name, n, to: option.dataset.name}))) return;
    const answer = await moveAll(row.id, Number(option.value), row.name, option.dataset.name);
    if (answer && answer.ok) hideMove();
  });
  byId("detail-close").addEventListener("click", () => { hideMove(); onClose(); });
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
      // Kind and code tell apart two shelters of the same name (a school's gym and its grounds).
      const facts = [t("kind." + s.kind), s.code, s.municipality_name, s.address].filter(Boolean).join(" · ");
      button.setAttribute("aria-label", t("open_action") + " " + s.name + " " + facts);
      list.append(el("li", {"data-shelter-id": String(s.id)}, [
        el("span", {class: "open-name"}, [el("strong", {text: s.name}), el("span", {class: "sub", text: facts})]),
        button,
      ]));
    });
  });
}
