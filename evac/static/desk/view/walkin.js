/* The walk-in form (避難者カード入力). */

import {byId} from "../../js/dom.js";
import {cardUrl, personFromForm} from "../walkin.js";

/**
 * Wire the form: on submit, check the person in; once done, offer their QR card.
 * @param {object} options
 * @param {number} options.shelterId
 * @param {(person: object) => Promise<object|null>} options.checkIn the answer's data, or null
 */
export function setupWalkIn({shelterId, checkIn}) {
  byId("walkin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    if (!form.reportValidity()) return;
    const result = await checkIn(personFromForm(new FormData(form)));
    if (result) {
      form.reset();
      byId("walkin-card-link").href = cardUrl(shelterId, result.person.id);
      byId("walkin-card").hidden = false;
    }
  });
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
