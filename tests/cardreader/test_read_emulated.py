"""`evac-reader read --once --json` against pcscd + vpcd and the emulated cards, as a subprocess.

The card's own APDU log is the witness: what the reader sent, in order, and what it never sent
(the 個人番号 EF, any other AP, a VERIFY carrying a PIN when only one try was left).
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.cardreader.conftest import READER_NAMES, reader_command, run_reader

pytestmark = pytest.mark.cardreader

SELECT_AP = "00A4040C0AD3921000310001010408"
SELECT_PIN_EF = "00A4020C020011"
VERIFY_TRIES = "00200080"
VERIFY_1234 = "002000800431323334"
SELECT_BASIC_FOUR = "00A4020C020002"
SELECT_MYNUMBER_EF = "00A4020C020001"


def _read_binaries(apdus: list[str]) -> list[str]:
    return [a for a in apdus if a.startswith("00B0")]


def _assert_never_touched_mynumber(apdus: list[str]) -> None:
    assert SELECT_MYNUMBER_EF not in apdus, "the 個人番号 EF was selected"
    selects_by_name = [a for a in apdus if a.startswith("00A404")]
    assert all(a == SELECT_AP for a in selects_by_name), f"another AP was selected: {selects_by_name}"
    selects_ef = [a for a in apdus if a.startswith("00A402")]
    assert set(selects_ef) <= {SELECT_PIN_EF, SELECT_BASIC_FOUR}, selects_ef


def test_reads_the_four_basic_items_and_nothing_else(pcscd, cards):
    card = cards("mynumber")
    result = run_reader(pcscd, "read", "--once", "--json", "--pin-stdin", "--timeout", "10", stdin="1234\n")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"type": "mynumber", "card": {
        "name": "精華　花子", "address": "京都府相楽郡精華町光台７丁目４３番地", "birth_date": "19800102", "sex": "2"}}
    assert len(result.stdout.strip().splitlines()) == 1, "exactly one JSON object on stdout"
    apdus = card.apdus()
    _assert_never_touched_mynumber(apdus)
    # Exactly the expected sequence: the tries are asked before the PIN is sent.
    assert apdus[:5] == [SELECT_AP, SELECT_PIN_EF, VERIFY_TRIES, VERIFY_1234, SELECT_BASIC_FOUR]
    assert apdus[5:] == _read_binaries(apdus) and apdus[5] == "00B0000007"
    assert "1234" not in result.stderr and "1234" not in result.stdout
    assert card.retries() == 3


def test_a_long_address_is_read_in_chunks(pcscd, cards):
    address = "京都府相楽郡精華町大字北稲八間小字大路１２３番地の４５" * 4  # ~300 bytes of UTF-8
    card = cards("mynumber", address=address)
    result = run_reader(pcscd, "read", "--once", "--json", "--pin-stdin", "--timeout", "10", stdin="1234\n")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["card"]["address"] == address
    assert len(_read_binaries(card.apdus())) >= 3
    _assert_never_touched_mynumber(card.apdus())


def test_wrong_pin_says_how_many_tries_are_left(pcscd, cards):
    card = cards("mynumber", pin="1234", retries=3)
    result = run_reader(pcscd, "read", "--once", "--json", "--pin-stdin", "--timeout", "10", stdin="9999\n")

    assert result.returncode == 5
    assert result.stdout == ""
    ja = result.stderr.index("残り 2 回")
    en = result.stderr.index("2 tries left")
    assert ja < en, "Japanese first, English after"
    assert "9999" not in result.stderr
    assert card.retries() == 2
    assert SELECT_BASIC_FOUR not in card.apdus()


def test_one_try_left_means_no_verify_is_sent(pcscd, cards):
    card = cards("mynumber", retries=1)
    result = run_reader(pcscd, "read", "--once", "--json", "--pin-stdin", "--timeout", "10", stdin="1234\n")

    assert result.returncode == 6
    assert "町役場" in result.stderr and "town office" in result.stderr
    apdus = card.apdus()
    assert apdus == [SELECT_AP, SELECT_PIN_EF, VERIFY_TRIES], apdus  # no VERIFY with data at all
    assert card.retries() == 1


def test_a_locked_card_is_refused(pcscd, cards):
    card = cards("mynumber", retries=0)
    result = run_reader(pcscd, "read", "--once", "--json", "--pin-stdin", "--timeout", "10", stdin="1234\n")

    assert result.returncode == 6
    assert "ロック" in result.stderr and "locked" in result.stderr
    assert VERIFY_1234 not in card.apdus()


def test_a_malformed_pin_is_never_sent(pcscd, cards):
    card = cards("mynumber")
    result = run_reader(pcscd, "read", "--once", "--json", "--pin-stdin", "--timeout", "10", stdin="12a4\n")

    assert result.returncode == 5
    assert "4桁" in result.stderr
    assert [a for a in card.apdus() if a.startswith("0020008004")] == []
    assert card.retries() == 3


def test_card_pulled_mid_read(pcscd, cards):
    card = cards("mynumber", stall_on="B0")  # the card stops answering at READ BINARY
    proc = subprocess.Popen([*reader_command(), "read", "--once", "--json", "--pin-stdin", "--timeout", "10"],
                            env=pcscd.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8")
    assert proc.stdin is not None
    proc.stdin.write("1234\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 15
    while not _read_binaries(card.apdus()):
        assert time.monotonic() < deadline, f"no READ BINARY reached the card: {card.apdus()}"
        time.sleep(0.05)
    card.pull()
    out, err = proc.communicate(timeout=20)

    assert proc.returncode == 7, err
    assert out == ""
    assert "カードが離されました" in err and "lifted" in err


def test_not_a_my_number_card(pcscd, cards):
    card = cards("other")
    result = run_reader(pcscd, "read", "--once", "--json", "--pin-stdin", "--timeout", "10", stdin="1234\n")

    assert result.returncode == 8
    assert "マイナンバーカードでも" in result.stderr and "neither a My Number card" in result.stderr
    # Asked for the AP, then for a UID, and nothing more; no PIN was asked for.
    assert card.apdus() == [SELECT_AP, "FFCA000000"]
    assert "暗証番号" not in result.stderr


def test_ic_card_uid(pcscd, cards):
    card = cards("ic", uid="04A1B2C3D4E5F6")
    result = run_reader(pcscd, "read", "--once", "--json", "--timeout", "10")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"type": "ic", "uid": "04A1B2C3D4E5F6"}
    assert card.apdus() == ["FFCA000000"], "only GET DATA: nothing else is read from an IC card"


def test_choosing_one_of_several_readers(pcscd, cards):
    cards("ic", slot=1, uid="0102030405060708")
    listed = run_reader(pcscd, "readers")
    assert listed.returncode == 0 and listed.stdout.splitlines() == list(READER_NAMES)

    on_second = run_reader(pcscd, "read", "--once", "--json", "--timeout", "10", "--reader", READER_NAMES[1])
    assert on_second.returncode == 0, on_second.stderr
    assert json.loads(on_second.stdout)["uid"] == "0102030405060708"

    on_first = run_reader(pcscd, "read", "--once", "--json", "--timeout", "1", "--reader", READER_NAMES[0])
    assert on_first.returncode == 4, "no card on the first reader: a timeout"
    assert "1 秒以内" in on_first.stderr

    unknown = run_reader(pcscd, "read", "--once", "--json", "--timeout", "1", "--reader", "PaSoRi RC-S300")
    assert unknown.returncode == 3
    assert "PaSoRi RC-S300" in unknown.stderr and READER_NAMES[0] in unknown.stderr


def test_no_card_within_the_timeout(pcscd):
    result = run_reader(pcscd, "read", "--once", "--json", "--timeout", "0.5")
    assert result.returncode == 4
    assert result.stdout == ""


def test_no_reader_at_all(pcscd, tmp_path):
    env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd-here.comm"))
    result = run_reader(None, "read", "--once", "--json", "--timeout", "5", env=env)

    assert result.returncode == 3
    assert "カードリーダーが見つかりません" in result.stderr and "No card reader found" in result.stderr
