/* The household view after a scan, and the list of similar people to choose from. */

import {byId} from "../../js/dom.js";
import {allPresent, fullName, kanaName, memberState, needsText, timeOf, whereText} from "../household.js";

let expiry = null;

function stopExpiry() {
  if (expiry) clearInterval(expiry);
  expiry = null;
}

/** "90 秒後に自動で閉じます", counted down; at 0 the household is closed (`onExpire`). */
function startExpiry(seconds, {t, onExpire}) {
  stopExpiry();
  const note = byId("result-expiry");
  const until = Date.now() + seconds * 1000;
  const draw = () => {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    note.textContent = t("household_expires", {n: left});
    if (left === 0) {
      stopExpiry();
      onExpire();
    }
  };
  draw();
  expiry = setInterval(draw, 1000);
}

/** "岩田 哲也 さんの世帯" with the name in its own element (#result-name), in any language's order. */
function titleWithName(title, pattern, name) {
  const [before, after] = pattern.split("\u0000");
  const held = document.createElement("span");
  held.id = "result-name";
  held.textContent = name;
  title.textContent = "";
  title.append(before || "", held, after || "");
}

/**
 * Draw the scanned household, named after the card holder, with a box per member. Focus stays
 * in the scan field (the page's): a scanner's next line is a new scan, never a confirmation.
 * Everyone present already: 「全員受付済み」 with the time and shelter instead of チェックイン.
 * Unconfirmed, it closes itself after `holdSeconds` (`onExpire`).
 */
export function showHousehold(current, {shelterId, shelterName, lang, t, holdSeconds, onExpire}) {
  const list = byId("members");
  list.textContent = "";
  titleWithName(byId("result-title"), t("household_of", {name: "\u0000"}), fullName(current.person));
  // Only a household can take a walk-in member (a person without one has nobody to join).
  byId("result-add-member").hidden = !current.household.id;
  current.household.members.forEach((member) => {
    const item = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = member.id;
    const state = memberState(member, shelterId);
    box.checked = state.checked;
    box.disabled = state.disabled;
    box.dataset.elsewhere = state.elsewhere ? "1" : "";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = fullName(member) + "（" + kanaName(member) + "）";
    const status = document.createElement("span");
    status.className = "where" + (state.elsewhere ? " where-elsewhere" : "");
    status.textContent = whereText(member.whereabouts, shelterId, t, lang);
    const needs = document.createElement("span");
    needs.className = "needs";
    needs.textContent = needsText(member, t);
    label.append(box, name, status, needs);
    item.append(label);
    list.append(item);
  });
  if (current.household.elsewhere) {
    const note = document.createElement("li");
    note.className = "elsewhere-note";
    note.textContent = t("members_elsewhere", {n: current.household.elsewhere});
    list.append(note);
  }
  const done = allPresent(current.household.members, shelterId);
  const allHere = byId("all-here");
  if (done) {
    const holder = current.household.members.find((member) => member.id === current.person.id) ||
      current.household.members[0];
    allHere.textContent = t("all_checked_in", {shelter: shelterName, time: timeOf(holder.whereabouts.checked_in_at, lang)});
  }
  allHere.hidden = !done;
  byId("checkin-button").hidden = done;
  byId("result-help").hidden = done;
  byId("scan-result").hidden = false;
  startExpiry(holdSeconds, {t, onExpire});
}

/** The members ticked for check-in (those not here already). */
export function chosenMembers() {
  return Array.from(byId("members").querySelectorAll("input[type=checkbox]"))
    .filter((box) => box.checked && !box.disabled)
    .map((box) => ({id: Number(box.value), elsewhere: box.dataset.elsewhere === "1"}));
}

export function hideHousehold() {
  stopExpiry();
  byId("scan-result").hidden = true;
  byId("members").textContent = "";
}

export function hideCandidates() {
  byId("candidates").hidden = true;
}

/**
 * Similar registered people, each with a button to check in as them; for a walk-in (`body`
 * with a `person`) also the button that registers a new person after all.
 */
export function showCandidates(candidates, body, {t, onChoose, onRegisterNew, member}) {
  // Choosing checks in the one chosen: with a family on the form (or for a member, `member`
  // "family[1]") that would drop the rest. Staff open the registered person's household instead.
  const choosable = (!member || member === "person") && !(body && body.family && body.family.length);
  const box = byId("candidates");
  box.textContent = "";
  const heading = document.createElement("h2");
  heading.textContent = t("candidates");
  box.append(heading);
  const list = document.createElement("ul");
  list.className = "members";
  (candidates || []).forEach((person) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "primary";
    button.textContent = t("choose_candidate");
    button.addEventListener("click", () => onChoose(person));
    const text = document.createElement("span");
    text.textContent = fullName(person) + "（" + kanaName(person) + "） " + (person.birth_date || "") + " " +
      (person.address || "");
    item.append(text);
    if (choosable) item.append(button);
    list.append(item);
  });
  box.append(list);
  if (body && body.person) {
    const fresh = document.createElement("button");
    fresh.type = "button";
    fresh.className = "big";
    fresh.textContent = t(choosable ? "register_new" : "register_family_new");
    fresh.addEventListener("click", () => onRegisterNew(body));
    box.append(fresh);
  }
  box.hidden = false;
  // Asked from the bottom of the walk-in form: bring the choice to where the eye is.
  if (box.scrollIntoView) box.scrollIntoView({block: "start"});
}

/**
 * The scan tab's resident search results: each person with a button that opens their household
 * (the check-in itself stays on the household view, with the members ticked there).
 */
export function showResidents(data, {t, onOpen}) {
  const list = byId("resident-results");
  list.textContent = "";
  const items = (data && data.items) || [];
  byId("resident-note").textContent = !items.length ? t("resident_none")
    : data.more ? t("resident_more", {n: items.length}) : "";
  items.forEach((person) => {
    const item = document.createElement("li");
    const text = document.createElement("span");
    text.textContent = fullName(person) + "（" + kanaName(person) + "） " + (person.birth_date || "") + " " +
      (person.address || "");
    const open = document.createElement("button");
    open.type = "button";
    open.className = "primary";
    open.textContent = t("resident_open");
    open.addEventListener("click", () => { list.textContent = ""; byId("resident-note").textContent = ""; onOpen(person); });
    item.append(text, open);
    list.append(item);
  });
}
