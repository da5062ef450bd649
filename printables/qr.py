"""QR code matrices, fast for card payloads, and their drawing as PDF vector paths.

A whole town's cards need tens of thousands of codes. The `qrcode` package spends about 3 ms on
each, mostly building the symbol eight times to choose a mask. For short alphanumeric payloads
(the card payloads, 30 characters) this module builds the very same symbol — same version, same
error correction, same mask choice, module for module (the tests compare with `qrcode` itself) —
in a fraction of that:

* the function patterns, format information and the order in which data modules are placed are
  taken once per process from `qrcode`'s own routines (not re-derived),
* the Reed–Solomon remainder is computed with the remainder held in one integer,
* the symbol is held as one integer per orientation (bit ``r * n + c`` is the module at row r,
  column c), so placing the data is a handful of table look-ups and each of the four mask
  penalty rules of ISO/IEC 18004 is a few whole-symbol bit operations.

Mask choice follows `qrcode` exactly: the lowest penalty over the eight masks, scored as `qrcode`
scores them (format information light during the evaluation), first mask on ties. Nothing here
fixes the mask or the version beyond what the data needs: every symbol is what a conformant
encoder would produce. Anything else (byte-mode URLs on posters, longer text) goes through
`qrcode` unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

import qrcode
from qrcode import base as qr_base
from qrcode import constants, util

ERROR_CORRECTION = {"L": constants.ERROR_CORRECT_L, "M": constants.ERROR_CORRECT_M,
                    "Q": constants.ERROR_CORRECT_Q, "H": constants.ERROR_CORRECT_H}
QUIET_ZONE = 4  # modules of light margin on every side, as the standard requires
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_ALNUM_VALUE = {c: i for i, c in enumerate(_ALNUM)}
_FAST_VERSIONS = range(1, 7)  # no version information block below version 7
_RUN = re.compile(r"1+")
_PAD = bytes([0xEC, 0x11]) * 1500


@dataclass(frozen=True)
class Matrix:
    """A QR symbol without its quiet zone: `size` × `size` modules, bit ``r * size + c`` dark."""

    size: int
    bits: int
    version: int
    mask: int

    def dark(self, row: int, col: int) -> bool:
        """True if the module at (row, col) is dark."""
        return bool((self.bits >> (row * self.size + col)) & 1)

    def rows(self) -> list[list[bool]]:
        """The modules as nested lists (row-major), as `qrcode` gives them."""
        return [[self.dark(r, c) for c in range(self.size)] for r in range(self.size)]


# --- Galois field and Reed–Solomon --------------------------------------------------------------

def _gf_tables() -> tuple[list[int], list[int]]:
    exp, log = [0] * 512, [0] * 256
    x = 1
    for i in range(255):
        exp[i], log[x] = x, i
        x <<= 1
        if x & 0x100:
            x ^= 0x11D
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    return exp, log


_EXP, _LOG = _gf_tables()


def _gf_mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


@cache
def _rs_table(ec_count: int) -> tuple[int, ...]:
    """For each feedback byte f, the generator's coefficients times f, packed into one integer."""
    gen = [1]
    for i in range(ec_count):
        # gen *= (x - α^i); in GF(2^8) minus is plus.
        nxt = [0] * (len(gen) + 1)
        for j, coef in enumerate(gen):
            nxt[j] ^= coef
            nxt[j + 1] ^= _gf_mul(coef, _EXP[i])
        gen = nxt
    tail = gen[1:]  # monic: the leading 1 is the shift itself
    return tuple(int.from_bytes(bytes(_gf_mul(f, g) for g in tail), "big") for f in range(256))


def _rs_remainder(data: bytes, ec_count: int) -> bytes:
    table = _rs_table(ec_count)
    top = 8 * (ec_count - 1)
    keep = (1 << (8 * ec_count)) - 1
    rem = 0
    for byte in data:
        rem = ((rem << 8) & keep) ^ table[(rem >> top) ^ byte]
    return rem.to_bytes(ec_count, "big")


# --- Symbol templates ---------------------------------------------------------------------------

def _blank_modules(version: int, ec: int, test: bool, mask: int) -> tuple[list[list[bool | None]], int]:
    """Function patterns and format information from qrcode's own code; data modules left None."""
    n = version * 4 + 17
    code = qrcode.QRCode(version=version, error_correction=ec, border=0)
    code.modules_count = n
    code.modules = [[None] * n for _ in range(n)]
    code.setup_position_probe_pattern(0, 0)
    code.setup_position_probe_pattern(n - 7, 0)
    code.setup_position_probe_pattern(0, n - 7)
    code.setup_position_adjust_pattern()
    code.setup_timing_pattern()
    code.setup_type_info(test, mask)
    return code.modules, n


