"""A Chromium whose camera plays a rendered evac card, for the desk camera's browser tests.

Chromium's fake capture device (`--use-fake-device-for-media-stream`) plays a YUV4MPEG2 file in
a loop (`--use-file-for-fake-video-capture`); the file is made here from the real card
(bench/camera_frames.py), so the page gets 1280 × 720 pictures of a card at a chosen size, tilt
and light, a little off-centre in each frame. The camera file is given at launch, so each test
gets its own Chromium, launched through the session's Playwright (a second one cannot start).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.camera_frames import Shot, empty_frame, frame, write_y4m
from tests.conftest import CHROMIUM

# Watches the page's main thread from before any page script runs: every long task (a task
# over 50 ms, as the browser reports them) and the gaps between animation frames, each with
# its performance.now() time, so a test can look at the span between camera-start and
# camera-read (view/camera.js marks both).
PROBE = """
(() => {
  const probe = window.__probe = {longTasks: [], frames: []};
  try {
    // Held on the probe: an observer nothing refers to may be collected, and then reports nothing.
    probe.observer = new PerformanceObserver((list) => list.getEntries().forEach((e) =>
      probe.longTasks.push({start: e.startTime, duration: e.duration})));
    probe.observer.observe({type: "longtask", buffered: true});
    probe.observing = true;
  } catch (err) { probe.observing = false; }
  const beat = (now) => { probe.frames.push(now); requestAnimationFrame(beat); };
  requestAnimationFrame(beat);
})();
"""


def write_card_video(path: Path, payload: str, shot: Shot | None, frames: int = 6) -> Path:
    """A y4m of `frames` pictures of the card (or of the empty desk when `shot` is None)."""
    pictures = []
    for seed in range(frames):
        pictures.append(empty_frame(seed=seed) if shot is None else frame(payload, shot, seed=seed))
    with path.open("wb") as out:
        write_y4m(pictures, out)
    return path


@contextmanager
def camera_browser(browser: Any, video: Path) -> Iterator[Any]:
    """A headless Chromium whose only camera plays `video`; the camera is allowed without asking."""
    launched = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--no-first-run", "--disable-quic",
              "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              f"--use-file-for-fake-video-capture={video}"])
    try:
        yield launched
    finally:
        launched.close()


def scanning_span(page: Any) -> dict[str, Any]:
    """From the page's own clock: camera-start → camera-read, the long tasks and the largest gap
    between animation frames inside that span (milliseconds)."""
    return page.evaluate("""() => {
      const mark = (name) => {
        const marks = performance.getEntriesByName(name);
        return marks.length ? marks[marks.length - 1].startTime : null;
      };
      const start = mark("camera-start"), read = mark("camera-read");
      const end = read === null ? performance.now() : read;
      const probe = window.__probe;
      const inside = probe.frames.filter((t) => t >= start && t <= end);
      let gap = 0;
      for (let i = 1; i < inside.length; i++) gap = Math.max(gap, inside[i] - inside[i - 1]);
      return {start, read, readMs: read === null ? null : read - start, maxFrameGapMs: gap, frames: inside.length,
              observing: probe.observing,
              longTasks: probe.longTasks.filter((t) => t.start + t.duration >= start && t.start <= end)};
    }""")
