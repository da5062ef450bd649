/* The HQ dashboard's rows: which shelters are full or near it, filtering, sorting, paging and
 * the alerts. One request brings every open shelter; all of this happens here, so a page of 50
 * rows stays quick with thousands of open shelters. Pure. */

export const NEAR_FULL = 0.8;

export function needTotal(row) {
  return Object.values(row.needs).reduce((a, b) => a + b, 0);
}

/** Marked full, or at or past its capacity. */
export function isFull(row) {
  return row.status === "full" || (row.fill !== null && row.fill >= 1);
}

/** At or past its capacity while still marked open: HQ should mark it full. */
export function isPastCapacityAndOpen(row) {
  return row.status === "open" && row.fill !== null && row.fill >= 1;
}

/** At 80 % or more of its capacity, and not full. */
export function isNear(row) {
  return !isFull(row) && row.fill !== null && row.fill >= NEAR_FULL;
}

// Small katakana (ァィゥェォッャュョヮ) sit one code point before their big letter; ヵ and ヶ do not.
const SMALL_KANA = /[\u30a1\u30a3\u30a5\u30a7\u30a9\u30c3\u30e3\u30e5\u30e7\u30ee]/g;
const SMALL_KA_KE = {"\u30f5": "\u30ab", "\u30f6": "\u30b1"};

/**
 * The sort key of a reading in 五十音 order (as evac.shelters.service.reading_order): katakana,
 * full width, no spaces; voiced and small kana as their plain letter first, the exact reading
 * breaking ties. Code point order would put every hiragana reading before katakana and ガ apart
 * from カ. No reading: after every shelter that has one, by name.
 */
export function readingKey(kana, name) {
  const reading = String(kana || "").normalize("NFKC").replace(/[\s\u3000]/g, "")
    .replace(/[\u3041-\u3096]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0x60));
  if (!reading) return "\uffff" + String(name || "");
  const plain = reading.normalize("NFD").replace(/[\u3099\u309a]/g, "")
    .replace(SMALL_KANA, (c) => String.fromCharCode(c.charCodeAt(0) + 1))
    .replace(/[\u30f5\u30f6]/g, (c) => SMALL_KA_KE[c]);
  return plain + "\u0000" + reading;
}

export const sorters = {
  name: (r) => readingKey(r.name_kana, r.name),
  status: (r) => (r.status === "full" ? 1 : 0),
  fill: (r) => (r.fill === null ? -1 : r.fill) * 1e7 + r.occupancy,
  households: (r) => r.households,
  elsewhere: (r) => r.at_home + r.in_car,
  needs: (r) => needTotal(r),
  updated: (r) => r.updated_at || "",
};

/**
 * The rows the table's filters let through.
 * @param {object[]} rows
 * @param {{q?: string, municipality?: string, status?: string, need?: string, near?: boolean}} filters
 */
export function filterRows(rows, filters) {
  const {q = "", municipality = "", status = "", need = "", near = false} = filters || {};
  return rows.filter((r) => {
    if (q && r.name.indexOf(q) < 0 && (r.code || "").indexOf(q) < 0) return false;
    if (municipality && r.municipality_code !== municipality) return false;
    if (status && r.status !== status) return false;
    if (need === "pets" && !r.pets) return false;
    if (need && need !== "pets" && !r.needs[need]) return false;
    if (near && !(r.fill !== null && r.fill >= NEAR_FULL) && r.status !== "full") return false;
    return true;
  });
}

/**
 * Sorted by one column (dir 1 ascending, -1 descending), ties by id; a new array. Each row's key
 * is computed once, not in the comparison: a reading's key normalises it twice, and 2,500 rows
 * take some 60,000 comparisons (bench/hq_page.py measured a 66 ms task for the 避難所 column).
 */
export function sortRows(rows, sort) {
  const key = sorters[sort.key];
  const dir = sort.dir;
  return rows.map((row) => ({row, key: key(row)}))
    .sort((a, b) => {
      if (a.key < b.key) return -dir;
      if (a.key > b.key) return dir;
      return a.row.id - b.row.id;
    })
    .map((entry) => entry.row);
}

