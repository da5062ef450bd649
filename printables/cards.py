"""Resident QR cards: 91 × 55 mm, ten to an A4 sheet, for a whole town in bounded memory.

Sheet layout
------------
The cards fit the common perforated business-card sheets (名刺用紙, マルチカード) of the A-One
51002 type: A4 portrait (210 × 297 mm), 2 columns × 5 rows of 91 × 55 mm cards that abut with no
gutter, centred on the sheet, which leaves margins of **14 mm left and right** and **11 mm top and
bottom** (2 × 91 + 2 × 14 = 210, 5 × 55 + 2 × 11 = 297). Cut marks sit in those margins on every
card edge, so the same PDF also serves plain paper and a guillotine. Cards are placed left to
right, top to bottom, in the order given (the order they are handed out). Sheets of other makes
with 91 × 55 mm cards but other margins or gutters: pass a different :class:`SheetLayout`.

Each card
---------
Name in kanji (large) and kana, household number, district, issue date, the town's name, the QR
code (vector modules, quiet zone of 4 modules, error correction Q by default — the 30-character
card payload then needs version 3), the fallback code under it, and the reception line in
Japanese and English. Everything the cards share (labels, town, reception line) is one PDF form
drawn by reference, so a card adds only its own data to the page. Printing keeps 2.5–4 mm clear
of every card edge, as perforations and printers wander by a millimetre or so.

Scale
-----
:func:`write_card_sheets` takes any iterable (a database cursor, say), cuts it into chunks of
whole pages, renders the chunks in worker processes (each chunk a small PDF with its own font
subsets) and joins them, in order, into one PDF as they come back. Memory is bounded by the
chunks in flight, whatever the number of cards.
"""

from __future__ import annotations

import importlib.machinery
import io
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import islice
from typing import BinaryIO

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from printables import draw, qr
from printables.fonts import Font, find_font_path, fit, load_font
from printables.pdfmerge import PdfConcatenator
from printables.texts import (
    CARD_DISTRICT,
    CARD_FALLBACK,
    CARD_HOUSEHOLD,
    CARD_ISSUED,
    CARD_RECEPTION,
    CARD_TITLE,
    Bilingual,
)


@dataclass(frozen=True, slots=True)
class CardData:
    """One resident's card, as plain data. `ref` identifies it in reports and is never printed."""

    ref: str
    name: str
    kana: str
    household_number: str
    district: str
    payload: str
    fallback_code: str
    issued_on: date


@dataclass(frozen=True)
class SheetLayout:
    """Where the cards sit on a sheet, in millimetres (default: A-One 51002-type A4 sheets)."""

    page_width: float = 210.0
    page_height: float = 297.0
    card_width: float = 91.0
    card_height: float = 55.0
    columns: int = 2
    rows: int = 5
    margin_left: float = 14.0
    margin_top: float = 11.0
    gap_x: float = 0.0
    gap_y: float = 0.0

    @property
    def per_page(self) -> int:
        """Cards per sheet."""
        return self.columns * self.rows

    def card_origin(self, index: int) -> tuple[float, float]:
        """Lower-left corner, in points from the page's lower left, of the card at `index` on a sheet."""
        row, col = divmod(index % self.per_page, self.columns)
        x = self.margin_left + col * (self.card_width + self.gap_x)
        top = self.margin_top + row * (self.card_height + self.gap_y)
        return x * mm, (self.page_height - top - self.card_height) * mm


A_ONE_51002 = SheetLayout()


@dataclass(frozen=True)
class CardTexts:
    """The wording shared by every card (bilingual defaults from `printables.texts`)."""

    title: Bilingual = CARD_TITLE
    reception: Bilingual = CARD_RECEPTION
    household: Bilingual = CARD_HOUSEHOLD
    district: Bilingual = CARD_DISTRICT
    issued: Bilingual = CARD_ISSUED
    fallback: Bilingual = CARD_FALLBACK


@dataclass(frozen=True)
class CardOptions:
    """How to print: town name, sheet layout, QR error correction, wording and font."""

    town_name: str
    layout: SheetLayout = A_ONE_51002
    error_correction: str = "Q"
    texts: CardTexts = field(default_factory=CardTexts)
    font_path: str | None = None
    cut_marks: bool = True
    title: str = ""
    drill: bool = False  # a walk-in's card printed at a desk during a 訓練 (purged with the drill)


