/* The paper evacuee card (避難者カード) typed in: form fields to the check-in's `person`. Pure:
 * `data` is a FormData (or anything with get, getAll and has). */

/** The `person` of a walk-in check-in from the form's data. */
export function personFromForm(data) {
  const value = (name) => {
    const v = String(data.get(name) || "").trim();
    return v || null;
  };
  return {
    family_name: value("family_name"), given_name: value("given_name") || "",
    family_name_kana: value("family_name_kana"), given_name_kana: value("given_name_kana") || "",
    birth_date: value("birth_date"), sex: value("sex"), address: value("address"),
    postal_code: value("postal_code"), phone: value("phone"), nationality: value("nationality"),
    language: value("language"), allergy: value("allergy"), condition_note: value("condition_note"),
    relationship: value("relationship"),
    needs: data.getAll("needs"), pets: Number(data.get("pets") || 0),
    consent: {
      relatives: data.has("consent_relatives"),
      acquaintances: data.has("consent_acquaintances"),
      public: data.has("consent_public"),
    },
  };
}

/** Where the new person's QR card is printed, so their next visit is one scan. */
export function cardUrl(shelterId, personId) {
  return "/desk/" + shelterId + "/cards/" + personId + ".pdf";
}

// Name separators on a card and as people type them (ASCII and ideographic space, middle dots).
const NAME_SEPARATOR = /[\s\u3000\u30fb\uff65]+/;
const SEX_CODES = {"1": "male", "2": "female", "0": "other", "3": "other", "9": "other",
                   male: "male", female: "female", other: "other"};

/**
 * The walk-in form's values from a My Number card's four basic items, normalised as the server
 * does when it matches a card: NFKC, the name split at its first space into family and given
 * name, `YYYYMMDD` as an ISO date, the ISO 5218 sex code (1, 2; 0, 3 and 9 are "other").
 * @param {{name: string, address: string, birth_date: string, sex: string}} card
 */
export function personFromCard(card) {
  const fold = (text) => String(text || "").normalize("NFKC").trim();
  const parts = fold(card.name).split(NAME_SEPARATOR);
  const birth = fold(card.birth_date);
  return {
    family_name: parts[0] || "",
    given_name: parts.slice(1).join(" "),
    birth_date: /^\d{8}$/.test(birth) ? birth.slice(0, 4) + "-" + birth.slice(4, 6) + "-" + birth.slice(6) : birth,
    sex: SEX_CODES[fold(card.sex).toLowerCase()] || "",
    address: fold(card.address),
  };
}

// Half-width katakana (ｱ–ﾝ, ｰ, ﾞ ﾟ): what some keyboards and IMEs type into a フリガナ field.
const HALF_WIDTH_KANA = /[\uff61-\uff9f]/;

/** A kana field's value with half-width katakana made full-width (NFKC joins ﾀﾞ into ダ); else as typed. */
export function foldKana(text) {
  return HALF_WIDTH_KANA.test(text) ? text.normalize("NFKC") : text;
}

/** The family members one walk-in may bring (the check-in's `family`, FAMILY_LIMIT in evac/checkin/schemas.py). */
export const FAMILY_LIMIT = 19;

// A family member's fields, as the compact block on the walk-in form names them (data-field).
const MEMBER_TEXT = ["family_name", "given_name", "family_name_kana", "given_name_kana", "relationship",
                     "birth_date", "sex", "allergy"];

/**
 * A family member of the check-in's `family` from one member block's values: text trimmed, kana
 * folded as the holder's is, an empty family name (or its kana) left out so the holder's is used.
 * @param {{[field: string]: string, needs?: string[]}} values
 */
export function memberFromValues(values) {
  const member = {};
  MEMBER_TEXT.forEach((field) => {
    let v = String(values[field] || "").trim();
    if (field.endsWith("_kana")) v = foldKana(v);
    if (v) member[field] = v;
    else if (field === "relationship" || field === "allergy") member[field] = null;
  });
  member.needs = Array.from(values.needs || []);
  return member;
}

/**
 * The body of a walk-in check-in: the card holder, their family (if any) and, in "add to this
 * household" mode, the household they join.
 * @param {{shelterId: number, clientId: string, person: object, family?: object[], householdId?: number|null}} walkIn
 */
export function walkInBody({shelterId, clientId, person, family = [], householdId = null}) {
  const body = {shelter_id: shelterId, client_id: clientId,
                person: householdId ? Object.assign({}, person, {household_id: householdId}) : person};
  if (family.length) body.family = family;
  // The desk shows the whole household after a family's check-in (or an extended household's).
  if (family.length || householdId) body.include_household = true;
  return body;
}
