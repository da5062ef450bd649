/* The HQ page's incident panel: what is under way (a disaster or a drill), opening one, closing
 * it after showing what a drill's close removes, showing a drill on the public page, and which
 * incident the exports, the trend and the inquiries look at (the choice is kept in the URL of the
 * export links through `incident_id`). */

import {createApi} from "../js/api.js";
import {translator} from "../js/i18n.js";

const root = document.getElementById("incident");
if (root) {
  const config = JSON.parse(document.getElementById("incident-config").textContent);
  const t = translator(config.messages);
  const meta = document.querySelector('meta[name="csrf-token"]');
  const api = createApi({csrfToken: meta ? meta.content : "", csrfPath: "/desk/csrf"});
  const $ = (id) => document.getElementById(id);
  const when = (iso) => (iso ? new Date(iso).toLocaleString("ja-JP", {dateStyle: "short", timeStyle: "short"}) : "");
  let current = null;

  function error(answer) {
    const box = $("incident-error");
    box.textContent = t("error", {message: (answer.error && answer.error.message) || String(answer.status)});
    box.hidden = false;
  }

  function show(items) {
    current = items.find((item) => item.open) || null;
    $("incident-error").hidden = true;
    $("incident-plan").hidden = true;
    $("incident-open-form").hidden = Boolean(current);
    $("incident-running").hidden = !current;
    root.classList.toggle("drill", Boolean(current && current.kind === "drill"));
    $("incident-now").textContent = current
      ? t(current.kind, {name: current.name, since: when(current.started_at)}) : t("none");
    $("incident-public-label").hidden = !current || current.kind !== "drill";
    if (current) $("incident-public").checked = current.public;
    const select = $("incident-history");
    select.textContent = "";
    items.forEach((item) => {
      const option = document.createElement("option");
      option.value = String(item.id);
      option.textContent = (item.open ? t("history_current", {name: item.name})
        : t("history_item", {name: item.name, start: when(item.started_at), end: when(item.ended_at)}))
        + " [" + t("kind." + item.kind) + "]";
      select.append(option);
    });
    chooseHistory();
  }

  /** Point every export link of the page at the chosen incident. */
  function chooseHistory() {
    const chosen = $("incident-history").value;
    document.querySelectorAll("a[href*='/api/v1/exports/']").forEach((link) => {
      const url = new URL(link.getAttribute("href"), window.location.origin);
      if (chosen && (!current || String(current.id) !== chosen)) url.searchParams.set("incident_id", chosen);
      else url.searchParams.delete("incident_id");
      link.setAttribute("href", url.pathname + url.search);
    });
  }

  async function load() {
    const answer = await api.get("/api/v1/incidents");
    if (answer.ok) show(answer.data.items); else error(answer);
  }

  async function open(kind) {
    const name = $("incident-name").value.trim();
    if (!name) { $("incident-name").focus(); return error({error: {message: t("name_required")}}); }
    if (!window.confirm(t("confirm_" + kind, {name}))) return;
    const answer = await api.post("/api/v1/incidents", {name, kind});
    if (!answer.ok) return error(answer);
    window.location.reload(); // every panel of the page (and its banner) now belongs to the incident
  }

  async function plan() {
    const answer = await api.post("/api/v1/incidents/current/close", {dry_run: true});
    if (!answer.ok) return error(answer);
    const report = answer.data;
    const list = $("incident-plan-list");
    list.textContent = "";
    if (report.kind === "drill") {
      $("incident-plan-text").textContent = t("plan_drill", {name: report.name});
      ["shelters_closed", "stays", "walk_ins", "households", "cards", "ic_links", "client_requests",
        "outbox_events", "sync_batches", "trend_hours"].forEach((key) => {
        const item = document.createElement("li");
        item.textContent = t(key) + ": " + report[key];
        list.append(item);
      });
      $("incident-close-confirm").hidden = false;
    } else if (report.shelters_closed || report.stays) {
      $("incident-plan-text").textContent = t("blocked", {shelters: report.shelters_closed, stays: report.stays});
      $("incident-close-confirm").hidden = true;
    } else {
      $("incident-plan-text").textContent = t("plan_disaster", {name: report.name});
      $("incident-close-confirm").hidden = false;
    }
    $("incident-plan").hidden = false;
    $("incident-close-cancel").focus();
  }

  async function close() {
    const answer = await api.post("/api/v1/incidents/current/close", {dry_run: false});
    if (!answer.ok) return error(answer);
    window.location.reload();
  }

  $("incident-open-disaster").addEventListener("click", () => open("disaster"));
  $("incident-open-drill").addEventListener("click", () => open("drill"));
  $("incident-close-button").addEventListener("click", plan);
  $("incident-close-confirm").addEventListener("click", close);
  $("incident-close-cancel").addEventListener("click", () => { $("incident-plan").hidden = true; });
  $("incident-history").addEventListener("change", chooseHistory);
  $("incident-public").addEventListener("change", async (event) => {
    if (!current) return;
    const answer = await api.patch("/api/v1/incidents/" + current.id, {public: event.target.checked});
    if (!answer.ok) { error(answer); event.target.checked = !event.target.checked; }
  });
  load();
}