@dataclass(frozen=True)
class TextIssue:
    """A card whose text had to be changed to print: shortened, or characters the font lacks."""

    ref: str
    field: str  # name, kana, household_number, district
    problem: str  # "substituted" (count = characters printed as 〓) or "ellipsized"
    count: int = 0


@dataclass
class RenderReport:
    """What a rendering run produced."""

    cards: int = 0
    pages: int = 0
    issues: list[TextIssue] = field(default_factory=list)
    seconds: float = 0.0
    worker_peak_rss_mb: float = 0.0  # the largest rendering process's peak (this one's, with workers=1)


# Card geometry, millimetres from the card's lower-left corner.
CARD_WIDTH, CARD_HEIGHT = 91.0, 55.0
_INSET = 4.0
_QR_BOX = 26.64  # quiet zone included: 37 modules of 0.72 mm for a version 3 symbol
_QR_EDGE = 2.5  # the quiet zone is white, so the box may come closer to the edge than text
_QR_X = CARD_WIDTH - _QR_EDGE - _QR_BOX
_TEXT_WIDTH = _QR_X - _INSET - 1.0
_VALUE_X = 27.0
NAME_BOX = (_INSET, 30.0, _TEXT_WIDTH, 8.0)  # x, y, width, height (mm): where the name is drawn
QR_BOX = (_QR_X, CARD_HEIGHT - _QR_EDGE - _QR_BOX, _QR_BOX, _QR_BOX)


