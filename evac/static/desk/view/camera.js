/* Camera scanning, the same on every tablet: an iPad's Safari has no BarcodeDetector, so the
 * decoder is ours (camera-worker.js: ZXing in WebAssembly, jsQR as its fallback) and runs in a
 * worker. The page never decodes: it copies the centre of the picture (what the aiming frame
 * shows, scaled to at most 640 px) about ten times a second, and only while the worker is idle,
 * so the page stays responsive whatever a frame costs to decode.
 *
 * Before, jsQR read every animation frame at full camera size on the main thread: a card at a
 * realistic distance (its QR ~95 px in 1280 × 720) was never read and each unread frame froze the
 * page for 0.4–2.6 s (bench/camera_decoders.py).
 *
 * One tap on カメラ starts, a second stops; a code read stops the camera and is handed on as a
 * scan, the same path as a scanner's line. After TIMEOUT_MS without a read the camera stops and
 * the page says what to try, with 「もう一度」. The texts are in the template (desk.html).
 *
 * For tests and field checks the page marks `camera-start` and `camera-read` with
 * performance.mark, and the view carries the decoder in data-decoder and its state (scanning,
 * timeout) in data-state. */

import {byId} from "../../js/dom.js";

// The share of the picture's width and height the aiming frame covers (desk.css: .camera-aim).
export const CROP = 0.6;
// Longest side handed to the decoder: a 95 px QR keeps ~2.7 px a module, a frame decodes in a few ms.
export const MAX_SIDE = 640;
const FRAME_INTERVAL_MS = 100;
export const TIMEOUT_MS = 20000;
const WORKER_URL = new URL("../camera-worker.js", import.meta.url);

/**
 * Where in the video picture the decoder looks, and at what size it gets it.
 * @param {number} width the video's width in pixels
 * @param {number} height the video's height in pixels
 * @returns {{sx: number, sy: number, sw: number, sh: number, dw: number, dh: number}}
 */
export function cropFor(width, height) {
  const sw = Math.round(width * CROP);
  const sh = Math.round(height * CROP);
  const scale = Math.min(1, MAX_SIDE / Math.max(sw, sh));
  return {
    sx: Math.floor((width - sw) / 2), sy: Math.floor((height - sh) / 2), sw, sh,
    dw: Math.max(1, Math.round(sw * scale)), dh: Math.max(1, Math.round(sh * scale)),
  };
}

/**
 * Wire the camera button.
 * @param {object} options
 * @param {(text: string) => void} options.onCode
 * @param {() => void} options.onUnavailable
 */
export function setupCamera({onCode, onUnavailable}) {
  const view = byId("camera-view");
  const video = byId("camera");
  const status = byId("camera-status");
  const timedOut = byId("camera-timeout");
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", {willReadFrequently: true});
  let worker = null;
  let stream = null;
  let busy = false;
  let timer = null;
  let deadline = null;
  let frameId = 0;
  let starting = false;

  function ensureWorker() {
    if (worker) return worker;
    busy = false;
    worker = new Worker(WORKER_URL);
    worker.addEventListener("message", (event) => {
      const message = event.data;
      if (message.type === "ready") {
        view.dataset.decoder = message.decoder;
        return;
      }
      busy = false;
      if (!stream || !message.text) return;
      performance.mark("camera-read");
      stop();
      onCode(message.text);
    });
    worker.addEventListener("error", () => {
      // Neither decoder loaded: the camera cannot read anything on this browser.
      worker = null;
      stop();
      onUnavailable();
    });
    return worker;
  }

  function stopStream() {
    clearInterval(timer);
    clearTimeout(deadline);
    timer = deadline = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    // `busy` stays as it is: a frame still being decoded keeps the worker busy after a stop, and
    // its answer (ignored, the camera being off) is what frees it for the next start.
  }

  function stop() {
    stopStream();
    view.hidden = true;
    delete view.dataset.state;
  }

  function giveUp() {
    stopStream();
    status.hidden = true;
    video.parentElement.hidden = true;
    timedOut.hidden = false;
    view.dataset.state = "timeout";
  }

  function sendFrame() {
    // No backlog: a frame is taken only when the worker has answered the last one.
    if (!stream || busy || video.readyState < 2 || !video.videoWidth) return;
    const crop = cropFor(video.videoWidth, video.videoHeight);
    if (canvas.width !== crop.dw || canvas.height !== crop.dh) {
      canvas.width = crop.dw;
      canvas.height = crop.dh;
    }
    context.drawImage(video, crop.sx, crop.sy, crop.sw, crop.sh, 0, 0, crop.dw, crop.dh);
    const image = context.getImageData(0, 0, crop.dw, crop.dh);
    busy = true;
    frameId += 1;
    worker.postMessage({id: frameId, image}, [image.data.buffer]);
  }

  async function start() {
    if (starting || stream) return;
    starting = true;
    try {
      await open();
    } finally {
      starting = false;
    }
  }

  async function open() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !("Worker" in window)) return onUnavailable();
    ensureWorker();
    try {
      // The back camera at 720p: enough pixels for a card at arm's length, little to copy.
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: {facingMode: "environment", width: {ideal: 1280}, height: {ideal: 720}},
      });
    } catch (err) {
      stream = null;
      return onUnavailable();
    }
    view.hidden = false;
    video.parentElement.hidden = false;
    status.hidden = false;
    timedOut.hidden = true;
    video.srcObject = stream;
    try {
      await video.play();
    } catch (err) {
      // Autoplay refused: frames still arrive once the video has data (playsinline, muted).
    }
    if (!stream) return; // stopped while starting
    // The picture box takes the camera's own shape, so the aiming frame (60 % of the box) covers
    // exactly the part of the picture that is decoded, whatever resolution the camera gave.
    if (video.videoWidth) video.parentElement.style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
    performance.mark("camera-start");
    view.dataset.state = "scanning";
    timer = setInterval(sendFrame, FRAME_INTERVAL_MS);
    deadline = setTimeout(giveUp, TIMEOUT_MS);
  }

  byId("camera-button").addEventListener("click", () => (stream ? stop() : start()));
  byId("camera-retry").addEventListener("click", () => start());
  byId("camera-close").addEventListener("click", () => stop());
  // A tablet put down with the page in the background does not keep its camera on.
  document.addEventListener("visibilitychange", () => { if (document.hidden && stream) stop(); });
}
