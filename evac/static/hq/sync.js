/* The sync state to the victim-support system, as HQ reads it. Pure. */

/** The connectors that actually send (http or csv). */
export function syncEnabled(connector) {
  return connector === "http" || connector === "csv";
}

/** A shelter's sync cell: its class and text. */
export function syncCell(enabled, state, t) {
  if (!enabled) return {className: "sync sync-off", text: t("sync.off")};
  if (!state) return {className: "sync", text: t("sync.unknown")};
  return {className: "sync sync-" + state.state, text: t("sync." + state.state, {n: state.pending})};
}

/**
 * The banner over the table for the sync status answer, or null when nothing is configured.
 * @returns {{text: string, bad: boolean} | null}
 */
export function syncBanner(status, {t, num, clock}) {
  const active = ((status && status.connectors) || []).filter((c) => c.configured);
  if (!active.length) return null;
  const c = active[0];
  const parts = [t("sync.pending", {n: num(c.backlog)})];
  if (c.parked_events) parts.push(t("sync.parked", {n: num(c.parked_events)}));
  if (c.last_success_at) parts.push("✓ " + clock(c.last_success_at));
  if (c.last_error) {
    parts.push("⚠ " + clock(c.last_error.at) + " " + (c.last_error.code || "") +
      (c.last_error.http_status ? " (" + c.last_error.http_status + ")" : ""));
  }
  return {text: c.name + ": " + parts.join(" · "), bad: Boolean(c.parked_events || c.last_error)};
}