/**
 * The rows the table and map show, filtered and sorted, remembered: asked again with the same
 * rows (the same array), filters and sort, it answers the same array without filtering or
 * sorting again, so a page change costs a slice and the map can tell nothing changed by identity.
 * @returns {(rows: object[], filters: object, sort: {key: string, dir: number}) => object[]}
 */
export function createRowView() {
  let last = null;
  return function view(rows, filters, sort) {
    const key = JSON.stringify([filters, sort]);
    if (!last || last.rows !== rows || last.key !== key) {
      last = {rows, key, shown: sortRows(filterRows(rows, filters), sort)};
    }
    return last.shown;
  };
}

/**
 * Which table rows can stay as drawn: `drawn` maps a shelter id to what was drawn for it
 * ({row, look}), `looks` gives each row's look now (selection, sync state). A row is kept when
 * it is the same object (model.js's reuseUnchanged keeps unchanged rows) with the same look.
 * @returns {{row: object, look: string, keep: boolean}[]}
 */
export function rowsToDraw(drawn, rows, looks) {
  return rows.map((row) => {
    const look = looks(row);
    const before = drawn.get(row.id);
    return {row, look, keep: Boolean(before && before.row === row && before.look === look)};
  });
}

/** The next sort when a column's header is pressed: the same column flips, a new one starts descending (names ascending). */
export function nextSort(sort, key) {
  return {key, dir: sort.key === key ? -sort.dir : (key === "name" ? 1 : -1)};
}

/** One page of rows; `page` is clamped to the pages there are. */
export function pageOf(rows, page, size) {
  const pages = Math.max(1, Math.ceil(rows.length / size));
  const current = Math.max(0, Math.min(page, pages - 1));
  const shown = rows.slice(current * size, current * size + size);
  return {page: current, pages, shown, from: current * size + 1, to: current * size + shown.length, total: rows.length};
}

/** Shelters full or near full, the fullest first. */
export function alertRows(rows) {
  return rows.filter((r) => isFull(r) || isNear(r))
    .sort((a, b) => (b.fill || 0) - (a.fill || 0) || b.occupancy - a.occupancy);
}

/**
 * Which alerts are new since the last poll. The first poll raises none (everything would be
 * "new"); `previous` is null then.
 * @returns {{fresh: object[], ids: Set<number>}}
 */
export function freshAlerts(alerts, previous) {
  const ids = new Set(alerts.map((r) => r.id));
  const fresh = previous === null ? [] : alerts.filter((r) => !previous.has(r.id));
  return {fresh, ids};
}

/** The municipalities among the rows, by code: {key, entries: [[code, name], …]}. */
export function municipalities(rows) {
  const found = new Map();
  rows.forEach((r) => { if (r.municipality_code) found.set(r.municipality_code, r.municipality_name || r.municipality_code); });
  const entries = Array.from(found.entries()).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return {key: entries.map(([code]) => code).join(","), entries};
}

/**
 * A capacity typed by an officer: "" clears it (unknown), digits set it.
 * @returns {{ok: true, value: number|null} | {ok: false}}
 */
export function parseCapacity(text) {
  const trimmed = String(text).trim();
  if (trimmed === "") return {ok: true, value: null};
  if (!/^\d+$/.test(trimmed)) return {ok: false};
  return {ok: true, value: Number(trimmed)};
}

/**
 * The rows of a new answer, each replaced by the previous answer's object for that shelter when
 * nothing in it changed: views that remember what they drew (the map's markers) can then tell a
 * changed row by identity and leave the others alone.
 * @param {Map<number, object>} previousById
 * @param {object[]} rows
 * @returns {{rows: object[], changed: number}}
 */
export function reuseUnchanged(previousById, rows) {
  let changed = 0;
  const kept = rows.map((row) => {
    const before = previousById.get(row.id);
    // A delta poll's merge (poll.js) hands back the very objects of the last answer for the
    // shelters it did not bring: those need no comparing (two JSON.stringify calls each).
    if (before === row) return before;
    if (before && JSON.stringify(before) === JSON.stringify(row)) return before;
    changed += 1;
    return row;
  });
  return {rows: kept, changed};
}
