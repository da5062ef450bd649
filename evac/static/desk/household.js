/* A household as the desk shows it: who is where, and who is ticked for check-in. Pure. */

/** "family given" as the desk writes a name. */
export function fullName(person) {
  return [person.family_name, person.given_name].filter(Boolean).join(" ");
}

/** "family given" in kana. */
export function kanaName(person) {
  return [person.family_name_kana, person.given_name_kana].filter(Boolean).join(" ");
}

/** A check-in time as the desk shows it: hours and minutes in Tokyo ("" if unknown). */
export function timeOf(iso, lang) {
  if (!iso) return "";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  return when.toLocaleTimeString(lang === "en" ? "en-GB" : "ja-JP",
    {hour: "2-digit", minute: "2-digit", timeZone: "Asia/Tokyo"});
}

/** Needs, allergy and pets in one line, in the page's language. */
export function needsText(person, t) {
  const parts = (person.needs || []).map((key) => t("needs." + key));
  if (person.allergy) parts.push(person.allergy);
  if (person.pets) parts.push(t("pets", {n: person.pets}));
  return parts.join("・");
}

/** Where a member is: not checked in, here (with the stay's status) or at another shelter. */
export function whereText(whereabouts, shelterId, t, lang) {
  if (!whereabouts) return t("not_checked_in");
  if (whereabouts.shelter_id === shelterId) {
    const time = timeOf(whereabouts.checked_in_at, lang);
    return t("here") + ": " + t(whereabouts.status) + (time ? t("since", {time}) : "");
  }
  // A shelter outside this desk's scope is never named to it (only "another shelter").
  return whereabouts.shelter_name ? t("elsewhere", {name: whereabouts.shelter_name}) : t("elsewhere_short");
}

/**
 * How a member's box starts: ticked unless they are here already (present: cannot be ticked;
 * out or at home: ticked, the check-in brings them back) or at another shelter (a transfer,
 * which staff tick on purpose).
 */
export function memberState(member, shelterId) {
  const where = member.whereabouts;
  const here = Boolean(where) && where.shelter_id === shelterId;
  return {
    checked: !where || (here && where.status !== "present"),
    disabled: here && where.status === "present",
    elsewhere: Boolean(where) && !here,
  };
}

/**
 * True if everyone shown is present at this shelter already: nothing to check in, the desk says
 * so instead of offering チェックイン. (Members counted as elsewhere are HQ's business.)
 */
export function allPresent(members, shelterId) {
  return members.length > 0 && members.every((member) => {
    const where = member.whereabouts;
    return Boolean(where) && where.shelter_id === shelterId && where.status === "present";
  });
}
