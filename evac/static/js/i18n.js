/* The translation helper. The server translates every text a page's script shows and hands them
 * over in the page's JSON configuration block (`messages`), so scripts hold no UI text of their
 * own; `%(name)s` placeholders are filled as in the server's gettext strings. */

/**
 * A `t(key, vars)` over one page's messages. An unknown key shows itself, so a missing message
 * is visible on screen instead of blank.
 * @param {Record<string, string>} messages
 * @returns {(key: string, vars?: Record<string, unknown>) => string}
 */
export function translator(messages) {
  const table = messages || {};
  return function t(key, vars) {
    const found = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : "";
    let text = typeof found === "string" && found !== "" ? found : key;
    Object.keys(vars || {}).forEach((name) => {
      text = text.split("%(" + name + ")s").join(String(vars[name]));
    });
    return text;
  };
}
