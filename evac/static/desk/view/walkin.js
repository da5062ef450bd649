/* The walk-in form (避難者カード入力). */

import {byId} from "../../js/dom.js";
import {cardUrl, foldKana, personFromForm} from "../walkin.js";

const KANA_FIELDS = ["w-family-kana", "w-given-kana"];

/** The page's own words for a field the browser finds invalid (not the browser's, in its language). */
function explain(field, t) {
  field.setCustomValidity("");
  if (field.validity.valueMissing) field.setCustomValidity(t("field_required"));
  else if (field.validity.patternMismatch) field.setCustomValidity(t("kana_only"));
}

/**
 * Wire the form: on submit, check the person in; once done, offer their QR card by name, until
 * the form is edited again (then the link would name the wrong person).
 * @param {object} options
 * @param {number} options.shelterId
 * @param {(key: string, values?: object) => string} options.t
 * @param {(person: object) => Promise<object|null>} options.checkIn the answer's data, or null
 */
export function setupWalkIn({shelterId, t, checkIn}) {
  const form = byId("walkin-form");
  KANA_FIELDS.forEach((id) => byId(id).addEventListener("input", (event) => {
    const field = event.target;
    const folded = foldKana(field.value);
    if (folded !== field.value) field.value = folded;
  }));
  form.addEventListener("input", (event) => {
    byId("walkin-card").hidden = true;
    if (event.target.setCustomValidity) explain(event.target, t);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    Array.from(form.elements).forEach((field) => { if (field.setCustomValidity) explain(field, t); });
    if (!form.reportValidity()) return;
    const person = personFromForm(new FormData(form));
    const result = await checkIn(person);
    if (result) {
      form.reset();
      const link = byId("walkin-card-link");
      link.href = cardUrl(shelterId, result.person.id);
      const name = [result.person.family_name, result.person.given_name].filter(Boolean).join(" ");
      link.textContent = t("print_card_of", {name});
      byId("walkin-card").hidden = false;
    }
  });
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
  form.reset();
  byId("walkin-card").hidden = true;
  Object.keys(PREFILLED).forEach((key) => {
    const field = byId(PREFILLED[key]);
    field.value = values[key] || "";
    field.dataset.fromCard = values[key] ? "1" : "";
  });
  byId("w-family-kana").focus();
}
