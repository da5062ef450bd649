/* The roster table: every open stay, page after page, a needs strip that filters, one 操作 menu per row. */

import {byId, el} from "../../js/dom.js";
import {fullName, kanaName, needsText} from "../household.js";
import {
  PAGE_SIZE, ageOn, checkedInText, countsText, filterKey, mergePage, needsConfirm, needsStrip, reloadLimit,
  rowActions, shownText,
} from "../roster.js";

const COLUMNS = 8;
// The API's reason → the label of its button in the 操作 menu.
const ACTION_LABELS = {
  outing: "go_out", return: "return", at_home: "move_at_home", in_car: "move_in_car", transfer: "transfer",
  left: "left",
};

// What the table shows now: the rows loaded so far, the filters they were loaded with and the
// next page's cursor, so a reload keeps as many rows and "もっと見る" asks for the same filters.
const state = {items: [], total: 0, next: null, query: null, filters: "", loading: false, options: null, observer: null};

/**
 * The roster search form's data; after 外出 or 退所 the same filters ask for as many rows as were
 * shown (`limit`), so the roster does not fall back to its first page under the staff's finger.
 */
export function rosterQuery() {
  const data = new FormData(byId("roster-form"));
  const limit = reloadLimit(state.filters, filterKey(data), state.items.length);
  if (limit !== PAGE_SIZE) data.set("limit", String(limit));
  return data;
}

export function rosterShown() {
  return !byId("panel-roster").hidden;
}

/** The roster table emptied, saying so when there is nothing to list; returns its body. */
function emptyTable(count, t) {
  const body = byId("roster-body");
  body.textContent = "";
  if (!count) {
    const cell = body.insertRow().insertCell();
    cell.colSpan = COLUMNS;
    cell.textContent = t("no_results");
  }
  return body;
}

function textCell(row, text, className) {
  const cell = row.insertCell();
  cell.textContent = text;
  if (className) cell.className = className;
  return cell;
}

function rosterRow(item, {t, lang, linkingIc, actions}) {
  const person = item.person;
  const row = document.createElement("tr");
  row.dataset.personId = person.id;
  row.dataset.status = item.stay.status;
  const name = row.insertCell();
  name.className = "who";
  name.append(el("span", {class: "roster-name", text: fullName(person)}),
    el("span", {class: "roster-kana", text: kanaName(person)}));
  const age = ageOn(person.birth_date);
  textCell(row, age === null ? "" : String(age), "num");
  textCell(row, person.sex === "other" ? "—" : t("sex." + person.sex), "sex");
  textCell(row, person.household_number || "", "household");
  textCell(row, t(item.stay.status), "whereabouts status-" + item.stay.status);
  textCell(row, checkedInText(item.stay.checked_in_at, lang), "since");
  const needs = needsText(person, t);
  textCell(row, needs, "needs").title = needs;
  const cell = row.insertCell();
  cell.className = "actions";
  if (linkingIc) {
    cell.append(el("button", {type: "button", text: t("checkin"), onclick: () => actions.linkIc(person.id)}));
  }
  const open = el("button", {type: "button", class: "row-actions", text: t("actions"), "aria-haspopup": "dialog",
    "aria-label": t("actions_for", {name: fullName(person)})});
  open.addEventListener("click", () => openSheet(item, open));
  cell.append(open);
  return row;
}

/* ---------- the 操作 menu ---------- */

function sheetButton(label, handler, className) {
  const button = el("button", {type: "button", text: label, class: className || ""});
  button.addEventListener("click", handler);
  return button;
}

function showSheet(title, text, buttons, {focusCancel = false} = {}) {
  byId("roster-sheet-title").textContent = title;
  byId("roster-sheet-text").textContent = text;
  byId("roster-sheet-text").hidden = !text;
  const list = byId("roster-sheet-actions");
  list.textContent = "";
  list.append(...buttons);
  byId("roster-sheet").hidden = false;
  // On a confirmation the focus rests on やめる: a stray Enter must not record a 退所 or a transfer.
  (focusCancel ? byId("roster-sheet-cancel") : buttons[0] || byId("roster-sheet-cancel")).focus();
}

let returnFocus = null;

