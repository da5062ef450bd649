"""The fast QR encoder builds exactly the symbol the `qrcode` package builds, and scanners read it."""

from __future__ import annotations

import io

import pytest
import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st
from qrcode import constants, util
from reportlab.pdfgen.canvas import Canvas

from evac.cards import tokens
from printables import qr
from tests.printables import pdfcheck

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
ids = st.integers(min_value=1, max_value=tokens.MAX_ID)


@settings(max_examples=400, deadline=None)
@given(ids, ids)
def test_card_payloads_give_qrcodes_own_symbol_module_for_module(person_id: int, serial: int) -> None:
    payload = tokens.encode(b"any key", person_id, serial)
    fast = qr.encode(payload, "Q")
    reference = qr.reference_encode(payload, "Q")
    assert (fast.version, fast.size) == (3, 29)  # 30 alphanumeric characters at level Q
    assert (fast.bits, fast.mask) == (reference.bits, reference.mask)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALNUM, min_size=1, max_size=120), st.sampled_from("LMQH"))
def test_any_short_alphanumeric_text_matches_qrcode(payload: str, level: str) -> None:
    fast = qr.encode(payload, level)
    reference = qr.reference_encode(payload, level)
    assert (fast.version, fast.bits, fast.mask) == (reference.version, reference.bits, reference.mask)


def test_codewords_match_qrcodes_reed_solomon() -> None:
    template = qr._template(3, constants.ERROR_CORRECT_Q)
    for person_id in (1, 36198, tokens.MAX_ID):
        payload = tokens.encode(b"k", person_id, 77)
        expected = util.create_data(3, constants.ERROR_CORRECT_Q, [util.QRData(payload, mode=util.MODE_ALPHA_NUM)])
        assert template.codewords(payload) == expected


def test_the_mask_is_chosen_per_code_not_fixed() -> None:
    masks = {qr.encode(tokens.encode(b"k", n, n + 1)).mask for n in range(1, 200)}
    assert len(masks) >= 6


def test_penalty_equals_qrcodes_lost_point() -> None:
    code = qrcode.QRCode(version=3, error_correction=constants.ERROR_CORRECT_Q, border=0)
    code.add_data(util.QRData(tokens.encode(b"k", 5, 6), mode=util.MODE_ALPHA_NUM))
    template = qr._template(3, constants.ERROR_CORRECT_Q)
    for mask in range(8):
        code.makeImpl(True, mask)
        n = code.modules_count
        rows = sum(1 << (r * n + c) for r in range(n) for c in range(n) if code.modules[r][c])
        cols = sum(1 << (c * n + r) for r in range(n) for c in range(n) if code.modules[r][c])
        assert template.penalty(rows, cols) == util.lost_point(code.modules)


@pytest.mark.parametrize("payload", ["EV1:AAAAL4RL4NUAACRCEQFYPDNX5M", "https://evac.example.jp/?shelter=精華台"])
def test_vector_codes_scan_after_rendering(payload: str) -> None:
    matrix = qr.encode(payload, "M")
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(200, 200))
    canvas._code.append(qr.path_ops(matrix, 20, 180, 160 / (matrix.size + 8)))
    canvas.showPage()
    canvas.save()
    found = pdfcheck.decode(pdfcheck.render(out.getvalue(), 0))
    assert [code.text for code in found] == [payload]


@settings(max_examples=100, deadline=None)
@given(ids, ids)
def test_all_eight_masks_scored_at_once_as_one_by_one(person_id: int, serial: int) -> None:
    template = qr._template(3, constants.ERROR_CORRECT_Q)
    rows = cols = 0
    for k, byte in enumerate(template.codewords(tokens.encode(b"k", person_id, serial))):
        rows |= template.by_rows[k][byte]
        cols |= template.by_cols[k][byte]
    together = template.penalties8(rows * template.replicate, cols * template.replicate)
    assert together == [template.penalty(template.test_rows[m] ^ rows, template.test_cols[m] ^ cols)
                        for m in range(8)]
