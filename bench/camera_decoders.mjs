/* Decode the frames bench/camera_decoders.py wrote with the two vendored decoders the desk page
 * can use — ZXing-C++ (zxing-wasm) and jsQR — and print read rate and milliseconds per frame.
 * Both get the same RGBA pixels and the options the desk's camera worker uses.
 *
 *   node bench/camera_decoders.mjs DIR   (DIR holds manifest.json and the .rgba frames)
 */

import {readFileSync} from "node:fs";
import {join, dirname} from "node:path";
import {fileURLToPath} from "node:url";
import {performance} from "node:perf_hooks";
import vm from "node:vm";

const VENDOR = join(dirname(fileURLToPath(import.meta.url)), "..", "evac", "static", "vendor");

// The worker loads both files with importScripts, as classic scripts: run them so here too.
const worker = {console, setTimeout, clearTimeout, WebAssembly, TextDecoder, TextEncoder, URL, performance};
worker.self = worker;
vm.createContext(worker);
for (const file of ["jsqr/jsQR.js", "zxing-wasm/zxing_reader.js"]) {
  vm.runInContext(readFileSync(join(VENDOR, file), "utf8"), worker, {filename: file});
}
vm.runInContext("self.ZXingWASM = ZXingWASM;", worker);
const {jsQR, ZXingWASM: ZXing} = worker;
await ZXing.prepareZXingModule({
  overrides: {wasmBinary: readFileSync(join(VENDOR, "zxing-wasm", "zxing_reader.wasm")), locateFile: (path) => path},
  fireImmediately: true,
});

// Keep in step with evac/static/desk/camera-worker.js.
const ZXING_OPTIONS = {formats: ["QRCode"], tryHarder: true, tryRotate: false, tryInvert: false, maxNumberOfSymbols: 1};
const JSQR_OPTIONS = {inversionAttempts: "dontInvert"};

const decoders = {
  "zxing-wasm": async (image) => {
    const results = await ZXing.readBarcodes(image, ZXING_OPTIONS);
    return results.length && results[0].isValid ? results[0].text : null;
  },
  jsQR: async (image) => {
    const code = jsQR(image.data, image.width, image.height, JSQR_OPTIONS);
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
