/* The HQ section listing the card readers paired with desk screens, each revocable at once. */

import {byId, el} from "../../js/dom.js";
import {ago, hourLabel} from "../format.js";

/**
 * Draw the readers.
 * @param {object[]} readers GET /api/v1/readers items
 * @param {object} options
 * @param {(key: string, vars?: object) => string} options.t
 * @param {(reader: object) => void} options.onRevoke
 */
export function renderReaders(readers, {t, onRevoke}) {
  const body = byId("reader-rows");
  body.textContent = "";
  byId("readers").dataset.count = String(readers.length);
  if (!readers.length) {
    const cell = body.insertRow().insertCell();
    cell.colSpan = 6;
    cell.textContent = t("readers_none");
    return;
  }
  readers.forEach((reader) => {
    const revoke = el("button", {type: "button", class: "danger", text: t("reader_revoke")});
    revoke.addEventListener("click", () => onRevoke(reader));
    body.append(el("tr", {"data-reader-id": String(reader.id)}, [
      el("td", {text: reader.shelter_name}),
      el("td", {text: reader.desk_label || "—"}),
      el("td", {text: reader.name}),
      el("td", {text: hourLabel(reader.paired_at) + "（" + ago(reader.paired_at, t) + "）"}),
      el("td", {text: reader.last_read_at ? ago(reader.last_read_at, t) : t("reader_never")}),
      el("td", {}, [revoke]),
    ]));
  });
}