class _CardRenderer:
    """Draws cards onto one canvas; the shared parts are forms made once per document."""

    def __init__(self, canvas: Canvas, font: Font, options: CardOptions) -> None:
        self.canvas, self.font, self.options = canvas, font, options
        self.layout = options.layout
        self.issues: list[TextIssue] = []
        self._make_forms()

    def _text(self, x: float, y: float, size: float, value: str, *, anchor: str = "left",
              bold: bool = False) -> None:
        draw.text(self.canvas, self.font, x, y, size, value, anchor=anchor, bold=bold)

    def _make_forms(self) -> None:
        c, t, town = self.canvas, self.options.texts, self.options.town_name
        w, h = self.layout.card_width, self.layout.card_height
        c.beginForm("card", 0, 0, w * mm, h * mm)
        c.setFillGray(0)
        head = fit(self.font, f"{town}　{t.title.ja}", _TEXT_WIDTH * mm, 9, 6)
        self._text(_INSET * mm, 48.6 * mm, head.size, head.text)
        self._text(_INSET * mm, 45.4 * mm, 5.5, t.title.en)
        for y, label in ((25.6, t.household), (21.4, t.district), (17.2, t.issued)):
            self._text(_INSET * mm, y * mm, 6.5, label.ja)
            self._text((_INSET + 10.5) * mm, y * mm, 5, label.en)
        center = (_QR_X + _QR_BOX / 2) * mm
        self._text(center, (QR_BOX[1] - 2.6) * mm, 4.8, t.fallback.ja, anchor="center")
        c.setLineWidth(0.4)
        c.setStrokeGray(0.35)
        c.line(_INSET * mm, 13.6 * mm, (w - _INSET) * mm, 13.6 * mm)
        reception = fit(self.font, t.reception.ja, (w - 2 * _INSET) * mm, 9, 6)
        self._text(_INSET * mm, 8.9 * mm, reception.size, reception.text, bold=True)
        reception_en = fit(self.font, t.reception.en, (w - 2 * _INSET) * mm, 7.5, 5)
        self._text(_INSET * mm, 4.9 * mm, reception_en.size, reception_en.text)
        c.endForm()

        c.beginForm("sheet", 0, 0, self.layout.page_width * mm, self.layout.page_height * mm)
        if self.options.cut_marks:
            self._cut_marks()
        c.endForm()

    def _cut_marks(self) -> None:
        """Short lines in the margins continuing every card edge (2 mm off the card, 5 mm long)."""
        c, lay = self.canvas, self.layout
        c.setLineWidth(0.3)
        c.setStrokeGray(0)
        left, right = lay.margin_left, lay.margin_left + lay.columns * lay.card_width + (lay.columns - 1) * lay.gap_x
        top = lay.page_height - lay.margin_top
        bottom = top - lay.rows * lay.card_height - (lay.rows - 1) * lay.gap_y
        xs = sorted({lay.margin_left + i * (lay.card_width + lay.gap_x) + d
                     for i in range(lay.columns) for d in (0, lay.card_width)})
        ys = sorted({top - i * (lay.card_height + lay.gap_y) - d for i in range(lay.rows) for d in (0, lay.card_height)})
        gap, length = 2.0, 5.0
        path = c.beginPath()
        for x in xs:
            if top + gap + length <= lay.page_height:
                path.moveTo(x * mm, (top + gap) * mm)
                path.lineTo(x * mm, (top + gap + length) * mm)
            if bottom - gap - length >= 0:
                path.moveTo(x * mm, (bottom - gap) * mm)
                path.lineTo(x * mm, (bottom - gap - length) * mm)
        for y in ys:
            if left - gap - length >= 0:
                path.moveTo((left - gap) * mm, y * mm)
                path.lineTo((left - gap - length) * mm, y * mm)
            if right + gap + length <= lay.page_width:
                path.moveTo((right + gap) * mm, y * mm)
                path.lineTo((right + gap + length) * mm, y * mm)
        c.drawPath(path, stroke=1, fill=0)

    def _field(self, card: CardData, name: str, text: str, x: float, y: float, width: float, size: float,
               min_size: float, *, bold: bool = False) -> None:
        fitted = fit(self.font, text, width * mm, size, min_size)
        if fitted.substituted:
            self.issues.append(TextIssue(card.ref, name, "substituted", fitted.substituted))
        if fitted.ellipsized:
            self.issues.append(TextIssue(card.ref, name, "ellipsized"))
        if fitted.text:
            self._text(x * mm, y * mm, fitted.size, fitted.text, bold=bold)

    def draw(self, card: CardData, index: int) -> None:
        """Draw `card` in slot `index` of the current sheet."""
        c = self.canvas
        x0, y0 = self.layout.card_origin(index)
        c.saveState()
        c.translate(x0, y0)
        c.doForm("card")
        c.setFillGray(0)
        self._field(card, "kana", card.kana, _INSET, 39.6, _TEXT_WIDTH, 8.5, 5)
        self._field(card, "name", card.name, _INSET, 32.0, _TEXT_WIDTH, 16, 7, bold=True)
        value_width = _TEXT_WIDTH - _VALUE_X + _INSET
        self._field(card, "household_number", card.household_number, _VALUE_X, 25.6, value_width, 9.5, 6)
        self._field(card, "district", card.district, _VALUE_X, 21.4, value_width, 9.5, 6)
        self._text(_VALUE_X * mm, 17.2 * mm, 9.5, card.issued_on.isoformat())
        matrix = qr.encode(card.payload, self.options.error_correction)
        module = _QR_BOX / (matrix.size + 2 * qr.QUIET_ZONE)
        quiet = qr.QUIET_ZONE * module
        c._code.append(qr.path_ops(matrix, (_QR_X + quiet) * mm, (CARD_HEIGHT - _QR_EDGE - quiet) * mm, module * mm))
        code = fit(self.font, card.fallback_code, _QR_BOX * mm, 10, 6)
        self._text((_QR_X + _QR_BOX / 2) * mm, (QR_BOX[1] - 6.4) * mm, code.size, code.text, anchor="center")
        c.restoreState()


def render_cards(cards: Sequence[CardData], options: CardOptions) -> tuple[bytes, list[TextIssue]]:
    """A complete PDF of `cards` (whole sheets, the last one possibly part-filled) and the text issues.

    Suited to a chunk of a few hundred cards; for a town use :func:`write_card_sheets`.
    """
    layout = options.layout
    if (layout.card_width, layout.card_height) != (CARD_WIDTH, CARD_HEIGHT):
        # Other sheets may place the cards differently, but the card itself is drawn for this size.
        raise ValueError(f"cards are laid out for {CARD_WIDTH:g} × {CARD_HEIGHT:g} mm")
    font = load_font(options.font_path)
    buffer = io.BytesIO()
    with draw.plain_streams():
        canvas = draw.new_canvas(buffer, font, (layout.page_width * mm, layout.page_height * mm),
                                 options.title or options.texts.title.ja)
        renderer = _CardRenderer(canvas, font, options)
        for start in range(0, len(cards), layout.per_page):
            canvas.doForm("sheet")
            for index, card in enumerate(cards[start: start + layout.per_page]):
                renderer.draw(card, index)
            if options.drill:
                draw.drill_mark(canvas, font, layout.page_width * mm, layout.page_height * mm)
            canvas.showPage()
        if not cards:
            canvas.showPage()
        canvas.save()
    return buffer.getvalue(), renderer.issues


