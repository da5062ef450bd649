/* The desk camera's QR decoder, off the page's main thread.
 *
 * A classic worker (importScripts), not a module worker: iPad Safari 15 has no module workers.
 * The page (view/camera.js) sends one frame at a time — the centre of the camera picture,
 * at most 640 px wide, as ImageData whose pixels are transferred, not copied — and waits for the
 * answer before it sends the next, so frames never queue up here.
 *
 * Decoder: ZXing-C++ compiled to WebAssembly (vendor/zxing-wasm). bench/camera_decoders.py
 * measured it on the real card: on the 640 px crop it reads small (95 px), tilted and dim codes
 * that jsQR misses (89 % of frames against 59 %), in ~2 ms a frame where jsQR takes 12–220 ms;
 * with the sharpened second try below, 100 %. jsQR stays as the fallback for a
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

/**
 * The picture in grey with its edges sharpened (an unsharp mask: the picture plus 1.5 × its
 * difference from a 5 × 5 box blur). An out-of-focus card whose modules have run into each other
 * reads again: bench/camera_decoders.py, a 95 px card blurred by 1.6 px, 0 of 9 frames plain and
 * 8 of 9 sharpened.
 * @param {{data: Uint8ClampedArray, width: number, height: number}} image RGBA
 * @returns {{data: Uint8ClampedArray, width: number, height: number}}
 */
function sharpened(image) {
  const {width, height, data} = image;
  const count = width * height;
  const grey = new Float32Array(count);
  for (let i = 0; i < count; i++) grey[i] = 0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2];
  const across = new Float32Array(count);
  const blurred = new Float32Array(count);
  const R = 2;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let sum = 0, n = 0;
      for (let k = Math.max(0, x - R); k <= Math.min(width - 1, x + R); k++) { sum += grey[row + k]; n++; }
      across[row + x] = sum / n;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0, n = 0;
      for (let k = Math.max(0, y - R); k <= Math.min(height - 1, y + R); k++) { sum += across[k * width + x]; n++; }
      blurred[y * width + x] = sum / n;
    }
  }
  const out = new Uint8ClampedArray(count * 4);
  for (let i = 0; i < count; i++) {
    const value = grey[i] + 1.5 * (grey[i] - blurred[i]);
    out[4 * i] = out[4 * i + 1] = out[4 * i + 2] = value;
    out[4 * i + 3] = 255;
  }
  return {data: out, width, height};
}

/** The frame as it came, then (ZXing only: jsQR is too slow for two goes) sharpened. */
async function readFrame(decoder, image) {
  const text = await decoder.decode(image);
  if (text || decoder.name !== "zxing-wasm") return text;
  return decoder.decode(sharpened(image));
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
    text = await readFrame(decoder, image);
  } catch (err) {
    text = null; // a frame the decoder chokes on is a frame without a code; the next one comes
  }
  self.postMessage({type: "result", id, text, ms: performance.now() - start});
});
