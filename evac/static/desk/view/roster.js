/* The roster table: one row per stay with its actions. */

import {byId} from "../../js/dom.js";
import {fullName, kanaName, needsText} from "../household.js";
import {countsText, rowActions} from "../roster.js";

function actionButton(label, handler) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.addEventListener("click", handler);
  return button;
}

/** The roster search form's data. */
export function rosterQuery() {
  return new FormData(byId("roster-form"));
}

export function rosterShown() {
  return !byId("panel-roster").hidden;
}

/**
 * Draw the roster.
 * @param {object} data the roster answer
 * @param {object} options
 * @param {boolean} options.linkingIc an IC card waits for its person: offer チェックイン per row
 * @param {{id: number, name: string}[]} options.transferTargets
 * @param {object} options.actions {linkIc(personId), checkout(personId, reason, toShelterId)}
 * @param {(message: string) => boolean} options.confirm
 */
/** The roster table emptied, saying so when there is nothing to list; returns its body. */
function emptyTable(count, t) {
  const body = byId("roster-body");
  body.textContent = "";
  if (!count) {
    const cell = body.insertRow().insertCell();
    cell.colSpan = 5;
    cell.textContent = t("no_results");
  }
  return body;
}

export function renderRoster(data, {t, linkingIc, transferTargets, actions, confirm}) {
  byId("roster-counts").textContent = countsText(data.counts, t);
  const body = emptyTable(data.items.length, t);
  data.items.forEach((item) => {
    const person = item.person;
    const row = document.createElement("tr");
    row.dataset.personId = person.id;
    [fullName(person), kanaName(person), t(item.stay.status), needsText(person, t)]
      .forEach((text) => { row.insertCell().textContent = text; });
    const cell = row.insertCell();
    cell.className = "actions";
    rowActions(item.stay.status, {linkingIc, transferTargets: transferTargets.length}).forEach((action) => {
      if (action === "link_ic") cell.append(actionButton(t("checkin"), () => actions.linkIc(person.id)));
      if (action === "outing") cell.append(actionButton(t("go_out"), () => actions.checkout(person.id, "outing")));
      if (action === "return") cell.append(actionButton(t("return"), () => actions.checkout(person.id, "return")));
      if (action === "left") {
        cell.append(actionButton(t("left"), () => { if (confirm(t("confirm_leave"))) actions.checkout(person.id, "left"); }));
      }
      if (action === "transfer") {
        const select = document.createElement("select");
        select.setAttribute("aria-label", t("transfer_to"));
        const blank = document.createElement("option");
        blank.value = "";
        blank.textContent = t("transfer_to");
        select.append(blank);
        transferTargets.forEach((target) => {
          const option = document.createElement("option");
          option.value = target.id;
          option.textContent = target.name;
          select.append(option);
        });
        cell.append(select, actionButton(t("transfer"), () => {
          if (select.value) actions.checkout(person.id, "transfer", Number(select.value));
        }));
      }
    });
    body.append(row);
  });
}

/**
 * People found by a search while an IC card waits for its person: one row each, with the button
 * that links the card to them and checks them in.
 * @param {{items: object[]}} data the answer of GET /api/v1/persons
 * @param {object} options
 * @param {number} options.shelterId
 * @param {(key: string, vars?: object) => string} options.t
 * @param {(personId: number) => void} options.onLink
 */
export function renderPeople(data, {shelterId, t, onLink}) {
  byId("roster-counts").textContent = t("search_results", {n: data.items.length});
  const body = emptyTable(data.items.length, t);
  data.items.forEach((person) => {
    const row = document.createElement("tr");
    row.dataset.personId = person.id;
    const where = person.whereabouts;
    const status = !where ? t("not_checked_in") : where.shelter_id === shelterId ? t(where.status) : t("elsewhere_short");
    [fullName(person) + (person.birth_date ? "（" + person.birth_date + "）" : ""), kanaName(person), status,
      needsText(person, t)].forEach((text) => { row.insertCell().textContent = text; });
    const cell = row.insertCell();
    cell.className = "actions";
    cell.append(actionButton(t("link_with_ic"), () => onLink(person.id)));
    body.append(row);
  });
}

/** The note above the roster while an IC card waits for its person (with a way out). */
export function showLinking(on) {
  byId("link-ic").hidden = !on;
}
