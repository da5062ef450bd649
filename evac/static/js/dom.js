/* Small DOM helpers shared by the pages. Only functions: nothing runs at import. */

/** The element with this id. */
export const byId = (id) => document.getElementById(id);

/** The parsed `<script type="application/json" id=…>` configuration block of the page. */
export function readConfig(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

/** The CSRF token the server put in the page's meta tag ("" on pages without one). */
export function csrfFromMeta() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/**
 * An element with attributes and children: `text` sets textContent, `class` the class name,
 * data-/aria- and a few plain attributes are set as attributes, anything else as a property.
 */
export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  Object.keys(attrs || {}).forEach((key) => {
    const value = attrs[key];
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || ["role", "title", "type", "href"].includes(key)) {
      node.setAttribute(key, value);
    } else node[key] = value;
  });
  (children || []).forEach((child) => { if (child !== null && child !== undefined) node.append(child); });
  return node;
}
