// The pages as files: the service worker caches every module the desk imports; templates hold
// no inline scripts or event handlers (a Content-Security-Policy without 'unsafe-inline' will
// come); page scripts hold no UI text of their own.
import assert from "node:assert/strict";
import {existsSync, readdirSync, readFileSync, statSync} from "node:fs";
import {dirname, join, relative, resolve} from "node:path";
import {describe, it} from "node:test";
import {fileURLToPath} from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const STATIC = join(ROOT, "evac/static");
const TEMPLATES = join(ROOT, "evac/templates");

function files(dir, test) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path, test) : test(path) ? [path] : [];
  });
}

/** Static imports of a module, as file paths. */
function imports(path) {
  const source = readFileSync(path, "utf8");
  return Array.from(source.matchAll(/^\s*import\s+(?:[^"']*?\s+from\s+)?["']([^"']+)["']/gm), (m) => resolve(dirname(path), m[1]));
}

/** A module and everything it imports, transitively. */
function graph(entry) {
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path)) return;
    assert.ok(existsSync(path), relative(ROOT, path) + " is imported but missing");
    seen.add(path);
    imports(path).forEach(visit);
  };
  visit(entry);
  return seen;
}

const url = (path) => "/static/" + relative(STATIC, path).split("\\").join("/");

describe("the desk's service worker", () => {
  const sw = readFileSync(join(STATIC, "desk/sw.js"), "utf8");
  const assets = JSON.parse(sw.match(/const ASSETS = (\[[\s\S]*?\]);/)[1].replace(/,\s*\]/, "]"));

  it("caches every module the desk page imports", () => {
    const needed = Array.from(graph(join(STATIC, "desk/main.js")), url);
    const missing = needed.filter((path) => !assets.includes(path));
    assert.deepEqual(missing, []);
  });

  it("caches the classic scripts and styles the desk template loads", () => {
    const template = readFileSync(join(TEMPLATES, "desk/desk.html"), "utf8") + readFileSync(join(TEMPLATES, "base.html"), "utf8");
    const loaded = Array.from(template.matchAll(/url_for\('static', filename='([^']+)'\)/g), (m) => "/static/" + m[1]);
    assert.ok(loaded.includes("/static/desk/main.js"));
    assert.deepEqual(loaded.filter((path) => !assets.includes(path)), []);
  });

  it("lists only files that exist (cache.addAll fails whole on one 404)", () => {
    assert.deepEqual(assets.filter((path) => !existsSync(join(STATIC, path.slice("/static/".length)))), []);
  });

  it("uses the cache the desk page adds itself to", () => {
    const cache = sw.match(/const CACHE = "([^"]+)"/)[1];
    assert.match(readFileSync(join(STATIC, "desk/main.js"), "utf8"), new RegExp(`const CACHE = "${cache}"`));
    assert.ok(cache.startsWith("evac-desk")); // what js/login.js clears at login
  });
});

describe("templates", () => {
  const templates = files(TEMPLATES, (path) => path.endsWith(".html"));

  it("have no inline executable scripts: only JSON blocks and external modules", () => {
    const bad = [];
    for (const path of templates) {
      const html = readFileSync(path, "utf8");
      for (const match of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
        const [, attrs, body] = match;
        const json = /type=["']application\/json["']/i.test(attrs);
        const external = /\bsrc=/i.test(attrs);
        if (!json && !(external && body.trim() === "")) bad.push(relative(ROOT, path) + ": <script" + attrs + ">");
      }
    }
    assert.deepEqual(bad, []);
  });

  it("have no inline event handlers or javascript: URLs", () => {
    const bad = [];
    for (const path of templates) {
      const html = readFileSync(path, "utf8");
      for (const match of html.matchAll(/<[a-z][^>]*?\s(on[a-z]+)\s*=|(?:href|src|action)\s*=\s*["']\s*javascript:/gi)) {
        bad.push(relative(ROOT, path) + ": " + match[0]);
      }
    }
    assert.deepEqual(bad, []);
  });

  it("load page scripts as modules", () => {
    const classic = [];
    for (const path of templates) {
      const html = readFileSync(path, "utf8");
      for (const match of html.matchAll(/<script\b([^>]*\bsrc=[^>]*)>/gi)) {
        const attrs = match[1];
        // The vendored libraries are classic scripts that set a global (window.L, window.jsQR).
        if (!/type=["']module["']/.test(attrs) && !/vendor\//.test(attrs)) classic.push(relative(ROOT, path) + ": " + attrs);
      }
    }
    assert.deepEqual(classic, []);
  });
});

describe("page scripts", () => {
  const scripts = files(STATIC, (path) => path.endsWith(".js") && !path.includes("/vendor/"));
  // Kana and kanji; the middle dot ・ and long-vowel mark ー are punctuation.
  const JAPANESE = /[\u3041-\u3096\u30a1-\u30fa\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]/;

  it("hold no Japanese text outside comments: every UI text comes from the server's messages", () => {
    const bad = [];
    for (const path of scripts) {
      const code = readFileSync(path, "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/(^|[^:"'\\])\/\/.*$/gm, "$1");
      code.split("\n").forEach((line, i) => { if (JAPANESE.test(line)) bad.push(relative(ROOT, path) + ":" + (i + 1) + ": " + line.trim()); });
    }
    assert.deepEqual(bad, []);
  });

  it("are all modules the Node runner can load (package.json type: module)", () => {
    assert.equal(JSON.parse(readFileSync(join(STATIC, "package.json"), "utf8")).type, "module");
  });
});
