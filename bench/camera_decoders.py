"""Which QR decoder reads a card held up to a tablet's camera: zxing-wasm or jsQR, same frames,
and how the desk's camera worker (ZXing, then ZXing on the frame sharpened) does on them.

Renders the evac card (bench/camera_frames.py) with its QR symbol 95, 120 and 160 px across in a
1280 × 720 frame, tilted 0°, 5° and 12°, in normal light, dim light and out of focus, a few frames
each (the card lands a little off-centre, the noise differs), and hands them to
bench/camera_decoders.mjs, which decodes each frame with the desk's worker script itself and with
both vendored decoders on their own, and prints the read rate and milliseconds per frame. Two
inputs per frame:

* ``crop``: what the desk page sends its worker, the central 60 % scaled to at most 640 px;
* ``full``: the whole 1280 × 720 frame, as the page decoded before (one frame per 95 px shot
  only: jsQR spends 0.4–2.6 s on a full frame it cannot read).

    .venv/bin/python -m bench.camera_decoders [--frames 3]

Takes a minute or two on one core. Node runs the decoders: the page's own decoder code, not a
Python port of it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from itertools import product
from pathlib import Path

from bench.camera_frames import LIGHTS, Shot, centre_crop, frame

PAYLOAD = "EV1:AAAAAKYAAAAB4XR7MZQJ2KD5LU"
SIZES = (95, 120, 160)
ANGLES = (0, 5, 12)
SCRIPT = Path(__file__).with_name("camera_decoders.mjs")


def write_frames(directory: Path, per_shot: int) -> None:
    """The frames as raw RGBA files and a manifest for the Node script."""
    frames = []
    for size, angle, light in product(SIZES, ANGLES, LIGHTS):
        shot = Shot(size, angle, light)
        for seed in range(per_shot):
            picture = frame(PAYLOAD, shot, seed=seed)
            inputs = [("crop", centre_crop(picture))]
            if seed == 0 and size == SIZES[0]:
                inputs.append(("full", picture))
            for mode, image in inputs:
                name = f"{size}-{angle}-{light}-{seed}-{mode}.rgba"
                (directory / name).write_bytes(image.convert("RGBA").tobytes())
                frames.append({"file": name, "mode": mode, "shot": shot.label, "width": image.width,
                               "height": image.height})
    manifest = {"payload": PAYLOAD, "modes": ["crop", "full"], "frames": frames}
    (directory / "manifest.json").write_text(json.dumps(manifest))


def main(argv: list[str] | None = None) -> int:
    """Write the frames, run the decoders on them, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=3, help="frames per shot (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        write_frames(Path(tmp), args.frames)
        return subprocess.run(["node", str(SCRIPT), tmp], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
