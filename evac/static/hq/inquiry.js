/* evac safety inquiries (安否確認): search, then show per person where they are and whether
 * this requester may be told. The search goes in a POST body so names never land in a URL or an
 * access log. The entry module of /hq/inquiry. */

import {createApi} from "../js/api.js";
import {csrfFromMeta, readConfig} from "../js/dom.js";
import {translator} from "../js/i18n.js";

const CONSENTS = [["relative", "⑫"], ["acquaintance", "⑬"], ["other", "⑭"]];

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function card(item, requester, t) {
  const p = item.person;
  const box = el("article", "card inquiry-result " + (item.may_answer ? "may" : "may-not"));
  box.dataset.personId = String(p.id);
  const name = [p.family_name, p.given_name].filter(Boolean).join(" ");
  const kana = [p.family_name_kana, p.given_name_kana].filter(Boolean).join(" ");
  box.append(el("h3", "", name + (kana ? "（" + kana + "）" : "")));
  const sex = {male: t("male"), female: t("female"), other: t("other_sex")}[p.sex] || "";
  box.append(el("p", "help", [p.birth_date || "", sex, p.address || ""].filter(Boolean).join(" · ")));
  const where = item.whereabouts;
  const since = where ? new Date(where.since).toLocaleString("ja-JP", {
    timeZone: "Asia/Tokyo", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit",
  }) : "";
  box.append(el("p", "", t("whereabouts") + ": " + (where
    ? where.shelter_name + "（" + where.status_label + " " + since + "）" : t("not_registered"))));
  const consents = el("ul", "consents");
  CONSENTS.forEach(([key, mark]) => {
    const li = el("li", "", mark + " " + t(key) + " " + (item.consent[key] ? "○" : "×"));
    if (key === requester) li.style.fontWeight = "bold";
    consents.append(li);
  });
  box.append(consents);
  box.append(el("p", "answer", (item.may_answer ? "✓ " : "✕ ") + item.answer));
  return box;
}

function start(form) {
  const t = translator(readConfig("inquiry-config").messages);
  const api = createApi({csrfToken: csrfFromMeta()});
  const results = document.getElementById("inquiry-results");
  const status = document.getElementById("inquiry-status");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const requester = form.querySelector("input[name=requester]:checked").value;
    const body = {q: form.q.value.trim(), birth_date: form.birth_date.value.trim() || null, requester};
    status.textContent = "…";
    const answer = await api.post("/api/v1/inquiries", body);
    if (answer.offline) {
      status.textContent = t("error", {message: t("network_error")});
      return;
    }
    results.replaceChildren();
    if (!answer.ok) {
      status.textContent = t("error", {message: answer.error ? answer.error.message : String(answer.status)});
      return;
    }
    const items = answer.data.items;
    status.textContent = items.length
      ? (items.length >= answer.data.limit ? t("more", {n: items.length}) : t("results", {n: items.length}))
      : t("no_results");
    items.forEach((item) => results.append(card(item, requester, t)));
  });
}

const form = document.getElementById("inquiry-form");
if (form) start(form);
