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
