/* Decode the frames bench/camera_decoders.py wrote with what the desk page can use — its camera
 * worker (evac/static/desk/camera-worker.js, run here as is), and the two vendored decoders on
 * their own, ZXing-C++ (zxing-wasm) and jsQR — and print read rate and milliseconds per frame.
 * All get the same RGBA pixels and the options the worker uses.
 *
 *   node bench/camera_decoders.mjs DIR   (DIR holds manifest.json and the .rgba frames)
 */

import {readFileSync} from "node:fs";
import {join, dirname} from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";
import {performance} from "node:perf_hooks";
import vm from "node:vm";

const STATIC = join(dirname(fileURLToPath(import.meta.url)), "..", "evac", "static");
const WORKER_URL = pathToFileURL(join(STATIC, "desk", "camera-worker.js")).href;

// The desk's own worker script, run here as the browser runs it: a classic script with
// importScripts, a message handler and postMessage, fetching the .wasm beside zxing_reader.js.
// It runs in this process's own global scope (a vm context would make its pixel loops ~50× slower).
const replies = [];
const worker = globalThis;
Object.assign(worker, {
  self: worker,
  location: {href: WORKER_URL},
  importScripts: (url) => vm.runInThisContext(readFileSync(fileURLToPath(url), "utf8"), {filename: url}),
  fetch: async (url) => new Response(readFileSync(fileURLToPath(String(url))), {headers: {"content-type": "application/wasm"}}),
  addEventListener: (type, handler) => { if (type === "message") worker.onmessage = handler; },
  postMessage: (message) => { const reply = replies.shift(); if (reply) reply(message); },
});
vm.runInThisContext(readFileSync(fileURLToPath(WORKER_URL), "utf8"), {filename: WORKER_URL});
const ask = () => new Promise((resolve) => replies.push(resolve));
const ready = await ask();
if (ready.decoder !== "zxing-wasm") throw new Error(`the worker loaded ${ready.decoder}, not zxing-wasm`);
// The same options and loaded module the worker uses, for the decoders on their own.
const ZXING_OPTIONS = vm.runInThisContext("ZXING_OPTIONS");
const JSQR_OPTIONS = vm.runInThisContext("JSQR_OPTIONS");
worker.importScripts(new URL("../vendor/jsqr/jsQR.js", WORKER_URL).href);

let frameId = 0;
const decoders = {
  // What the desk page gets: ZXing on the frame, then on the frame sharpened.
  "desk worker": async (image) => {
    const reply = ask();
    worker.onmessage({data: {id: ++frameId, image}});
    return (await reply).text;
  },
  "zxing-wasm": async (image) => {
    const results = await worker.ZXingWASM.readBarcodes(image, ZXING_OPTIONS);
    return results.length && results[0].isValid ? results[0].text : null;
  },
  jsQR: async (image) => {
    const code = worker.jsQR(image.data, image.width, image.height, JSQR_OPTIONS);
    return code ? code.data : null;
  },
};

const dir = process.argv[2];
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
const rows = [];
for (const [name, decode] of Object.entries(decoders)) {
  for (const mode of manifest.modes) {
    const groups = new Map();
    for (const item of manifest.frames.filter((f) => f.mode === mode)) {
      const bytes = readFileSync(join(dir, item.file));
      const image = {data: new Uint8ClampedArray(bytes.buffer, bytes.byteOffset, bytes.length), width: item.width, height: item.height};
      const start = performance.now();
      const text = await decode(image);
      const ms = performance.now() - start;
      const group = groups.get(item.shot) || {reads: 0, frames: 0, ms: 0, worst: 0};
      group.frames += 1;
      group.reads += text === manifest.payload ? 1 : 0;
      group.ms += ms;
      group.worst = Math.max(group.worst, ms);
      groups.set(item.shot, group);
    }
    let reads = 0, frames = 0, ms = 0, worst = 0;
    for (const [shot, group] of groups) {
      rows.push([name, mode, shot, `${group.reads}/${group.frames}`, (group.ms / group.frames).toFixed(1), group.worst.toFixed(0)]);
      reads += group.reads; frames += group.frames; ms += group.ms; worst = Math.max(worst, group.worst);
    }
    rows.push([name, mode, "ALL", `${reads}/${frames} (${Math.round(100 * reads / frames)} %)`, (ms / frames).toFixed(1), worst.toFixed(0)]);
  }
}
const head = ["decoder", "input", "shot", "read", "ms/frame", "worst ms"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join("  ");
console.log(line(head));
for (const r of rows) console.log(line(r));
