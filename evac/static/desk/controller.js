/* The desk's flow: scan → lookup → household → check-in, the offline queue, the roster's actions.
 *
 * No DOM here: the page hands in a `view` (what is drawn, see main.js), the API client, the
 * queue and `t`, so the flow runs in Node's tests with fakes. A check-in the server cannot take
 * (no network, or 502/503/504: the database busy or down) is queued exactly as when offline.
 */

import {CHECKINS, UNDO, checkinOutcome, errorText, householdBody, queueItem, undoBody, undoTextKey} from "./checkin.js";
import {fullName} from "./household.js";
import {parseScan} from "./scan.js";
import {rosterPath} from "./roster.js";
import {personFromCard, walkInBody} from "./walkin.js";

/**
 * @param {object} deps
 * @param {number} deps.shelterId
 * @param {ReturnType<import("../js/api.js").createApi>} deps.api
 * @param {import("./queue.js").OfflineQueue} deps.queue
 * @param {(key: string, vars?: object) => string} deps.t
 * @param {() => string} deps.uuid
 * @param {object} deps.view
 * @param {boolean} [deps.closed] the shelter was closed when the page was drawn
 * @param {number} [deps.undoMinutes] how long 「取り消す」 is offered after an operation (EVAC_UNDO_MINUTES)
 * @param {number} [deps.countsEveryMs] how often the header's counts are fetched while the desk is idle
 * @param {() => number} [deps.now] the clock (ms)
 */
