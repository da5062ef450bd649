/* The desk's roster: query and paging, counts, needs strip, columns and each row's actions. Pure. */

const FILTERS = ["q", "status", "needs"];
const COUNTED = ["present", "outing", "at_home", "in_car"];
// The API's default page (GET …/roster answers at most this many, with `next` for the rest).
export const PAGE_SIZE = 200;
// The API's largest page: a reload asks for what was shown in one request, up to this.
export const MAX_PAGE = 1000;
// Need keys in the order of evac/common/vocab.py (NEED_KEYS): the strip keeps that order.
export const NEED_ORDER = ["elderly", "disability", "infant", "pregnant", "language", "allergy", "medical", "care",
  "injury"];

/** The search form's filters that are set, as one comparable string ("needs=infant&q=さとう"). */
export function filterKey(data) {
  const params = new URLSearchParams();
  FILTERS.forEach((key) => { if (data && data.get(key)) params.set(key, data.get(key)); });
  return params.toString();
}

/**
 * The roster's URL for the search form's data (a FormData or anything with `get`): its filters,
 * and `limit` and `cursor` when the data (or `page`) gives them.
 */
export function rosterPath(shelterId, data, page = {}) {
  const params = new URLSearchParams(filterKey(data));
  const limit = page.limit || (data && data.get("limit"));
  const cursor = page.cursor !== undefined && page.cursor !== null ? page.cursor : data && data.get("cursor");
  if (limit) params.set("limit", String(limit));
  if (cursor !== undefined && cursor !== null && cursor !== "") params.set("cursor", String(cursor));
  return "/api/v1/shelters/" + shelterId + "/roster?" + params.toString();
}

/**
 * How many rows a reload asks for: as many as were shown, when the filters are the same (after
 * 外出 on row 210 the roster must not shrink back to the first page), else one page.
 */
export function reloadLimit(shownFilters, filters, shown) {
  if (shownFilters !== filters || shown <= PAGE_SIZE) return PAGE_SIZE;
  return Math.min(MAX_PAGE, shown);
}

/**
 * The rows shown after one more page arrived: the page's items appended, a stay already listed
 * (moved between two requests) kept once, where it was first.
 */
export function mergePage(items, page) {
  const seen = new Set(items.map((item) => item.stay.id));
  return items.concat((page.items || []).filter((item) => !seen.has(item.stay.id)));
}

/** "在所 3 / 外出中 1 / …" from the roster's counts. */
export function countsText(counts, t) {
  return COUNTED.map((key) => t(key) + " " + ((counts && counts[key]) || 0)).join(" / ");
}

/** "215 人" when every row is shown, "200 / 215 人" while more wait. */
export function shownText(shown, total, t) {
  return shown >= total ? t("people_total", {n: total}) : t("people_shown", {shown, n: total});
}

/** The needs strip: needs somebody has, in the vocabulary's order, with their counts. */
export function needsStrip(needs) {
  return NEED_ORDER.filter((key) => needs && needs[key] > 0).map((key) => ({key, n: needs[key]}));
}

/** Today's date in Japan as [year, month, day] (a desk's "today", not UTC's). */
export function tokyoDate(when) {
  const text = when.toLocaleDateString("en-CA", {timeZone: "Asia/Tokyo", year: "numeric", month: "2-digit",
    day: "2-digit"});
  return text.split("-").map(Number);
}

/** Age in whole years on `now`'s date in Japan; null when the birth date is unknown or malformed. */
export function ageOn(birthIso, now = new Date()) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthIso || "");
  if (!match) return null;
  const [year, month, day] = tokyoDate(now);
  const born = match.slice(1).map(Number);
  const before = month < born[1] || (month === born[1] && day < born[2]);
  const age = year - born[0] - (before ? 1 : 0);
  return age >= 0 ? age : null;
}

/** A check-in time: "14:05" today in Japan, "12/1 14:05" on an earlier day ("" if unknown). */
export function checkedInText(iso, lang, now = new Date()) {
  if (!iso) return "";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const time = when.toLocaleTimeString(lang === "en" ? "en-GB" : "ja-JP",
    {hour: "2-digit", minute: "2-digit", timeZone: "Asia/Tokyo"});
  const [year, month, day] = tokyoDate(when);
  const today = tokyoDate(now);
  const sameDay = today[0] === year && today[1] === month && today[2] === day;
  return sameDay ? time : month + "/" + day + " " + time;
}

// Where each whereabouts may go from the roster (the reasons of POST /api/v1/checkouts).
const MOVES = {
  present: ["outing", "at_home", "in_car"],
  outing: ["return", "at_home", "in_car"],
  at_home: ["return", "in_car"],
  in_car: ["return", "at_home"],
};

/**
 * The 操作 menu of one roster row, in order: the whereabouts the status allows (外出 or 戻り,
 * 在宅避難, 車中泊), 移動 when there is another open shelter, and 退所 last (it ends the stay).
 */
export function rowActions(status, {transferTargets = 0} = {}) {
  const actions = (MOVES[status] || ["return"]).slice();
  if (transferTargets > 0) actions.push("transfer");
  actions.push("left");
  return actions;
}

/** Actions that end the row's stay here: staff confirm them first. */
export function needsConfirm(action) {
  return action === "left" || action === "transfer";
}
