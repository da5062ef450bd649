/* The desk's roster: query, counts line and which actions a row offers. Pure. */

const FILTERS = ["q", "status", "needs"];
const COUNTED = ["present", "outing", "at_home", "in_car"];

/** The roster's URL for the search form's data (a FormData or anything with `get`). */
export function rosterPath(shelterId, data) {
  const params = new URLSearchParams();
  FILTERS.forEach((key) => { if (data && data.get(key)) params.set(key, data.get(key)); });
  return "/api/v1/shelters/" + shelterId + "/roster?" + params.toString();
}

/** "在所 3 / 外出中 1 / …" from the roster's counts. */
export function countsText(counts, t) {
  return COUNTED.map((key) => t(key) + " " + ((counts && counts[key]) || 0)).join(" / ");
}

/**
 * The actions of one roster row, in order: link a waiting IC card, go out or come back, leave,
 * and transfer when there is another open shelter.
 */
export function rowActions(status, {linkingIc = false, transferTargets = 0} = {}) {
  const actions = [];
  if (linkingIc) actions.push("link_ic");
  actions.push(status === "present" ? "outing" : "return");
  actions.push("left");
  if (transferTargets > 0) actions.push("transfer");
  return actions;
}
