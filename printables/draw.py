"""Drawing helpers shared by the printables: canvases with the embedded font, text, boxes, QR codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from reportlab import rl_config
from reportlab.lib.rl_accel import escapePDF
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from printables import qr
from printables.fonts import Fitted, Font, fit

__all__ = ["checkbox", "drill_mark", "fitted_text", "mm", "new_canvas", "plain_streams", "qr_code", "text"]

DRILL_TEXT = "訓練 DRILL"
DRILL_NOTE = "訓練用の印刷物です（実際の災害の記録ではありません） / Printed for a drill, not a real disaster"


@contextmanager
def plain_streams() -> Iterator[None]:
    """Flate only, without reportlab's default ASCII85 layer on top: smaller files, less time."""
    saved = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = saved


def new_canvas(out: BinaryIO, font: Font, pagesize: tuple[float, float], title: str) -> Canvas:
    """A canvas whose initial font is the embedded one (so no unembedded Helvetica is ever named)."""
    canvas = Canvas(out, pagesize=pagesize, pageCompression=1, initialFontName=font.name, initialFontSize=9,
                    invariant=1)
    canvas.setTitle(title)
    canvas.setCreator("evac printables")
    canvas.setAuthor("")
    return canvas


def text(canvas: Canvas, font: Font, x: float, y: float, size: float, value: str, *, anchor: str = "left",
         bold: bool = False) -> None:
    """Set `value` (already printable) at (x, y) points, writing the PDF operators directly.

    reportlab's drawString builds a text object per call; on tens of thousands of cards the direct
    form is several times faster. reportlab still keeps the font subsets. `anchor` is left, center
    or right.
    """
    if not value:
        return
    if anchor == "center":
        x -= font.width(value, size) / 2
    elif anchor == "right":
        x -= font.width(value, size)
    doc = canvas._doc
    ttf = pdfmetrics.getFont(font.name)
    restore = bold and canvas._strokeColorObj != canvas._fillColorObj
    if restore:
        # The thickening stroke must be the text's own colour (white on a dark band, say).
        canvas.saveState()
        canvas.setStrokeColor(canvas._fillColorObj)
    ops = [f"BT 1 0 0 1 {x:.2f} {y:.2f} Tm"]
    if bold:
        # IPAexGothic has no bold face: fill and stroke thickens the strokes (legible at arm's length).
        ops.append(f"2 Tr {min(size * 0.025, 0.5):.3f} w")
    for subset, raw in ttf.splitString(value, doc):
        ops.append(f"{ttf.getSubsetInternalName(subset, doc)} {size:.2f} Tf ({escapePDF(raw)}) Tj")
    if bold:
        ops.append("0 Tr")  # the render mode outlives the text object: reset it
    ops.append("ET")
    canvas._code.append(" ".join(ops))
    if restore:
        canvas.restoreState()


def fitted_text(canvas: Canvas, font: Font, x: float, y: float, width: float, size: float, value: str | None,
                *, min_size: float | None = None, anchor: str = "left", bold: bool = False) -> Fitted:
    """Make `value` printable, fit it into `width` points (shrink, then ellipsize) and draw it."""
    fitted = fit(font, value, width, size, min_size if min_size is not None else size * 0.6)
    text(canvas, font, x, y, fitted.size, fitted.text, anchor=anchor, bold=bold)
    return fitted


def drill_mark(canvas: Canvas, font: Font, width: float, height: float) -> None:
    """Mark a page unmistakably as a drill's: a red band with 訓練 at the top and bottom, and a large
    diagonal 訓練 across it, light enough to read what is under it."""
    canvas.saveState()
    band = 7 * mm
    canvas.setFillColorRGB(0.78, 0.0, 0.0)
    for y in (height - band, 0):
        canvas.rect(0, y, width, band, stroke=0, fill=1)
    canvas.setFillColorRGB(1, 1, 1)
    for y in (height - band + 2.1 * mm, 2.1 * mm):
        text(canvas, font, 6 * mm, y, 11, DRILL_TEXT, bold=True)
        fitted_text(canvas, font, width - 6 * mm, y, width - 50 * mm, 8, DRILL_NOTE, anchor="right")
    canvas.setFillColorRGB(0.85, 0.1, 0.1, alpha=0.12)
    canvas.translate(width / 2, height / 2)
    canvas.rotate(30)
    size = min(width, height) / 3
    text(canvas, font, 0, -size / 3, size, "訓練", anchor="center")
    canvas.restoreState()


def checkbox(canvas: Canvas, x: float, y: float, size: float = 3.2 * mm, *, checked: bool = False) -> None:
    """An empty square to tick by hand (its lower-left corner at x, y), or a filled mark."""
    canvas.saveState()
    canvas.setLineWidth(0.6)
    canvas.rect(x, y, size, size, stroke=1, fill=0)
    if checked:
        canvas.rect(x + size * 0.2, y + size * 0.2, size * 0.6, size * 0.6, stroke=0, fill=1)
    canvas.restoreState()


def qr_code(canvas: Canvas, payload: str, x: float, y: float, size: float, *, error_correction: str = "M") -> None:
    """A QR code as vector modules, `size` points square including its 4-module quiet zone, lower-left at (x, y)."""
    matrix = qr.encode(payload, error_correction)
    module = size / (matrix.size + 2 * qr.QUIET_ZONE)
    quiet = module * qr.QUIET_ZONE
    canvas._code.append(qr.path_ops(matrix, x + quiet, y + size - quiet, module))