export function createDesk({shelterId, api, queue, t, uuid, view, closed = false, undoMinutes = 5,
                            countsEveryMs = 30000, now = Date.now}) {
  const state = {current: null, pendingIc: null, closed};
  // When the header's counts were last set from the server: other desks check people in too,
  // so an idle desk fetches them now and then instead of showing its own last answer all day.
  let countsAt = now();

  function showCounts(shelter) {
    view.setCounts(shelter);
    countsAt = now();
  }

  function setClosed(value) {
    state.closed = value;
    if (view.showClosed) view.showClosed(value);
  }

  function showError(answer) {
    const error = answer.error;
    if (error && error.code === "shelter_closed") {
      setClosed(true);
      view.flash(t("shelter_closed"), "error");
    } else {
      view.flash(errorText(answer), "error");
    }
    return error;
  }

  /** "岩田 哲也 さん、岩田 花子 さん": who the answer's stays are, from the people the desk knows. */
  function namesOf(data, known) {
    const people = new Map((known || []).map((person) => [person.id, person]));
    if (data.household) data.household.members.forEach((member) => people.set(member.id, member));
    if (data.person) people.set(data.person.id, data.person);
    return (data.stays || []).map((stay) => people.get(stay.person_id)).filter(Boolean)
      .map((person) => t("name_san", {name: fullName(person)})).join(t("name_separator"));
  }

  async function showPending() {
    const n = (await queue.pending(shelterId)).length;
    view.setPending(n);
    return n;
  }

  async function queueCheckin(body, answer) {
    await queue.add(queueItem(body, shelterId));
    if (answer) queue.backOff(answer.retryAfter); // a busy server said when to ask again
    const n = await showPending();
    view.flash(t("queued", {n}), "info");
  }

  async function refreshCounts() {
    countsAt = now(); // tried: offline, the next try is a period away, not the next tick
    const answer = await api.get("/api/v1/shelters/" + shelterId);
    if (!answer.ok) return;
    showCounts(answer.data);
    if (answer.data.status) setClosed(answer.data.status === "closed");
  }

  /**
   * Send a check-in; queue it if the server cannot be had. The answer's data, or null.
   * `known`: the people the desk has on screen, to name those checked in.
   */
  async function submitCheckin(body, known) {
    const answer = await api.post(CHECKINS, body);
    const outcome = checkinOutcome(answer);
    if (outcome === "queue") {
      await queueCheckin(body, answer);
      resetScan();
      return null;
    }
    if (outcome === "error") {
      // A refused check-in leaves nothing one tap from チェックイン: staff scan again.
      resetScan();
      const error = showError(answer);
      // A family member like someone registered: the answer says which (`member`, "family[1]").
      if (error && error.candidates) view.showCandidates(error.candidates, body, error.member);
      return null;
    }
    showCounts(answer.data.shelter);
    const created = answer.status === 201;
    const n = answer.data.stays.length;
    const names = namesOf(answer.data, known);
    const done = names ? t("checked_in_names", {names, n}) : t("checked_in", {n});
    view.flash(created ? done : t("already_here"), created ? "ok" : "info");
    if (created) offerUndo("checkin", body.client_id, names);
    resetScan();
    if (view.rosterShown()) loadRoster();
    return answer.data;
  }

  function resetScan() {
    state.current = null;
    view.resetScan();
  }

  /** Close the household on screen (閉じる, or nobody confirmed it in time). */
  function closeHousehold() {
    resetScan();
  }

  /**
   * One scan: a QR payload, a fallback code or a card-reader line. A scan is always a new one,
   * never a confirmation of the household before it: that household, the candidates and the
   * banner go first, so a failed or queued scan leaves nothing one tap from チェックイン.
   */
  async function handleScan(text) {
    const scan = parseScan(text);
    view.clearScanInput();
    if (!scan) return;
    resetScan();
    view.clearFlash();
    // A reader line that is not one is dropped, as it always was; any other text goes to the
    // server, which refuses it as card_malformed and audits the refusal.
    if (scan.kind === "invalid" && scan.json) return;
    const identify = scan.kind === "invalid" ? {qr: scan.raw} : scan.identify;
    return lookUp(identify, scan);
  }

  /** A registered resident without their card, found by name and birth date: their household, as a scan shows it. */
  function lookUpPerson(personId) {
    resetScan();
    view.clearFlash();
    return lookUp({person_id: Number(personId)}, {});
  }

  /** The scan tab's resident search (kana or kanji, a birth date if given), within the staff's scope. */
  async function searchResidents(q, birthDate) {
    const params = {q: q || ""};
    if (birthDate) params.birth_date = birthDate;
    const answer = await api.get("/api/v1/persons?" + new URLSearchParams(params).toString());
    if (answer.offline) return view.flash(t("network_error"), "error");
    if (!answer.ok) return showError(answer);
    view.showResidents(answer.data);
    return answer.data;
  }

  async function lookUp(identify, scan) {
    view.hideCandidates();
    const answer = await api.post("/api/v1/lookups", Object.assign({shelter_id: shelterId}, identify));
    if (answer.offline) {
      // A card code can wait in the queue (the server resolves it later); a card reader's
      // lookup cannot, staff must see who it is. Twelve digits may be a 個人番号: never stored.
      if (scan.mayBeIndividualNumber) return view.flash(t("individual_number"), "error");
      // A closed shelter takes nobody, not even later: queued, the check-in would only be refused.
      if (state.closed) return view.flash(t("shelter_closed"), "error");
      if (identify.qr) return queueCheckin(Object.assign({shelter_id: shelterId, client_id: uuid()}, identify), answer);
      return view.flash(t("network_error"), "error");
    }
    if (!answer.ok) {
      const error = showError(answer);
      if (error && error.code === "ic_card_unlinked") {
        state.pendingIc = identify.ic_uid;
        view.showLinking(true);
        view.showTab("roster");
        view.flash(t("link_ic"), "info");
      }
      return;
    }
    setClosed(false); // the server took the lookup: the shelter is open (again)
    if (!answer.data.person) {
      // A My Number card nobody registered matches: register the walk-in from its four items.
      if (!answer.data.candidates.length && answer.data.hidden_matches) {
        return view.flash(t("hidden_matches"), "error");
      }
      if (identify.card && !answer.data.candidates.length) {
        view.showWalkIn(personFromCard(identify.card));
        return view.flash(t("card_not_registered"), "info");
      }
      return view.showCandidates(answer.data.candidates, identify);
    }
    state.current = {identify, person: answer.data.person, household: answer.data.household};
    view.showHousehold(state.current);
  }

  /** チェックイン on the household view, with the members ticked there. */
  async function checkInHousehold(chosen) {
    if (!state.current) return null;
    if (!chosen.length) return view.flash(t("select_members"), "error");
    return submitCheckin(householdBody({
      shelterId, clientId: uuid(), identify: state.current.identify, person: state.current.person, chosen,
    }), state.current.household.members.concat([state.current.person]));
  }

  /** A candidate chosen from the list of similar registered people. */
  function chooseCandidate(person) {
    return submitCheckin({shelter_id: shelterId, client_id: uuid(), person_id: person.id}, [person]);
  }

  /** None of the candidates: register the walk-in as a new person after all. */
  function registerNew(body) {
    return submitCheckin(Object.assign({}, body, {client_id: uuid(), confirm_new: true}));
  }

  /**
   * A walk-in typed from the paper evacuee card, with the family who came with them; with
   * `householdId`, they join that (scanned) household instead of forming one.
   */
  function checkInWalkIn(person, family = [], householdId = null) {
    return submitCheckin(walkInBody({shelterId, clientId: uuid(), person, family, householdId}));
  }

  /** 「家族を追加」 on the household on screen: the walk-in form, adding to that household. */
  function addToHousehold() {
    const current = state.current;
    if (!current || !current.household || !current.household.id) return;
    const holder = current.person;
    resetScan();
    view.showWalkInForHousehold({
      householdId: current.household.id, name: fullName(holder),
      values: {family_name: holder.family_name, family_name_kana: holder.family_name_kana, address: holder.address},
    });
  }

  /** Link the IC card waiting for its person to this person (from the roster or a search), and check in. */
  function linkIc(personId) {
    const uid = state.pendingIc;
    state.pendingIc = null;
    view.showLinking(false);
    return submitCheckin({shelter_id: shelterId, client_id: uuid(), ic_uid: uid, person_id: personId});
  }

  /** Give up linking the IC card that waits (staff will try again, or check in otherwise). */
  function cancelLink() {
    state.pendingIc = null;
    view.showLinking(false);
    return loadRoster();
  }

  /** While an IC card waits for its person, a name searches everyone staff may find, not only the roster. */
  async function searchToLink(q) {
    const answer = await api.get("/api/v1/persons?" + new URLSearchParams({q}).toString());
    if (answer.offline) return view.flash(t("network_error"), "error");
    if (!answer.ok) return showError(answer);
    view.renderPeople(answer.data);
    return answer.data;
  }

  async function loadRoster() {
    const query = view.rosterQuery();
    const q = query && query.get("q") ? String(query.get("q")).trim() : "";
    if (state.pendingIc && q) return searchToLink(q);
    const answer = await api.get(rosterPath(shelterId, query));
    if (answer.offline) return view.flash(t("network_error"), "error");
    if (!answer.ok) return showError(answer);
    showCounts(answer.data.shelter);
    view.renderRoster(answer.data, {linkingIc: Boolean(state.pendingIc)});
    return answer.data;
  }

  /** 外出, 戻り, 退所 or 移動 from the roster. Not queued: staff see at once that it failed. */
  async function checkout(personId, reason, toShelterId) {
    const body = {client_id: uuid(), person_id: personId, reason};
    if (toShelterId) body.to_shelter_id = toShelterId;
    const answer = await api.post("/api/v1/checkouts", body);
    if (answer.offline) return view.flash(t("network_error"), "error");
    if (!answer.ok) return showError(answer);
    showCounts(answer.data.shelter);
    view.flash(t("done"), "ok");
    if (answer.status === 201) offerUndo(reason, body.client_id, namesOf(answer.data));
    return loadRoster();
  }

  /**
   * Offer to take back the operation just done, naming who and what, for `undoMinutes`. The
   * undo's own client id is drawn now, so a tap repeated after a lost answer is a replay.
   */
  function offerUndo(kind, operationId, names) {
    if (!view.offerUndo || !names) return;
    const clientId = uuid();
    view.offerUndo(t(undoTextKey(kind), {names}), () => undo(operationId, clientId), undoMinutes * 60 * 1000);
  }

  /** 「取り消す」 tapped: the server puts the stays back; counts, roster and the toast follow. */
  function undo(operationId, clientId) {
    return sendUndo(undoBody({clientId, operationId}));
  }

  /**
   * A correction from the roster, after the toast has gone: takes back the check-in (or the
   * arrival of a transfer) that opened this stay, for that person only. Not queued.
   */
  function correctStay(stayId) {
    return sendUndo({client_id: uuid(), stay_id: Number(stayId)});
  }

  async function sendUndo(body) {
    const answer = await api.post(UNDO, body);
    if (answer.offline) {
      if (view.enableUndo) view.enableUndo();
      return view.flash(t("network_error"), "error");
    }
    // The toast's operation is settled (taken back, or refused for good); a roster correction leaves it.
    if (body.operation_id) view.hideUndo();
    if (!answer.ok) return showError(answer);
    showCounts(answer.data.shelter);
    view.flash(t("undone"), "ok");
    if (view.rosterShown()) loadRoster();
    return answer.data;
  }

  /** Send the queued check-ins; say how many went and which were refused. */
  async function flush() {
    const result = await queue.flush();
    await showPending();
    if (result.sent.length) {
      view.flash(t("sent_pending", {n: result.sent.length}), "ok");
      refreshCounts();
    }
    if (result.refused.length) view.flash(result.refused.map(({answer}) => errorText(answer)).join(" / "), "error");
    return result;
  }

  /** The periodic check: flush when something waits, else refresh the header's counts when they are old. */
  async function tick() {
    const n = await showPending();
    if (n) await flush();
    else if (now() - countsAt >= countsEveryMs) await refreshCounts();
    return n;
  }

  return {
    state, handleScan, closeHousehold, checkInHousehold, chooseCandidate, registerNew, checkInWalkIn, addToHousehold,
    linkIc, cancelLink,
    loadRoster, checkout, undo, correctStay, lookUpPerson, searchResidents, flush, tick, showPending, submitCheckin,
  };
}
