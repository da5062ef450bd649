"""QR payloads and fallback codes: short, alphanumeric, and impossible to alter unnoticed."""

from __future__ import annotations

import base64

import pytest
import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st

from evac.cards import tokens

KEY = b"test-card-key"
ids = st.integers(min_value=1, max_value=tokens.MAX_ID)


@given(ids, ids)
def test_round_trip(person_id: int, serial: int) -> None:
    payload = tokens.encode(KEY, person_id, serial)
    assert len(payload) == 30 and payload.startswith("EV1:")
    assert tokens.decode(KEY, payload) == tokens.CardRef(person_id, serial)
    assert tokens.decode(KEY, payload.lower()) == tokens.CardRef(person_id, serial)  # scanners may lowercase


def test_payload_fits_a_small_alphanumeric_qr_code() -> None:
    payload = tokens.encode(KEY, 36198, tokens.MAX_ID)
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(payload)
    code.make(fit=True)
    assert code.data_list[0].mode == qrcode.util.MODE_ALPHA_NUM
    assert code.version <= 3


@settings(max_examples=3000)
@given(ids, ids, st.data())
def test_mutated_payloads_are_never_accepted(person_id: int, serial: int, data: st.DataObject) -> None:
    payload = tokens.encode(KEY, person_id, serial)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    body = list(payload[4:])
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        i = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        body[i] = data.draw(st.sampled_from(alphabet.replace(body[i], "")))
    mutated = "EV1:" + "".join(body)
    if mutated == payload:
        return
    with pytest.raises((tokens.TokenSignatureInvalid, tokens.TokenMalformed)):
        tokens.decode(KEY, mutated)


@given(ids, ids)
def test_another_key_does_not_verify(person_id: int, serial: int) -> None:
    with pytest.raises(tokens.TokenSignatureInvalid):
        tokens.decode(b"another key", tokens.encode(KEY, person_id, serial))


@given(st.text(max_size=60))
def test_arbitrary_text_is_refused_cleanly(text: str) -> None:
    with pytest.raises((tokens.TokenMalformed, tokens.TokenSignatureInvalid)):
        tokens.decode(KEY, text)


def test_forged_payload_for_another_person_is_refused() -> None:
    real = tokens.encode(KEY, 1, 1000)
    raw = bytearray(base64.b32decode(real[4:] + "======"))
    raw[3] = 2  # claim to be person 2, keeping the MAC
    with pytest.raises(tokens.TokenSignatureInvalid) as caught:
        tokens.decode(KEY, "EV1:" + tokens.encode_raw(bytes(raw)))
    assert caught.value.person_id == 2 and caught.value.serial == 1000


@given(ids)
def test_fallback_code_round_trip(serial: int) -> None:
    code = tokens.fallback_code(KEY, serial)
    assert len(code) == 14 and code.count("-") == 2
    assert tokens.decode_fallback(KEY, code) == serial
    # Typed by hand: lower case, no hyphens, O for 0 and I/L for 1 all read the same.
    assert tokens.decode_fallback(KEY, code.lower().replace("-", "").replace("0", "o").replace("1", "l")) == serial


@settings(max_examples=2000)
@given(ids, st.integers(min_value=0, max_value=11), st.sampled_from("0123456789ABCDEFGHJKMNPQRSTVWXYZ"))
def test_mistyped_fallback_codes_are_refused(serial: int, position: int, char: str) -> None:
    code = tokens.fallback_code(KEY, serial).replace("-", "")
    if code[position] == char:
        return
    typo = code[:position] + char + code[position + 1:]
    with pytest.raises(tokens.TokenSignatureInvalid):
        tokens.decode_fallback(KEY, typo)
