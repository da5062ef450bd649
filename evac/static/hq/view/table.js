/* The table of open shelters: filters, rows, pager and sort headers. */

import {byId, el} from "../../js/dom.js";
import {ago, num, pct} from "../format.js";
import {isFull, isNear, rowsToDraw} from "../model.js";
import {syncCell} from "../sync.js";

/** The filters as the officer set them. */
export function readFilters() {
  return {
    q: byId("f-q").value.trim(),
    municipality: byId("f-municipality").value,
    status: byId("f-status").value,
    need: byId("f-need").value,
    near: byId("f-near").checked,
  };
}

/** Tick "80 % or more" (from the alerts' "more" link). */
export function showNearOnly() {
  byId("f-near").checked = true;
}

/**
 * Wire the filters, sort headers and pager.
 * @param {object} handlers {onFilter(), onSort(key), onPage(delta)}
 */
export function setupTable({onFilter, onSort, onPage}) {
  // The filters apply as they change; the form is never submitted (Enter in the search box).
  byId("filters").addEventListener("submit", (event) => event.preventDefault());
  ["f-municipality", "f-status", "f-need", "f-near"].forEach((id) => byId(id).addEventListener("change", onFilter));
  // While a Japanese input method composes (romaji becoming kana, then kanji), what the box holds
  // is not what the officer means yet: filter when the composition ends, not on each key.
  byId("f-q").addEventListener("input", (event) => { if (!event.isComposing) onFilter(); });
  byId("f-q").addEventListener("compositionend", onFilter);
  document.querySelectorAll("#shelters th button[data-sort]").forEach((button) => {
    button.addEventListener("click", () => onSort(button.dataset.sort));
  });
  byId("prev").addEventListener("click", () => onPage(-1));
  byId("next").addEventListener("click", () => onPage(1));
}

function bar(row, t) {
  const wrap = el("div", {class: "fill"});
  const label = row.capacity === null
    ? num(row.occupancy) + " / " + t("capacity_unknown")
    : num(row.occupancy) + " / " + num(row.capacity) + " (" + pct(row.fill || 0) + "%)";
  const meter = el("div", {class: "meter", "aria-hidden": "true"});
  const inner = el("span", {class: "meter-bar " + (isFull(row) ? "is-full" : isNear(row) ? "is-near" : "")});
  inner.style.width = row.fill === null ? "0" : Math.min(100, pct(row.fill)) + "%";
  meter.append(inner);
  wrap.append(el("span", {class: "fill-text", text: label}), meter);
  return wrap;
}

function needsCell(row, needOrder, t) {
  const cell = el("td", {class: "needs-cell"});
  needOrder.forEach(([key, label]) => {
    if (row.needs[key]) cell.append(el("span", {class: "chip", text: label + " " + row.needs[key]}));
  });
  if (row.pets) cell.append(el("span", {class: "chip chip-pet", text: t("pets") + " " + row.pets}));
  if (!cell.childNodes.length) cell.textContent = "—";
  return cell;
}

function elsewhereCell(row, t) {
  if (!row.at_home && !row.in_car) return el("td", {class: "num", text: "—"});
  const parts = [];
  if (row.at_home) parts.push(t("at_home") + " " + num(row.at_home));
  if (row.in_car) parts.push(t("in_car") + " " + num(row.in_car));
  return el("td", {class: "num elsewhere", text: parts.join(" · ")});
}

/** A shelter's sync cell. */
export function syncTd(enabled, state, t) {
  const {className, text} = syncCell(enabled, state, t);
  return el("td", {class: className, text});
}

/**
 * Draw one page of rows.
 * @param {ReturnType<import("../model.js").pageOf>} page
 * @param {object} options {t, needOrder, selected, sort, syncOn, syncStates, onSelect(id)}
 */