class _Template:
    """Everything about one (version, error correction) that does not depend on the data."""

    def __init__(self, version: int, ec: int) -> None:
        self.version, self.ec = version, ec
        blank, n = _blank_modules(version, ec, True, 0)
        self.n = n
        self.full = (1 << (n * n)) - 1
        self.blocks = [(b.total_count, b.data_count) for b in qr_base.rs_blocks(version, ec)]
        self.data_codewords = sum(d for _t, d in self.blocks)
        total_codewords = sum(t for t, _d in self.blocks)
        order = self._placement_order(blank)
        # One integer per codeword and byte value: the dark modules that byte contributes.
        self.by_rows: list[list[int]] = []
        self.by_cols: list[list[int]] = []
        for k in range(total_codewords):
            row_bits = [1 << (r * n + c) for r, c in order[8 * k: 8 * k + 8]]
            col_bits = [1 << (c * n + r) for r, c in order[8 * k: 8 * k + 8]]
            rows, cols = [0] * 256, [0] * 256
            for value in range(1, 256):
                low = value & -value
                bit = 7 - (low.bit_length() - 1)  # the first placed module is the byte's high bit
                rows[value] = rows[value ^ low] | row_bits[bit]
                cols[value] = cols[value ^ low] | col_bits[bit]
            self.by_rows.append(rows)
            self.by_cols.append(cols)
        # The symbol with all-zero data under each mask: evaluation form (format information
        # light, as qrcode scores masks) and final form.
        self.test_rows: list[int] = []
        self.test_cols: list[int] = []
        self.final_rows: list[int] = []
        for mask in range(8):
            func = util.mask_func(mask)
            for test in (True, False):
                modules, _n = _blank_modules(version, ec, test, mask)
                row_mask = col_mask = 0
                for r in range(n):
                    for c in range(n):
                        fixed = modules[r][c]
                        if fixed if fixed is not None else func(r, c):
                            row_mask |= 1 << (r * n + c)
                            col_mask |= 1 << (c * n + r)
                if test:
                    self.test_rows.append(row_mask)
                    self.test_cols.append(col_mask)
                else:
                    self.final_rows.append(row_mask)
        def lane(width: int) -> int:
            return sum(((1 << width) - 1) << (r * n) for r in range(n))

        self.starts5 = lane(n - 4)  # a run of 5 fits from columns 0..n-5
        self.starts11 = lane(n - 10)  # an 11-module finder-like pattern fits from 0..n-11
        self.starts2x2 = sum(((1 << (n - 1)) - 1) << (r * n) for r in range(n - 1))
        # The same, for eight symbols side by side (see `penalties8`).
        size = n * n
        self.replicate = sum(1 << (m * size) for m in range(8))
        self.full8 = self.full * self.replicate
        self.starts5_8 = self.starts5 * self.replicate
        self.starts11_8 = self.starts11 * self.replicate
        self.starts2x2_8 = self.starts2x2 * self.replicate
        self.test_rows8 = sum(t << (m * size) for m, t in enumerate(self.test_rows))
        self.test_cols8 = sum(t << (m * size) for m, t in enumerate(self.test_cols))

    @staticmethod
    def _placement_order(blank: list[list[bool | None]]) -> list[tuple[int, int]]:
        """The data modules in the order qrcode's map_data fills them (upwards zig-zag pairs)."""
        n = len(blank)
        order: list[tuple[int, int]] = []
        row, inc = n - 1, -1
        for col in range(n - 1, 0, -2):
            if col <= 6:
                col -= 1  # skip the vertical timing pattern
            while True:
                for c in (col, col - 1):
                    if blank[row][c] is None:
                        order.append((row, c))
                row += inc
                if row < 0 or row >= n:
                    row -= inc
                    inc = -inc
                    break
        return order

    def codewords(self, payload: str) -> list[int]:
        """Data and error correction codewords, interleaved, for an alphanumeric payload."""
        bits, length = 0b0010, 4  # mode indicator: alphanumeric
        count_bits = util.length_in_bits(util.MODE_ALPHA_NUM, self.version)
        bits, length = (bits << count_bits) | len(payload), length + count_bits
        values = [_ALNUM_VALUE[c] for c in payload]
        for i in range(0, len(values) - 1, 2):
            bits, length = (bits << 11) | (values[i] * 45 + values[i + 1]), length + 11
        if len(values) % 2:
            bits, length = (bits << 6) | values[-1], length + 6
        capacity = self.data_codewords * 8
        pad = min(capacity - length, 4)  # terminator
        bits, length = bits << pad, length + pad
        if length % 8:
            bits, length = bits << (8 - length % 8), length + 8 - length % 8
        data = bits.to_bytes(length // 8, "big")
        data += _PAD[: self.data_codewords - len(data)]  # 0xEC 0x11 alternately
        blocks_data, blocks_ec, offset = [], [], 0
        for total, count in self.blocks:
            chunk = bytes(data[offset: offset + count])
            offset += count
            blocks_data.append(chunk)
            blocks_ec.append(_rs_remainder(chunk, total - count))
        out: list[int] = []
        for group in (blocks_data, blocks_ec):
            for i in range(max(len(b) for b in group)):
                out.extend(b[i] for b in group if i < len(b))
        return out

    def penalty(self, rows: int, cols: int) -> int:
        """qrcode's `lost_point` (ISO/IEC 18004 rules N1–N4) of a symbol held as two integers."""
        n, full = self.n, self.full
        score = 0
        for packed in (rows, cols):
            light = packed ^ full
            for colour in (packed, light):
                # N1: runs of 5+ same-coloured modules score 3 + (length - 5).
                starts = colour & (colour >> 1) & (colour >> 2) & (colour >> 3) & (colour >> 4) & self.starts5
                score += starts.bit_count() + 2 * (starts & ~(starts << 1)).bit_count()
            # N3: 1:1:3:1:1 finder-like patterns with four light modules on one side
            # (10111010000 or 00001011101 from the start position); the two share a core.
            d = [packed >> k for k in range(11)]
            w = [light >> k for k in range(11)]
            core = w[1] & d[4] & w[5] & d[6] & w[9] & self.starts11
            if core:
                p1 = d[0] & d[2] & d[3] & w[7] & w[8] & w[10]
                p2 = w[0] & w[2] & w[3] & d[7] & d[8] & d[10]
                score += 40 * (core & (p1 | p2)).bit_count()
        # N2: 2×2 blocks of one colour.
        vertical = ~(rows ^ (rows >> n))
        horizontal = ~(rows ^ (rows >> 1))
        score += 3 * (vertical & (vertical >> 1) & horizontal & self.starts2x2).bit_count()
        # N4: proportion of dark modules, computed as qrcode does (same float steps).
        percent = float(rows.bit_count()) / (n * n)
        score += int(abs(percent * 100 - 50) / 5) * 10
        return score

    def encode(self, payload: str) -> Matrix:
        """The symbol for an alphanumeric payload that fits this version."""
        rows = cols = 0
        for k, byte in enumerate(self.codewords(payload)):
            rows |= self.by_rows[k][byte]
            cols |= self.by_cols[k][byte]
        scores = self.penalties8(rows * self.replicate, cols * self.replicate)
        best_mask = scores.index(min(scores))  # the first of equals, as qrcode picks
        return Matrix(self.n, self.final_rows[best_mask] ^ rows, self.version, best_mask)

    def penalties8(self, rows8: int, cols8: int) -> list[int]:
        """The penalties of all eight masks at once: the same rules as `penalty`, on one integer
        holding the eight candidate symbols side by side (mask m at bit offset m × n²).

        Every window the rules look at is restricted to start positions whose window stays inside
        one row (or column) of one symbol, so neighbouring symbols never mix; only the final counts
        are taken symbol by symbol. About twice as fast as eight separate evaluations.
        """
        n, block, size = self.n, self.full, self.n * self.n
        rows8 ^= self.test_rows8
        cols8 ^= self.test_cols8
        quantities: list[tuple[int, int]] = []  # (weight, packed bits to count per symbol)
        for packed in (rows8, cols8):
            light = packed ^ self.full8
            starts = ((packed & (packed >> 1) & (packed >> 2) & (packed >> 3) & (packed >> 4))
                      | (light & (light >> 1) & (light >> 2) & (light >> 3) & (light >> 4))) & self.starts5_8
            # Dark and light runs never start at the same module, so one count serves both.
            quantities += [(1, starts), (2, starts & ~(starts << 1))]
            d = [packed >> k for k in range(11)]
            w = [light >> k for k in range(11)]
            core = w[1] & d[4] & w[5] & d[6] & w[9] & self.starts11_8
            p1 = d[0] & d[2] & d[3] & w[7] & w[8] & w[10]
            p2 = w[0] & w[2] & w[3] & d[7] & d[8] & d[10]
            quantities.append((40, core & (p1 | p2)))
        vertical = ~(rows8 ^ (rows8 >> n))
        horizontal = ~(rows8 ^ (rows8 >> 1))
        quantities.append((3, vertical & (vertical >> 1) & horizontal & self.starts2x2_8))
        scores = []
        for mask in range(8):
            shift = mask * size
            score = sum(weight * ((bits >> shift) & block).bit_count() for weight, bits in quantities)
            percent = float(((rows8 >> shift) & block).bit_count()) / size
            scores.append(score + int(abs(percent * 100 - 50) / 5) * 10)
        return scores


@lru_cache(maxsize=16)
def _template(version: int, ec: int) -> _Template:
    return _Template(version, ec)


def _fast_version(payload: str, ec: int) -> int | None:
    """The smallest version (1–6) that holds `payload` in alphanumeric mode, if any."""
    if not payload or any(c not in _ALNUM_VALUE for c in payload):
        return None
    for version in _FAST_VERSIONS:
        count_bits = util.length_in_bits(util.MODE_ALPHA_NUM, version)
        needed = 4 + count_bits + 11 * (len(payload) // 2) + 6 * (len(payload) % 2)
        capacity = sum(b.data_count for b in qr_base.rs_blocks(version, ec)) * 8
        if needed <= capacity:
            return version
    return None


def encode(payload: str, error_correction: str = "Q") -> Matrix:
    """The QR symbol for `payload`: the fast path for short alphanumeric text, else `qrcode`."""
    ec = ERROR_CORRECTION[error_correction]
    version = _fast_version(payload, ec)
    if version is not None:
        return _template(version, ec).encode(payload)
    return reference_encode(payload, error_correction)


def reference_encode(payload: str, error_correction: str = "Q") -> Matrix:
    """The symbol exactly as the `qrcode` package builds it (mode chosen by qrcode, automatic mask)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION[error_correction], border=0)
    if payload and all(c in _ALNUM_VALUE for c in payload):
        code.add_data(util.QRData(payload, mode=util.MODE_ALPHA_NUM))
    else:
        code.add_data(payload)
    code.make(fit=True)
    n = code.modules_count
    bits = 0
    for r, row in enumerate(code.modules):
        for c, dark in enumerate(row):
            if dark:
                bits |= 1 << (r * n + c)
    mask = code.mask_pattern if code.mask_pattern is not None else code.best_mask_pattern()
    return Matrix(n, bits, code.version, mask)


@lru_cache(maxsize=8)
def _run_ops(n: int) -> list[str | None]:
    """``c r w 1 re`` for every run start ``r * n + c`` and width w, at index ``start * 64 + w``.

    Formatting three integers per run was the single largest cost of a card; a table of the
    possible runs (under 13,000 for a version 3 symbol) turns it into one index.
    """
    table: list[str | None] = [None] * (n * n * 64)
    for start in range(n * n):
        r, c = divmod(start, n)
        for width in range(1, n - c + 1):
            table[start * 64 + width] = f"{c} {r} {width} 1 re"
    return table


def path_ops(matrix: Matrix, x: float, y_top: float, module: float) -> str:
    """PDF operators that fill the dark modules: one rectangle per horizontal run, one fill.

    Drawn in module units under a scaling matrix, so the coordinates are small integers (exact),
    and filled as a single path, so abutting runs show no hairline seams.
    """
    n = matrix.size
    table = _run_ops(n)
    out = [f"q {module:.4f} 0 0 {-module:.4f} {x:.3f} {y_top:.3f} cm 0 g"]
    append = out.append
    # One string of the whole symbol, module (r, c) at index r * n + c; a run that wraps past
    # the end of a row is cut at the row's end.
    for start, stop in [run.span() for run in _RUN.finditer(format(matrix.bits, "b")[::-1])]:
        width = stop - start
        c = start % n
        while c + width > n:
            append(table[start * 64 + n - c])  # type: ignore[arg-type]
            start, width, c = start + n - c, width - (n - c), 0
        append(table[start * 64 + width])  # type: ignore[arg-type]
    append("f Q")
    return "\n".join(out)