/** Close the 操作 menu; the focus goes back to the row's 操作 button when it is still there. */
function closeSheet() {
  const sheet = byId("roster-sheet");
  if (!sheet || sheet.hidden) return;
  sheet.hidden = true;
  if (returnFocus && returnFocus.isConnected) returnFocus.focus();
  returnFocus = null;
}

function run(item, reason, toShelterId) {
  closeSheet();
  state.options.actions.checkout(item.person.id, reason, toShelterId);
}

function openSheet(item, opener) {
  const {t, transferTargets} = state.options;
  const name = fullName(item.person);
  returnFocus = opener;
  const buttons = rowActions(item.stay.status, {transferTargets: transferTargets.length}).map((action) =>
    sheetButton(t(ACTION_LABELS[action]), () => {
      if (action === "transfer") return chooseTarget(item);
      if (needsConfirm(action)) return confirmAction(item, action);
      return run(item, action);
    }, "action-" + action));
  // A check-in made by mistake (the wrong person, a double registration) is taken back, not ended
  // as 退所: the far end gets a correction, and no safety-inquiry answer says they left.
  if (state.options.actions.correct) {
    buttons.push(sheetButton(t("correct_checkin"), () => confirmCorrection(item), "action-correct"));
  }
  showSheet(t("actions_for", {name}), t(item.stay.status), buttons);
}

function confirmCorrection(item) {
  const {t} = state.options;
  const name = fullName(item.person);
  showSheet(t("actions_for", {name}), t("confirm_correct", {name}), [sheetButton(t("yes_correct"), () => {
    closeSheet();
    state.options.actions.correct(item.stay.id);
  }, "confirm danger")], {focusCancel: true});
}

function chooseTarget(item) {
  const {t, transferTargets} = state.options;
  showSheet(t("transfer_choose", {name: fullName(item.person)}), "", transferTargets.map((target) =>
    sheetButton(target.name, () => confirmAction(item, "transfer", target), "target")));
}

function confirmAction(item, action, target) {
  const {t} = state.options;
  const name = fullName(item.person);
  const text = action === "transfer" ? t("confirm_transfer", {name, shelter: target.name}) : t("confirm_leave_name", {name});
  showSheet(t("actions_for", {name}), text, [sheetButton(action === "transfer" ? t("yes_transfer") : t("yes_leave"),
    () => run(item, action, target ? target.id : undefined), "confirm danger")], {focusCancel: true});
}

/* ---------- header: counts, how many shown, the needs strip ---------- */

function drawHeader() {
  const {t} = state.options;
  byId("roster-total").textContent = shownText(state.items.length, state.total, t);
  byId("roster-more").hidden = state.next === null || state.next === undefined;
}

function drawNeeds(needs) {
  const {t} = state.options;
  const strip = byId("roster-needs-strip");
  const chosen = byId("roster-needs").value;
  strip.textContent = "";
  const chips = needsStrip(needs);
  strip.hidden = !chips.length && !chosen;
  if (chosen) {
    strip.append(sheetButton(t("needs_all"), () => filterByNeed(""), "need-chip need-all"));
  }
  chips.forEach(({key, n}) => {
    const chip = sheetButton(t("needs." + key) + " " + n, () => filterByNeed(chosen === key ? "" : key), "need-chip");
    chip.dataset.need = key;
    chip.setAttribute("aria-pressed", String(chosen === key));
    strip.append(chip);
  });
}

function filterByNeed(key) {
  byId("roster-needs").value = key;
  state.options.reload();
}

/* ---------- paging ---------- */

/** The next page, appended (the もっと見る button, or scrolling to the end of the table). */
async function loadMore() {
  if (state.loading || state.next === null || state.next === undefined || !state.options) return null;
  state.loading = true;
  try {
    const answer = await state.options.loadMore(state.next, state.query);
    if (!answer.ok) return answer;
    const before = state.items.length;
    state.items = mergePage(state.items, answer.data);
    state.total = answer.data.total;
    state.next = answer.data.next;
    const body = byId("roster-body");
    state.items.slice(before).forEach((item) => body.append(rosterRow(item, state.options)));
    byId("roster-counts").textContent = countsText(answer.data.counts, state.options.t);
    drawNeeds(answer.data.needs);
    drawHeader();
    return answer;
  } finally {
    state.loading = false;
    // Still at the end of the table (a tall screen): the next page comes without a scroll.
    if (state.observer) { state.observer.unobserve(byId("roster-more")); state.observer.observe(byId("roster-more")); }
  }
}

