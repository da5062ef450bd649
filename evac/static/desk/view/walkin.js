/* The walk-in form (避難者カード入力). */

import {byId} from "../../js/dom.js";
import {FAMILY_LIMIT, cardUrl, foldKana, memberFromValues, personFromForm} from "../walkin.js";

const KANA_FIELDS = ["w-family-kana", "w-given-kana"];

/** The page's own words for a field the browser finds invalid (not the browser's, in its language). */
function explain(field, t) {
  field.setCustomValidity("");
  if (field.validity.valueMissing) field.setCustomValidity(t("field_required"));
  else if (field.validity.patternMismatch) field.setCustomValidity(t("kana_only"));
}

// The household a walk-in joins ("add to this household" mode), or null: they form one of their own.
let joining = null;

/** Leave "add to this household" mode: the next walk-in forms a household of their own. */
function leaveHousehold() {
  joining = null;
  byId("walkin-joining").hidden = true;
}

/** One family member's block on the form (from the page's template), numbered, with its remove button. */
function addMember() {
  const list = byId("family-list");
  if (list.children.length >= FAMILY_LIMIT) return null; // the server's limit: say it here, not after typing
  const block = byId("family-template").content.firstElementChild.cloneNode(true);
  list.append(block);
  renumber();
  byId("family-add").disabled = list.children.length >= FAMILY_LIMIT;
  block.querySelector("[data-field=given_name]").focus();
  return block;
}

function renumber() {
  Array.from(byId("family-list").children).forEach((block, i) => {
    block.querySelector(".family-number").textContent = String(i + 1);
    // Labels point at their fields by id: unique per block.
    block.querySelectorAll("[data-field]").forEach((field) => {
      const id = "f" + i + "-" + field.dataset.field + (field.type === "checkbox" ? "-" + field.value : "");
      const label = field.type === "checkbox" ? null : block.querySelector("label[data-for=" + field.dataset.field + "]");
      field.id = id;
      if (label) label.htmlFor = id;
    });
  });
}

/** The family members' values, block by block, for `memberFromValues`. */
function familyValues() {
  return Array.from(byId("family-list").children).map((block) => {
    const values = {needs: []};
    block.querySelectorAll("[data-field]").forEach((field) => {
      if (field.type === "checkbox") {
        if (field.checked) values.needs.push(field.value);
      } else {
        values[field.dataset.field] = field.value;
      }
    });
    return values;
  });
}

/** Empty the form: no family blocks, no household to join, no card link. */
function clearForm(form) {
  form.reset();
  byId("family-list").textContent = "";
  byId("family-add").disabled = false;
  leaveHousehold();
}

/**
 * Wire the form: 「家族を追加」 adds a member block, each with its remove button; on submit,
 * check the holder and the family in; once done, offer the holder's QR card by name, until the
 * form is edited again (then the link would name the wrong person).
 * @param {object} options
 * @param {number} options.shelterId
 * @param {(key: string, values?: object) => string} options.t
 * @param {(person: object, family: object[], householdId: number|null) => Promise<object|null>} options.checkIn
 *   the answer's data, or null
 */
export function setupWalkIn({shelterId, t, checkIn}) {
  const form = byId("walkin-form");
  form.addEventListener("input", (event) => {
    const field = event.target;
    // Half-width kana made full-width as it is typed, in the holder's fields and every member's.
    if (KANA_FIELDS.includes(field.id) || (field.dataset && field.dataset.kana)) {
      const folded = foldKana(field.value);
      if (folded !== field.value) field.value = folded;
    }
    byId("walkin-card").hidden = true;
    if (field.setCustomValidity) explain(field, t);
  });
  byId("family-add").addEventListener("click", () => addMember());
  byId("family-list").addEventListener("click", (event) => {
    const remove = event.target.closest(".family-remove");
    if (!remove) return;
    remove.closest(".family-member").remove();
    renumber();
    byId("family-add").disabled = false;
  });
  byId("walkin-joining-cancel").addEventListener("click", () => leaveHousehold());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    Array.from(form.elements).forEach((field) => { if (field.setCustomValidity) explain(field, t); });
    if (!form.reportValidity()) return;
    const person = personFromForm(new FormData(form));
    const family = familyValues().map(memberFromValues);
    const result = await checkIn(person, family, joining ? joining.householdId : null);
    if (result) {
      clearForm(form);
      const link = byId("walkin-card-link");
      link.href = cardUrl(shelterId, result.person.id);
      const name = [result.person.family_name, result.person.given_name].filter(Boolean).join(" ");
      link.textContent = t("print_card_of", {name});
      printFamilyCards(result, {shelterId, t});
      byId("walkin-card").hidden = false;
    }
  });
}

/** A QR card link for each family member registered with the holder (named from the answer's household). */
function printFamilyCards(result, {shelterId, t}) {
  const box = byId("walkin-card");
  box.querySelectorAll(".family-card").forEach((extra) => extra.remove());
  const members = new Map(((result.household && result.household.members) || []).map((m) => [m.id, m]));
  (result.stays || []).forEach((stay) => {
    const member = members.get(stay.person_id);
    if (!member || stay.person_id === result.person.id) return;
    const link = document.createElement("a");
    link.className = "button family-card";
    link.href = cardUrl(shelterId, stay.person_id);
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = t("print_card_of", {name: [member.family_name, member.given_name].filter(Boolean).join(" ")});
    box.append(" ", link);
  });
}

/**
 * "Add to this household" mode: the form names the household (「岩田 哲也 さんの世帯に追加」) and
 * starts from what its members share (family name and its kana, address); the given name gets the focus.
 * @param {{householdId: number, name: string, values: object}} household
 */
export function joinHousehold({householdId, name, values}, t) {
  const form = byId("walkin-form");
  clearForm(form);
  byId("walkin-card").hidden = true;
  joining = {householdId, name};
  byId("walkin-joining-text").textContent = t("add_to_household", {name});
  byId("walkin-joining").hidden = false;
  byId("w-family").value = values.family_name || "";
  byId("w-family-kana").value = values.family_name_kana || "";
  byId("w-address").value = values.address || "";
  byId("w-given").focus();
}

/** Say so when the scan field's text goes through a Japanese IME (a scanner's code would be mangled). */
export function watchImeOnScan(scan) {
  const note = byId("scan-ime");
  scan.addEventListener("compositionstart", () => { note.hidden = false; });
  scan.addEventListener("blur", () => { note.hidden = true; });
  scan.form.addEventListener("submit", () => { note.hidden = true; });
}

const PREFILLED = {family_name: "w-family", given_name: "w-given", birth_date: "w-birth", sex: "w-sex",
                   address: "w-address"};

/**
 * Start a walk-in from what a card gave (`values`: personFromCard's), the rest of the form empty;
 * the first field the card could not fill (the kana) gets the focus.
 */
export function prefillWalkIn(values) {
  const form = byId("walkin-form");
  clearForm(form);
  byId("walkin-card").hidden = true;
  Object.keys(PREFILLED).forEach((key) => {
    const field = byId(PREFILLED[key]);
    field.value = values[key] || "";
    field.dataset.fromCard = values[key] ? "1" : "";
  });
  byId("w-family-kana").focus();
}