export function renderTable(page, {t, needOrder, selected, sort, syncOn, syncStates, onSelect}) {
  const body = byId("shelter-rows");
  // A row drawn before for the same object, selection, sync state and 「n分前」 is kept as it is;
  // when the page's rows are all kept, in the same order, the table is not touched at all (no
  // new layout of the table: bench/hq_page.py measured 25–50 ms of layout a redraw of 50 rows).
  const plan = rowsToDraw(drawnRows, page.shown,
    (r) => (selected === r.id ? "selected|" : "|") + JSON.stringify(syncStates[r.id] || null) + "|"
      + ago(r.last_stay_change || r.updated_at, t));
  const next = new Map();
  const trs = plan.map(({row, look, keep}) => {
    const tr = keep ? drawnRows.get(row.id).tr : rowElement(row, {t, needOrder, selected, syncOn, syncStates, onSelect});
    next.set(row.id, {row, look, tr});
    return tr;
  });
  drawnRows = next;
  const same = trs.length > 0 && trs.length === body.children.length && trs.every((tr, i) => body.children[i] === tr);
  if (!same) body.replaceChildren(...trs);
  if (!page.shown.length) body.append(el("tr", {}, [el("td", {colSpan: 9, class: "empty", text: t("no_rows")})]));
  setText(byId("rows-info"), page.total ? t("rows", {from: num(page.from), to: num(page.to), n: num(page.total)}) : "");
  setText(byId("page-info"), (page.page + 1) + " / " + page.pages);
  byId("prev").disabled = page.page === 0;
  byId("next").disabled = page.page >= page.pages - 1;
  document.querySelectorAll("#shelters th[aria-sort]").forEach((th) => {
    const key = th.querySelector("button").dataset.sort;
    const value = key === sort.key ? (sort.dir < 0 ? "descending" : "ascending") : "none";
    if (th.getAttribute("aria-sort") !== value) th.setAttribute("aria-sort", value);
  });
}

// What renderTable drew last: shelter id → {row, look, tr}, the rows of the page on screen.
let drawnRows = new Map();

/** Text set only when it differs: the same text set again would still invalidate the layout. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** One shelter's row of the table. */
function rowElement(r, {t, needOrder, selected, syncOn, syncStates, onSelect}) {
  const name = el("td", {class: "name-cell"}, [
    el("strong", {text: r.name}),
    el("span", {class: "sub", text: [r.municipality_name, r.code].filter(Boolean).join(" · ")}),
  ]);
  const status = el("td", {}, [el("span", {class: "badge badge-" + r.status, text: t("status." + r.status)})]);
  const detail = el("button", {type: "button", text: t("select"), "aria-label": t("select") + " " + r.name});
  detail.addEventListener("click", () => onSelect(r.id));
  const tr = el("tr", {
    "data-shelter-id": String(r.id),
    class: (selected === r.id ? "is-selected " : "") + (isFull(r) ? "row-full" : isNear(r) ? "row-near" : ""),
  }, [
    name, status, el("td", {}, [bar(r, t)]),
    el("td", {class: "num", "data-col": "households", text: num(r.households)}),
    elsewhereCell(r, t),
    needsCell(r, needOrder, t),
    el("td", {title: r.updated_at || "", text: ago(r.last_stay_change || r.updated_at, t)}),
    syncTd(syncOn, syncStates[r.id], t),
    el("td", {}, [detail]),
  ]);
  tr.querySelector(".fill").dataset.occupancy = String(r.occupancy);
  return tr;
}

/** Replace the sync cells of the rows on screen (after their states arrived). */
export function updateSyncCells(rowById, {t, syncOn, syncStates}) {
  document.querySelectorAll("#shelter-rows tr[data-shelter-id]").forEach((tr) => {
    const row = rowById.get(Number(tr.dataset.shelterId));
    if (row) tr.children[7].replaceWith(syncTd(syncOn, syncStates[row.id], t));
  });
}

/** The municipality filter's options (kept when the list has not changed). */
export function renderMunicipalities(entries) {
  const select = byId("f-municipality");
  const current = select.value;
  Array.from(select.options).slice(1).forEach((o) => o.remove());
  entries.forEach(([code, name]) => select.append(el("option", {value: code, text: name})));
  select.value = current;
}
