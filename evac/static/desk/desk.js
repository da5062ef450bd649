/* evac desk: scan, household check-in, walk-in registration and roster on a tablet.
 *
 * Talks to the JSON API with the session cookie and the CSRF token. When the server cannot be
 * reached, check-ins wait in IndexedDB with their client_id and are sent when it can be: the
 * server answers a repeated client_id with the first result, so a replay never doubles a stay.
 * Plain ES2017, no build step: it must run on iPad Safari and Android Chrome as they are.
 */
(function () {
  "use strict";

  const root = document.getElementById("desk");
  if (!root) return;
  const config = JSON.parse(document.getElementById("desk-config").textContent);
  const shelterId = config.shelterId;
  const M = config.messages;
  const $ = (id) => document.getElementById(id);

  function t(key, vars) {
    let text = M[key] || key;
    Object.keys(vars || {}).forEach((name) => { text = text.split("%(" + name + ")s").join(String(vars[name])); });
    return text;
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  /* ---------- talking to the server ---------- */

  let csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  class NetworkError extends Error {}

  async function api(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: method,
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken, "Accept": "application/json"},
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      setOnline(false);
      throw new NetworkError(t("network_error"));
    }
    setOnline(true);
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    if (response.status === 400 && data && data.error && data.error.code === "csrf_failed") {
      await refreshCsrf();
    }
    return {status: response.status, ok: response.ok, data: data};
  }

  async function refreshCsrf() {
    try {
      const response = await fetch("/desk/csrf", {credentials: "same-origin"});
      if (response.ok) csrfToken = (await response.json()).csrf_token;
    } catch (err) { /* still offline: the next flush tries again */ }
  }

  /* ---------- the offline queue (IndexedDB) ---------- */

  const DB_NAME = "evac-desk";
  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore("queue", {keyPath: "client_id"});
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  async function queueOp(mode, fn) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction("queue", mode);
      const result = fn(tx.objectStore("queue"));
      tx.oncomplete = () => { db.close(); resolve(result && result.result); };
      tx.onerror = () => { db.close(); reject(tx.error); };
    });
  }
  const enqueue = (item) => queueOp("readwrite", (store) => store.put(item));
  const dequeue = (clientId) => queueOp("readwrite", (store) => store.delete(clientId));
  const queued = () => queueOp("readonly", (store) => store.getAll());

  async function showPending() {
    const items = (await queued()).filter((item) => item.shelter_id === shelterId);
    const badge = $("pending");
    badge.hidden = items.length === 0;
    badge.textContent = t("pending", {n: items.length});
    badge.dataset.count = String(items.length);
    return items.length;
  }

  let flushing = false;
  async function flush() {
    if (flushing) return;
    flushing = true;
    let sent = 0;
    const refused = [];
    try {
      const items = (await queued()).sort((a, b) => a.created - b.created);
      for (const item of items) {
        let answer;
        try { answer = await api("POST", item.path, item.body); } catch (err) { break; }
        if (answer.status === 400 && answer.data && answer.data.error && answer.data.error.code === "csrf_failed") {
          try { answer = await api("POST", item.path, item.body); } catch (err) { break; }
        }
        if (answer.ok) { sent += 1; await dequeue(item.client_id); }
        else if (answer.status >= 400 && answer.status < 500 && answer.status !== 408 && answer.status !== 429) {
          // A refusal will not change on a retry: show it and drop the item.
          refused.push(answer.data && answer.data.error ? answer.data.error.message : String(answer.status));
          await dequeue(item.client_id);
        } else break;
      }
    } finally {
      flushing = false;
    }
    await showPending();
    if (sent) { flash(t("sent_pending", {n: sent}), "ok"); refreshCounts(); }
    if (refused.length) flash(refused.join(" / "), "error");
  }

  function setOnline(state) {
    const net = $("net");
    net.classList.toggle("is-offline", !state);
    $("net-state").textContent = state ? t("online") : t("offline");
  }
  window.addEventListener("online", flush);
  window.addEventListener("offline", () => setOnline(false));
  setInterval(() => { showPending().then((n) => { if (n) flush(); }); }, 5000);

  /* ---------- messages at the desk ---------- */

  let beepContext = null;
  function beep(ok) {
    try {
      beepContext = beepContext || new (window.AudioContext || window.webkitAudioContext)();
      const osc = beepContext.createOscillator();
      const gain = beepContext.createGain();
      osc.frequency.value = ok ? 880 : 220;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(beepContext.destination);
      osc.start();
      osc.stop(beepContext.currentTime + (ok ? 0.12 : 0.5));
    } catch (err) { /* no audio: the message on screen is enough */ }
  }

  function flash(message, kind) {
    const alert = $("alert");
    alert.hidden = false;
    alert.className = "alert alert-" + kind;
    alert.textContent = (kind === "error" ? "⚠ " : kind === "ok" ? "✓ " : "") + message;
    beep(kind !== "error");
  }

  function showError(answer) {
    const error = answer.data && answer.data.error;
    flash(error ? error.message : String(answer.status), "error");
    return error;
  }

  /* ---------- counts ---------- */

  function setCounts(shelter) {
    if (!shelter) return;
    $("count-occupancy").textContent = shelter.occupancy;
    $("count-households").textContent = shelter.households;
  }
  async function refreshCounts() {
    try {
      const answer = await api("GET", "/api/v1/shelters/" + shelterId);
      if (answer.ok) setCounts(answer.data);
    } catch (err) { /* offline */ }
  }

  /* ---------- scanning ---------- */

  const scan = $("scan");
  let current = null; // {identify: {...}, household, person}

  function idle() {
    const active = document.activeElement;
    const busy = active && active !== document.body && active !== scan && active.closest("form, #scan-result, #candidates, #panel-roster");
    if (!$("panel-scan").hidden && !busy) scan.focus();
  }
  document.addEventListener("click", () => setTimeout(idle, 0));
  setInterval(idle, 3000);
  document.addEventListener("keydown", (event) => {
    // A keyboard-wedge scanner typing while nothing has focus: send the keys to the scan field.
    if (document.activeElement === document.body && !$("panel-scan").hidden && event.key.length === 1) scan.focus();
  });

  function identifyFrom(text) {
    const trimmed = text.trim();
    if (trimmed.startsWith("{")) {
      let message;
      try { message = JSON.parse(trimmed); } catch (err) { return null; }
      if (message.type === "mynumber" && message.card) return {card: message.card};
      if (message.type === "ic" && message.uid) return {ic_uid: String(message.uid)};
      return null;
    }
    return trimmed ? {qr: trimmed} : null;
  }

  async function handleScan(text) {
    const identify = identifyFrom(text);
    scan.value = "";
    if (!identify) return;
    $("candidates").hidden = true;
    let answer;
    try {
      answer = await api("POST", "/api/v1/lookups", Object.assign({shelter_id: shelterId}, identify));
    } catch (err) {
      if (identify.qr) return queueCheckin(Object.assign({shelter_id: shelterId}, identify));
      return flash(err.message, "error");
    }
    if (!answer.ok) {
      const error = showError(answer);
      if (error && error.code === "ic_card_unlinked") { pendingIc = identify.ic_uid; showTab("roster"); flash(t("link_ic"), "info"); }
      return;
    }
    if (!answer.data.person) return showCandidates(answer.data.candidates, identify);
    current = {identify: identify, person: answer.data.person, household: answer.data.household};
    renderHousehold();
  }

  async function queueCheckin(body) {
    body.client_id = uuid();
    await enqueue({client_id: body.client_id, path: "/api/v1/checkins", body: body, shelter_id: shelterId,
                   created: Date.now()});
    const n = await showPending();
    flash(t("queued", {n: n}), "info");
  }

  let pendingIc = null;

  function needsText(person) {
    const parts = (person.needs || []).map((key) => t("needs." + key));
    if (person.allergy) parts.push(person.allergy);
    if (person.pets) parts.push(t("pets", {n: person.pets}));
    return parts.join("・");
  }

  function whereText(whereabouts) {
    if (!whereabouts) return t("not_checked_in");
    if (whereabouts.shelter_id === shelterId) return t("here") + ": " + t(whereabouts.status);
    return t("elsewhere", {name: whereabouts.shelter_name});
  }

  function renderHousehold() {
    const list = $("members");
    list.textContent = "";
    $("result-name").textContent = current.person.family_name + " " + current.person.given_name;
    current.household.members.forEach((member) => {
      const item = document.createElement("li");
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = member.id;
      const where = member.whereabouts;
      const here = where && where.shelter_id === shelterId;
      box.checked = !where || (here && where.status !== "present");
      box.disabled = here && where.status === "present";
      box.dataset.elsewhere = where && !here ? "1" : "";
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = member.family_name + " " + member.given_name + "（" + member.family_name_kana + " " + member.given_name_kana + "）";
      const status = document.createElement("span");
      status.className = "where" + (where && !here ? " where-elsewhere" : "");
      status.textContent = whereText(where);
      const needs = document.createElement("span");
      needs.className = "needs";
      needs.textContent = needsText(member);
      label.append(box, name, status, needs);
      item.append(label);
      list.append(item);
    });
    $("scan-result").hidden = false;
    $("checkin-button").focus();
  }

  $("scan-form").addEventListener("submit", (event) => { event.preventDefault(); handleScan(scan.value); });

  $("checkin-button").addEventListener("click", async () => {
    if (!current) return;
    const boxes = Array.from($("members").querySelectorAll("input[type=checkbox]"));
    const chosen = boxes.filter((b) => b.checked && !b.disabled);
    if (!chosen.length) return flash(t("select_members"), "error");
    const body = Object.assign({shelter_id: shelterId, client_id: uuid(),
                                members: chosen.map((b) => Number(b.value)),
                                transfer: chosen.some((b) => b.dataset.elsewhere === "1")}, current.identify);
    if (!body.qr && !body.card && !body.ic_uid) body.person_id = current.person.id;
    await submitCheckin(body);
  });

  async function submitCheckin(body) {
    let answer;
    try { answer = await api("POST", "/api/v1/checkins", body); } catch (err) {
      await enqueue({client_id: body.client_id, path: "/api/v1/checkins", body: body, shelter_id: shelterId,
                     created: Date.now()});
      const n = await showPending();
      flash(t("queued", {n: n}), "info");
      resetScan();
      return null;
    }
    if (!answer.ok) {
      const error = showError(answer);
      if (error && error.candidates) showCandidates(error.candidates, body);
      return null;
    }
    setCounts(answer.data.shelter);
    const created = answer.status === 201;
    flash(created ? t("checked_in", {n: answer.data.stays.length}) : t("already_here"), created ? "ok" : "info");
    resetScan();
    if (!$("panel-roster").hidden) loadRoster();
    return answer.data;
  }

  function resetScan() {
    current = null;
    $("scan-result").hidden = true;
    $("candidates").hidden = true;
    scan.value = "";
    idle();
  }

  function showCandidates(candidates, body) {
    const box = $("candidates");
    box.textContent = "";
    const heading = document.createElement("h2");
    heading.textContent = t("candidates");
    box.append(heading);
    const list = document.createElement("ul");
    list.className = "members";
    (candidates || []).forEach((person) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "primary";
      button.textContent = t("choose_candidate");
      button.addEventListener("click", () => submitCheckin({shelter_id: shelterId, client_id: uuid(), person_id: person.id}));
      const text = document.createElement("span");
      text.textContent = person.family_name + " " + person.given_name + "（" + person.family_name_kana + " " +
        person.given_name_kana + "） " + (person.birth_date || "") + " " + (person.address || "");
      item.append(text, button);
      list.append(item);
    });
    box.append(list);
    if (body && body.person) {
      const fresh = document.createElement("button");
      fresh.type = "button";
      fresh.textContent = t("register_new");
      fresh.addEventListener("click", () => submitCheckin(Object.assign({}, body, {client_id: uuid(), confirm_new: true})));
      box.append(fresh);
    }
    box.hidden = false;
  }

  /* ---------- card reader bridge and camera ---------- */

  if ("BroadcastChannel" in window) {
    new BroadcastChannel("evac-card-reader").onmessage = (event) => { showTab("scan"); handleScan(String(event.data)); };
  }

  let stream = null;
  $("camera-button").addEventListener("click", async () => {
    const video = $("camera");
    if (stream) { stream.getTracks().forEach((track) => track.stop()); stream = null; video.hidden = true; return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return flash(t("camera_unavailable"), "error");
    try {
      stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}});
    } catch (err) { return flash(t("camera_unavailable"), "error"); }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const detector = "BarcodeDetector" in window ? new window.BarcodeDetector({formats: ["qr_code"]}) : null;
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", {willReadFrequently: true});
    const tick = async () => {
      if (!stream) return;
      let text = null;
      if (detector) {
        const codes = await detector.detect(video).catch(() => []);
        if (codes.length) text = codes[0].rawValue;
      } else if (window.jsQR && video.videoWidth) {
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        context.drawImage(video, 0, 0);
        const code = window.jsQR(context.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
        if (code) text = code.data;
      }
      if (text) { stream.getTracks().forEach((track) => track.stop()); stream = null; video.hidden = true; handleScan(text); return; }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });

  /* ---------- walk-in registration ---------- */

  $("walkin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    if (!form.reportValidity()) return;
    const data = new FormData(form);
    const value = (name) => { const v = String(data.get(name) || "").trim(); return v || null; };
    const person = {
      family_name: value("family_name"), given_name: value("given_name") || "",
      family_name_kana: value("family_name_kana"), given_name_kana: value("given_name_kana") || "",
      birth_date: value("birth_date"), sex: value("sex"), address: value("address"),
      postal_code: value("postal_code"), phone: value("phone"), nationality: value("nationality"),
      language: value("language"), allergy: value("allergy"), condition_note: value("condition_note"),
      needs: data.getAll("needs"), pets: Number(data.get("pets") || 0),
      consent: {relatives: data.has("consent_relatives"), acquaintances: data.has("consent_acquaintances"),
                public: data.has("consent_public")},
    };
    const result = await submitCheckin({shelter_id: shelterId, client_id: uuid(), person: person});
    if (result) {
      form.reset();
      // Offer the new person's QR card, so their next visit is one scan.
      $("walkin-card-link").href = "/desk/" + shelterId + "/cards/" + result.person.id + ".pdf";
      $("walkin-card").hidden = false;
    }
  });

  /* ---------- roster ---------- */

  async function loadRoster() {
    const form = new FormData($("roster-form"));
    const params = new URLSearchParams();
    ["q", "status", "needs"].forEach((key) => { if (form.get(key)) params.set(key, form.get(key)); });
    let answer;
    try { answer = await api("GET", "/api/v1/shelters/" + shelterId + "/roster?" + params.toString()); } catch (err) {
      return flash(err.message, "error");
    }
    if (!answer.ok) return showError(answer);
    setCounts(answer.data.shelter);
    const counts = answer.data.counts;
    $("roster-counts").textContent = ["present", "outing", "at_home", "in_car"]
      .map((key) => t(key) + " " + (counts[key] || 0)).join(" / ");
    const body = $("roster-body");
    body.textContent = "";
    if (!answer.data.items.length) {
      const row = body.insertRow();
      const cell = row.insertCell();
      cell.colSpan = 5;
      cell.textContent = t("no_results");
    }
    answer.data.items.forEach((item) => body.append(rosterRow(item)));
  }

  function actionButton(label, handler) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.addEventListener("click", handler);
    return button;
  }

  function rosterRow(item) {
    const person = item.person;
    const row = document.createElement("tr");
    row.dataset.personId = person.id;
    [person.family_name + " " + person.given_name, person.family_name_kana + " " + person.given_name_kana,
     t(item.stay.status), needsText(person)].forEach((text) => { row.insertCell().textContent = text; });
    const actions = row.insertCell();
    actions.className = "actions";
    const status = item.stay.status;
    if (pendingIc) {
      actions.append(actionButton(t("checkin"), async () => {
        const uid = pendingIc; pendingIc = null;
        await submitCheckin({shelter_id: shelterId, client_id: uuid(), ic_uid: uid, person_id: person.id});
      }));
    }
    if (status === "present") actions.append(actionButton(t("go_out"), () => checkout(person.id, "outing")));
    if (status !== "present") actions.append(actionButton(t("return"), () => checkout(person.id, "return")));
    actions.append(actionButton(t("left"), () => { if (window.confirm(t("confirm_leave"))) checkout(person.id, "left"); }));
    if (config.transferTargets.length) {
      const select = document.createElement("select");
      select.setAttribute("aria-label", t("transfer_to"));
      const blank = document.createElement("option");
      blank.value = ""; blank.textContent = t("transfer_to");
      select.append(blank);
      config.transferTargets.forEach((target) => {
        const option = document.createElement("option");
        option.value = target.id; option.textContent = target.name;
        select.append(option);
      });
      actions.append(select, actionButton(t("transfer"), () => {
        if (select.value) checkout(person.id, "transfer", Number(select.value));
      }));
    }
    return row;
  }

  async function checkout(personId, reason, toShelterId) {
    const body = {client_id: uuid(), person_id: personId, reason: reason};
    if (toShelterId) body.to_shelter_id = toShelterId;
    let answer;
    try { answer = await api("POST", "/api/v1/checkouts", body); } catch (err) { return flash(err.message, "error"); }
    if (!answer.ok) return showError(answer);
    setCounts(answer.data.shelter);
    flash(t("done"), "ok");
    loadRoster();
  }

  $("roster-form").addEventListener("submit", (event) => { event.preventDefault(); loadRoster(); });

  /* ---------- tabs ---------- */

  function showTab(name) {
    ["scan", "walkin", "roster"].forEach((tab) => {
      $("tab-" + tab).setAttribute("aria-selected", String(tab === name));
      $("panel-" + tab).hidden = tab !== name;
    });
    if (name === "roster") loadRoster();
    if (name === "scan") idle();
  }
  ["scan", "walkin", "roster"].forEach((tab) => $("tab-" + tab).addEventListener("click", () => showTab(tab)));

  /* ---------- start ---------- */

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/desk/sw.js", {scope: "/desk/"})
      // This page was loaded before the worker existed: put it in the cache for offline reloads.
      .then(() => navigator.serviceWorker.ready)
      .then(() => caches.open("evac-desk-v1"))
      .then((cache) => cache.add(location.pathname))
      .then(() => { root.dataset.offlineReady = "1"; })
      .catch(() => { /* the desk works online without it */ });
  }
  root.dataset.ready = "1";
  showPending().then((n) => { if (n) flush(); });
  idle();
})();
