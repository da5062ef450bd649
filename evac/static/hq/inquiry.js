/* evac safety inquiries: search, then show per person where they are and whether this requester
 * may be told. The search goes in a POST body so names never land in a URL or an access log. */
(function () {
  "use strict";

  const form = document.getElementById("inquiry-form");
  if (!form) return;
  const M = JSON.parse(document.getElementById("inquiry-config").textContent).messages;
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const results = document.getElementById("inquiry-results");
  const status = document.getElementById("inquiry-status");

  function t(key, vars) {
    let text = M[key] || key;
    Object.keys(vars || {}).forEach((name) => { text = text.split("%(" + name + ")s").join(String(vars[name])); });
    return text;
  }
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function card(item, requester) {
    const p = item.person;
    const box = el("article", "card inquiry-result " + (item.may_answer ? "may" : "may-not"));
    box.dataset.personId = String(p.id);
    const name = [p.family_name, p.given_name].filter(Boolean).join(" ");
    const kana = [p.family_name_kana, p.given_name_kana].filter(Boolean).join(" ");
    box.append(el("h3", "", name + (kana ? "（" + kana + "）" : "")));
    const sex = {male: t("male"), female: t("female"), other: t("other_sex")}[p.sex] || "";
    box.append(el("p", "help", [p.birth_date || "", sex, p.address || ""].filter(Boolean).join(" · ")));
    const where = item.whereabouts;
    const since = where ? new Date(where.since).toLocaleString("ja-JP", {timeZone: "Asia/Tokyo", month: "numeric",
      day: "numeric", hour: "2-digit", minute: "2-digit"}) : "";
    box.append(el("p", "", t("whereabouts") + ": " + (where
      ? where.shelter_name + "（" + where.status_label + " " + since + "）" : t("not_registered"))));
    const consents = el("ul", "consents");
    [["relative", "⑫"], ["acquaintance", "⑬"], ["other", "⑭"]].forEach(([key, mark]) => {
      const li = el("li", "", mark + " " + t(key) + " " + (item.consent[key] ? "○" : "×"));
      if (key === requester) li.style.fontWeight = "bold";
      consents.append(li);
    });
    box.append(consents);
    box.append(el("p", "answer", (item.may_answer ? "✓ " : "✕ ") + item.answer));
    return box;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const requester = form.querySelector("input[name=requester]:checked").value;
    const body = {q: form.q.value.trim(), birth_date: form.birth_date.value.trim() || null, requester: requester};
    status.textContent = "…";
    let answer;
    try {
      const response = await fetch("/api/v1/inquiries", {
        method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken},
      });
      answer = {ok: response.ok, data: await response.json()};
    } catch (err) {
      status.textContent = t("error", {message: "network"});
      return;
    }
    results.replaceChildren();
    if (!answer.ok) {
      const error = answer.data && answer.data.error;
      status.textContent = t("error", {message: error ? error.message : "?"});
      return;
    }
    const items = answer.data.items;
    status.textContent = items.length
      ? (items.length >= answer.data.limit ? t("more", {n: items.length}) : t("results", {n: items.length}))
      : t("no_results");
    items.forEach((item) => results.append(card(item, requester)));
  });
})();
