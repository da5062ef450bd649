/* evac HQ dashboard: totals, alerts, trend, map and the table of open shelters, kept live by polling.
 *
 * One request (GET /api/v1/occupancy) brings every open shelter's counts; filtering, sorting and
 * paging happen here, so a page of 50 rows stays quick with thousands of open shelters. The map
 * draws on a canvas for the same reason. Shelter changes go through PATCH /api/v1/shelters/{id}
 * (audited there) with the session cookie and the CSRF token. Plain ES2017, no build step.
 */
(function () {
  "use strict";

  const root = document.getElementById("hq");
  if (!root) return;
  const config = JSON.parse(document.getElementById("hq-config").textContent);
  const M = config.messages;
  // [key, label] pairs: the order of the need categories matters to the people reading them.
  const NEED_ORDER = config.needLabels;
  const NEEDS = Object.fromEntries(NEED_ORDER);
  const PAGE = 50;
  const ALERTS_SHOWN = 8;
  const $ = (id) => document.getElementById(id);
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const syncOn = config.syncConnector === "http" || config.syncConnector === "csv";

  function t(key, vars) {
    let text = M[key] || key;
    Object.keys(vars || {}).forEach((name) => { text = text.split("%(" + name + ")s").join(String(vars[name])); });
    return text;
  }
  const fmt = new Intl.NumberFormat("ja-JP");
  const num = (n) => fmt.format(n || 0);
  const clock = (iso) => new Date(iso).toLocaleTimeString("ja-JP", {timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit", second: "2-digit"});
  const hourLabel = (iso) => new Date(iso).toLocaleTimeString("ja-JP", {timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit"});
  const pct = (fill) => Math.round(fill * 100);

  function ago(iso) {
    if (!iso) return "—";
    const minutes = Math.floor((Date.now() - new Date(iso).getTime()) / 60000);
    if (minutes < 1) return t("just_now");
    if (minutes < 60) return t("minutes_ago", {n: minutes});
    if (minutes < 48 * 60) return t("hours_ago", {n: Math.floor(minutes / 60)});
    return t("days_ago", {n: Math.floor(minutes / 1440)});
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach((key) => {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "class") node.className = attrs[key];
      else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role" || key === "title" || key === "type" || key === "href") node.setAttribute(key, attrs[key]);
      else node[key] = attrs[key];
    });
    (children || []).forEach((child) => { if (child !== null && child !== undefined) node.append(child); });
    return node;
  }

  async function api(method, path, body) {
    const response = await fetch(path, {
      method: method, credentials: "same-origin",
      headers: {"Accept": "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    return {ok: response.ok, status: response.status, data: data};
  }

  /* ---------- state ---------- */

  const state = {
    rows: [], byId: new Map(), totals: null, generatedAt: null,
    sort: {key: "fill", dir: -1}, page: 0, selected: null, paused: false,
    alerted: null, sync: {}, municipalities: "",
  };

  function needTotal(row) { return Object.values(row.needs).reduce((a, b) => a + b, 0); }
  function isFull(row) { return row.status === "full" || (row.fill !== null && row.fill >= 1); }
  function isNear(row) { return !isFull(row) && row.fill !== null && row.fill >= 0.8; }

  const sorters = {
    name: (r) => r.name,
    status: (r) => (r.status === "full" ? 1 : 0),
    fill: (r) => (r.fill === null ? -1 : r.fill) * 1e7 + r.occupancy,
    households: (r) => r.households,
    elsewhere: (r) => r.at_home + r.in_car,
    needs: (r) => needTotal(r),
    updated: (r) => r.updated_at || "",
  };

  function filtered() {
    const q = $("f-q").value.trim();
    const municipality = $("f-municipality").value;
    const status = $("f-status").value;
    const need = $("f-need").value;
    const near = $("f-near").checked;
    const rows = state.rows.filter((r) => {
      if (q && r.name.indexOf(q) < 0 && (r.code || "").indexOf(q) < 0) return false;
      if (municipality && r.municipality_code !== municipality) return false;
      if (status && r.status !== status) return false;
      if (need === "pets" && !r.pets) return false;
      if (need && need !== "pets" && !r.needs[need]) return false;
      if (near && !(r.fill !== null && r.fill >= 0.8) && r.status !== "full") return false;
      return true;
    });
    const key = sorters[state.sort.key];
    const dir = state.sort.dir;
    rows.sort((a, b) => {
      const x = key(a), y = key(b);
      if (x < y) return -dir;
      if (x > y) return dir;
      return a.id - b.id;
    });
    return rows;
  }

  /* ---------- rendering ---------- */

  function renderTotals() {
    const totals = state.totals;
    ["open_shelters", "occupancy", "households", "at_home", "in_car", "pets", "near_full", "full"].forEach((key) => {
      $("t-" + key).textContent = num(totals[key]);
    });
    $("t-capacity").textContent = num(totals.capacity);
    $("t-fill").textContent = totals.capacity ? "(" + Math.round(totals.occupancy / totals.capacity * 100) + "%)" : "";
    $("t-capacity_unknown").textContent = totals.capacity_unknown ? t("capacity_unknown") + ": " + num(totals.capacity_unknown) : "";
    NEED_ORDER.forEach(([key]) => { $("tn-" + key).textContent = num(totals.needs[key]); });
  }

  function renderAlerts() {
    const list = $("alert-list");
    const alerts = state.rows.filter((r) => isFull(r) || isNear(r))
      .sort((a, b) => (b.fill || 0) - (a.fill || 0) || b.occupancy - a.occupancy);
    const ids = new Set(alerts.map((r) => r.id));
    const fresh = state.alerted === null ? [] : alerts.filter((r) => !state.alerted.has(r.id));
    state.alerted = ids;
    list.replaceChildren();
    if (!alerts.length) {
      list.append(el("li", {class: "alert-none", text: t("no_alerts")}));
    }
    alerts.slice(0, ALERTS_SHOWN).forEach((r) => {
      const text = t(isFull(r) ? "alert_full" : "alert_near", {
        name: r.name, occupancy: num(r.occupancy), capacity: r.capacity === null ? "—" : num(r.capacity),
        pct: r.fill === null ? "—" : pct(r.fill),
      });
      const button = el("button", {type: "button", class: "linkish", text: text});
      button.addEventListener("click", () => select(r.id, true));
      list.append(el("li", {class: isFull(r) ? "alert-full" : "alert-near"}, [button]));
    });
    if (alerts.length > ALERTS_SHOWN) {
      const more = el("button", {type: "button", class: "linkish", text: t("more_alerts", {n: num(alerts.length - ALERTS_SHOWN)})});
      more.addEventListener("click", () => { $("f-near").checked = true; state.page = 0; renderTable(); });
      list.append(el("li", {}, [more]));
    }
    const banner = $("alert-new");
    if (fresh.length) {
      banner.hidden = false;
      banner.textContent = "⚠ " + t("alert_new", {names: fresh.slice(0, 5).map((r) => r.name).join("、") + (fresh.length > 5 ? " …" : "")});
    }
  }

  function bar(row) {
    const wrap = el("div", {class: "fill"});
    const label = row.capacity === null
      ? num(row.occupancy) + " / " + t("capacity_unknown")
      : num(row.occupancy) + " / " + num(row.capacity) + " (" + pct(row.fill || 0) + "%)";
    const meter = el("div", {class: "meter", "aria-hidden": "true"});
    const inner = el("span", {class: "meter-bar " + (isFull(row) ? "is-full" : isNear(row) ? "is-near" : "")});
    inner.style.width = row.fill === null ? "0" : Math.min(100, pct(row.fill)) + "%";
    meter.append(inner);
    wrap.append(el("span", {class: "fill-text", text: label}), meter);
    return wrap;
  }

  function needsCell(row) {
    const cell = el("td", {class: "needs-cell"});
    NEED_ORDER.forEach(([key, label]) => {
      if (row.needs[key]) cell.append(el("span", {class: "chip", text: label + " " + row.needs[key]}));
    });
    if (row.pets) cell.append(el("span", {class: "chip chip-pet", text: t("pets") + " " + row.pets}));
    if (!cell.childNodes.length) cell.textContent = "—";
    return cell;
  }

  function elsewhereCell(row) {
    if (!row.at_home && !row.in_car) return el("td", {class: "num", text: "—"});
    const parts = [];
    if (row.at_home) parts.push(t("at_home") + " " + num(row.at_home));
    if (row.in_car) parts.push(t("in_car") + " " + num(row.in_car));
    return el("td", {class: "num elsewhere", text: parts.join(" · ")});
  }

  function syncCell(row) {
    if (!syncOn) return el("td", {class: "sync sync-off", text: t("sync.off")});
    const s = state.sync[row.id];
    if (!s) return el("td", {class: "sync", text: t("sync.unknown")});
    return el("td", {class: "sync sync-" + s.state, text: t("sync." + s.state, {n: s.pending})});
  }

  function renderTable() {
    const rows = filtered();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const shown = rows.slice(state.page * PAGE, state.page * PAGE + PAGE);
    const body = $("shelter-rows");
    body.replaceChildren();
    shown.forEach((r) => {
      const name = el("td", {class: "name-cell"}, [
        el("strong", {text: r.name}),
        el("span", {class: "sub", text: [r.municipality_name, r.code].filter(Boolean).join(" · ")}),
      ]);
      const status = el("td", {}, [el("span", {class: "badge badge-" + r.status, text: t("status." + r.status)})]);
      const detail = el("button", {type: "button", text: t("select"), "aria-label": t("select") + " " + r.name});
      detail.addEventListener("click", () => select(r.id, true));
      const tr = el("tr", {"data-shelter-id": String(r.id), class: (state.selected === r.id ? "is-selected " : "") + (isFull(r) ? "row-full" : isNear(r) ? "row-near" : "")}, [
        name, status, el("td", {}, [bar(r)]),
        el("td", {class: "num", "data-col": "households", text: num(r.households)}),
        elsewhereCell(r),
        needsCell(r),
        el("td", {title: r.updated_at || "", text: ago(r.last_stay_change || r.updated_at)}),
        syncCell(r),
        el("td", {}, [detail]),
      ]);
      tr.querySelector(".fill").dataset.occupancy = String(r.occupancy);
      body.append(tr);
    });
    if (!shown.length) body.append(el("tr", {}, [el("td", {colSpan: 9, class: "empty", text: t("no_rows")})]));
    $("rows-info").textContent = rows.length
      ? t("rows", {from: num(state.page * PAGE + 1), to: num(state.page * PAGE + shown.length), n: num(rows.length)})
      : "";
    $("page-info").textContent = (state.page + 1) + " / " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    document.querySelectorAll("#shelters th[aria-sort]").forEach((th) => {
      const key = th.querySelector("button").dataset.sort;
      th.setAttribute("aria-sort", key === state.sort.key ? (state.sort.dir < 0 ? "descending" : "ascending") : "none");
    });
    renderMap(rows);
    loadSync(shown.map((r) => r.id));
  }

  function renderMunicipalities() {
    const found = new Map();
    state.rows.forEach((r) => { if (r.municipality_code) found.set(r.municipality_code, r.municipality_name || r.municipality_code); });
    const key = Array.from(found.keys()).sort().join(",");
    if (key === state.municipalities) return;
    state.municipalities = key;
    const select = $("f-municipality");
    const current = select.value;
    Array.from(select.options).slice(1).forEach((o) => o.remove());
    Array.from(found.entries()).sort((a, b) => (a[0] < b[0] ? -1 : 1)).forEach(([code, name]) => {
      select.append(el("option", {value: code, text: name}));
    });
    select.value = current;
  }

  /* ---------- map ---------- */

  let map = null, markers = new Map(), mapFitted = false;
  function colour(row) { return isFull(row) ? "#b3261e" : isNear(row) ? "#c75000" : row.fill === null ? "#5f6368" : "#146c2e"; }
  function renderMap(rows) {
    if (!window.L) { $("map-note").hidden = false; $("map-note").textContent = t("map_offline"); $("hq-map").hidden = true; return; }
    if (!map) {
      map = L.map("hq-map", {preferCanvas: true, scrollWheelZoom: false});
      const tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
        maxZoom: 18, attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>',
      });
      let failures = 0;
      tiles.on("tileerror", () => { failures += 1; if (failures === 2) { $("map-note").hidden = false; $("map-note").textContent = t("map_offline"); } });
      tiles.addTo(map);
      map.setView([35.0, 135.8], 6);
    }
    const keep = new Set();
    const bounds = [];
    rows.forEach((r) => {
      if (typeof r.lat !== "number" || typeof r.lon !== "number") return;
      keep.add(r.id);
      bounds.push([r.lat, r.lon]);
      let marker = markers.get(r.id);
      if (!marker) {
        marker = L.circleMarker([r.lat, r.lon], {radius: 7, weight: 1, color: "#fff", fillOpacity: 0.9});
        marker.on("click", () => select(r.id, true));
        marker.addTo(map);
        markers.set(r.id, marker);
      }
      marker.setStyle({fillColor: colour(r), radius: state.selected === r.id ? 11 : 7});
      marker.bindTooltip(r.name + " " + (r.capacity === null ? num(r.occupancy) : num(r.occupancy) + "/" + num(r.capacity)));
    });
    markers.forEach((marker, id) => { if (!keep.has(id)) { marker.remove(); markers.delete(id); } });
    if (!mapFitted && bounds.length) {
      mapFitted = true;
      if (bounds.length === 1) map.setView(bounds[0], 14); else map.fitBounds(bounds, {padding: [20, 20], maxZoom: 15});
    }
  }

  /* ---------- trend chart (inline SVG) ---------- */

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach((k) => node.setAttribute(k, attrs[k]));
    return node;
  }
  function niceStep(max) {
    const rough = max / 4;
    const power = Math.pow(10, Math.floor(Math.log10(rough)));
    const factor = [1, 2, 5, 10].find((f) => f * power >= rough);
    return Math.max(1, factor * power);
  }
  function drawTrend(holder, trend, title) {
    const width = 560, height = 200, left = 52, right = 24, top = 14, bottom = 28;
    const values = trend.points.map((p) => p.occupancy);
    const top_ = Math.max(4, Math.ceil(Math.max(...values) * 1.1));
    const step = niceStep(top_);
    const ceiling = Math.ceil(top_ / step) * step;
    const x = (i) => left + (width - left - right) * i / (values.length - 1);
    const y = (v) => top + (height - top - bottom) * (1 - v / ceiling);
    const chart = svg("svg", {viewBox: "0 0 " + width + " " + height, role: "img", class: "trend-svg",
      "aria-label": title + ": " + hourLabel(trend.points[0].hour) + " " + num(values[0]) + " → " + num(values[values.length - 1])});
    for (let v = 0; v <= ceiling; v += step) {
      chart.append(svg("line", {x1: left, x2: width - right, y1: y(v), y2: y(v), class: "grid"}));
      const label = svg("text", {x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis"});
      label.textContent = num(v);
      chart.append(label);
    }
    trend.points.forEach((p, i) => {
      if (i % 6 === 5 || i === 0) {
        const label = svg("text", {x: x(i), y: height - 8, "text-anchor": i === 0 ? "start" : "middle", class: "axis"});
        label.textContent = hourLabel(p.hour);
        chart.append(label);
      }
    });
    const line = values.map((v, i) => x(i) + "," + y(v)).join(" ");
    chart.append(svg("polygon", {points: x(0) + "," + y(0) + " " + line + " " + x(values.length - 1) + "," + y(0), class: "area"}));
    chart.append(svg("polyline", {points: line, class: "line"}));
    const last = values.length - 1;
    chart.append(svg("circle", {cx: x(last), cy: y(values[last]), r: 4, class: "dot"}));
    const current = svg("text", {x: x(last) - 6, y: Math.max(12, y(values[last]) - 8), "text-anchor": "end", class: "current"});
    current.textContent = num(values[last]);
    chart.append(current);
    holder.replaceChildren(chart);
  }
  async function loadTrend() {
    const total = await api("GET", "/api/v1/occupancy/trend").catch(() => null);
    if (total && total.ok) drawTrend($("trend"), total.data, t("trend_total"));
  }
  async function loadShelterTrend() {
    const row = state.selected && state.byId.get(state.selected);
    if (!row) return;
    const answer = await api("GET", "/api/v1/occupancy/trend?shelter_id=" + row.id).catch(() => null);
    if (answer && answer.ok && state.selected === row.id) {
      drawTrend($("detail-trend"), answer.data, t("trend_shelter", {name: row.name}));
    }
  }

  /* ---------- sync state ---------- */

  let syncRequest = 0;
  async function loadSync(ids) {
    if (!syncOn || !ids.length) return;
    const mine = ++syncRequest;
    const query = ids.map((id) => "shelter_id=" + id).join("&");
    const answer = await api("GET", "/api/v1/occupancy/sync?" + query).catch(() => null);
    if (!answer || !answer.ok || mine !== syncRequest) return;
    Object.keys(answer.data.shelters).forEach((id) => { state.sync[id] = answer.data.shelters[id]; });
    document.querySelectorAll("#shelter-rows tr[data-shelter-id]").forEach((tr) => {
      const row = state.byId.get(Number(tr.dataset.shelterId));
      if (row) tr.children[7].replaceWith(syncCell(row));
    });
  }
  async function loadSyncBanner() {
    const answer = await api("GET", "/api/v1/sync/status").catch(() => null);
    const banner = $("sync-banner");
    if (!answer || !answer.ok) { banner.hidden = true; return; }
    const active = (answer.data.connectors || []).filter((c) => c.configured);
    if (!active.length) { banner.hidden = true; return; }
    const c = active[0];
    const parts = [t("sync.pending", {n: num(c.backlog)})];
    if (c.parked_events) parts.push(t("sync.parked", {n: num(c.parked_events)}));
    if (c.last_success_at) parts.push("✓ " + clock(c.last_success_at));
    if (c.last_error) parts.push("⚠ " + clock(c.last_error.at) + " " + (c.last_error.code || "") + (c.last_error.http_status ? " (" + c.last_error.http_status + ")" : ""));
    banner.textContent = c.name + ": " + parts.join(" · ");
    banner.className = "sync-banner " + (c.parked_events || c.last_error ? "sync-bad" : "sync-good");
    banner.hidden = false;
  }

  /* ---------- selection and actions ---------- */

  function select(id, scroll) {
    state.selected = id;
    renderTable();
    renderDetail();
    loadShelterTrend();
    if (scroll) $("detail").scrollIntoView({behavior: "smooth", block: "nearest"});
  }
  function renderDetail() {
    const row = state.selected && state.byId.get(state.selected);
    const panel = $("detail");
    if (!row) { panel.hidden = true; return; }
    panel.hidden = false;
    panel.dataset.shelterId = String(row.id);
    $("detail-title").textContent = row.name;
    $("detail-facts").textContent = [
      t("status." + row.status), row.municipality_name || "",
      t("people", {n: num(row.occupancy)}) + " / " + (row.capacity === null ? t("capacity_unknown") : num(row.capacity)),
      t("household_short") + " " + num(row.households),
      t("at_home") + " " + num(row.at_home), t("in_car") + " " + num(row.in_car), t("pets") + " " + num(row.pets),
    ].filter(Boolean).join(" · ");
    $("detail-needs").textContent = NEED_ORDER.map(([key, label]) => label + " " + num(row.needs[key])).join(" · ");
    $("detail-updated").textContent = t("last_change", {when: ago(row.last_stay_change || row.updated_at)});
    panel.querySelector('[data-action="full"]').hidden = row.status === "full";
    panel.querySelector('[data-action="open"]').hidden = row.status === "open";
    panel.querySelectorAll("[data-export]").forEach((a) => {
      const encoding = a.dataset.encoding ? "&encoding=" + a.dataset.encoding : "";
      a.href = "/api/v1/exports/" + a.dataset.export + "?shelter_id=" + row.id + encoding;
    });
  }
  async function patch(id, body, name) {
    const answer = await api("PATCH", "/api/v1/shelters/" + id, body).catch(() => null);
    const banner = $("alert-new");
    banner.hidden = false;
    if (answer && answer.ok) {
      banner.className = "alert alert-ok";
      banner.textContent = "✓ " + t("saved", {name: name});
      await refresh();
    } else {
      banner.className = "alert alert-error";
      banner.textContent = "⚠ " + t("error", {message: answer && answer.data && answer.data.error ? answer.data.error.message : "network"});
    }
  }
  $("detail-actions").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    const row = state.selected && state.byId.get(state.selected);
    if (!button || !row) return;
    const action = button.dataset.action;
    if (action === "capacity") {
      const answer = window.prompt(t("capacity_prompt", {name: row.name}), row.capacity === null ? "" : String(row.capacity));
      if (answer === null) return;
      const trimmed = answer.trim();
      if (trimmed !== "" && !/^\d+$/.test(trimmed)) { window.alert(t("capacity_invalid")); return; }
      patch(row.id, {capacity: trimmed === "" ? null : Number(trimmed)}, row.name);
      return;
    }
    const confirmKey = {closed: "confirm_close", full: "confirm_full", open: "confirm_open"}[action];
    if (action !== "open" && !window.confirm(t(confirmKey, {name: row.name}))) return;
    patch(row.id, {status: action}, row.name);
  });
  $("detail-close").addEventListener("click", () => { state.selected = null; renderDetail(); renderTable(); });

  $("open-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = $("open-q").value.trim();
    const answer = await api("GET", "/api/v1/hq/shelters?status=closed&q=" + encodeURIComponent(q)).catch(() => null);
    const list = $("open-results");
    list.replaceChildren();
    if (!answer || !answer.ok) return;
    if (!answer.data.items.length) list.append(el("li", {text: t("search_none")}));
    answer.data.items.forEach((s) => {
      const button = el("button", {type: "button", class: "primary-small", text: t("open_action")});
      button.addEventListener("click", async () => {
        if (!window.confirm(t("confirm_open", {name: s.name}))) return;
        await patch(s.id, {status: "open"}, s.name);
        list.replaceChildren();
      });
      list.append(el("li", {}, [el("span", {text: s.name + (s.municipality_name ? " · " + s.municipality_name : "")}), button]));
    });
  });

  /* ---------- controls ---------- */

  ["f-q", "f-municipality", "f-status", "f-need", "f-near"].forEach((id) => {
    $(id).addEventListener(id === "f-q" ? "input" : "change", () => { state.page = 0; renderTable(); });
  });
  document.querySelectorAll("#shelters th button[data-sort]").forEach((button) => {
    button.addEventListener("click", () => {
      const key = button.dataset.sort;
      state.sort = {key: key, dir: state.sort.key === key ? -state.sort.dir : (key === "name" ? 1 : -1)};
      renderTable();
    });
  });
  $("prev").addEventListener("click", () => { state.page -= 1; renderTable(); });
  $("next").addEventListener("click", () => { state.page += 1; renderTable(); });
  $("pause").addEventListener("click", () => {
    state.paused = !state.paused;
    $("pause").setAttribute("aria-pressed", String(state.paused));
    if (state.paused) $("refresh-state").textContent = t("paused");
    else refresh();
  });

  /* ---------- polling ---------- */

  let timer = null, polls = 0;
  async function refresh() {
    clearTimeout(timer);
    let answer = null;
    try { answer = await api("GET", "/api/v1/occupancy"); } catch (err) { answer = null; }
    if (answer && answer.ok) {
      const body = answer.data;
      state.rows = body.shelters;
      state.byId = new Map(body.shelters.map((r) => [r.id, r]));
      state.totals = body.totals;
      state.generatedAt = body.generated_at;
      renderTotals();
      renderMunicipalities();
      renderAlerts();
      renderTable();
      renderDetail();
      $("refresh-state").textContent = t("updated", {time: clock(body.generated_at)});
      $("refresh-state").classList.remove("is-stale");
      root.dataset.generatedAt = body.generated_at;
      root.dataset.ready = "1";
      if (polls % 4 === 0) { loadTrend(); loadSyncBanner(); loadShelterTrend(); }
      polls += 1;
    } else {
      $("refresh-state").textContent = t("refresh_failed", {time: state.generatedAt ? clock(state.generatedAt) : "—"});
      $("refresh-state").classList.add("is-stale");
    }
    if (!state.paused) timer = setTimeout(refresh, config.refreshSeconds * 1000);
  }
  refresh();
})();
