"""Camera frames of a real evac card, as a tablet's back camera sees one held at the desk.

The card is the one residents carry: `printables.cards` draws it, pdftoppm rasterises it, and
Pillow places it in a 1280 × 720 frame (the resolution the desk page asks the camera for) with its
QR symbol a given number of pixels across, tilted, and in normal light, dim light or out of focus.
`bench/camera_decoders.py` measures the decoders on these frames and the camera browser test
plays them to Chromium as a fake camera (`yuv4mpeg2`), so both see the same pictures.

Only Pillow (which reportlab already needs) and poppler-utils' pdftoppm: no numpy.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageChops, ImageEnhance, ImageFilter

from printables import cards as card_pdf

FRAME_SIZE = (1280, 720)
RENDER_DPI = 300
SYMBOL_MODULES = 29  # a version 3 symbol, what the 30-character card payload needs at level Q
LIGHTS = ("normal", "dim", "blur")


@dataclass(frozen=True)
class Shot:
    """One way of holding the card: QR symbol size in frame pixels, tilt in degrees, the light."""

    qr_px: int
    angle: float
    light: str = "normal"

    @property
    def label(self) -> str:
        """A short name for reports, e.g. ``95px 12° dim``."""
        return f"{self.qr_px}px {self.angle:g}° {self.light}"


@cache
def card_image(payload: str, fallback_code: str = "ABCD-EFGH-JKMN") -> Image.Image:
    """The card as printed (91 × 55 mm at 300 dpi, RGB), from the project's own card PDF."""
    card = card_pdf.CardData(ref="camera", name="精華 花子", kana="セイカ ハナコ", household_number="H-0042",
                             district="東畑", payload=payload, fallback_code=fallback_code,
                             issued_on=date(2026, 4, 1))
    pdf, _issues = card_pdf.render_cards([card], card_pdf.CardOptions(town_name="精華町", cut_marks=False))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "card.pdf")
        source.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(RENDER_DPI), "-png", "-singlefile", str(source), str(Path(tmp, "sheet"))],
                       check=True, capture_output=True)
        sheet = Image.open(Path(tmp, "sheet.png")).convert("RGB")
        sheet.load()
    layout = card_pdf.A_ONE_51002
    px = RENDER_DPI / 25.4
    left, top = layout.margin_left * px, layout.margin_top * px
    return sheet.crop((round(left), round(top), round(left + layout.card_width * px),
                       round(top + layout.card_height * px)))


def _qr_centre_and_symbol_px(card: Image.Image) -> tuple[tuple[float, float], float]:
    """Where the QR symbol's centre is on the card image, and its width there, in pixels."""
    px = card.width / card_pdf.CARD_WIDTH
    x, y_from_bottom, box, _ = card_pdf.QR_BOX
    centre = ((x + box / 2) * px, (card_pdf.CARD_HEIGHT - y_from_bottom - box / 2) * px)
    module = box / (SYMBOL_MODULES + 8)
    return centre, SYMBOL_MODULES * module * px


def _background(rng: random.Random) -> Image.Image:
    """A desk seen from above: a grey-brown gradient, not a flat colour a decoder could key on."""
    top = Image.new("RGB", FRAME_SIZE, (118 + rng.randint(-8, 8), 104, 90))
    bottom = Image.new("RGB", FRAME_SIZE, (72, 66, 60))
    mask = Image.linear_gradient("L").resize(FRAME_SIZE)
    return Image.composite(bottom, top, mask)


def frame(payload: str, shot: Shot, *, seed: int = 0) -> Image.Image:
    """One 1280 × 720 RGB frame: the card's QR near the frame centre (where the aiming frame is)."""
    rng = random.Random(f"{seed}-{shot.label}")
    card = card_image(payload)
    (qx, qy), symbol = _qr_centre_and_symbol_px(card)
    scale = shot.qr_px / symbol
    small = card.resize((round(card.width * scale), round(card.height * scale)), Image.Resampling.LANCZOS)
    qx, qy = qx * scale, qy * scale
    # Rotate about the QR centre so the QR stays where the person aimed it.
    rgba = small.convert("RGBA")
    pad = max(rgba.size)
    canvas = Image.new("RGBA", (rgba.width + 2 * pad, rgba.height + 2 * pad), (0, 0, 0, 0))
    canvas.paste(rgba, (pad, pad))
    qx, qy = qx + pad, qy + pad
    rotated = canvas.rotate(shot.angle, resample=Image.Resampling.BICUBIC, center=(qx, qy))
    picture = _background(rng)
    # Hands are not steady: the QR lands a little off the centre, differently in every frame.
    target = (FRAME_SIZE[0] / 2 + rng.uniform(-40, 40), FRAME_SIZE[1] / 2 + rng.uniform(-25, 25))
    picture.paste(rotated, (round(target[0] - qx), round(target[1] - qy)), rotated)
    return _light(picture, shot.light)


def empty_frame(*, seed: int = 0, light: str = "normal") -> Image.Image:
    """The desk with no card in view: what the camera sees while nobody holds one up."""
    return _light(_background(random.Random(f"{seed}-empty")), light)


def _light(picture: Image.Image, light: str) -> Image.Image:
    if light == "dim":
        # An evening gym hall: little light, so low contrast and a raised black level.
        picture = ImageEnhance.Brightness(ImageEnhance.Contrast(picture).enhance(0.45)).enhance(0.55)
    elif light == "blur":
        # The camera focused on the desk behind the card.
        picture = picture.filter(ImageFilter.GaussianBlur(1.6))
    elif light != "normal":
        raise ValueError(f"unknown light {light!r}: one of {', '.join(LIGHTS)}")
    noise = Image.effect_noise(FRAME_SIZE, 10 if light == "dim" else 5).convert("RGB")
    # Sensor noise around mid-grey: added and centred, so the mean brightness stays.
    return ImageChops.add(picture, noise, scale=1.0, offset=-128)


def centre_crop(picture: Image.Image, fraction: float = 0.6, longest: int = 640) -> Image.Image:
    """What the desk page hands its decoder: the central part of the frame, at most `longest` wide.

    Mirrors evac/static/desk/view/camera.js (CROP and MAX_SIDE there)."""
    width, height = picture.size
    cw, ch = round(width * fraction), round(height * fraction)
    left, top = (width - cw) // 2, (height - ch) // 2
    crop = picture.crop((left, top, left + cw, top + ch))
    factor = min(1.0, longest / max(cw, ch))
    return crop.resize((round(cw * factor), round(ch * factor)), Image.Resampling.BILINEAR)


def write_y4m(frames: Iterable[Image.Image], out: BinaryIO, fps: int = 10) -> None:
    """Frames as a YUV4MPEG2 stream (4:2:0), what Chromium's fake camera plays in a loop."""
    frames = list(frames)
    width, height = frames[0].size
    out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
    for picture in frames:
        y, cb, cr = picture.convert("YCbCr").split()
        out.write(b"FRAME\n")
        out.write(y.tobytes())
        half = (width // 2, height // 2)
        out.write(cb.resize(half, Image.Resampling.BOX).tobytes())
        out.write(cr.resize(half, Image.Resampling.BOX).tobytes())
