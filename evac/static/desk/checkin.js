/* Check-in requests as the desk builds them, and what to do with an answer. Pure. */

export const CHECKINS = "/api/v1/checkins";

/**
 * The body that checks in the ticked members of a scanned household.
 * @param {{shelterId: number, clientId: string, identify: object, person: {id: number}, chosen: {id: number, elsewhere: boolean}[]}} args
 */
export function householdBody({shelterId, clientId, identify, person, chosen}) {
  const body = Object.assign({
    shelter_id: shelterId,
    client_id: clientId,
    members: chosen.map((member) => Number(member.id)),
    transfer: chosen.some((member) => member.elsewhere),
  }, identify);
  // Found by search, not by a card: name the person by id.
  if (!body.qr && !body.card && !body.ic_uid) body.person_id = person.id;
  return body;
}

/** The offline queue's item for a check-in body (it carries its own client_id). */
export function queueItem(body, shelterId) {
  return {client_id: body.client_id, path: CHECKINS, body, shelter_id: shelterId};
}

/**
 * What the desk does with the answer to a check-in:
 *   "done"   checked in (201), or already here (200 for a repeated client_id or a stay in place)
 *   "queue"  the server cannot be had (offline, 502/503/504): queue it, exactly as when offline
 *   "error"  show the server's message (a refusal, a stale session, a 500)
 */
export function checkinOutcome(answer) {
  if (answer.ok) return "done";
  if (answer.kind === "unavailable") return "queue";
  return "error";
}

/** The text of a refusal for the desk's banner. */
export function errorText(answer) {
  return answer.error && answer.error.message ? answer.error.message : String(answer.status);
}

export const UNDO = "/api/v1/undo";

// What the undo toast says for each kind of operation (message keys of the desk page).
const UNDO_TEXT = {
  checkin: "undo_checkin", left: "undo_left", outing: "undo_outing", return: "undo_return",
  transfer: "undo_transfer", at_home: "undo_whereabouts", in_car: "undo_whereabouts",
};

/** The message key of the undo toast for an operation (`checkin` or a check-out's reason). */
export function undoTextKey(kind) {
  return UNDO_TEXT[kind] || "undo_checkin";
}

/** The body that takes back the desk operation sent with `operationId` (its own client_id makes it idempotent). */
export function undoBody({clientId, operationId}) {
  return {client_id: clientId, operation_id: operationId};
}
