/* evac HQ dashboard: totals, alerts, trend, map and the table of open shelters, kept live by polling.
 *
 * The entry module of /hq. One request (GET /api/v1/occupancy) brings every open shelter's
 * counts; filtering, sorting and paging happen in model.js. Shelter changes go through
 * PATCH /api/v1/shelters/{id} (audited there) with the shared API client. Native ES modules,
 * no build step.
 */

import {createApi} from "../js/api.js";
import {byId, csrfFromMeta, readConfig} from "../js/dom.js";
import {translator} from "../js/i18n.js";
import {clock, num} from "./format.js";
import {alertRows, createRowView, freshAlerts, municipalities, nextSort, pageOf, reuseUnchanged} from "./model.js";
import {createConditionalGet, createPoller} from "./poll.js";
import {syncBanner, syncEnabled} from "./sync.js";
import {renderAlerts, showOutcome} from "./view/alerts.js";
import {renderDetail, setupDetail, setupOpenForm} from "./view/detail.js";
import {renderReaders} from "./view/readers.js";
import {createMap} from "./view/map.js";
import {readFilters, renderMunicipalities, renderTable, setupTable, showNearOnly, updateSyncCells} from "./view/table.js";
import {renderTotals} from "./view/totals.js";
import {drawTrend} from "./view/trend.js";

const PAGE = 50;

