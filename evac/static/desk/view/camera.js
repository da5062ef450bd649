/* Camera scanning: the browser's BarcodeDetector where it exists, the vendored jsQR (a classic
 * script that sets window.jsQR) otherwise. One tap starts, a second stops; a code read stops
 * the camera and is handed on as a scan. */

import {byId} from "../../js/dom.js";

/**
 * Wire the camera button.
 * @param {object} options
 * @param {(text: string) => void} options.onCode
 * @param {() => void} options.onUnavailable
 */
export function setupCamera({onCode, onUnavailable}) {
  const video = byId("camera");
  let stream = null;

  function stop() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.hidden = true;
  }

  byId("camera-button").addEventListener("click", async () => {
    if (stream) return stop();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return onUnavailable();
    try {
      stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}});
    } catch (err) {
      return onUnavailable();
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const detector = "BarcodeDetector" in window ? new window.BarcodeDetector({formats: ["qr_code"]}) : null;
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", {willReadFrequently: true});
    const tick = async () => {
      if (!stream) return;
      let text = null;
      if (detector) {
        const codes = await detector.detect(video).catch(() => []);
        if (codes.length) text = codes[0].rawValue;
      } else if (window.jsQR && video.videoWidth) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        context.drawImage(video, 0, 0);
        const code = window.jsQR(context.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
        if (code) text = code.data;
      }
      if (text) {
        stop();
        onCode(text);
        return;
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}
