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