function start(root) {
  const config = readConfig("hq-config");
  const t = translator(config.messages);
  // [key, label] pairs: the order of the need categories matters to the people reading them.
  const needOrder = config.needLabels;
  const syncOn = syncEnabled(config.syncConnector);
  const api = createApi({csrfToken: csrfFromMeta()});

  const state = {
    rows: [], byId: new Map(), totals: null, generatedAt: null,
    sort: {key: "fill", dir: -1}, page: 0, selected: null,
    alerted: null, sync: {}, municipalities: "", polls: 0, syncRequest: 0,
  };
  const map = createMap({t, onSelect: (id) => select(id, true)});
  const selectedRow = () => (state.selected && state.byId.get(state.selected)) || null;

  /* ---------- drawing ---------- */

  // The filtered, sorted rows are remembered until the rows, a filter or the sort change: a page
  // change only slices them, and the map, handed the same array, knows it has nothing to do.
  const rowView = createRowView();

  function drawTable() {
    const rows = rowView(state.rows, readFilters(), state.sort);
    const page = pageOf(rows, state.page, PAGE);
    state.page = page.page;
    renderTable(page, {
      t, needOrder, selected: state.selected, sort: state.sort, syncOn, syncStates: state.sync,
      onSelect: (id) => select(id, true),
    });
    map.render(rows, state.selected);
    loadSync(page.shown.map((r) => r.id));
  }

  function drawAlerts() {
    const alerts = alertRows(state.rows);
    const {fresh, ids} = freshAlerts(alerts, state.alerted);
    state.alerted = ids;
    renderAlerts(alerts, fresh, {
      t, onSelect: (id) => select(id, true), onMore: () => { showNearOnly(); state.page = 0; drawTable(); },
      onMarkFull: markFull,
    });
  }

  function drawMunicipalities() {
    const found = municipalities(state.rows);
    if (found.key === state.municipalities) return;
    state.municipalities = found.key;
    renderMunicipalities(found.entries);
  }

  const drawDetail = () => renderDetail(selectedRow(), {t, needOrder});

  /* ---------- trend and sync ---------- */

  async function loadTrend() {
    const answer = await api.get("/api/v1/occupancy/trend");
    if (answer.ok) drawTrend(byId("trend"), answer.data, t("trend_total"));
  }

  async function loadShelterTrend() {
    const row = selectedRow();
    if (!row) return;
    const answer = await api.get("/api/v1/occupancy/trend?shelter_id=" + row.id);
    if (answer.ok && state.selected === row.id) drawTrend(byId("detail-trend"), answer.data, t("trend_shelter", {name: row.name}));
  }

  async function loadSync(ids) {
    if (!syncOn || !ids.length) return;
    const mine = ++state.syncRequest;
    const answer = await api.get("/api/v1/occupancy/sync?" + ids.map((id) => "shelter_id=" + id).join("&"));
    if (!answer.ok || mine !== state.syncRequest) return; // a newer page of rows asked since
    Object.keys(answer.data.shelters).forEach((id) => { state.sync[id] = answer.data.shelters[id]; });
    updateSyncCells(state.byId, {t, syncOn, syncStates: state.sync});
  }

  async function loadSyncBanner() {
    const answer = await api.get("/api/v1/sync/status");
    const banner = byId("sync-banner");
    const shown = answer.ok ? syncBanner(answer.data, {t, num, clock}) : null;
    if (!shown) { banner.hidden = true; return; }
    banner.textContent = shown.text;
    banner.className = "sync-banner " + (shown.bad ? "sync-bad" : "sync-good");
    banner.hidden = false;
  }

  /* ---------- selection and actions ---------- */

  function select(id, scroll) {
    state.selected = id;
    drawTable();
    drawDetail();
    loadShelterTrend();
    if (scroll) byId("detail").scrollIntoView({behavior: "smooth", block: "nearest"});
  }

  function showFailure(answer) {
    const message = answer.error ? answer.error.message : answer.offline ? t("network_error") : String(answer.status);
    showOutcome(false, t("error", {message}));
  }

  async function patch(id, body, name) {
    const answer = await api.patch("/api/v1/shelters/" + id, body);
    if (answer.ok) {
      showOutcome(true, t("saved", {name}));
      await poller.refresh();
    } else showFailure(answer);
    return answer;
  }

  async function moveAll(fromId, toId, fromName, toName) {
    const answer = await api.post("/api/v1/shelters/" + fromId + "/move-all", {to_shelter_id: toId});
    if (answer.ok) {
      showOutcome(true, t("moved_all", {n: num(answer.data.moved), from: fromName, to: toName}));
      await poller.refresh();
    } else showFailure(answer);
    return answer;
  }

  async function markFull(row) {
    if (!window.confirm(t("confirm_full", {name: row.name}))) return;
    await patch(row.id, {status: "full"}, row.name);
  }

  setupDetail({
    t, selectedRow, patch, moveAll, targets: () => state.rows,
    onClose: () => { state.selected = null; drawDetail(); drawTable(); },
  });
  setupOpenForm({t, patch, search: (q) => api.get("/api/v1/hq/shelters?status=closed&q=" + encodeURIComponent(q))});
  setupTable({
    onFilter: () => { state.page = 0; drawTable(); },
    onSort: (key) => { state.sort = nextSort(state.sort, key); drawTable(); },
    onPage: (delta) => { state.page += delta; drawTable(); },
  });

  /* ---------- card readers paired with desk screens ---------- */

  async function loadReaders() {
    const answer = await api.get("/api/v1/readers");
    if (answer.ok) renderReaders(answer.data.items, {t, onRevoke: revokeReader});
  }

  async function revokeReader(reader) {
    if (!window.confirm(t("reader_confirm_revoke", {name: reader.name, shelter: reader.shelter_name}))) return;
    const answer = await api.post("/api/v1/readers/" + reader.id + "/revoke", {});
    const message = answer.ok ? t("reader_revoked", {name: reader.name})
      : t("error", {message: answer.error ? answer.error.message : t("network_error")});
    showOutcome(answer.ok, message);
    loadReaders();
  }

  byId("readers-refresh").addEventListener("click", loadReaders);

  /* ---------- polling ---------- */

  function onOccupancy(answer) {
    const status = byId("refresh-state");
    if (!answer.ok) {
      status.textContent = t("refresh_failed", {time: state.generatedAt ? clock(state.generatedAt) : "—"});
      status.classList.add("is-stale");
      return;
    }
    if (answer.notModified) {
      // 304: nothing shown has changed since the last answer, which is still current now.
      state.generatedAt = answer.checkedAt;
      root.dataset.notModified = String(Number(root.dataset.notModified || 0) + 1);
    } else {
      const body = answer.data;
      state.rows = reuseUnchanged(state.byId, body.shelters).rows;
      state.byId = new Map(state.rows.map((r) => [r.id, r]));
      state.totals = body.totals;
      state.generatedAt = body.generated_at;
      renderTotals(body.totals, {needOrder, t});
      drawMunicipalities();
      drawAlerts();
      drawTable();
      drawDetail();
      root.dataset.generatedAt = body.generated_at;
      root.dataset.ready = "1";
    }
    status.textContent = t("updated", {time: clock(state.generatedAt)});
    status.classList.remove("is-stale");
    // The trend moves by the hour and the sync state slowly: every fourth poll is enough.
    if (state.polls % 4 === 0) { loadTrend(); loadSyncBanner(); loadShelterTrend(); loadReaders(); }
    state.polls += 1;
  }

  const poller = createPoller({
    load: createConditionalGet({path: "/api/v1/occupancy", delta: true}), onAnswer: onOccupancy, intervalMs: config.refreshSeconds * 1000,
  });

  byId("pause").addEventListener("click", () => {
    const pausing = !poller.paused;
    byId("pause").setAttribute("aria-pressed", String(pausing));
    if (pausing) {
      poller.pause();
      byId("refresh-state").textContent = t("paused");
    } else poller.resume();
  });

  poller.refresh();
}

const root = document.getElementById("hq");
if (root) start(root);
