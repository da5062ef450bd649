/* Numbers and times on the HQ pages: Japanese digit grouping, Tokyo time. Pure. */

const numbers = new Intl.NumberFormat("ja-JP");

/** 12,345 (null and undefined as 0). */
export const num = (n) => numbers.format(n || 0);

/** HH:MM:SS in Tokyo. */
export const clock = (iso) => new Date(iso).toLocaleTimeString("ja-JP", {
  timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

/** HH:MM in Tokyo. */
export const hourLabel = (iso) => new Date(iso).toLocaleTimeString("ja-JP", {
  timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit",
});

/** A fill ratio as a whole percentage. */
export const pct = (fill) => Math.round(fill * 100);

/** "たった今", "5分前", "3時間前", "2日前" through the page's messages; "—" without a time. */
export function ago(iso, t, now = Date.now()) {
  if (!iso) return "—";
  const minutes = Math.floor((now - new Date(iso).getTime()) / 60000);
  if (minutes < 1) return t("just_now");
  if (minutes < 60) return t("minutes_ago", {n: minutes});
  if (minutes < 48 * 60) return t("hours_ago", {n: Math.floor(minutes / 60)});
  return t("days_ago", {n: Math.floor(minutes / 1440)});
}