@contextmanager
def _main_not_rerun() -> Iterator[None]:
    """Keep spawned workers from re-running the parent's main script.

    A spawned worker normally re-imports the script that started the parent (for the `evac`
    console script: Flask, SQLAlchemy, the app — some 50 MB and half a second per worker) although
    it needs only this module. multiprocessing skips that step for a main module named
    ``__main__``; the workers are started inside this block, so only they see that name.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None or not getattr(main, "__file__", None):
        yield  # `python -m …` mains are already skipped by multiprocessing; nothing to do
        return
    main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
    try:
        yield
    finally:
        main.__spec__ = None


_worker_failure: BaseException | None = None


def _worker_init(font_path: str | None) -> None:
    """Parse the font and build the QR tables once per worker, not once per chunk."""
    global _worker_failure
    try:
        load_font(font_path)
        qr.encode("EV1:" + "A" * 26)
    except Exception as exc:  # noqa: BLE001 - re-raised with the first chunk
        # An initializer that raises only says "broken process pool"; the error itself is
        # handed back with the first chunk instead.
        _worker_failure = exc


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _render_chunk(cards: list[CardData], options: CardOptions) -> tuple[bytes, list[TextIssue], int, float]:
    if _worker_failure is not None:
        raise _worker_failure
    pdf, issues = render_cards(cards, options)
    return pdf, issues, len(cards), peak_rss_mb()


def _chunks(cards: Iterable[CardData], size: int) -> Iterator[list[CardData]]:
    iterator = iter(cards)
    while chunk := list(islice(iterator, size)):
        yield chunk


def default_workers() -> int:
    """Worker processes to use: one per available core."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


def write_card_sheets(cards: Iterable[CardData], out: BinaryIO, options: CardOptions, *,
                      workers: int | None = None, chunk_pages: int = 40,
                      progress: Callable[[int], None] | None = None) -> RenderReport:
    """Render `cards` into one PDF written to `out`, streaming, in order; returns what was done.

    `workers` processes (default: one per core; 1 renders in this process) each render chunks of
    `chunk_pages` sheets; at most two chunks per worker are in flight (the iterable is not read
    ahead of that), so memory stays bounded however many cards come. `progress` is called with the
    number of cards finished at each chunk.
    """
    started = time.perf_counter()
    workers = default_workers() if workers is None else max(workers, 1)
    # The parent only joins PDFs; with workers, it needs the font's path, not the parsed font.
    font_path = load_font(options.font_path).path if workers == 1 else find_font_path(options.font_path)
    options = replace(options, font_path=str(font_path))
    report = RenderReport()
    merger = PdfConcatenator(out, title=options.title or options.texts.title.ja)
    size = chunk_pages * options.layout.per_page

    def take(result: tuple[bytes, list[TextIssue], int, float]) -> None:
        pdf, issues, count, worker_rss = result
        report.worker_peak_rss_mb = max(report.worker_peak_rss_mb, worker_rss)
        report.pages += merger.append(pdf)
        report.cards += count
        report.issues.extend(issues)
        if progress is not None:
            progress(count)

    if workers == 1:
        for chunk in _chunks(cards, size):
            take(_render_chunk(chunk, options))
    else:
        # spawn, not fork: the parent may hold database connections and threads. An executor
        # rather than multiprocessing.Pool: a worker that dies (out of memory, say) breaks the
        # run with an error instead of leaving it waiting for ever.
        executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_worker_init, initargs=(options.font_path,))
        try:
            pending: deque[Future[tuple[bytes, list[TextIssue], int, float]]] = deque()
            for chunk in _chunks(cards, size):
                with _main_not_rerun():  # workers are started on demand, inside submit
                    pending.append(executor.submit(_render_chunk, chunk, options))
                while len(pending) >= 2 * workers:
                    take(pending.popleft().result())
            while pending:
                take(pending.popleft().result())
        except BaseException:
            executor.shutdown(wait=True, cancel_futures=True)
            raise
        executor.shutdown(wait=True)
    if report.pages == 0:
        # An empty selection still gives a valid PDF (one blank sheet), not a broken file.
        merger.append(render_cards([], options)[0])
    merger.close()
    report.seconds = time.perf_counter() - started
    return report
