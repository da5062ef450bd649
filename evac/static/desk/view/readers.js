/* The desk's card-reader section: who is paired, the pairing code while one is shown, revoking. */

import {byId, el} from "../../js/dom.js";
import {clock, pairCommand} from "../readers.js";

/**
 * Draw the readers paired with this desk screen, each with a button to revoke it.
 * @param {object[]} readers
 * @param {object} options
 * @param {(key: string, vars?: object) => string} options.t
 * @param {string} options.lang
 * @param {(reader: object) => void} options.onRevoke
 */
export function renderReaders(readers, {t, lang, onRevoke}) {
  const list = byId("reader-list");
  list.textContent = "";
  byId("reader").dataset.readers = String(readers.length);
  byId("reader-state").textContent = readers.length
    ? t("reader_connected", {n: readers.length})
    : t("reader_none");
  readers.forEach((reader) => {
    const last = reader.last_read_at ? t("reader_last_read", {time: clock(reader.last_read_at, lang)}) : t("reader_never");
    const revoke = el("button", {type: "button", class: "reader-revoke", text: t("reader_revoke")});
    revoke.addEventListener("click", () => onRevoke(reader));
    list.append(el("li", {"data-reader-id": String(reader.id)}, [
      el("span", {class: "name", text: reader.name}), el("span", {class: "help", text: last}), revoke,
    ]));
  });
}

/** Show a pairing code with the command to type on the reader PC, or hide it (`code` null). */
export function showCode(code, {t, lang, origin}) {
  const box = byId("reader-code");
  if (!code) {
    box.hidden = true;
    byId("reader-pair").hidden = false;
    return;
  }
  byId("reader-code-text").textContent = code.code;
  byId("reader-command").textContent = pairCommand(code.code, origin);
  byId("reader-code-expiry").textContent = t("reader_code_until", {time: clock(code.expires_at, lang)});
  byId("reader-pair").hidden = true;
  box.hidden = false;
}
