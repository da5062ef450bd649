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
export function renderRoster(data, {t, linkingIc, transferTargets, actions, confirm}) {
  byId("roster-counts").textContent = countsText(data.counts, t);
  const body = byId("roster-body");
  body.textContent = "";
  if (!data.items.length) {
    const cell = body.insertRow().insertCell();
    cell.colSpan = 5;
    cell.textContent = t("no_results");
  }
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