/** Infinite scroll where the browser has IntersectionObserver; the button works everywhere. */
function watchEnd() {
  if (state.observer || !("IntersectionObserver" in window)) return;
  state.observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting) && rosterShown()) loadMore();
  }, {rootMargin: "200px"});
  state.observer.observe(byId("roster-more"));
  byId("roster-more").addEventListener("click", () => loadMore());
  byId("roster-sheet-cancel").addEventListener("click", () => closeSheet());
  byId("roster-sheet").addEventListener("keydown", (event) => { if (event.key === "Escape") closeSheet(); });
  // The roster leaves the screen (a scan shows the scan tab): its menu goes with it, never to
  // reappear over the roster later still asking about a row.
  new MutationObserver(() => { if (!rosterShown()) closeSheet(); })
    .observe(byId("panel-roster"), {attributes: true, attributeFilter: ["hidden"]});
  // A tap on the shade around the menu closes it, as on any tablet sheet.
  byId("roster-sheet").addEventListener("click", (event) => { if (event.target === byId("roster-sheet")) closeSheet(); });
}

/**
 * Draw the roster's first page (or as many rows as a reload asked for).
 * @param {object} data the roster answer ({items, total, next, counts, needs})
 * @param {object} options
 * @param {(key: string, vars?: object) => string} options.t
 * @param {string} options.lang
 * @param {boolean} options.linkingIc an IC card waits for its person: offer チェックイン per row
 * @param {{id: number, name: string}[]} options.transferTargets
 * @param {object} options.actions {linkIc(personId), checkout(personId, reason, toShelterId)}
 * @param {(cursor: number, query: FormData) => Promise<object>} options.loadMore the page after `cursor`
 * @param {() => void} options.reload the roster again with the form's filters (a needs chip was tapped)
 */
export function renderRoster(data, options) {
  state.options = options;
  state.query = new FormData(byId("roster-form"));
  state.filters = filterKey(state.query);
  state.items = data.items.slice();
  state.total = data.total;
  state.next = data.next;
  closeSheet();
  watchEnd();
  byId("panel-roster").classList.toggle("is-linking", Boolean(options.linkingIc));
  byId("roster-counts").textContent = countsText(data.counts, options.t);
  drawNeeds(data.needs);
  const body = emptyTable(state.items.length, options.t);
  state.items.forEach((item) => body.append(rosterRow(item, options)));
  drawHeader();
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
  // Not the roster any more: nothing to page on, and a reload starts from the first page.
  Object.assign(state, {items: [], total: 0, next: null, filters: ""});
  closeSheet();
  byId("roster-more").hidden = true;
  byId("panel-roster").classList.add("is-linking");
  byId("roster-total").textContent = "";
  byId("roster-counts").textContent = t("search_results", {n: data.items.length});
  const body = emptyTable(data.items.length, t);
  data.items.forEach((person) => {
    const row = document.createElement("tr");
    row.dataset.personId = person.id;
    const where = person.whereabouts;
    const status = !where ? t("not_checked_in") : where.shelter_id === shelterId ? t(where.status) : t("elsewhere_short");
    const who = row.insertCell();
    who.className = "who";
    who.append(el("span", {class: "roster-name", text: fullName(person) + (person.birth_date ? "（" + person.birth_date + "）" : "")}),
      el("span", {class: "roster-kana", text: kanaName(person)}));
    const age = ageOn(person.birth_date);
    [[age === null ? "" : String(age), "num"], [person.sex === "other" ? "—" : t("sex." + person.sex), "sex"],
      [person.household_number || "", "household"], [status, "whereabouts"], ["", "since"], [needsText(person, t), "needs"]]
      .forEach(([text, className]) => textCell(row, text, className));
    const cell = row.insertCell();
    cell.className = "actions";
    cell.append(el("button", {type: "button", text: t("link_with_ic"), onclick: () => onLink(person.id)}));
    body.append(row);
  });
}

/** The note above the roster while an IC card waits for its person (with a way out). */
export function showLinking(on) {
  byId("link-ic").hidden = !on;
}
