/* The desk camera's QR decoder, off the page's main thread.
 *
 * A classic worker (importScripts), not a module worker: iPad Safari 15 has no module workers.
 * The page (view/camera.js) sends one frame at a time — the centre of the camera picture,
 * at most 640 px wide, as ImageData whose pixels are transferred, not copied — and waits for the
 * answer before it sends the next, so frames never queue up here.
 *
 * Decoder: ZXing-C++ compiled to WebAssembly (vendor/zxing-wasm). bench/camera_decoders.py
 * measured it on the real card: it reads small (95 px), tilted, dim and defocused codes that jsQR
 * misses, in ~10 ms a frame where jsQR takes 100–1000 ms. jsQR stays as the fallback for a
 * browser where the WebAssembly module does not load (an old engine, a policy without
 * 'wasm-unsafe-eval').
 *
 * Messages in:  {id, image: ImageData}
 * Messages out: {type: "ready", decoder}, then for each frame {type: "result", id, text, ms}
 *               (text null when nothing was read).
 */
"use strict";

// Keep in step with bench/camera_decoders.mjs, which measured these options.
// tryRotate turns the picture by 90° steps for 1-D codes; a QR symbol is found at any angle.
// Cards are printed dark on light, so inverted codes are not looked for.
const ZXING_OPTIONS = {formats: ["QRCode"], tryHarder: true, tryRotate: false, tryInvert: false, maxNumberOfSymbols: 1};
const JSQR_OPTIONS = {inversionAttempts: "dontInvert"};
const VENDOR = new URL("../vendor/", self.location.href).href;

function loadZxing() {
  importScripts(VENDOR + "zxing-wasm/zxing_reader.js");
  return self.ZXingWASM.prepareZXingModule({
    overrides: {locateFile: (path) => VENDOR + "zxing-wasm/" + path},
    fireImmediately: true,
  }).then(() => async (image) => {
    const results = await self.ZXingWASM.readBarcodes(image, ZXING_OPTIONS);
    return results.length && results[0].isValid ? results[0].text : null;
  });
}

function loadJsqr() {
  importScripts(VENDOR + "jsqr/jsQR.js");
  return async (image) => {
    const code = self.jsQR(image.data, image.width, image.height, JSQR_OPTIONS);
    return code ? code.data : null;
  };
}

const ready = new Promise((resolve) => resolve(loadZxing()))
  .then((decode) => ({name: "zxing-wasm", decode}))
  .catch(() => ({name: "jsQR", decode: loadJsqr()}))
  .then((decoder) => {
    self.postMessage({type: "ready", decoder: decoder.name});
    return decoder;
  });

self.addEventListener("message", async (event) => {
  const {id, image} = event.data;
  const decoder = await ready;
  const start = performance.now();
  let text = null;
  try {
    text = await decoder.decode(image);
  } catch (err) {
    text = null; // a frame the decoder chokes on is a frame without a code; the next one comes
  }
  self.postMessage({type: "result", id, text, ms: performance.now() - start});
});
